#!/usr/bin/python3
"""End-to-end checks of `hone run` from the command line (the models: make_wild.py, errors/).

    run_cli_checks.py errors --hone build/hone --dir tests/e2e/wild/errors [--only NAME]
        Bad inputs and unrunnable models. Each case must exit with exactly its status (docs/cli.md:
        2 cannot load model, data or arguments; 3 failed while running), never by a signal, and
        write exactly one line to stderr that starts with "hone: run: " and names what went wrong
        (the input, file or node). `inspect` of the model `run` refuses must exit 0 and list the op.

    run_cli_checks.py random --hone build/hone --model models/mlp_tiny.onnx
        `run --random` on a model with a symbolic batch: exit 0, and the output's batch follows
        --shape (1 without it).

    run_cli_checks.py repeat --hone build/hone [--wild tests/e2e/wild]
        Every wild model through `run --test-dir` on a folder holding each of its data sets twice in
        a row, then the first again (links to the committed files): the second run of an input
        signature executes in the memory planner's arena, the third after another signature.

Every case runs and every failure is reported; exit 1 when one failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

PREFIX = "hone: run: "

# name, argv after `hone` ({d} = the errors folder), exit status, substrings the stderr line must contain
ERROR_CASES = [
    ("unknown_input_name", ["run", "{d}/add.onnx", "--input", "z={d}/x_f32_2x3.npy"], 2, ["'z'"]),
    ("wrong_dtype", ["run", "{d}/add.onnx", "--input", "x={d}/x_i32_2x3.npy"], 3, ["x"]),
    ("wrong_shape", ["run", "{d}/add.onnx", "--input", "x={d}/x_f32_3x3.npy"], 3, ["x"]),
    ("gather_index_out_of_range",
     ["run", "{d}/gather.onnx", "--input", "data={d}/data_f32_4x3.npy", "--input", "idx={d}/idx_bad.npy"], 3,
     ["pick_rows"]),
    ("impossible_reshape", ["run", "{d}/reshape.onnx", "--input", "x={d}/x_f32_2x3.npy"], 3, ["to_rows_of_4"]),
    ("missing_input_file", ["run", "{d}/add.onnx", "--input", "x={d}/does_not_exist.npy"], 2, ["does_not_exist.npy"]),
    ("object_npy", ["run", "{d}/add.onnx", "--input", "x={d}/x_object.npy"], 2, ["x_object.npy"]),
    ("truncated_npz", ["run", "{d}/add.onnx", "--inputs", "{d}/x_truncated.npz"], 2, ["x_truncated.npz"]),
    ("unsupported_op", ["run", "{d}/unsupported.onnx", "--random"], 2, ["Det"]),
]


def run(hone, argv, timeout=60):
    try:
        return subprocess.run([hone] + argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def check_errors(args):
    failures = 0
    for name, argv, want, needles in ERROR_CASES:
        if args.only and name != args.only:
            continue
        argv = [a.replace("{d}", args.dir) for a in argv]
        proc = run(args.hone, argv)
        problems = []
        if proc is None:
            problems.append("did not finish within 60 s")
        else:
            err = proc.stderr.decode("utf-8", "replace")
            lines = err.splitlines()
            if proc.returncode < 0:
                problems.append(f"killed by signal {-proc.returncode}")
            elif proc.returncode != want:
                problems.append(f"exit status {proc.returncode}, expected {want}")
            if len(lines) != 1:
                problems.append(f"{len(lines)} lines on stderr, expected 1")
            if not lines or not lines[0].startswith(PREFIX):
                problems.append(f"stderr does not start with {PREFIX!r}")
            for n in needles:
                if n not in err:
                    problems.append(f"stderr does not mention {n!r}")
        status = "ok  " if not problems else "FAIL"
        first = proc.stderr.decode("utf-8", "replace").splitlines()[0] if proc and proc.stderr else ""
        print(f"{status} {name:28s} {first}")
        for p in problems:
            print(f"       {p}")
        failures += bool(problems)

    # The model `run` refuses for its op is still inspectable, and inspect lists the op.
    if not args.only or args.only == "inspect_unsupported_op":
        proc = run(args.hone, ["inspect", os.path.join(args.dir, "unsupported.onnx")])
        problems = []
        if proc is None:
            problems.append("did not finish within 60 s")
        else:
            if proc.returncode != 0:
                problems.append(f"exit status {proc.returncode}, expected 0: {proc.stderr.decode(errors='replace').strip()}")
            if "Det" not in proc.stdout.decode("utf-8", "replace"):
                problems.append("stdout does not list Det")
        print(f"{'ok  ' if not problems else 'FAIL'} {'inspect_unsupported_op':28s}")
        for p in problems:
            print(f"       {p}")
        failures += bool(problems)
    return failures


def check_random(args):
    failures = 0
    for shape, batch in ((None, 1), ("input=5x64", 5), ("input=17x64", 17)):
        argv = ["run", args.model, "--random", "--seed", "3", "--json"] + (["--shape", shape] if shape else [])
        proc = run(args.hone, argv)
        problems = []
        if proc is None:
            problems.append("did not finish within 60 s")
        elif proc.returncode != 0:
            problems.append(f"exit status {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}")
        else:
            try:
                out = json.loads(proc.stdout)["outputs"]
                if [o["shape"] for o in out] != [[batch, 10]]:
                    problems.append(f"output shapes {[o['shape'] for o in out]}, expected [[{batch}, 10]]")
                if any(o["nan_count"] for o in out):
                    problems.append("NaN in the output")
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"unexpected --json output ({e}): {proc.stdout[:200]!r}")
        print(f"{'ok  ' if not problems else 'FAIL'} --shape {shape or '(none)':12s} -> batch {batch}")
        for p in problems:
            print(f"       {p}")
        failures += bool(problems)
    return failures


def check_repeat(args):
    failures = 0
    scratch = tempfile.mkdtemp(prefix="hone_wild_repeat_")
    try:
        for name in sorted(os.listdir(args.wild)):
            src = os.path.join(args.wild, name)
            model = os.path.join(src, "model.onnx")
            if not os.path.isfile(model):
                continue
            sets = sorted(d for d in os.listdir(src) if d.startswith("test_data_set_"))
            order = [s for s in sets for _ in range(2)] + sets[:1]
            folder = os.path.join(scratch, name)
            os.makedirs(folder)
            for k, s in enumerate(order):
                os.symlink(os.path.join(src, s), os.path.join(folder, f"test_data_set_{k}"))
            for level in ("0", "2"):
                proc = run(args.hone, ["run", model, "--test-dir", folder, "--level", level], timeout=120)
                ok = proc is not None and proc.returncode == 0
                print(f"{'ok  ' if ok else 'FAIL'} {name:36s} level {level}, {len(order)} runs")
                if not ok:
                    text = "timed out" if proc is None else (proc.stdout + proc.stderr).decode(errors="replace")
                    print("       " + text.strip().replace("\n", "\n       "))
                failures += not ok
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["errors", "random", "repeat"])
    ap.add_argument("--hone", required=True)
    ap.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "errors"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--wild", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    failures = {"errors": check_errors, "random": check_random, "repeat": check_repeat}[args.mode](args)
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
