#!/usr/bin/python3
"""End to end: `hone quantize --mode static` (QDQ) on the trained digits CNN of models/.

  static_qdq_test.py --hone PATH --models DIR

For every calibration method: exit 0, a model onnx's checker accepts with Q/DQ around the convs and
the Gemms, test accuracy within 0.5 point of the float model's (hone eval; the acceptance bound for
static int8 on the demo models; one image of the 360 is 0.28 point), `--rules` re-applied
gives the same bytes; calibration from a folder of PGM images with --preprocess works as well.
Bad calibration data is refused with exit 2 and one line. When
onnxruntime-node is installed (`make peers`), ONNX Runtime runs each QDQ model and must agree with
hone's run of it (cosine >= 0.999, top-1 agreement >= 0.99); without it that part is skipped.
"""
import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def hone(*args, timeout=120):
    return subprocess.run([HONE, *args], capture_output=True, text=True, timeout=timeout)


def accuracy(model, data):
    r = hone("eval", model, "--data", data, "--threads", "1", "--json")
    if not check(r.returncode == 0, f"eval {model}: rc {r.returncode} {r.stderr.strip()}"):
        return 0.0
    return float(json.loads(r.stdout)["value"])


def cosine(a, b):
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def ort_available():
    modules = os.environ.get("ORT_NODE_MODULES") or os.path.join(
        os.environ.get("HONE_PEERS", os.path.expanduser("~/.cache/hone/peers")), "node_modules")
    return shutil.which("node") and os.path.isdir(os.path.join(modules, "onnxruntime-node"))


def main():
    global HONE
    ap = argparse.ArgumentParser()
    ap.add_argument("--hone", required=True)
    ap.add_argument("--models", required=True)
    a = ap.parse_args()
    HONE = a.hone
    model = os.path.join(a.models, "digits_cnn.onnx")
    calib = os.path.join(a.models, "digits_calib.npz")
    test = os.path.join(a.models, "digits_test.npz")
    tmp = tempfile.mkdtemp(prefix="hone-static-qdq-")
    try:
        base = accuracy(model, test)
        check(base > 0.98, f"float accuracy {base}")
        with np.load(test) as z:
            x = z["input"][:64].astype(np.float32)
        np.savez(os.path.join(tmp, "x.npz"), input=x)
        x.tofile(os.path.join(tmp, "x.f32"))
        use_ort = ort_available()
        if not use_ort:
            print("onnxruntime-node not found: ONNX Runtime comparison skipped")
        for method in ["minmax", "percentile", "entropy", "mse"]:
            out = os.path.join(tmp, f"{method}.onnx")
            rules = os.path.join(tmp, f"{method}.json")
            r = hone("quantize", model, "-o", out, "--mode", "static", "--calib", calib, "--method", method,
                     "--per-channel", "--threads", "1", "--rules-out", rules)
            if not check(r.returncode == 0, f"{method}: rc {r.returncode} {r.stderr.strip()}"):
                continue
            m = onnx.load(out)
            onnx.checker.check_model(m)
            ops = [n.op_type for n in m.graph.node]
            check(ops.count("QuantizeLinear") >= 5, f"{method}: {ops.count('QuantizeLinear')} QuantizeLinear")
            check(ops.count("Conv") == 2 and ops.count("Gemm") == 2, f"{method}: float ops changed: {ops}")
            w8 = [i for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8]
            check(len(w8) >= 4, f"{method}: {len(w8)} int8 initializers")
            acc = accuracy(out, test)
            check(acc >= base - 0.005, f"{method}: accuracy {acc} vs float {base}")
            print(f"{method}: accuracy {acc:.4f} (float {base:.4f})")
            again = os.path.join(tmp, f"{method}.again.onnx")
            r = hone("quantize", model, "-o", again, "--rules", rules, "--threads", "1")
            check(r.returncode == 0 and filecmp.cmp(out, again, shallow=False),
                  f"{method}: --rules did not reproduce the model ({r.returncode} {r.stderr.strip()})")
            if use_ort:
                hout = os.path.join(tmp, f"{method}.hone.npz")
                r = hone("run", out, "--inputs", os.path.join(tmp, "x.npz"), "--outputs", hout, "--threads", "1")
                check(r.returncode == 0, f"{method}: hone run rc {r.returncode} {r.stderr.strip()}")
                oout = os.path.join(tmp, f"{method}.ort.f32")
                o = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "ort_run.mjs"), out, "input",
                                    "64x1x8x8", os.path.join(tmp, "x.f32"), oout],
                                   capture_output=True, text=True, timeout=120)
                if check(o.returncode == 0, f"{method}: ONNX Runtime failed: {o.stderr.strip()[-400:]}") and r.returncode == 0:
                    with np.load(hout) as z:
                        h = z[z.files[0]].reshape(64, -1)
                    ort = np.fromfile(oout, np.float32).reshape(64, -1)
                    c = cosine(h, ort)
                    agree = float((h.argmax(1) == ort.argmax(1)).mean())
                    print(f"{method}: hone vs ONNX Runtime cosine {c:.6f}, top-1 agreement {agree:.4f}")
                    check(c >= 0.999 and agree >= 0.99, f"{method}: hone and ONNX Runtime disagree ({c}, {agree})")
        # Calibration from a folder of images (8-bit PGM, which stb_image reads) with --preprocess:
        # the digits are in [0, 1], so pixel / 255 gives the same data back up to rounding.
        imgs = os.path.join(tmp, "imgs")
        os.makedirs(imgs)
        with np.load(calib) as z:
            cal = z["input"][:64]
        for i, img in enumerate(cal):
            px = np.clip(np.rint(img[0] * 255), 0, 255).astype(np.uint8)
            with open(os.path.join(imgs, f"{i:03d}.pgm"), "wb") as f:
                f.write(b"P5\n8 8\n255\n" + px.tobytes())
        out = os.path.join(tmp, "img.onnx")
        r = hone("quantize", model, "-o", out, "--mode", "static", "--calib", imgs, "--preprocess",
                 "grayscale,scale=1/255", "--method", "percentile", "--per-channel", "--threads", "1")
        if check(r.returncode == 0, f"image folder: rc {r.returncode} {r.stderr.strip()}"):
            acc = accuracy(out, test)
            print(f"image-folder calibration: accuracy {acc:.4f}")
            check(acc >= base - 0.015, f"image folder: accuracy {acc} vs float {base}")
        r = hone("quantize", model, "-o", out + "2", "--mode", "static", "--calib", imgs, "--preprocess", "grayscale,scale=1/0")
        check(r.returncode == 2 and r.stderr.count("\n") == 1, f"bad --preprocess: rc {r.returncode} {r.stderr!r}")
        # Refusals: exit 2, one line.
        bad = os.path.join(tmp, "bad.npz")
        np.savez(bad, wrong_name=np.zeros((4, 1, 8, 8), np.float32))
        for args, what in [(["--calib", bad], "npz without the input"),
                           (["--calib", os.path.join(tmp, "missing.npz")], "missing file"),
                           ([], "no --calib")]:
            r = hone("quantize", model, "-o", os.path.join(tmp, "x.onnx"), "--mode", "static", *args)
            check(r.returncode == 2, f"{what}: rc {r.returncode}")
            check(r.stderr.count("\n") == 1 and r.stderr.startswith("hone: quantize: "), f"{what}: stderr {r.stderr!r}")
            check(not os.path.exists(os.path.join(tmp, "x.onnx")), f"{what}: output written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
