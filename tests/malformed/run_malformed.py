#!/usr/bin/python3
"""Runs `hone inspect` on every case of tests/malformed/cases/manifest.json.

A case passes when hone exits with the expected status (never 0, never a signal), writes exactly
one line to stderr, that line starts with "hone: inspect: " and contains the case's expected
substring, and all of it happens within the time bound. Every case is run and every failure
reported, so one run shows the whole picture.

    run_malformed.py --hone build/hone [--cases tests/malformed/cases] [--timeout 10] [--only NAME]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PREFIX = "hone: inspect: "


def prepare(case, cases_dir, scratch):
    """Returns the model path to inspect, doing the case's setup (hard links) in `scratch`."""
    setup = case.get("setup")
    if not setup:
        return os.path.join(cases_dir, case["file"])
    folder = tempfile.mkdtemp(dir=scratch)
    model = os.path.join(folder, case["file"])
    shutil.copyfile(os.path.join(cases_dir, case["file"]), model)
    link = setup.get("hardlink")
    if link:
        # Git cannot store a hard link, so make one here: a private copy of the data file, linked
        # under the name the model uses; the copy itself stays as the link's second name.
        original = os.path.join(folder, "original_" + os.path.basename(link["source"]))
        shutil.copyfile(os.path.join(cases_dir, link["source"]), original)
        os.link(original, os.path.join(folder, link["name"]))
        if os.stat(original).st_nlink != 2:
            raise RuntimeError("could not create a hard link in " + folder)
    return model


def check(case, hone, cases_dir, scratch, default_timeout):
    """Returns a list of problems (empty when the case passes) and the elapsed seconds."""
    model = prepare(case, cases_dir, scratch)
    bound = float(case.get("max_seconds", default_timeout))
    start = time.monotonic()
    try:
        # Twice the bound before killing, so a slow case is reported with its time, not just killed.
        proc = subprocess.run([hone, "inspect", model], capture_output=True, timeout=2 * bound + 5)
    except subprocess.TimeoutExpired:
        return [f"did not finish within {2 * bound + 5:.0f} s"], time.monotonic() - start
    elapsed = time.monotonic() - start
    problems = []
    if proc.returncode < 0:
        problems.append(f"killed by signal {-proc.returncode}")
    elif proc.returncode == 0:
        problems.append("exit status 0: the malformed model was accepted")
    elif proc.returncode != case["exit"]:
        problems.append(f"exit status {proc.returncode}, expected {case['exit']}")
    if elapsed > bound:
        problems.append(f"took {elapsed:.2f} s, above the bound of {bound:.0f} s")
    err = proc.stderr.decode("utf-8", errors="replace")
    # Exactly one line: a single '\n', at the end. Any other line-breaking character counts too
    # (a stray '\r' from a name in the file would rewrite the terminal line).
    body = err[:-1] if err.endswith("\n") else err
    if not err.endswith("\n") or any(c in body for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
        problems.append(f"stderr is not exactly one line: {err!r}")
    if not err.startswith(PREFIX):
        problems.append(f"stderr does not start with {PREFIX!r}: {err!r}")
    if case["error"] not in err:
        problems.append(f"stderr does not contain {case['error']!r}: {err!r}")
    if proc.stdout:
        problems.append(f"wrote to stdout: {proc.stdout[:200]!r}")
    return problems, elapsed


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hone", required=True, help="path of the hone executable")
    ap.add_argument("--cases", default=os.path.join(here, "cases"), help="folder holding manifest.json")
    ap.add_argument("--timeout", type=float, default=10, help="seconds a case may take (unless it sets max_seconds)")
    ap.add_argument("--only", help="run only the case whose file name is this")
    args = ap.parse_args()

    with open(os.path.join(args.cases, "manifest.json")) as f:
        cases = json.load(f)["cases"]
    if args.only:
        cases = [c for c in cases if c["file"] == args.only]
    if not cases:
        print("no cases to run", file=sys.stderr)
        return 1
    failed = 0
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory(prefix="hone-malformed-") as scratch:
        for case in cases:
            problems, elapsed = check(case, args.hone, args.cases, scratch, args.timeout)
            slowest = max(slowest, (elapsed, case["file"]))
            if problems:
                failed += 1
                print(f"FAIL {case['file']}:")
                for p in problems:
                    print(f"    {p}")
    print(f"{len(cases) - failed} of {len(cases)} malformed cases refused cleanly "
          f"(slowest: {slowest[1]}, {slowest[0]:.2f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
