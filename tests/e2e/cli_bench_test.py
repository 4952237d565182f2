#!/usr/bin/python3
"""End to end: `hone bench` on a small model — JSON keys and sane values, text output, exit codes.

usage: cli_bench_test.py --hone PATH --model MODEL.onnx
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

KEYS = {"model", "threads", "iters", "median_ms", "p90_ms", "p99_ms", "throughput_per_s",
        "peak_rss_mb", "model_bytes", "arena_bytes"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def run(hone, *args):
    return subprocess.run([hone, "bench", *args], capture_output=True, text=True, timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    ap.add_argument("--model", required=True)
    a = ap.parse_args()

    r = run(a.hone, a.model, "--iters", "20", "--warmup", "2", "--threads", "1", "--json")
    check(r.returncode == 0, f"--json exit {r.returncode}: {r.stderr}")
    # stdout is one JSON object and nothing else; stderr is not a terminal, so no progress bar.
    j = json.loads(r.stdout)
    check(r.stderr == "", f"stderr should be empty when it is not a terminal: {r.stderr!r}")
    check(set(j) == KEYS, f"keys {sorted(j)} != {sorted(KEYS)}")
    check(j["model"] == a.model, f"model {j['model']}")
    check(j["threads"] == 1 and j["iters"] == 20, f"threads {j['threads']} iters {j['iters']}")
    check(j["median_ms"] > 0, f"median_ms {j['median_ms']}")
    check(j["p90_ms"] >= j["median_ms"], f"p90 {j['p90_ms']} < median {j['median_ms']}")
    check(j["p99_ms"] >= j["p90_ms"], f"p99 {j['p99_ms']} < p90 {j['p90_ms']}")
    check(math.isclose(j["throughput_per_s"], 1000.0 / j["median_ms"], rel_tol=1e-6),
          f"throughput {j['throughput_per_s']} != 1000/median (batch 1)")
    check(j["peak_rss_mb"] > 1, f"peak_rss_mb {j['peak_rss_mb']}")
    check(j["model_bytes"] == os.path.getsize(a.model), f"model_bytes {j['model_bytes']}")
    check(isinstance(j["arena_bytes"], int) and j["arena_bytes"] >= 0, f"arena_bytes {j['arena_bytes']}")

    r = run(a.hone, a.model, "--iters", "5", "--warmup", "0", "--json", "--profile")
    check(r.returncode == 0, f"--profile exit {r.returncode}: {r.stderr}")
    p = json.loads(r.stdout).get("profile", {})
    check({"ms_per_iter", "by_op", "top_nodes"} <= set(p), f"profile keys {sorted(p)}")
    check(len(p.get("by_op", [])) > 0, "--profile timed no node")
    check(abs(sum(o["percent"] for o in p.get("by_op", [])) - 100) < 0.1, "by_op percents do not add up to 100")
    check(0 < len(p.get("top_nodes", [])) <= 10, f"{len(p.get('top_nodes', []))} top nodes")
    check(p.get("ms_per_iter", 0) > 0, f"profile ms_per_iter {p.get('ms_per_iter')}")

    r = run(a.hone, a.model, "--iters", "5")
    check(r.returncode == 0 and "median" in r.stdout and "p99" in r.stdout, f"text output: {r.stdout}{r.stderr}")

    # Exit codes: 2 for a missing model, a bad flag value or an unknown --shape input.
    with tempfile.TemporaryDirectory() as d:
        r = run(a.hone, os.path.join(d, "missing.onnx"))
        check(r.returncode == 2 and r.stderr.startswith("hone: bench: "), f"missing model: {r.returncode} {r.stderr}")
    r = run(a.hone, a.model, "--iters", "0")
    check(r.returncode == 2, f"--iters 0: exit {r.returncode}")
    r = run(a.hone, a.model, "--iters", "2", "--shape", "no_such_input=1x2")
    check(r.returncode == 2 and "no_such_input" in r.stderr, f"unknown --shape: {r.returncode} {r.stderr}")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
