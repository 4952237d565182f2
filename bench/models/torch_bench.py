#!/usr/bin/python3
"""Times PyTorch (Debian's python3-torch) on one zoo model, as a worker of bench/models/run.py.

usage: /usr/bin/python3 torch_bench.py NAME THREADS fp32|int8

Rebuilds model NAME from tools/zoo/make_zoo.py's definitions with the zoo's seed (so the weights are
those of NAME.onnx), prints "ready", then answers each stdin line "ITERS WARMUP" with one JSON line
{"times_ms": [...]}. int8 is torch's quantize_dynamic on every nn.Linear (engine onednn: Debian's
build has no fbgemm). Runs cycle through a few distinct seeded inputs, as `hone bench` does.
"""
import json
import os
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "zoo"))
import make_zoo  # noqa: E402  (the zoo's model definitions; exits with a clear message without torch)
import torch  # noqa: E402

INPUT_SETS = 4


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in make_zoo.MODELS or sys.argv[3] not in ("fp32", "int8"):
        print(f"usage: torch_bench.py NAME THREADS fp32|int8 (NAME: {', '.join(make_zoo.MODELS)})", file=sys.stderr)
        return 2
    name, threads, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)

    builder, make_input, _, _ = make_zoo.MODELS[name]
    seed = zlib.crc32(name.encode())  # make_zoo.build_one's seeding
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = builder(gen).eval()
    inputs = [make_input(gen) for _ in range(INPUT_SETS)]
    if precision == "int8":
        torch.backends.quantized.engine = "onednn"
        model = torch.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        # torch 1.13's fused TransformerEncoderLayer path reads the Linear weights directly and
        # fails on quantized ones; clearing this flag is what makes forward() take the regular path.
        for m in model.modules():
            if isinstance(m, torch.nn.TransformerEncoderLayer):
                m.activation_relu_or_gelu = 0
    print("ready", flush=True)

    k = 0
    with torch.inference_mode():
        for line in sys.stdin:
            iters, warmup = (int(v) for v in line.split())
            times = []
            for i in range(warmup + iters):
                x = inputs[k % INPUT_SETS]
                k += 1
                t0 = time.perf_counter()
                model(x)
                ms = (time.perf_counter() - t0) * 1e3
                if i >= warmup:
                    times.append(ms)
            print(json.dumps({"times_ms": times}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
