"""Writes golden/dynq_producer.onnx for fuse_dynamic_quant_producer (dynq_producer_test.cc) and
golden/dynq_activation.onnx for fuse_dynamic_quant_activation (dynq_activation_test.cc), in
ONNX Runtime's dynamic-int8 form like make_golden_int8.py's models (its chain() helper, its own
seeded generator). Running it again gives the same file.
usage: /usr/bin/python3 make_golden_dynq_producer.py [OUT_DIR]"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def save(name, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_golden_dynq_producer.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def chain(p, x, k, n, *, per_column=False, out=None):
    """ORT's dynamic chain for x[..., k] @ W[k, n] + bias; returns (nodes, inits, output name)."""
    w = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
    ws = (rng.random(n if per_column else ()) * 0.02 + 0.001).astype(np.float32)
    wz = np.zeros(n if per_column else (), np.int8)
    y = out or p + "y"
    inits = [numpy_helper.from_array(w, p + "w"), numpy_helper.from_array(ws, p + "ws"),
             numpy_helper.from_array(wz, p + "wz"),
             numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), p + "b")]
    nodes = [helper.make_node("DynamicQuantizeLinear", [x], [p + "a", p + "as", p + "az"]),
             helper.make_node("MatMulInteger", [p + "a", p + "w", p + "az", p + "wz"], [p + "i"]),
             helper.make_node("Cast", [p + "i"], [p + "f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", [p + "as", p + "ws"], [p + "s"]),
             helper.make_node("Mul", [p + "f", p + "s"], [p + "m"]),
             helper.make_node("Add", [p + "m", p + "b"], [y])]
    return nodes, inits, y


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


os.makedirs(OUT, exist_ok=True)
# A transformer layer's int8 shape in miniature: LayerNorm -> three GEMMs (two direct, one through
# an order-keeping Transpose [1, S, D] -> [S, 1, D] as PyTorch's attention writes it) and the
# residual Add; one GEMM behind a real transpose (bytes out of order: the op quantizes itself);
# then the Erf GELU -> GEMM -> residual Add.
rng = np.random.default_rng(13)
D = 40
g = numpy_helper.from_array((rng.random(D) + 0.5).astype(np.float32), "ln_g")
b = numpy_helper.from_array(rng.standard_normal(D).astype(np.float32), "ln_b")
nodes = [helper.make_node("LayerNormalization", ["x", "ln_g", "ln_b"], ["h"], axis=-1, epsilon=1e-5)]
inits = [g, b]
nq, iq, yq = chain("q_", "h", D, D)
nk, ik, yk = chain("k_", "h", D, D, per_column=True)
nv, iv, yv = chain("v_", "ht", D, D)
nt, it, yt = chain("t_", "hc", 6, 5)
nodes += nq + nk + [helper.make_node("Transpose", ["h"], ["ht"], perm=[1, 0, 2])] + nv
nodes += [helper.make_node("Transpose", [yv], ["vt"], perm=[1, 0, 2]),
          helper.make_node("Transpose", ["h"], ["hc"], perm=[0, 2, 1])] + nt
nodes += [helper.make_node("Add", [yq, yk], ["s1"]), helper.make_node("Add", ["s1", "vt"], ["s2"]),
          helper.make_node("Add", ["s2", "h"], ["s"])]
inits += iq + ik + iv + it + [numpy_helper.from_array(np.array(1.4142135, np.float32), "sqrt2"),
                              numpy_helper.from_array(np.array(1.0, np.float32), "one"),
                              numpy_helper.from_array(np.array(0.5, np.float32), "half")]
nodes += [helper.make_node("Div", ["s", "sqrt2"], ["e0"]), helper.make_node("Erf", ["e0"], ["e1"]),
          helper.make_node("Add", ["e1", "one"], ["e2"]), helper.make_node("Mul", ["s", "e2"], ["e3"]),
          helper.make_node("Mul", ["e3", "half"], ["gelu"])]
# The FFN's second GEMM and its residual Add (absorbed into the GEMM's epilogue); the real-transpose
# GEMM's Add of an input that broadcasts it to a larger output (added after the GEMM).
nf, i_f, yf = chain("f_", "gelu", D, D)
nf += [helper.make_node("Add", [yf, "s"], ["y"]), helper.make_node("Add", ["r", yt], ["y2"])]
save("dynq_producer", nodes + nf, [vi("x", [1, 6, D]), vi("r", [2, 1, D, 5])], [vi("y", [1, 6, D]), vi("y2", [2, 1, D, 5])],
     inits + i_f)


# fuse_dynamic_quant_activation: x -> GEMM (k 64, n 200: four column panels, the last partial)
# -> Erf GELU -> GEMM (the feed-forward block of BERT: folds with the quantization); a second GEMM
# (n 48: one panel, its rows split between threads) -> GELU -> graph output, not read by a GEMM
# (folds without quantization); a third GEMM whose output is also a graph output (stays apart).
def erf_gelu(x, out, p):
    return [helper.make_node("Div", [x, "sqrt2"], [p + "e0"]), helper.make_node("Erf", [p + "e0"], [p + "e1"]),
            helper.make_node("Add", [p + "e1", "one"], [p + "e2"]), helper.make_node("Mul", [x, p + "e2"], [p + "e3"]),
            helper.make_node("Mul", [p + "e3", "half"], [out])]


K = 64
consts = [numpy_helper.from_array(np.array(1.4142135, np.float32), "sqrt2"),
          numpy_helper.from_array(np.array(1.0, np.float32), "one"),
          numpy_helper.from_array(np.array(0.5, np.float32), "half")]
n1, i1, y1 = chain("l1_", "x", K, 200)
n2, i2, y2 = chain("l2_", "g1", 200, K, out="y")
n3, i3, y3 = chain("n_", "x", K, 48)
n4, i4, y4 = chain("o_", "x", K, 32, out="raw")
nodes = n1 + erf_gelu(y1, "g1", "a_") + n2 + n3 + erf_gelu(y3, "g2", "b_") + n4 + erf_gelu("raw", "g3", "c_")
save("dynq_activation", nodes, [vi("x", [1, 96, K])],
     [vi("y", [1, 96, K]), vi("g2", [1, 96, 48]), vi("raw", [1, 96, 32]), vi("g3", [1, 96, 32])],
     consts + i1 + i2 + i3 + i4)


# hoist_gather + fuse_dynamic_quant_matmul's selected rows: BERT's last layer as a classifier reads
# it, y = Gather(LayerNorm(GEMM(LayerNorm(x)) + LayerNorm(x)), i, axis 1) — the GEMM computes row i
# only, its input still quantized over every row (i = 3 rather than [CLS]'s 0, so that a kernel
# that ignored the index would show); and a GEMM on two batches (x2 [2, 5, K], quantized
# by the fused op itself) whose last row of each batch is gathered (index -1: the rows are copied
# together).
D = 48
ln = [numpy_helper.from_array((rng.random(D) + 0.5).astype(np.float32), "ln1_g"),
      numpy_helper.from_array(rng.standard_normal(D).astype(np.float32), "ln1_b"),
      numpy_helper.from_array((rng.random(D) + 0.5).astype(np.float32), "ln2_g"),
      numpy_helper.from_array(rng.standard_normal(D).astype(np.float32), "ln2_b"),
      numpy_helper.from_array(np.array(3, np.int64), "row3"),
      numpy_helper.from_array(np.array(-1, np.int64), "last_row")]
n1, i1, y1 = chain("s_", "h", D, D)
n2, i2, y2 = chain("t_", "x2", K, 40)
nodes = [helper.make_node("LayerNormalization", ["x", "ln1_g", "ln1_b"], ["h"], axis=-1, epsilon=1e-5)] + n1
nodes += [helper.make_node("Add", [y1, "h"], ["r"]),
          helper.make_node("LayerNormalization", ["r", "ln2_g", "ln2_b"], ["z"], axis=2, epsilon=1e-5),
          helper.make_node("Gather", ["z", "row3"], ["y"], axis=1)] + n2
nodes += [helper.make_node("Gather", [y2, "last_row"], ["y2"], axis=1)]
save("dynq_select", nodes, [vi("x", [1, 7, D]), vi("x2", [2, 5, K])], [vi("y", [1, D]), vi("y2", [2, 40])], ln + i1 + i2)
