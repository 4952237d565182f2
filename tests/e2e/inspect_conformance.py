#!/usr/bin/python3
"""`hone inspect` and `hone inspect --json` on every model of the ONNX conformance suite.

Each run must exit 0 with nothing on stderr (not even a shape-inference warning); the JSON must
parse and agree with what ONNX's own Python loader reads from the same file: producer, opsets,
graph inputs (initializers excluded) and outputs, node and initializer counts (subgraphs
included), metadata. Exit 77 (CTest's skip) when the suite is not installed.

    inspect_conformance.py --hone build/hone [--suite-root /usr/share/libonnx-testdata/data]
"""

import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys

import onnx

SUITES = ("node", "pytorch-converted", "pytorch-operator", "simple")


def walk_graphs(graph):
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from walk_graphs(attr.g)
            for g in attr.graphs:
                yield from walk_graphs(g)


def expected_summary(path):
    m = onnx.load(path)
    graphs = list(walk_graphs(m.graph))
    top_inits = {t.name for t in m.graph.initializer}
    return {
        "producer": m.producer_name,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in m.opset_import},
        "inputs": [v.name for v in m.graph.input if v.name not in top_inits],
        "outputs": [v.name for v in m.graph.output],
        "nodes": sum(len(g.node) for g in graphs),
        "initializers": sum(len(g.initializer) for g in graphs),
        "metadata": {p.key: p.value for p in m.metadata_props},
    }


def check_model(hone, path):
    problems = []
    text = subprocess.run([hone, "inspect", path], capture_output=True, timeout=120)
    if text.returncode != 0:
        problems.append(f"`hone inspect` exited {text.returncode}")
    if text.stderr:
        problems.append(f"`hone inspect` wrote to stderr: {text.stderr[:300]!r}")
    if b"ops:" not in text.stdout:
        problems.append("`hone inspect` printed no ops table")

    js = subprocess.run([hone, "inspect", "--json", path], capture_output=True, timeout=120)
    if js.returncode != 0:
        problems.append(f"`hone inspect --json` exited {js.returncode}")
    if js.stderr:
        problems.append(f"`hone inspect --json` wrote to stderr: {js.stderr[:300]!r}")
    try:
        j = json.loads(js.stdout)
    except ValueError as e:
        return problems + [f"`hone inspect --json` printed invalid JSON: {e}"]

    want = expected_summary(path)
    got = {
        "producer": j.get("producer", {}).get("name"),
        "opsets": j.get("opsets"),
        "inputs": [v.get("name") for v in j.get("inputs", [])],
        "outputs": [v.get("name") for v in j.get("outputs", [])],
        "nodes": j.get("nodes"),
        "initializers": j.get("parameters", {}).get("total", {}).get("tensors"),
        "metadata": j.get("metadata"),
    }
    for key, value in want.items():
        if got[key] != value:
            problems.append(f"JSON {key} is {got[key]!r}, ONNX says {value!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hone", required=True)
    ap.add_argument("--suite-root", default="/usr/share/libonnx-testdata/data")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    models = sorted(p for s in SUITES for p in glob.glob(os.path.join(args.suite_root, s, "*", "model.onnx")))
    if not models:
        print(f"SKIP: no conformance models under {args.suite_root} (install libonnx-testdata)")
        return 77
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for path, problems in zip(models, pool.map(lambda p: check_model(args.hone, p), models)):
            if problems:
                failed += 1
                print(f"FAIL {path}:")
                for p in problems:
                    print(f"    {p}")
    print(f"{len(models) - failed} of {len(models)} conformance models inspected cleanly (text and JSON)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
