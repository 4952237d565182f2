"""Writes the golden models of tests/passes_int8 (int8 fusion passes): small ONNX graphs in the
forms ONNX Runtime's dynamic quantizer writes (DynamicQuantizeLinear + MatMulInteger + Cast + Mul
(+ Add)). Seeded: running it again gives the same files.
usage: /usr/bin/python3 make_golden_int8.py [OUT_DIR]"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
rng = np.random.default_rng(7)


def save(name, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_golden_int8.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def chain(p, x, k, n, *, per_column=False, bias=True, swap=False, wzp_value=0, out=None):
    """ORT's dynamic chain for x[..., k] @ W[k, n]; returns (nodes, inits, output name)."""
    w = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
    ws = (rng.random(n if per_column else ()) * 0.02 + 0.001).astype(np.float32)
    wz = np.full(n if per_column else (), wzp_value, np.int8)
    if per_column and wzp_value:
        wz = rng.integers(-3, 4, size=n).astype(np.int8)
    inits = [numpy_helper.from_array(w, p + "w"), numpy_helper.from_array(ws, p + "ws"),
             numpy_helper.from_array(wz, p + "wz")]
    y = out or p + "y"
    mul_out = p + "m" if bias else y
    nodes = [helper.make_node("DynamicQuantizeLinear", [x], [p + "a", p + "as", p + "az"]),
             helper.make_node("MatMulInteger", [p + "a", p + "w", p + "az", p + "wz"], [p + "i"]),
             helper.make_node("Cast", [p + "i"], [p + "f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", [p + "ws", p + "as"] if swap else [p + "as", p + "ws"], [p + "s"]),
             helper.make_node("Mul", [p + "s", p + "f"] if swap else [p + "f", p + "s"], [mul_out])]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), p + "b"))
        nodes.append(helper.make_node("Add", [p + "b", mul_out] if swap else [mul_out, p + "b"], [y]))
    return nodes, inits, y


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


os.makedirs(OUT, exist_ok=True)

# One chain with a per-tensor scale and a bias on a 3-D input (odd sizes everywhere).
nodes, inits, y = chain("q_", "x", 37, 29, out="y")
save("dynq_matmul", nodes, [vi("x", [2, 5, 37])], [vi("y", [2, 5, 29])], inits)

# Per-column scales, operands in the other order, no bias, then a Relu.
nodes, inits, y = chain("q_", "x", 64, 48, per_column=True, bias=False, swap=True)
nodes.append(helper.make_node("Relu", [y], ["y"]))
save("dynq_matmul_per_column", nodes, [vi("x", [7, 64])], [vi("y", [7, 48])], inits)

# Two chains reading one input (Q and K of attention), then their sum: both fuse.
n1, i1, y1 = chain("q_", "x", 40, 24)
n2, i2, y2 = chain("k_", "x", 40, 24, per_column=True)
save("dynq_matmul_two", n1 + n2 + [helper.make_node("Add", [y1, y2], ["y"])], [vi("x", [3, 40])], [vi("y", [3, 24])],
     i1 + i2)

# Non-zero weight zero points: fused, and run on the reference path (oneDNN takes none here).
nodes, inits, y = chain("q_", "x", 33, 20, per_column=True, wzp_value=1, out="y")
save("dynq_matmul_wzp", nodes, [vi("x", [4, 33])], [vi("y", [4, 20])], inits)

# The Cast's output is also a graph output: the chain must stay as it is.
nodes, inits, y = chain("q_", "x", 16, 8, out="y")
save("dynq_matmul_kept", nodes, [vi("x", [2, 16])], [vi("y", [2, 8]), vi("q_f", [2, 8])], inits)
print("wrote golden models to", OUT)
