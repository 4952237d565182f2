#!/usr/bin/python3
"""ONNX Runtime agreement for `hone quantize --mode dynamic` (issue acceptance: ORT loads every model
hone writes and its outputs agree with hone's: cosine >= 0.999 and max|a - b| <= 1 % of the
output's range).

Float models: the shipped mlp_tiny (Gemm) and digits CNN (Conv, Gemm), and a MatMul model with a 3-D
input written here (the transformer case: [batch, seq, K] x [K, N]). Each is quantized by hone per
tensor and --per-channel (the CNN also with --ops Conv, i.e. ConvInteger), then the *same*
quantized file runs in hone (`hone run`) and in ONNX Runtime (../nbits_ort/ort_run.mjs) on the same
random inputs. Exit 77 (skip) when onnxruntime-node (`make peers`) is not installed."""
import argparse, os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_RUN = os.path.join(HERE, "..", "nbits_ort", "ort_run.mjs")


def ort_available():
    modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(
        os.environ.get("HONE_PEERS", os.path.expanduser("~/.cache/hone/peers")), "node_modules")
    return os.path.isdir(os.path.join(modules, "onnxruntime-node"))


def matmul3d_model(rng, path):
    """X [b, s, 64] -> MatMul 64x96 -> Add -> Relu -> MatMul 96x32 -> Y."""
    w1 = rng.normal(0, 0.15, size=(64, 96)).astype(np.float32)
    b1 = rng.normal(0, 0.1, size=(96,)).astype(np.float32)
    w2 = rng.normal(0, 0.1, size=(96, 32)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["X", "W1"], ["h0"], name="mm1"),
             helper.make_node("Add", ["h0", "B1"], ["h1"], name="bias1"),
             helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
             helper.make_node("MatMul", ["h2", "W2"], ["Y"], name="mm2")]
    g = helper.make_graph(nodes, "mm3d", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", "s", 64])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["b", "s", 32])],
                          [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1"),
                           numpy_helper.from_array(w2, "W2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def compare(hone, tmp, name, model, feeds):
    specs, args = [], []
    for k, v in feeds.items():
        raw = os.path.join(tmp, f"{name}_{k}.f32")
        v.astype("<f4").tofile(raw)
        specs.append(f"{k}:{'x'.join(map(str, v.shape))}:{raw}")
        npy = os.path.join(tmp, f"{name}_{k}.npy")
        np.save(npy, v)
        args += ["--input", f"{k}={npy}"]
    outdir = os.path.join(tmp, name + "_ort")
    os.makedirs(outdir, exist_ok=True)
    run(["node", ORT_RUN, model, outdir] + specs)
    out_name = onnx.load(model, load_external_data=False).graph.output[0].name
    ort = np.fromfile(os.path.join(outdir, out_name + ".f32"), "<f4").astype(np.float64)
    npz = os.path.join(tmp, name + "_hone.npz")
    run([hone, "run", model, "--threads", "2", "--outputs", npz] + args)
    ours = np.load(npz)[out_name].reshape(-1).astype(np.float64)
    if ours.shape != ort.shape:
        raise SystemExit(f"{name}: hone gives {ours.shape[0]} values, ORT {ort.shape[0]}")
    cos = float(np.dot(ours, ort) / max(np.linalg.norm(ours) * np.linalg.norm(ort), 1e-300))
    err = float(np.abs(ours - ort).max())
    rng_out = float(ort.max() - ort.min())
    return cos, err, rng_out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    ap.add_argument("--models", required=True, help="the repository's models/ folder")
    a = ap.parse_args()
    if not ort_available():
        print("onnxruntime-node not installed (make peers): skipped")
        return 77
    rng = np.random.default_rng(11)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        mm3d = os.path.join(tmp, "mm3d.onnx")
        matmul3d_model(rng, mm3d)
        cases = [  # name, float model, extra quantize flags, feeds
            ("matmul3d", mm3d, [], {"X": rng.normal(0, 1, size=(2, 16, 64))}),
            ("matmul3d-pc", mm3d, ["--per-channel"], {"X": rng.normal(0, 1, size=(2, 16, 64))}),
            ("mlp_tiny", os.path.join(a.models, "mlp_tiny.onnx"), [], {"input": rng.normal(0, 1, size=(8, 64))}),
            ("mlp_tiny-pc", os.path.join(a.models, "mlp_tiny.onnx"), ["--per-channel"],
             {"input": rng.normal(0, 1, size=(8, 64))}),
            ("digits-conv", os.path.join(a.models, "digits_cnn.onnx"), ["--ops", "Conv"],
             {"input": rng.uniform(0, 16, size=(4, 1, 8, 8))}),
            ("digits-conv-pc", os.path.join(a.models, "digits_cnn.onnx"), ["--ops", "Conv", "--per-channel"],
             {"input": rng.uniform(0, 16, size=(4, 1, 8, 8))}),
            ("digits-all-pc", os.path.join(a.models, "digits_cnn.onnx"), ["--ops", "MatMul,Gemm,Conv", "--per-channel"],
             {"input": rng.uniform(0, 16, size=(4, 1, 8, 8))}),
        ]
        for name, src, flags, feeds in cases:
            q = os.path.join(tmp, name + ".int8.onnx")
            run([a.hone, "quantize", src, "-o", q, "--mode", "dynamic", "--threads", "1"] + flags)
            ops = [n.op_type for n in onnx.load(q, load_external_data=False).graph.node]
            integer_ops = sum(op in ("MatMulInteger", "ConvInteger") for op in ops)
            feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
            cos, err, out_range = compare(a.hone, tmp, name, q, feeds)
            ok = integer_ops > 0 and cos >= 0.999 and err <= 0.01 * out_range
            failures += not ok
            print(f"{name}: {integer_ops} integer ops; cosine {cos:.7f}, max|hone-ort| {err:.3g} "
                  f"= {100 * err / max(out_range, 1e-30):.2g} % of the output range {out_range:.3g} "
                  f"{'ok' if ok else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
