#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS each over its seed corpus (tests/fuzz/corpus/<target>),
# keeping what libFuzzer finds in build-fuzz/corpus/<target> (new inputs) and build-fuzz/crashes,
# and its whole output in build-fuzz/logs/<target>.log.
# A crash makes this script fail; turn each one into a case of tests/malformed.
# Usage: run_fuzzers.sh [BUILD_DIR [TARGET...]]   (default: every target, one after the other)
set -euo pipefail
build=${1:-build-fuzz}
shift || true
targets=${*:-fuzz_onnx_load fuzz_npy fuzz_model_run fuzz_rules}
seconds=${FUZZ_SECONDS:-60}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/crashes" "$build/logs"
status=0
for target in $targets; do
  work="$build/corpus/$target"
  mkdir -p "$work"
  seeds="$here/corpus/$target"
  [ "$target" = fuzz_onnx_load ] && seeds="$seeds $here/../malformed/cases"
  # A JSON text reaches the rules checks only when its keys are spelled right: give the fuzzer the words.
  dict=""
  [ "$target" = fuzz_rules ] && dict="-dict=$here/rules.dict"
  echo "== $target: ${seconds}s"
  # -rss_limit_mb bounds memory per input: a hostile size must be refused, not allocated.
  if ! "$build/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 $dict "$work" $seeds 2>&1 |
      tee "$build/logs/$target.log" | grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Done"; then
    :
  fi
  if ls "$build/crashes/$target-"* >/dev/null 2>&1; then status=1; echo "!! $target found crashes in $build/crashes"; fi
done
exit $status
