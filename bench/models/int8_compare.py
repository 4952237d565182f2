#!/usr/bin/python3
"""hone's int8 runtime against ONNX Runtime on a dynamically quantized model, side by side.

usage: /usr/bin/python3 bench/models/int8_compare.py --fp32 MODEL.onnx --int8 MODEL_DYN.onnx
                                                     [--hone PATH] [--threads N] [--rounds N] [--seconds S]
                                                     [--input NAME:DTYPE:DIMS]...

The int8 model is ONNX Runtime's dynamic form (DynamicQuantizeLinear + MatMulInteger + Cast + Mul),
e.g. written by ONNX Runtime's quantize_dynamic or a script of the same form. Four runtimes take
turns, the order rotating every round (bench/models/run.py's method and its worker processes):
hone int8, ORT int8, ORT fp32 and hone fp32; each figure is the median of per-round medians.
Prints the ratios the int8 work is judged by: hone int8 / ORT int8 and hone int8 / ORT fp32.
Before each round, bench/core_link (when built) measures how far apart the two CPUs are; the JSON
keeps it per round (cpu_link_per_round), as run.py does.
"""
import argparse
import importlib.util
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("hone_bench_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hone", default=os.environ.get("HONE", os.path.join(run.ROOT, "build", "hone")))
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--int8", required=True)
    ap.add_argument("--input", action="append", default=None, help="NAME:DTYPE:DIMS (default input:int64:1x128)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    specs = args.input or ["input:int64:1x128"]
    node = [os.path.join(HERE, "ort_bench.mjs")]
    workers = [run.Worker("ort_int8", ["node", *node, args.int8, str(args.threads), *specs]),
               run.Worker("ort_fp32", ["node", *node, args.fp32, str(args.threads), *specs])]
    hone_int8 = run.HoneRunner(args.hone, args.int8, args.threads)
    hone_int8.label = "hone_int8"
    hone_fp32 = run.HoneRunner(args.hone, args.fp32, args.threads)
    hone_fp32.label = "hone_fp32"
    runners = [hone_int8, hone_fp32]
    try:
        for w in workers:
            w.wait_ready()
            runners.append(run.WorkerRunner(w))
        estimate = {r.label: max(r.median(1, 1), 1e-3) for r in runners}
        rounds = {r.label: [] for r in runners}
        links = []
        for k in range(args.rounds):
            links.append(run.core_link(args.hone))
            for r in runners[k % len(runners):] + runners[:k % len(runners)]:
                iters = min(run.MAX_ITERS, max(3, math.ceil(args.seconds * 1000 / estimate[r.label])))
                rounds[r.label].append(r.median(iters, 1))
            run.log(f"round {k + 1}/{args.rounds}: " + "  ".join(f"{l} {v[-1]:.2f} ms" for l, v in rounds.items()) +
                    run.link_note(links[-1]))
    finally:
        for w in workers:
            w.close()
    med = {l: statistics.median(v) for l, v in rounds.items()}
    result = {"threads": args.threads, "cpu": run.cpu_model(), "median_ms": med, "round_medians_ms": rounds,
              "cpu_link_per_round": links,
              "hone_int8_over_ort_int8": med["hone_int8"] / med["ort_int8"],
              "hone_int8_over_ort_fp32": med["hone_int8"] / med["ort_fp32"]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
