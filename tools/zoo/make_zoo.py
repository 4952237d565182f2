#!/usr/bin/python3
"""Builds hone's benchmark model zoo: PyTorch models with seeded random weights, exported to ONNX.

usage: /usr/bin/python3 tools/zoo/make_zoo.py [--force] [--only NAME[,NAME...]] OUTDIR
       (`make zoo` runs it with OUTDIR = ${HONE_ZOO:-$HOME/.cache/hone/zoo})

For each model NAME it writes
  OUTDIR/NAME.onnx                              opset 17, static shapes (mlp_dynamic: symbolic batch)
  OUTDIR/NAME/test_data_set_0/input_0.pb        a seeded sample input (serialized onnx TensorProto)
  OUTDIR/NAME/test_data_set_0/output_0.pb       PyTorch's output for it
so that `hone run OUTDIR/NAME.onnx --test-dir OUTDIR/NAME` can check hone against PyTorch, and
OUTDIR/manifest.json listing every model, its input/output shapes and dtypes and the versions used.
Models already present are skipped unless --force. Needs Debian's python3-torch and
python3-torchvision (`scripts/install-deps --peers`); the tests do not.
"""
import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import zlib

OPSET = 17


def die(msg, code=2):
    print(f"make_zoo: error: {msg}", file=sys.stderr)
    sys.exit(code)


try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover
    die(f"{e}; install Debian's python3-onnx and python3-numpy (scripts/install-deps)")

try:
    import torch
    import torch.nn as nn
except ImportError as e:
    die(f"PyTorch is not importable by {sys.executable} ({e}).\n"
        "  The model zoo is built with Debian's PyTorch: run `scripts/install-deps --peers`\n"
        "  or `apt-get install python3-torch python3-torchvision`, then `make zoo` again.")

try:
    import torchvision
except ImportError as e:
    torchvision = None
    TORCHVISION_ERROR = str(e)


# ---------------------------------------------------------------------------------------------
# Models


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Encoder(nn.Module):
    """A BERT-shaped encoder: token embedding + learned positions + post-LN transformer layers
    (GELU) + a 2-class head on token 0."""

    def __init__(self, layers, d, heads, ff, vocab, seq):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, seq, d))
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=ff, dropout=0.0,
                                           activation="gelu", batch_first=True)
        # enable_nested_tensor=False: the padding fast path is not exportable and not wanted here.
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)
        # nn.TransformerEncoder deep-copies one layer, so every layer would start identical:
        # re-initialize so that each layer has its own weights (BERT's init: N(0, 0.02) matrices,
        # zero biases). LayerNorm scales stay 1: zero scales would make every layer output 0.
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "norm" in name and name.endswith("weight"):
                    nn.init.ones_(p)
                elif p.dim() >= 2:
                    nn.init.normal_(p, std=0.02)
                else:
                    nn.init.zeros_(p)

    def forward(self, ids):
        x = self.embed(ids) + self.pos
        x = self.encoder(x)
        return self.head(x[:, 0, :])


def randomize_batchnorm(model, gen):
    """Freshly built torchvision models have BatchNorm stats mean 0, var 1 (an identity): give
    them seeded values so that a runtime that mishandles BatchNormalization is caught."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def vision(name):
    def build(gen):
        if torchvision is None:
            die(f"torchvision is not importable ({TORCHVISION_ERROR}); apt-get install python3-torchvision")
        model = getattr(torchvision.models, name)(weights=None)
        randomize_batchnorm(model, gen)
        return model
    return build


def image_input(gen):
    return torch.randn(1, 3, 224, 224, generator=gen)


def token_input(vocab, seq):
    return lambda gen: torch.randint(0, vocab, (1, seq), generator=gen, dtype=torch.int64)


# name -> (builder(gen) -> nn.Module, sample_input(gen) -> tensor, dynamic_axes or None, note)
MODELS = {
    "mlp": (lambda g: MLP([784, 1024, 1024, 10]), lambda g: torch.randn(1, 784, generator=g), None,
            "MLP 784-1024-1024-10 (Gemm+Relu)"),
    "mlp_dynamic": (lambda g: MLP([784, 128, 10]), lambda g: torch.randn(4, 784, generator=g),
                    {"input": {0: "batch"}, "output": {0: "batch"}},
                    "MLP 784-128-10 with a symbolic batch dim; sample input has batch 4"),
    "bert_mini": (lambda g: Encoder(4, 256, 4, 1024, 30522, 128), token_input(30522, 128), None,
                  "encoder: 4 layers, d=256, 4 heads, ff 1024, vocab 30522, seq 128"),
    "bert_base": (lambda g: Encoder(12, 768, 12, 3072, 30522, 128), token_input(30522, 128), None,
                  "encoder: 12 layers, d=768, 12 heads, ff 3072, vocab 30522, seq 128"),
    "resnet18": (vision("resnet18"), image_input, None, "torchvision resnet18, 224x224"),
    "resnet50": (vision("resnet50"), image_input, None, "torchvision resnet50, 224x224"),
    "mobilenet_v2": (vision("mobilenet_v2"), image_input, None, "torchvision mobilenet_v2, 224x224"),
}


# ---------------------------------------------------------------------------------------------
# Writing


def paths(outdir, name):
    data_dir = os.path.join(outdir, name, "test_data_set_0")
    return (os.path.join(outdir, name + ".onnx"), os.path.join(data_dir, "input_0.pb"),
            os.path.join(data_dir, "output_0.pb"))


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def value_info(v):
    dims = []
    for d in v.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
    return {"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name
            if hasattr(onnx.helper, "tensor_dtype_to_np_dtype")
            else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[v.type.tensor_type.elem_type].name,
            "shape": dims}


def describe(outdir, name, note):
    model_path, in_path, out_path = paths(outdir, name)
    m = onnx.load(model_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    params = sum(int(np.prod(i.dims)) for i in m.graph.initializer)
    sample_in = numpy_helper.to_array(onnx.load_tensor(in_path))
    sample_out = numpy_helper.to_array(onnx.load_tensor(out_path))
    return {
        "name": name,
        "file": name + ".onnx",
        "test_dir": name,
        "description": note,
        "bytes": os.path.getsize(model_path),
        "parameters": params,
        "nodes": len(m.graph.node),
        "opset": next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None),
        "inputs": [value_info(v) for v in m.graph.input if v.name not in inits],
        "outputs": [value_info(v) for v in m.graph.output],
        "sample": {"input_shape": list(sample_in.shape), "input_dtype": sample_in.dtype.name,
                   "output_shape": list(sample_out.shape), "output_dtype": sample_out.dtype.name},
    }


def build_one(outdir, name):
    builder, make_input, dynamic_axes, _ = MODELS[name]
    seed = zlib.crc32(name.encode())  # per model, so the order and --only do not change weights
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = builder(gen).eval()
    x = make_input(gen)
    with torch.no_grad():
        y = model(x)

    model_path, in_path, out_path = paths(outdir, name)
    fd, tmp = tempfile.mkstemp(dir=outdir, prefix=".tmp-", suffix=".onnx")
    os.close(fd)
    try:
        torch.onnx.export(model, (x,), tmp, opset_version=OPSET, do_constant_folding=True,
                          input_names=["input"], output_names=["output"], dynamic_axes=dynamic_axes)
        onnx.checker.check_model(tmp)
        # Data first, model last: a model file present means its test data is complete.
        write_atomic(in_path, numpy_helper.from_array(x.numpy(), "input").SerializeToString())
        write_atomic(out_path, numpy_helper.from_array(y.numpy(), "output").SerializeToString())
        os.replace(tmp, model_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--force", action="store_true", help="rebuild models that are already present")
    ap.add_argument("--only", help="comma-separated model names (default: all: " + ", ".join(MODELS) + ")")
    args = ap.parse_args()

    names = list(MODELS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            die(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    outdir = os.path.abspath(os.path.expanduser(args.outdir))
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    print(f"make_zoo: {outdir} (torch {torch.__version__}, "
          f"torchvision {getattr(torchvision, '__version__', 'missing')}, onnx {onnx.__version__}, opset {OPSET})",
          flush=True)
    t_all = time.time()
    failed = []
    built = set()
    for i, name in enumerate(names, 1):
        if not args.force and all(os.path.exists(p) for p in paths(outdir, name)):
            print(f"[{i}/{len(names)}] {name}: present, skipped (--force rebuilds)", flush=True)
            continue
        print(f"[{i}/{len(names)}] {name}: building and exporting ...", flush=True)
        t0 = time.time()
        try:
            build_one(outdir, name)
        except Exception as e:  # report, go on with the others, fail at the end
            print(f"[{i}/{len(names)}] {name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        built.add(name)
        size = os.path.getsize(paths(outdir, name)[0])
        print(f"[{i}/{len(names)}] {name}: done in {time.time() - t0:.1f} s, {size / 1e6:.1f} MB", flush=True)

    # The manifest lists every model present in OUTDIR (including ones built earlier).
    # Entries of models not rebuilt now are reused when the file is unchanged (bert_base takes
    # seconds to parse).
    manifest_path = os.path.join(outdir, "manifest.json")
    old = {}
    try:
        with open(manifest_path) as f:
            old = {m["name"]: m for m in json.load(f).get("models", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    entries = []
    for name in MODELS:
        if all(os.path.exists(p) for p in paths(outdir, name)):
            prev = old.get(name)
            if name not in built and prev and prev.get("bytes") == os.path.getsize(paths(outdir, name)[0]):
                entries.append(prev)
            else:
                entries.append(describe(outdir, name, MODELS[name][3]))
    manifest = {
        "generator": "tools/zoo/make_zoo.py",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "opset": OPSET,
        "torch_version": torch.__version__,
        "torchvision_version": getattr(torchvision, "__version__", None),
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "models": entries,
    }
    write_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    print(f"make_zoo: {len(entries)} models in {outdir} ({time.time() - t_all:.1f} s); manifest: {manifest_path}")
    if failed:
        die(f"failed to build: {', '.join(failed)}", 1)


if __name__ == "__main__":
    main()
