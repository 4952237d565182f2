#!/usr/bin/python3
"""End to end: `hone compare` and `hone eval` on tiny models built here with onnx + numpy.

Every expected number is computed independently with numpy (max |ref - cand|, accuracy, top-5,
perplexity), so a wrong metric in hone fails the test.

usage: compare_eval_test.py --hone PATH
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def hone(*args):
    return subprocess.run([HONE, *args], capture_output=True, text=True, timeout=60)


def save(graph, path, opset=13):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="compare_eval_test")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def classifier(path, w1, w2):
    """X [batch, 6] -> MatMul W1 (fc1) -> h -> Relu -> r -> MatMul W2 (fc2) -> logits [batch, 8]."""
    nodes = [helper.make_node("MatMul", ["X", "W1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "W2"], ["logits"], name="fc2")]
    g = helper.make_graph(nodes, "classifier",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 6])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 8])],
                          [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    save(g, path)


def forward(x, w1, w2):
    return np.maximum(x @ w1, 0) @ w2


def bigram_lm(path, emb):
    """tokens [1, T] int64 -> Gather(E) -> logits [1, T, V]: a bigram model."""
    v = emb.shape[0]
    g = helper.make_graph([helper.make_node("Gather", ["E", "tokens"], ["logits"], name="embed")], "lm",
                          [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "T"])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "T", v])],
                          [numpy_helper.from_array(emb, "E")])
    save(g, path)


def one_error_line(r, what):
    lines = r.stderr.strip().splitlines()
    check(len(lines) == 1 and lines[0].startswith("hone: "), f"{what}: stderr should be one 'hone: ' line: {r.stderr!r}")


def main():
    global HONE
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    HONE = ap.parse_args().hone
    rng = np.random.default_rng(7)
    w1 = rng.uniform(-1, 1, (6, 16)).astype(np.float32)
    w2 = rng.uniform(-1, 1, (16, 8)).astype(np.float32)
    w1p = w1.copy()
    w1p[2, 5] += 0.25  # the perturbed layer is fc1
    with tempfile.TemporaryDirectory(prefix="hone-compare-eval-") as d:
        ref, cand, lm = (os.path.join(d, n) for n in ("ref.onnx", "cand.onnx", "lm.onnx"))
        classifier(ref, w1, w2)
        classifier(cand, w1p, w2)
        x = rng.uniform(-1, 1, (20, 6)).astype(np.float32)
        logits = forward(x, w1, w2)
        labels = logits.argmax(axis=1).astype(np.int64)
        labels[[1, 4, 9, 13, 17]] = (labels[[1, 4, 9, 13, 17]] + 3) % 8  # 5 wrong of 20: accuracy 0.75
        data = os.path.join(d, "data.npz")
        np.savez(data, X=x, labels=labels)

        # --- compare: a model with itself ---
        r = hone("compare", ref, ref, "--json", "--threads", "1")
        check(r.returncode == 0, f"self compare exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        o = (j.get("outputs") or [{}])[0]
        check(o.get("name") == "logits", f"self compare output {o}")
        check(o.get("max_abs_error") == 0 and o.get("cosine") == 1, f"self compare metrics {o}")
        check(o.get("sqnr_db") is None, f"self compare SQNR should be infinite (null): {o.get('sqnr_db')}")
        check(o.get("top1_agreement") == 1, f"self compare top-1 {o.get('top1_agreement')}")
        check(j.get("samples") == 8, f"random samples default 8: {j.get('samples')}")
        r = hone("compare", ref, ref, "--max-error", "0")
        check(r.returncode == 0 and "logits" in r.stdout, f"self compare text exit {r.returncode}: {r.stderr}")

        # --- compare: a perturbed copy, on the data set; numpy gives the expected error ---
        expect = forward(x, w1, w2)
        got = forward(x, w1p, w2)
        exp_max = float(np.abs(expect.astype(np.float64) - got).max())
        exp_sqnr = 10 * math.log10(float((expect.astype(np.float64) ** 2).sum()) /
                                   float(((expect.astype(np.float64) - got) ** 2).sum()))
        exp_top1 = float((expect.argmax(1) == got.argmax(1)).mean())
        r = hone("compare", ref, cand, "--data", data, "--json", "--threads", "1")
        check(r.returncode == 0, f"perturbed compare exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        o = (j.get("outputs") or [{}])[0]
        check(j.get("samples") == 20, f"data samples {j.get('samples')}")
        check(abs(o.get("max_abs_error", -1) - exp_max) <= 1e-5 * max(1, exp_max),
              f"max_abs_error {o.get('max_abs_error')} != numpy {exp_max}")
        check(abs(o.get("sqnr_db", -1) - exp_sqnr) < 1e-3, f"sqnr_db {o.get('sqnr_db')} != numpy {exp_sqnr}")
        check(abs(o.get("top1_agreement", -1) - exp_top1) < 1e-9, f"top1 {o.get('top1_agreement')} != numpy {exp_top1}")
        check(0 < o.get("cosine", 2) < 1, f"cosine {o.get('cosine')}")
        r = hone("compare", ref, cand, "--data", data, "--max-error", "1e-6")
        check(r.returncode == 1, f"--max-error 1e-6 on a perturbed copy: exit {r.returncode} (want 1)")
        one_error_line(r, "--max-error exceeded")
        check("exceeds --max-error" in r.stderr and "'logits'" in r.stderr, f"--max-error message: {r.stderr!r}")
        r = hone("compare", ref, cand, "--data", data, "--max-error", str(exp_max * 1.01))
        check(r.returncode == 0, f"--max-error above the error: exit {r.returncode}: {r.stderr}")

        # --- per layer: fc1 (value h) adds the error; fc2 only passes it on ---
        r = hone("compare", ref, cand, "--data", data, "--per-layer", "--json", "--threads", "1")
        check(r.returncode == 0, f"--per-layer exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        layers = j.get("layers", [])
        check(len(layers) == 3 and layers[0].get("value") == "h" and layers[0].get("node") == "fc1",
              f"--per-layer ranking: {[(l.get('value'), l.get('added_error')) for l in layers]}")
        check(j.get("layers_compared") == 3, f"layers_compared {j.get('layers_compared')}")
        po = (j.get("outputs") or [{}])[0]
        check(abs(po.get("max_abs_error", -1) - exp_max) <= 1e-5 * max(1, exp_max), f"--per-layer output error {po}")
        r = hone("compare", ref, cand, "--data", data, "--per-layer", "--top", "2")
        check(r.returncode == 0 and "fc1" in r.stdout, f"--per-layer text: {r.returncode} {r.stdout}")

        # --- per layer against a real static (QDQ) quantization: each value's dequantized copy ---
        qdq = os.path.join(d, "qdq.onnx")
        r = hone("quantize", ref, "-o", qdq, "--mode", "static", "--calib", data)
        check(r.returncode == 0, f"quantize --mode static: exit {r.returncode}: {r.stderr}")
        if r.returncode == 0:
            r = hone("compare", ref, qdq, "--data", data, "--per-layer", "--json", "--threads", "1")
            check(r.returncode == 0, f"--per-layer on a QDQ model: exit {r.returncode}: {r.stderr}")
            j = json.loads(r.stdout) if r.returncode == 0 else {}
            layers = j.get("layers", [])
            check(any(l.get("cand_value") != l.get("value") for l in layers),
                  f"QDQ: no layer compared through its dequantized copy: {[(l.get('value'), l.get('cand_value')) for l in layers]}")
            check(all(0 < l.get("rel_rms_error", 0) < 0.1 for l in layers if l.get("value") in ("h", "logits")),
                  f"QDQ: int8 error of h/logits should be small but present: {[(l.get('value'), l.get('rel_rms_error')) for l in layers]}")

        # --- eval: accuracy and top-5 against numpy ---
        r = hone("eval", ref, "--data", data, "--json", "--threads", "1")
        check(r.returncode == 0, f"eval exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check({"metric", "value", "samples", "seconds"} <= set(j), f"eval keys {sorted(j)}")
        check(j.get("metric") == "accuracy" and j.get("value") == 0.75 and j.get("samples") == 20, f"eval accuracy {j}")
        rank = (logits > logits[np.arange(20), labels][:, None]).sum(1) + \
               np.array([(logits[i, :labels[i]] == logits[i, labels[i]]).sum() for i in range(20)])
        exp_top5 = float((rank < 5).mean())
        r = hone("eval", ref, "--data", data, "--metric", "top5", "--json")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and abs(j.get("value", -1) - exp_top5) < 1e-12, f"top5 {j.get('value')} != numpy {exp_top5}")
        r = hone("eval", ref, "--data", data, "--limit", "4", "--json")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        exp4 = float((logits[:4].argmax(1) == labels[:4]).mean())
        check(j.get("samples") == 4 and j.get("value") == exp4, f"--limit 4: {j} (want {exp4})")
        np.savez(os.path.join(d, "renamed.npz"), X=x, y=labels)
        r = hone("eval", ref, "--data", os.path.join(d, "renamed.npz"), "--labels", "y", "--json")
        check(r.returncode == 0 and json.loads(r.stdout).get("value") == 0.75, f"--labels y: {r.returncode} {r.stderr}")

        # --- eval: perplexity of a bigram model against numpy's log-softmax ---
        V, T = 12, 9
        emb = rng.normal(0, 2, (V, V)).astype(np.float32)
        bigram_lm(lm, emb)
        tokens = rng.integers(0, V, (5, T)).astype(np.int64)
        lg = emb[tokens].astype(np.float64)  # [N, T, V]
        lse = lg.max(-1) + np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1))
        nll = lse[:, :-1] - np.take_along_axis(lg[:, :-1], tokens[:, 1:, None], -1)[..., 0]
        exp_ppl = float(np.exp(nll.mean()))
        tok = os.path.join(d, "tokens.npz")
        np.savez(tok, tokens=tokens)
        r = hone("eval", lm, "--data", tok, "--metric", "perplexity", "--json")
        check(r.returncode == 0, f"perplexity exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(abs(j.get("value", -1) - exp_ppl) <= 1e-4 * exp_ppl and j.get("samples") == 5,
              f"perplexity {j.get('value')} != numpy {exp_ppl}")

        # --- bad data and mismatched models: exit 2, one line ---
        garbage = os.path.join(d, "garbage.npz")
        with open(garbage, "wb") as f:
            f.write(b"PK\x03\x04 this is not a zip archive")
        bad_labels = os.path.join(d, "bad_labels.npz")
        np.savez(bad_labels, X=x, labels=np.full(20, 8, np.int64))  # class 8 of 8 classes
        wrong_dtype = os.path.join(d, "wrong_dtype.npz")
        np.savez(wrong_dtype, X=(x * 10).astype(np.int32), labels=labels)  # integers for a float input
        no_labels = os.path.join(d, "no_labels.npz")
        np.savez(no_labels, X=x)
        no_input = os.path.join(d, "no_input.npz")
        np.savez(no_input, Z=x, labels=labels)
        cases = [
            ("eval garbage npz", ["eval", ref, "--data", garbage]),
            ("eval missing file", ["eval", ref, "--data", os.path.join(d, "absent.npz")]),
            ("eval label out of range", ["eval", ref, "--data", bad_labels]),
            ("eval wrong dtype", ["eval", ref, "--data", wrong_dtype]),
            ("eval no labels", ["eval", ref, "--data", no_labels]),
            ("eval no input array", ["eval", ref, "--data", no_input]),
            ("eval unknown metric", ["eval", ref, "--data", data, "--metric", "f1"]),
            ("eval perplexity without tokens", ["eval", lm, "--data", data, "--metric", "perplexity"]),
            ("compare garbage data", ["compare", ref, cand, "--data", garbage]),
            ("compare different models", ["compare", ref, lm]),
            ("compare missing model", ["compare", ref, os.path.join(d, "absent.onnx")]),
            ("compare data and random", ["compare", ref, cand, "--data", data, "--random"]),
        ]
        for what, args in cases:
            r = hone(*args)
            check(r.returncode == 2, f"{what}: exit {r.returncode} (want 2): {r.stderr!r}")
            one_error_line(r, what)
        r = hone("compare", ref, lm)
        check("different inputs" in r.stderr, f"mismatch message: {r.stderr!r}")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("compare/eval end-to-end checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
