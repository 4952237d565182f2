#!/usr/bin/python3
"""Writes the "models in the wild" of tests/e2e/wild and the tiny models of its CLI error tests.

    /usr/bin/python3 tests/e2e/wild/make_wild.py [OUT_DIR]   (default: the folder of this script)

Every model is what an exporter really writes (torch.onnx.export of Debian's PyTorch 1.13: older
opsets, unfolded BatchNormalization, Upsample/Resize variants, ConvTranspose, LSTM/GRU with initial
states, shape-computing subgraphs, scalar and dynamic inputs) or, for If/Loop bodies that read
outer-scope values, built by hand with onnx.helper. Each lands in OUT_DIR/<name>/model.onnx with
test_data_set_0 (and _1, with other input shapes, for dynamic models) in ONNX's layout:
input_N.pb / output_N.pb, the expected outputs computed by torch (exports) or numpy (hand-built
graphs) — never by hone. `hone run <name>/model.onnx --test-dir <name>` checks one (CMakeLists.txt).

OUT_DIR/errors/ holds the models and input files of run_cli_checks.py (exit codes and messages of
`hone run` on bad inputs). Deterministic: fixed seeds, so a rerun rewrites the same files.
"""

import io
import os
import shutil
import sys
import zipfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

torch.manual_seed(0)
RNG = np.random.default_rng(0)
MAX_BYTES = 200 * 1024


def write_case(out, name, model_bytes_or_proto, data_sets):
    """data_sets: [(inputs [np.ndarray], outputs [np.ndarray])]."""
    folder = os.path.join(out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    path = os.path.join(folder, "model.onnx")
    if isinstance(model_bytes_or_proto, onnx.ModelProto):
        onnx.checker.check_model(model_bytes_or_proto)
        onnx.save(model_bytes_or_proto, path)
    else:
        with open(path, "wb") as f:
            f.write(model_bytes_or_proto)
    model = onnx.load(path)
    in_names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    out_names = [o.name for o in model.graph.output]
    for k, (inputs, outputs) in enumerate(data_sets):
        assert len(inputs) == len(in_names), (name, in_names)
        assert len(outputs) == len(out_names), (name, out_names)
        d = os.path.join(folder, f"test_data_set_{k}")
        os.makedirs(d)
        for i, (n, a) in enumerate(zip(in_names, inputs)):
            with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(np.asarray(a), n).SerializeToString())
        for i, (n, a) in enumerate(zip(out_names, outputs)):
            with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(np.asarray(a), n).SerializeToString())
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)
    assert total < MAX_BYTES, f"{name}: {total} bytes"
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name:28s} opset {model.opset_import[0].version:2d}  {total:6d} bytes  {' '.join(ops)}")


def export(module, args, opset, input_names, output_names, dynamic_axes=None, preserve=False):
    module.eval()
    f = io.BytesIO()
    kwargs = {}
    if preserve:
        # Keep BatchNormalization as a node (no Conv+BN fusion, no constant folding).
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(module, args, f, opset_version=opset, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, do_constant_folding=False, **kwargs)
    return f.getvalue()


def run_torch(module, args):
    with torch.no_grad():
        out = module(*args)
    if isinstance(out, torch.Tensor):
        out = (out,)
    flat = []
    for o in out:
        if isinstance(o, (tuple, list)):
            flat.extend(o)
        else:
            flat.append(o)
    return [o.numpy() for o in flat]


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# --------------------------------------------------------------------------------------------
# Exported models


class SmallCnn(torch.nn.Module):
    """Conv-BN-ReLU-MaxPool x2, then x.view(x.size(0), -1) and Linear: BN stays unfolded."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b1 = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 2 * 2, 5)
        for bn in (self.b1, self.b2):  # non-trivial running statistics
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.b1(self.c1(x))), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.b2(self.c2(x))), 2)
        return self.fc(x.view(x.size(0), -1))


def cnn_cases(out):
    m = SmallCnn().eval()
    for opset in (7, 9, 11):
        x0, x1 = randn(2, 3, 8, 8), randn(5, 3, 8, 8)
        b = export(m, (x0,), opset, ["x"], ["y"], {"x": {0: "batch"}, "y": {0: "batch"}}, preserve=True)
        ops = {n.op_type for n in onnx.load_from_string(b).graph.node}
        assert "BatchNormalization" in ops, ops
        write_case(out, f"cnn_bn_opset{opset}", b,
                   [([x0.numpy()], run_torch(m, (x0,))), ([x1.numpy()], run_torch(m, (x1,)))])


class Interp(torch.nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return torch.nn.functional.interpolate(x, **self.kw)


def resize_cases(out):
    x = randn(1, 2, 3, 4)
    specs = [
        ("upsample_nearest_opset9", 9, dict(scale_factor=2, mode="nearest")),
        ("resize_nearest_opset10", 10, dict(scale_factor=2, mode="nearest")),
        ("resize_nearest_opset11", 11, dict(scale_factor=(2, 3), mode="nearest")),
        ("resize_nearest_size_opset13", 13, dict(size=(5, 7), mode="nearest")),
        ("resize_bilinear_opset11", 11, dict(scale_factor=2, mode="bilinear", align_corners=False)),
        ("resize_bilinear_ac_opset11", 11, dict(scale_factor=2, mode="bilinear", align_corners=True)),
        ("resize_bilinear_size_opset13", 13, dict(size=(5, 7), mode="bilinear", align_corners=False)),
        ("resize_bilinear_ac_opset13", 13, dict(size=(5, 7), mode="bilinear", align_corners=True)),
        ("resize_bicubic_opset13", 13, dict(scale_factor=2, mode="bicubic", align_corners=False)),
        ("resize_downsample_bilinear_opset13", 13, dict(size=(2, 3), mode="bilinear", align_corners=False)),
    ]
    for name, opset, kw in specs:
        m = Interp(**kw)
        b = export(m, (x,), opset, ["x"], ["y"])
        write_case(out, name, b, [([x.numpy()], run_torch(m, (x,)))])


def upsample_linear_1d(x, axis, scale):
    """ONNX Upsample-7/9 "linear" (asymmetric: in = out / scale, edges clamped) along one axis."""
    n_in = x.shape[axis]
    n_out = int(np.floor(n_in * scale))
    pos = np.minimum(np.arange(n_out) / scale, n_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (pos - lo).astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = n_out
    frac = frac.reshape(shape)
    return np.take(x, lo, axis) * (1 - frac) + np.take(x, hi, axis) * frac


def upsample_attr_cases(out):
    # Upsample-7: scales as an attribute (what opset-7/8 exporters wrote); reference in numpy.
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    scales = [1.0, 1.0, 2.0, 1.5]
    for mode in ("nearest", "linear"):
        g = helper.make_graph([helper.make_node("Upsample", ["x"], ["y"], mode=mode, scales=scales)], "upsample7",
                              [vi("x", TensorProto.FLOAT, [1, 2, 3, 4])], [vi("y", TensorProto.FLOAT, [1, 2, 6, 6])])
        if mode == "nearest":
            rows = np.floor(np.arange(6) / 2.0).astype(np.int64)
            cols = np.floor(np.arange(6) / 1.5).astype(np.int64)
            y = x[:, :, rows][:, :, :, cols]
        else:
            y = upsample_linear_1d(upsample_linear_1d(x, 2, 2.0), 3, 1.5)
        write_case(out, f"upsample_{mode}_attr_opset7", make_model(g, 7), [([x], [y.astype(np.float32)])])


def convtranspose_cases(out):
    m = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(6, 3, (2, 3), stride=(1, 2), dilation=(2, 1), bias=False),
    ).eval()
    x0, x1 = randn(1, 4, 5, 5), randn(2, 4, 3, 6)
    b = export(m, (x0,), 13, ["x"], ["y"], {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "oh", 3: "ow"}})
    write_case(out, "convtranspose_opset13", b,
               [([x0.numpy()], run_torch(m, (x0,))), ([x1.numpy()], run_torch(m, (x1,)))])
    m1 = torch.nn.ConvTranspose1d(3, 2, 4, stride=3, padding=2).eval()
    x = randn(2, 3, 7)
    write_case(out, "convtranspose1d_opset11", export(m1, (x,), 11, ["x"], ["y"]), [([x.numpy()], run_torch(m1, (x,)))])


class Lstm(torch.nn.Module):
    def __init__(self, layers, bidirectional, batch_first):
        super().__init__()
        self.rnn = torch.nn.LSTM(5, 6, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)

    def forward(self, x, h0, c0):
        y, (h, c) = self.rnn(x, (h0, c0))
        return y, h, c


class Gru(torch.nn.Module):
    def __init__(self, layers, bidirectional, batch_first):
        super().__init__()
        self.rnn = torch.nn.GRU(5, 6, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)

    def forward(self, x, h0):
        y, h = self.rnn(x, h0)
        return y, h


def rnn_cases(out):
    for cls, name in ((Lstm, "lstm"), (Gru, "gru")):
        for layers, bidir, batch_first, opset in ((1, True, False, 11), (2, True, True, 14), (2, False, False, 9)):
            m = cls(layers, bidir, batch_first).eval()
            dirs = 2 if bidir else 1
            sets = []
            for seq, batch in ((4, 3), (6, 1)):
                x = randn(batch, seq, 5) if batch_first else randn(seq, batch, 5)
                h0 = randn(layers * dirs, batch, 6)
                args = (x, h0, randn(layers * dirs, batch, 6)) if cls is Lstm else (x, h0)
                sets.append(args)
            in_names = ["x", "h0", "c0"] if cls is Lstm else ["x", "h0"]
            out_names = ["y", "hn", "cn"] if cls is Lstm else ["y", "hn"]
            seq_ax, batch_ax = (1, 0) if batch_first else (0, 1)
            dyn = {"x": {seq_ax: "seq", batch_ax: "batch"}, "y": {seq_ax: "seq", batch_ax: "batch"}}
            for n in in_names[1:] + out_names[1:]:
                dyn[n] = {1: "batch"}
            b = export(m, sets[0], opset, in_names, out_names, dyn)
            tag = f"{name}_{layers}layer{'_bidir' if bidir else ''}{'_batchfirst' if batch_first else ''}_opset{opset}"
            write_case(out, tag, b, [([a.numpy() for a in s], run_torch(m, s)) for s in sets])


class Flatten2(torch.nn.Module):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape: x.view(x.size(0), -1) and friends."""

    def forward(self, x):
        n, c = x.size(0), x.size(1)
        y = x.view(n, -1)
        z = x.reshape(n, c, -1).transpose(1, 2)  # (n, h*w, c)
        return y * 2.0, z.reshape(z.size(0) * z.size(1), c)


def shape_cases(out):
    m = Flatten2()
    x0, x1 = randn(2, 3, 4, 5), randn(3, 3, 2, 7)
    dyn = {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 1: "chw"}, "z": {0: "nhw"}}
    for opset in (9, 13):
        b = export(m, (x0,), opset, ["x"], ["y", "z"], dyn)
        ops = {n.op_type for n in onnx.load_from_string(b).graph.node}
        assert {"Shape", "Gather", "Concat", "Reshape"} <= ops, ops
        write_case(out, f"shape_subgraph_opset{opset}", b,
                   [([x0.numpy()], run_torch(m, (x0,))), ([x1.numpy()], run_torch(m, (x1,)))])


class ScalarInputs(torch.nn.Module):
    def forward(self, x, scale, offset):
        return x * scale + offset, (x.sum() * scale).clamp(min=-1.0)


def scalar_cases(out):
    m = ScalarInputs()
    x, s, o = randn(2, 3), torch.tensor(1.5), torch.tensor(-0.25)
    b = export(m, (x, s, o), 13, ["x", "scale", "offset"], ["y", "total"])
    g = onnx.load_from_string(b).graph
    assert [len(i.type.tensor_type.shape.dim) for i in g.input] == [2, 0, 0]
    write_case(out, "scalar_inputs_opset13", b, [([x.numpy(), s.numpy(), o.numpy()], run_torch(m, (x, s, o)))])


class FullyConv(torch.nn.Module):
    """Dynamic batch and spatial dims: conv, pool, upsample back by size of the input, global pool."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = torch.nn.Conv2d(6, 4, 1)

    def forward(self, x):
        y = torch.nn.functional.avg_pool2d(torch.relu(self.c1(x)), 2, ceil_mode=True)
        y = torch.nn.functional.interpolate(y, size=(x.shape[2], x.shape[3]), mode="nearest")
        y = self.c2(y) + x.mean(dim=1, keepdim=True)
        return y, torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1).softmax(-1)


def dynamic_cases(out):
    m = FullyConv().eval()
    x0, x1 = randn(1, 3, 8, 8), randn(3, 3, 5, 11)
    dyn = {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}, "p": {0: "n"}}
    b = export(m, (x0,), 13, ["x"], ["y", "p"], dyn)
    write_case(out, "dynamic_fcn_opset13", b,
               [([x0.numpy()], run_torch(m, (x0,))), ([x1.numpy()], run_torch(m, (x1,)))])


# --------------------------------------------------------------------------------------------
# Hand-built control flow reading outer-scope values (reference: numpy)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def make_model(graph, opset=13):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_wild.py")
    m.ir_version = 8
    return m


def if_case(out):
    # y = If(cond) then (x * w + b) else (Reshape(x, outer shape) transposed - w); w, b, shape
    # are outer-scope: an initializer, a graph input and a node output of the enclosing graph.
    w = RNG.standard_normal((2, 3)).astype(np.float32)
    then_g = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["t_out"])],
        "then", [], [vi("t_out", TensorProto.FLOAT, [2, 3])])
    else_g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape32"], ["r"]), helper.make_node("Transpose", ["r"], ["rt"], perm=[1, 0]),
         helper.make_node("Sub", ["rt", "w"], ["e_out"])],
        "else", [], [vi("e_out", TensorProto.FLOAT, [2, 3])])
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"]),
        helper.make_node("Shape", ["w"], ["wshape"]),
        helper.make_node("Slice", ["wshape", "one", "two"], ["cols"]),  # [3]
        helper.make_node("Slice", ["wshape", "zero_i", "one"], ["rows"]),  # [2]
        helper.make_node("Concat", ["cols", "rows"], ["shape32"], axis=0),  # [3, 2]
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(nodes, "if_outer_scope", [vi("x", TensorProto.FLOAT, [2, 3]), vi("b", TensorProto.FLOAT, [3])],
                          [vi("y", TensorProto.FLOAT, [2, 3])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.float32(0), "zero"),
                           numpy_helper.from_array(np.array([1], np.int64), "one"),
                           numpy_helper.from_array(np.array([2], np.int64), "two"),
                           numpy_helper.from_array(np.array([0], np.int64), "zero_i")])
    sets = []
    for sign in (1.0, -1.0):
        x = (np.abs(RNG.standard_normal((2, 3))) * sign).astype(np.float32)
        b = RNG.standard_normal(3).astype(np.float32)
        y = x * w + b if x.sum() > 0 else x.reshape(3, 2).T - w
        sets.append(([x, b], [y.astype(np.float32)]))
    write_case(out, "if_outer_scope", make_model(g), sets)


def loop_case(out):
    # Loop with a trip count and a condition: h = tanh(h @ W + x_i) over the rows of outer x,
    # stopping early once sum(h) > limit (limit: an outer graph input); scan output collects h.
    W = (RNG.standard_normal((4, 4)) * 0.5).astype(np.float32)
    body = helper.make_graph(
        [
            helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),  # outer x, iteration number i
            helper.make_node("MatMul", ["h_in", "W"], ["hw"]),  # outer initializer W
            helper.make_node("Add", ["hw", "xi"], ["pre"]),
            helper.make_node("Tanh", ["pre"], ["h_out"]),
            helper.make_node("ReduceSum", ["h_out"], ["hs"], keepdims=0),
            helper.make_node("Less", ["hs", "limit"], ["cond_out"]),  # outer input limit
            helper.make_node("Identity", ["h_out"], ["scan_h"]),
        ],
        "body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("h_in", TensorProto.FLOAT, [4])],
        [vi("cond_out", TensorProto.BOOL, []), vi("h_out", TensorProto.FLOAT, [4]), vi("scan_h", TensorProto.FLOAT, [4])])
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "zero_i"], ["n"], axis=0),  # scalar trip count from x's shape
        helper.make_node("Loop", ["n", "true", "h0"], ["h_final", "hs"], body=body),
    ]
    g = helper.make_graph(
        nodes, "loop_outer_scope",
        [vi("x", TensorProto.FLOAT, ["steps", 4]), vi("h0", TensorProto.FLOAT, [4]), vi("limit", TensorProto.FLOAT, [])],
        [vi("h_final", TensorProto.FLOAT, [4]), vi("hs", TensorProto.FLOAT, ["k", 4])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.array(True), "true"),
         numpy_helper.from_array(np.int64(0), "zero_i")])
    sets = []
    for steps, limit in ((5, 100.0), (7, 0.5)):
        x = RNG.standard_normal((steps, 4)).astype(np.float32)
        h0 = RNG.standard_normal(4).astype(np.float32)
        h, hs = h0, []
        for i in range(steps):
            h = np.tanh(h @ W + x[i]).astype(np.float32)
            hs.append(h)
            if not h.sum() < limit:
                break
        sets.append(([x, h0, np.float32(limit)], [h, np.stack(hs)]))
    assert len(sets[1][1][1]) < 7, "the second data set should stop early"
    write_case(out, "loop_outer_scope", make_model(g), sets)


# --------------------------------------------------------------------------------------------
# Models and files for run_cli_checks.py


def error_files(out):
    d = os.path.join(out, "errors")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)

    def save(name, graph, opset=13):
        m = make_model(graph, opset)
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(d, name))

    # add.onnx: y = x + b, x float [2, 3]
    save("add.onnx", helper.make_graph([helper.make_node("Add", ["x", "b"], ["y"])], "add",
                                       [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, [2, 3])],
                                       [numpy_helper.from_array(np.ones(3, np.float32), "b")]))
    np.save(os.path.join(d, "x_f32_2x3.npy"), np.ones((2, 3), np.float32))
    np.save(os.path.join(d, "x_i32_2x3.npy"), np.ones((2, 3), np.int32))
    np.save(os.path.join(d, "x_f32_3x3.npy"), np.ones((3, 3), np.float32))
    np.save(os.path.join(d, "x_object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    buf = io.BytesIO()
    np.savez(buf, x=np.ones((2, 3), np.float32))
    data = buf.getvalue()
    with open(os.path.join(d, "x_truncated.npz"), "wb") as f:
        f.write(data[: len(data) // 2])
    # gather.onnx: y = Gather(data, idx) with the indices an input: out of range only at run time.
    save("gather.onnx", helper.make_graph([helper.make_node("Gather", ["data", "idx"], ["y"], axis=0, name="pick_rows")],
                                          "gather", [vi("data", TensorProto.FLOAT, [4, 3]), vi("idx", TensorProto.INT64, [2])],
                                          [vi("y", TensorProto.FLOAT, [2, 3])]))
    np.save(os.path.join(d, "data_f32_4x3.npy"), np.ones((4, 3), np.float32))
    np.save(os.path.join(d, "idx_bad.npy"), np.array([1, 7], np.int64))
    # reshape.onnx: x float [n, 3] reshaped to [-1, 4]: impossible when 3n is not a multiple of 4.
    save("reshape.onnx", helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], name="to_rows_of_4")],
                                           "reshape", [vi("x", TensorProto.FLOAT, ["n", 3])],
                                           [vi("y", TensorProto.FLOAT, ["m", 4])],
                                           [numpy_helper.from_array(np.array([-1, 4], np.int64), "shape")]))
    # unsupported.onnx: Det, a valid ONNX op that hone's runtime does not register.
    save("unsupported.onnx", helper.make_graph([helper.make_node("Det", ["x"], ["y"], name="determinant")], "det",
                                               [vi("x", TensorProto.FLOAT, [3, 3])], [vi("y", TensorProto.FLOAT, [])]))
    print("errors/                      " + " ".join(sorted(os.listdir(d))))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    cnn_cases(out)
    resize_cases(out)
    upsample_attr_cases(out)
    convtranspose_cases(out)
    rnn_cases(out)
    shape_cases(out)
    scalar_cases(out)
    dynamic_cases(out)
    if_case(out)
    loop_case(out)
    error_files(out)


if __name__ == "__main__":
    main()
