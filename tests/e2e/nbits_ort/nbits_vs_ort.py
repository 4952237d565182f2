#!/usr/bin/python3
"""hone vs ONNX Runtime on com.microsoft.MatMulNBits and GatherBlockQuantized models written here
with random codes in ORT's layout (docs/nbits.md): 2/4/8 bits, K not a multiple of the block,
packed and absent zero points, bias, accuracy_level 0 and 4. Both runtimes read the same model and
inputs; outputs must agree within the accuracy each path documents. Exit 77 (skip) when
onnxruntime-node (`make peers`) is not installed."""
import argparse, os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def ort_available():
    modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(
        os.environ.get("HONE_PEERS", os.path.expanduser("~/.cache/hone/peers")), "node_modules")
    return os.path.isdir(os.path.join(modules, "onnxruntime-node"))


def pack(codes, bits):
    """codes [rows, n] (n a multiple of 8 / bits) -> bytes [rows, n * bits / 8], low bits first."""
    per = 8 // bits
    rows, n = codes.shape
    c = codes.reshape(rows, n // per, per).astype(np.uint16)
    out = np.zeros((rows, n // per), np.uint16)
    for j in range(per):
        out |= c[:, :, j] << (j * bits)
    return out.astype(np.uint8)


def matmul_nbits_model(rng, k, n, bits, block, with_zp, with_bias, acc_level):
    kb = (k + block - 1) // block
    top = (1 << bits) - 1
    codes = rng.integers(0, top + 1, size=(n, kb * block))
    b = pack(codes, bits).reshape(n, kb, block * bits // 8)
    scales = rng.uniform(0.005, 0.05, size=(n * kb,)).astype(np.float32)
    inits = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(scales, "scales")]
    inputs = ["A", "B", "scales"]
    if with_zp:
        zp = rng.integers(0, top + 1, size=(n, kb))
        zrow = (kb * bits + 7) // 8
        zpad = np.zeros((n, zrow * 8 // bits), np.int64)
        zpad[:, :kb] = zp
        inits.append(numpy_helper.from_array(pack(zpad, bits).reshape(-1), "zp"))
        inputs.append("zp")
    if with_bias:
        while len(inputs) < 5:
            inputs.append("")
        inits.append(numpy_helper.from_array(rng.uniform(-1, 1, size=(n,)).astype(np.float32), "bias"))
        inputs.append("bias")
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft", K=k, N=n, bits=bits,
                            block_size=block, accuracy_level=acc_level)
    graph = helper.make_graph([node], "nbits", [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["m", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["m", n])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                             ir_version=8)


def gather_model(rng, rows, cols, bits, block, with_zp):
    top = (1 << bits) - 1
    nb = (cols + block - 1) // block
    data = pack(rng.integers(0, top + 1, size=(rows, cols)), bits)
    scales = rng.uniform(0.5, 2.0, size=(rows, nb)).astype(np.float32)
    inits = [numpy_helper.from_array(data, "data"), numpy_helper.from_array(scales, "scales")]
    inputs = ["data", "idx", "scales"]
    if with_zp:
        per = 8 // bits
        zrow = (nb + per - 1) // per
        zpad = np.zeros((rows, zrow * per), np.int64)
        zpad[:, :nb] = rng.integers(0, top + 1, size=(rows, nb))
        inits.append(numpy_helper.from_array(pack(zpad, bits), "zp"))
        inputs.append("zp")
    idx = numpy_helper.from_array(np.array([[3, 0], [rows - 1, 1]], np.int64), "idx")
    inits.append(idx)
    node = helper.make_node("GatherBlockQuantized", inputs, ["Y"], domain="com.microsoft", bits=bits,
                            block_size=block, gather_axis=0, quantize_axis=1)
    # A float input so that both runtimes are fed the same way: Y + 0 * x.
    add = helper.make_node("Add", ["Y", "x"], ["out"])
    graph = helper.make_graph([node, add], "gbq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                             ir_version=8)


def run_both(hone, tmp, name, model, feeds):
    path = os.path.join(tmp, name + ".onnx")
    onnx.save(model, path)
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
    subprocess.run(["node", os.path.join(HERE, "ort_run.mjs"), path, outdir] + specs, check=True)
    out_name = model.graph.output[0].name
    ort = np.fromfile(os.path.join(outdir, out_name + ".f32"), "<f4")
    npz = os.path.join(tmp, name + "_hone.npz")
    r = subprocess.run([hone, "run", path, "--threads", "2", "--outputs", npz] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{name}: hone run failed ({r.returncode}): {r.stderr.strip()}")
    ours = np.load(npz)[out_name].reshape(-1)
    return ours, ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    a = ap.parse_args()
    if not ort_available():
        print("onnxruntime-node not installed (make peers): skipped")
        return 77
    rng = np.random.default_rng(7)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        cases = [  # k, n, bits, block, zp, bias, accuracy_level, m
            (100, 37, 4, 32, True, False, 0, 1), (256, 64, 4, 64, False, True, 0, 3), (200, 19, 8, 32, True, True, 0, 2),
            (96, 10, 2, 16, True, False, 0, 1), (4096, 128, 4, 32, True, False, 0, 1), (300, 48, 4, 128, True, True, 4, 5),
            (128, 40, 4, 32, False, False, 0, 40), (64, 24, 4, 32, True, True, 0, 130), (64, 24, 8, 32, True, False, 0, 60)]
        for i, (k, n, bits, block, zp, bias, acc, m) in enumerate(cases):
            model = matmul_nbits_model(rng, k, n, bits, block, zp, bias, acc)
            x = rng.uniform(-1, 1, size=(m, k)).astype(np.float32)
            ours, ort = run_both(a.hone, tmp, f"mmnb{i}", model, {"A": x})
            err = float(np.abs(ours - ort).max())
            mag = float(np.abs(ort).max())
            # accuracy_level 4: ORT and hone each quantize A to int8 (differently); otherwise fp32.
            tol = (2e-2 if acc == 4 else 2e-5) * max(mag, 1.0) * (1 + np.sqrt(k) / 16)
            ok = err <= tol
            failures += not ok
            print(f"MatMulNBits K={k} N={n} bits={bits} block={block} zp={zp} bias={bias} acc={acc} M={m}: "
                  f"max|hone-ort|={err:.3g} (max|y|={mag:.3g}, tol {tol:.3g}) {'ok' if ok else 'FAIL'}")
        for i, (bits, block, zp) in enumerate([(4, 16, True), (8, 32, False), (4, 32, False)]):
            model = gather_model(rng, 6, 64, bits, block, zp)
            ours, ort = run_both(a.hone, tmp, f"gbq{i}", model, {"x": np.zeros(1, np.float32)})
            ok = ours.shape == ort.shape and np.array_equal(ours, ort)
            failures += not ok
            print(f"GatherBlockQuantized bits={bits} block={block} zp={zp}: {'identical' if ok else 'FAIL'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
