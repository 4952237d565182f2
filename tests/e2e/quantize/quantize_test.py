#!/usr/bin/python3
"""End to end: `hone quantize`.

  quantize_test.py --hone PATH --model models/mlp_tiny.onnx   dynamic / weight-only on the tiny MLP
  quantize_test.py --hone PATH --zoo                          bert_mini dynamic int8 vs fp32 (exit 77
                                                              when ~/.cache/hone/zoo is absent)

Structure is read back with onnx; numerics run through `hone run` and are compared in numpy
(cosine of the outputs), so a wrong graph or wrong numbers fail the test.
"""
import argparse
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def hone(*args, timeout=120):
    return subprocess.run([HONE, *args], capture_output=True, text=True, timeout=timeout)


def ops(path):
    m = onnx.load(path)
    c = {}
    for n in m.graph.node:
        c[n.op_type] = c.get(n.op_type, 0) + 1
    return c, m


def run_model(path, inputs_npz, out_npz):
    r = hone("run", path, "--inputs", inputs_npz, "--outputs", out_npz, "--threads", "2")
    return r


def cosine(a, b):
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def outputs(npz):
    with np.load(npz) as z:
        return {k: z[k] for k in z.files}


def tiny(model, tmp):
    x = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32)
    inputs = os.path.join(tmp, "x.npz")
    np.savez(inputs, input=x)
    ref_out = os.path.join(tmp, "ref.npz")
    r = run_model(model, inputs, ref_out)
    if not check(r.returncode == 0, f"hone run on the float model: {r.stderr}"):
        return
    ref = outputs(ref_out)["probs"]

    # --- dynamic, per tensor and per channel
    for extra in ([], ["--per-channel"]):
        out = os.path.join(tmp, "dyn.onnx")
        r = hone("quantize", model, "-o", out, "--mode", "dynamic", "--json", *extra)
        if not check(r.returncode == 0, f"quantize dynamic {extra}: rc {r.returncode} {r.stderr}"):
            continue
        j = json.loads(r.stdout)
        for key in ("mode", "quantized_nodes", "skipped", "bytes_in", "bytes_out", "seconds", "rules"):
            check(key in j, f"--json lacks {key}")
        check(j["mode"] == "dynamic", "json mode")
        check(j["quantized_nodes"] == {"Gemm": 2}, f"quantized_nodes {j['quantized_nodes']}")
        check(j["bytes_out"] < j["bytes_in"], f"dynamic model not smaller: {j['bytes_in']} -> {j['bytes_out']}")
        c, m = ops(out)
        onnx.checker.check_model(m)
        check(c.get("Gemm", 0) == 0 and c.get("MatMulInteger") == 2 and c.get("DynamicQuantizeLinear") == 2,
              f"dynamic structure {c}")
        check(any(o.domain in ("", "ai.onnx") and o.version >= 11 for o in m.opset_import), "opset >= 11")
        q_out = os.path.join(tmp, "dyn_out.npz")
        r = run_model(out, inputs, q_out)
        if check(r.returncode == 0, f"hone run on the dynamic model: {r.stderr}"):
            cs = cosine(ref, outputs(q_out)["probs"])
            print(f"mlp_tiny dynamic {extra}: cosine vs float {cs:.6f}")
            check(cs >= 0.999, f"dynamic {extra} cosine {cs}")

    # --- text summary
    r = hone("quantize", model, "-o", os.path.join(tmp, "t.onnx"), "--mode", "dynamic", "--exclude", "fc2")
    check(r.returncode == 0 and "Gemm" in r.stdout and "fc2" in r.stdout and "excluded" in r.stdout,
          f"text summary: {r.stdout} {r.stderr}")

    # --- weight-only rtn 4 and 8 bits, asymmetric (the default; --asymmetric names it) and --symmetric
    for bits, asym, flag in (("4", False, "--symmetric"), ("8", False, "--symmetric"), ("4", True, None),
                             ("8", True, None), ("4", True, "--asymmetric")):
        out = os.path.join(tmp, f"wo{bits}{'a' if asym else ''}{flag or ''}.onnx")
        r = hone("quantize", model, "-o", out, "--mode", "weight-only", "--bits", bits, "--block", "32",
                 *([flag] if flag else []))
        if not check(r.returncode == 0, f"quantize weight-only {bits}: {r.stderr}"):
            continue
        c, m = ops(out)
        check(c.get("MatMulNBits") == 2 and c.get("Gemm", 0) == 0, f"weight-only structure {c}")
        node = [n for n in m.graph.node if n.op_type == "MatMulNBits"][0]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        check(attrs.get("bits") == int(bits) and attrs.get("block_size") == 32 and attrs.get("K") == 64 and attrs.get("N") == 128,
              f"MatMulNBits attributes {attrs}")
        check(node.domain == "com.microsoft", "MatMulNBits domain")
        check(any(o.domain == "com.microsoft" and o.version == 1 for o in m.opset_import), "com.microsoft opset import")
        inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        b = inits[node.input[1]]
        check(b.dtype == np.uint8 and b.shape == (128, 2, 32 * int(bits) // 8), f"B shape {b.shape}")
        # Dequantize by hand and compare with the float weight (fc1: Gemm transB, W [128, 64]).
        fm = onnx.load(model)
        w = {i.name: numpy_helper.to_array(i) for i in fm.graph.initializer}["w1"]
        s = inits[node.input[2]].reshape(128, 2)
        if asym:
            # ORT's packed zero points: per column ceil(2 blocks * bits / 8) bytes, low nibble first.
            check(len(node.input) >= 4 and node.input[3] in inits, f"asymmetric: zero_points input {list(node.input)}")
            z = inits[node.input[3]]
            check(z.dtype == np.uint8 and z.size == 128 * (1 if bits == "4" else 2), f"zero_points {z.dtype} {z.shape}")
            zp = (np.stack([z & 0xF, z >> 4], axis=-1).reshape(128, 2) if bits == "4" else z.reshape(128, 2)).astype(np.int32)
        else:
            check(len(node.input) < 4 or node.input[3] == "", f"symmetric: no zero_points input {list(node.input)}")
            zp = np.full((128, 2), 8 if bits == "4" else 128, np.int32)
        if bits == "4":
            codes = np.stack([b & 0xF, b >> 4], axis=-1).reshape(128, 2, 32).astype(np.int32) - zp[:, :, None]
        else:
            codes = b.astype(np.int32) - zp[:, :, None]
        deq = (codes * s[:, :, None]).reshape(128, 64)
        err = np.abs(deq - w).max()
        check(err <= s.max() / 2 + 1e-6, f"weight-only {bits}: dequantized weight off by {err}")
        q_out = os.path.join(tmp, "wo_out.npz")
        r = run_model(out, inputs, q_out)
        if r.returncode == 0:
            cs = cosine(ref, outputs(q_out)["probs"])
            print(f"mlp_tiny weight-only int{bits}{' asymmetric' if asym else ''}: cosine vs float {cs:.6f}")
            check(cs >= 0.99, f"weight-only {bits} cosine {cs}")
        else:
            print(f"note: hone cannot run MatMulNBits yet ({r.stderr.strip()})")

    # --- rules: re-applying gives the same bytes (dynamic per-channel, rtn, gptq, awq; asymmetric
    # by default, symmetric with --symmetric)
    calib = os.path.join(tmp, "calib.npz")
    # 160 samples of one row: more rows than fc2's 128 inputs, so GPTQ runs on both layers (fewer rows
    # than a weight's K keep rtn).
    np.savez(calib, input=np.random.default_rng(1).standard_normal((160, 64)).astype(np.float32) *
             np.where(np.arange(64) % 13 == 0, 10.0, 1.0).astype(np.float32))
    for name, args in (("dynamic", ["--mode", "dynamic", "--per-channel"]),
                       ("rtn_sym", ["--mode", "weight-only", "--bits", "4", "--symmetric"]),
                       ("awq_sym", ["--mode", "weight-only", "--algo", "awq", "--calib", calib, "--symmetric"]),
                       ("gptq_sym", ["--mode", "weight-only", "--algo", "gptq", "--calib", calib, "--symmetric"]),
                       ("rtn_asym", ["--mode", "weight-only", "--bits", "4"]),
                       ("awq_asym", ["--mode", "weight-only", "--algo", "awq", "--calib", calib]),
                       ("gptq_asym", ["--mode", "weight-only", "--algo", "gptq", "--calib", calib]),
                       ("gptq8_asym", ["--mode", "weight-only", "--algo", "gptq", "--calib", calib, "--bits", "8",
                                       "--block", "16"])):
        a = os.path.join(tmp, f"{name}_a.onnx")
        b = os.path.join(tmp, f"{name}_b.onnx")
        c2 = os.path.join(tmp, f"{name}_c.onnx")
        rules = os.path.join(tmp, f"{name}.json")
        r = hone("quantize", model, "-o", a, *args, "--rules-out", rules, "--threads", "1")
        if not check(r.returncode == 0, f"{name} --rules-out: {r.stderr}"):
            continue
        r = hone("quantize", model, "-o", b, "--rules", rules)
        check(r.returncode == 0, f"{name} --rules: {r.stderr}")
        check(os.path.exists(b) and filecmp.cmp(a, b, shallow=False), f"{name}: --rules output differs")
        # Same command, other thread count: same bytes.
        r = hone("quantize", model, "-o", c2, *args, "--threads", "3")
        check(r.returncode == 0 and filecmp.cmp(a, c2, shallow=False), f"{name}: not deterministic across runs/threads")
        with open(rules) as f:
            j = json.load(f)
        check(j.get("version") == 1 and len(j.get("tensors", [])) == 2, f"{name} rules content")
        check(j.get("model_sha256") == hashlib.sha256(open(model, "rb").read()).hexdigest(), f"{name} rules model_sha256")
        if name.startswith("awq"):
            check(any("channel_scale" in t.get("extra", {}) for t in j["tensors"]), "awq rules keep channel_scale")
        if name.startswith("gptq"):
            check(all(t["method"] == "gptq" and len(t.get("extra", {}).get("codes", [])) == 64 * 128
                      for t in j["tensors"] if t["tensor"] == "w1"), f"{name}: gptq rules keep the codes")
        want = ("asymmetric", "uint8" if name.startswith("gptq8") else "uint4") if name.endswith("_asym") else ("symmetric", "int4")
        if name != "dynamic":
            check(all((t["scheme"], t["dtype"]) == want for t in j["tensors"]), f"{name} rules scheme, want {want}")

    # --- rules applied to another model: still applied, with a warning naming the mismatch
    other = os.path.join(tmp, "other.onnx")
    om = onnx.load(model)
    om.producer_name = "someone-else"
    onnx.save(om, other)
    r = hone("quantize", other, "-o", os.path.join(tmp, "other_q.onnx"), "--rules", os.path.join(tmp, "dynamic.json"))
    check(r.returncode == 0 and "warning" in r.stderr and "sha256" in r.stderr, f"rules on another model: {r.returncode} {r.stderr}")

    # --- refusals and bad flags: exit 2, input untouched
    before = open(model, "rb").read()
    cases = [
        ("output is the input", [model, "-o", model, "--mode", "dynamic"]),
        ("unknown mode", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "fast"]),
        ("bits 3", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "weight-only", "--bits", "3"]),
        ("block 48", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "weight-only", "--block", "48"]),
        ("awq without calib", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "weight-only", "--algo", "awq"]),
        ("gptq without calib", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "weight-only", "--algo", "gptq"]),
        ("symmetric and asymmetric", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "weight-only", "--symmetric",
                                      "--asymmetric"]),
        ("rules and rules-out", [model, "-o", os.path.join(tmp, "x.onnx"), "--rules", "a.json", "--rules-out", "b.json"]),
        ("no -o", [model, "--mode", "dynamic"]),
        ("no mode", [model, "-o", os.path.join(tmp, "x.onnx")]),
        ("missing model", [os.path.join(tmp, "absent.onnx"), "-o", os.path.join(tmp, "x.onnx"), "--mode", "dynamic"]),
        ("unknown flag", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "dynamic", "--frobnicate"]),
        ("bad --ops", [model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "dynamic", "--ops", "Softmax"]),
    ]
    bad_rules = os.path.join(tmp, "bad.json")
    with open(bad_rules, "w") as f:
        f.write('{"version": 7, "mode": "dynamic", "tensors": []}')
    cases.append(("bad rules", [model, "-o", os.path.join(tmp, "x.onnx"), "--rules", bad_rules]))
    for what, args in cases:
        r = hone("quantize", *args)
        check(r.returncode == 2, f"{what}: expected exit 2, got {r.returncode} ({r.stderr.strip()})")
        if what not in ("unknown flag", "no -o", "rules and rules-out"):  # CLI11 parse errors
            line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
            check(line.startswith("hone: quantize: "), f"{what}: error line '{line}'")
    check(not os.path.exists(os.path.join(tmp, "x.onnx")), "a refused command wrote its output")
    check(open(model, "rb").read() == before, "the input model changed")


def zoo(tmp):
    zdir = os.path.expanduser(os.environ.get("HONE_ZOO", "~/.cache/hone/zoo"))
    model = os.path.join(zdir, "bert_mini.onnx")
    data = os.path.join(zdir, "bert_mini", "test_data_set_0")
    if not os.path.exists(model) or not os.path.isdir(data):
        print(f"skip: {model} or {data} absent (make zoo)")
        sys.exit(77)
    m = onnx.load(model, load_external_data=False)
    names = [i.name for i in m.graph.input if i.name not in {x.name for x in m.graph.initializer}]
    feeds = {}
    for i, name in enumerate(names):
        feeds[name] = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, f"input_{i}.pb")))
    inputs = os.path.join(tmp, "in.npz")
    np.savez(inputs, **feeds)
    out = os.path.join(tmp, "bert_mini.int8.onnx")
    r = hone("quantize", model, "-o", out, "--mode", "dynamic", "--json", timeout=240)
    if not check(r.returncode == 0, f"bert_mini dynamic: {r.stderr}"):
        return
    j = json.loads(r.stdout)
    print(f"bert_mini dynamic: {j['quantized_nodes']} {j['bytes_in']} -> {j['bytes_out']} bytes in {j['seconds']:.2f} s")
    check(sum(j["quantized_nodes"].values()) > 0, "bert_mini: nothing quantized")
    ref_npz, q_npz = os.path.join(tmp, "ref.npz"), os.path.join(tmp, "q.npz")
    r1 = run_model(model, inputs, ref_npz)
    r2 = run_model(out, inputs, q_npz)
    if check(r1.returncode == 0 and r2.returncode == 0, f"bert_mini runs: {r1.stderr} {r2.stderr}"):
        ref, got = outputs(ref_npz), outputs(q_npz)
        for k in ref:
            cs = cosine(ref[k], got[k])
            print(f"bert_mini dynamic int8 output {k}: cosine vs fp32 {cs:.6f}")
            check(cs >= 0.99, f"bert_mini {k} cosine {cs}")


def main():
    global HONE
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    ap.add_argument("--model")
    ap.add_argument("--zoo", action="store_true")
    a = ap.parse_args()
    HONE = a.hone
    tmp = tempfile.mkdtemp(prefix="hone-quantize-e2e-")
    try:
        if a.zoo:
            zoo(tmp)
        else:
            tiny(a.model, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
