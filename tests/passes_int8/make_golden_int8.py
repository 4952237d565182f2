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

# K = 0 (an empty weight matrix): y is the bias; no division by K anywhere.
nodes, inits, y = chain("q_", "x", 0, 3, out="y")
save("dynq_matmul_k0", nodes, [vi("x", [2, 0])], [vi("y", [2, 3])], inits)

# The Cast's output is also a graph output: the chain must stay as it is.
nodes, inits, y = chain("q_", "x", 16, 8, out="y")
save("dynq_matmul_kept", nodes, [vi("x", [2, 16])], [vi("y", [2, 8]), vi("q_f", [2, 8])], inits)


# ---- static QDQ (hone's and ONNX Runtime's QDQ form), opset 17 ----

def qdq(p, x, scale, zp, dtype=np.uint8):
    """x -> QuantizeLinear -> DequantizeLinear; returns (nodes, inits, dequantized name)."""
    inits = [numpy_helper.from_array(np.array(scale, np.float32), p + "s"),
             numpy_helper.from_array(np.array(zp, dtype), p + "z")]
    return ([helper.make_node("QuantizeLinear", [x, p + "s", p + "z"], [p + "q"]),
             helper.make_node("DequantizeLinear", [p + "q", p + "s", p + "z"], [p + "d"])], inits, p + "d")


def weight_dq(p, w, axis, per_channel):
    """Symmetric int8 weights behind a DequantizeLinear (per channel along `axis`)."""
    if per_channel:
        red = tuple(i for i in range(w.ndim) if i != axis)
        s = (np.abs(w).max(axis=red) / 127).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / s.reshape(shape)), -127, 127).astype(np.int8)
        z = np.zeros(s.shape, np.int8)
    else:
        s = np.array(np.abs(w).max() / 127, np.float32)
        q = np.clip(np.round(w / s), -127, 127).astype(np.int8)
        z = np.array(0, np.int8)
    inits = [numpy_helper.from_array(q, p + "wq"), numpy_helper.from_array(s, p + "ws"),
             numpy_helper.from_array(z, p + "wz")]
    return [helper.make_node("DequantizeLinear", [p + "wq", p + "ws", p + "wz"], [p + "wd"], axis=axis)], inits, s


def save17(name, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_golden_int8.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


# Conv (per-channel weights, int32 bias behind DQ) -> Q -> DQ -> Relu -> Q -> DQ -> Conv (per-tensor,
# float bias, stride 2, group 2) -> Q -> DQ: both convs fuse.
n0, i0, xd = qdq("x_", "x", 0.02, 128)
w1 = rng.standard_normal((8, 4, 3, 3)).astype(np.float32) * 0.3
n1, i1, s1 = weight_dq("c1_", w1, 0, True)
b1 = np.round(rng.standard_normal(8) / (0.02 * s1)).astype(np.int32)
i1 += [numpy_helper.from_array(b1, "c1_bq"), numpy_helper.from_array((0.02 * s1).astype(np.float32), "c1_bs")]
n1 += [helper.make_node("DequantizeLinear", ["c1_bq", "c1_bs"], ["c1_bd"], axis=0),
       helper.make_node("Conv", [xd, "c1_wd", "c1_bd"], ["c1"], pads=[1, 1, 1, 1])]
n2, i2, yd = qdq("y1_", "c1", 0.05, 120)
n2.append(helper.make_node("Relu", [yd], ["r1"]))
n3, i3, rd = qdq("r1_", "r1", 0.03, 0)
w2 = rng.standard_normal((6, 4, 3, 3)).astype(np.float32) * 0.2
n4, i4, _ = weight_dq("c2_", w2, 0, False)
i4.append(numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "c2_b"))
n4.append(helper.make_node("Conv", [rd, "c2_wd", "c2_b"], ["c2"], strides=[2, 2], group=2, pads=[1, 1, 1, 1]))
n5, i5, _ = qdq("y2_", "c2", 0.1, 100)
n5.append(helper.make_node("Identity", ["y2_d"], ["y"]))
save17("qdq_conv", n0 + n1 + n2 + n3 + n4 + n5, [vi("x", [1, 4, 9, 11])], [vi("y", [1, 6, 5, 6])],
       i0 + i1 + i2 + i3 + i4 + i5)

# MatMul with per-column weights -> Q -> DQ; and a second MatMul whose float output is a graph
# output (no Q after it): only the first fuses.
n0, i0, xd = qdq("x_", "x", 0.01, 110)
n1, i1, _ = weight_dq("m1_", rng.standard_normal((24, 16)).astype(np.float32), 1, True)
n1.append(helper.make_node("MatMul", [xd, "m1_wd"], ["m1"]))
n2, i2, yd = qdq("y_", "m1", 0.08, 128)
n3, i3, _ = weight_dq("m2_", rng.standard_normal((16, 5)).astype(np.float32), 1, False)
n3.append(helper.make_node("MatMul", [yd, "m2_wd"], ["y"]))
save17("qdq_matmul", n0 + n1 + n2 + n3, [vi("x", [3, 24])], [vi("y", [3, 5])], i0 + i1 + i2 + i3)

# ONNX Runtime's form: Conv -> Relu -> Q with zero point 0 (Relu absorbed), then the same with a
# zero point of 5 (Relu must stay, so that Conv does not fuse).
n0, i0, xd = qdq("x_", "x", 0.02, 128)
n1, i1, _ = weight_dq("c1_", rng.standard_normal((5, 3, 3, 3)).astype(np.float32) * 0.3, 0, True)
n1 += [helper.make_node("Conv", [xd, "c1_wd"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r1"])]
n2, i2, yd = qdq("y1_", "r1", 0.03, 0)
n3, i3, _ = weight_dq("c2_", rng.standard_normal((4, 5, 1, 1)).astype(np.float32) * 0.3, 0, False)
n3 += [helper.make_node("Conv", [yd, "c2_wd"], ["c2"]), helper.make_node("Relu", ["c2"], ["r2"])]
n4, i4, _ = qdq("y2_", "r2", 0.02, 5)
n4.append(helper.make_node("Identity", ["y2_d"], ["y"]))
save17("qdq_conv_relu", n0 + n1 + n2 + n3 + n4, [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 8, 8])], i0 + i1 + i2 + i3 + i4)

# DQ -> Relu -> Q, DQ -> Clip -> Q (int8), DQ -> LeakyRelu -> Q: each a table lookup.
n0, i0, xd = qdq("x_", "x", 0.013, 131)
n0.append(helper.make_node("Relu", [xd], ["r"]))
n1, i1, rd = qdq("r_", "r", 0.007, 3)
i1 += [numpy_helper.from_array(np.array(0.1, np.float32), "lo"), numpy_helper.from_array(np.array(0.9, np.float32), "hi")]
n1.append(helper.make_node("Clip", [rd, "lo", "hi"], ["c"]))
n2, i2, cd = qdq("c_", "c", 0.005, -20, np.int8)
n2.append(helper.make_node("LeakyRelu", [cd], ["l"], alpha=0.2))
n3, i3, ld = qdq("l_", "l", 0.011, 7, np.int8)
n3.append(helper.make_node("Identity", [ld], ["y"]))
save17("qdq_lookup", n0 + n1 + n2 + n3, [vi("x", [2, 3, 17])], [vi("y", [2, 3, 17])], i0 + i1 + i2 + i3)
# ---- fuse_qdq_ops: residual adds, pools, float-output MatMul / Gemm ----

# DQ, DQ -> Add -> Q; DQ, DQ -> Add -> Relu -> Q with zero point 0 (Relu absorbed); the same with
# zero point 5 (kept: the Add stays float).
n0, i0, ad = qdq("a_", "a", 0.02, 128)
n1, i1, bd = qdq("b_", "b", 0.03, 120)
n2 = [helper.make_node("Add", [ad, bd], ["s1"])]
n3, i3, s1d = qdq("s1_", "s1", 0.04, 126)
n4 = [helper.make_node("Add", [s1d, bd], ["s2"]), helper.make_node("Relu", ["s2"], ["r2"])]
n5, i5, r2d = qdq("r2_", "r2", 0.03, 0)
n6 = [helper.make_node("Add", [r2d, ad], ["s3"]), helper.make_node("Relu", ["s3"], ["r3"])]
n7, i7, _ = qdq("r3_", "r3", 0.03, 5)
n7.append(helper.make_node("Identity", ["r3_d"], ["y"]))
save17("qdq_add", n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7, [vi("a", [2, 3, 5, 7]), vi("b", [2, 3, 5, 7])],
       [vi("y", [2, 3, 5, 7])], i0 + i1 + i3 + i5 + i7)

# ResNet's head: DQ -> MaxPool -> Q (same parameters), DQ -> MaxPool -> Q (new parameters: a
# requantizing lookup), DQ -> GlobalAveragePool -> Flatten -> Q, DQ -> Gemm (transB, per-channel
# weights, int32 bias behind DQ) with the float output as the graph output.
n0, i0, xd = qdq("x_", "x", 0.02, 128)
n0.append(helper.make_node("MaxPool", [xd], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
n1, i1, p1d = qdq("p1_", "p1", 0.02, 128)
n1.append(helper.make_node("MaxPool", [p1d], ["p2"], kernel_shape=[2, 2], strides=[1, 1]))
n2, i2, p2d = qdq("p2_", "p2", 0.013, 100)
n2 += [helper.make_node("GlobalAveragePool", [p2d], ["g"]), helper.make_node("Flatten", ["g"], ["f"])]
n3, i3, fd = qdq("f_", "f", 0.004, 60)
w = rng.standard_normal((10, 6)).astype(np.float32)
n4, i4, sw = weight_dq("fc_", w, 0, True)
bq = np.round(rng.standard_normal(10) / (0.004 * sw)).astype(np.int32)
i4 += [numpy_helper.from_array(bq, "fc_bq"), numpy_helper.from_array((0.004 * sw).astype(np.float32), "fc_bs")]
n4 += [helper.make_node("DequantizeLinear", ["fc_bq", "fc_bs"], ["fc_bd"], axis=0),
       helper.make_node("Gemm", [fd, "fc_wd", "fc_bd"], ["y"], transB=1)]
save17("qdq_head", n0 + n1 + n2 + n3 + n4, [vi("x", [2, 6, 13, 11])], [vi("y", [2, 10])], i0 + i1 + i2 + i3 + i4)

# A transformer projection: DQ(x [2, 5, 24]) -> MatMul <- DQ(W per column) -> Add(float bias),
# the MatMul's float output read by the Add (no Q): MatMulIntegerToFloat.
n0, i0, xd = qdq("x_", "x", 0.01, 110)
n1, i1, _ = weight_dq("m_", rng.standard_normal((24, 16)).astype(np.float32), 1, True)
i1.append(numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "m_b"))
n1 += [helper.make_node("MatMul", [xd, "m_wd"], ["m"]), helper.make_node("Add", ["m", "m_b"], ["y"])]
save17("qdq_matmul_float", n0 + n1, [vi("x", [2, 5, 24])], [vi("y", [2, 5, 16])], i0 + i1)
print("wrote golden models to", OUT)

# ResNet-50's int8 region in miniature, for layout_nhwc: Q -> [DQ -> Conv (stride 2, per-channel,
# int32 bias) -> Relu -> Q (zero point 0)] -> [DQ -> MaxPool 3x3/2 -> Q (same parameters: bytes)]
# -> [DQ -> Conv -> Q], residual [DQ, DQ -> Add -> Relu -> Q], [DQ -> GlobalAveragePool ->
# Flatten -> Q] -> DQ -> Gemm. After fuse_qdq: QLinearConv, byte MaxPool, QLinearConv,
# QLinearAdd, QLinearGlobalAveragePool, MatMulIntegerToFloat; channels last from the first
# convolution to the average pool.
n0, i0, xd = qdq("x_", "x", 0.02, 128)
w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
n1, i1, s1 = weight_dq("c1_", w1, 0, True)
b1 = np.round(rng.standard_normal(8) / (0.02 * s1)).astype(np.int32)
i1 += [numpy_helper.from_array(b1, "c1_bq"), numpy_helper.from_array((0.02 * s1).astype(np.float32), "c1_bs")]
n1 += [helper.make_node("DequantizeLinear", ["c1_bq", "c1_bs"], ["c1_bd"], axis=0),
       helper.make_node("Conv", [xd, "c1_wd", "c1_bd"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
       helper.make_node("Relu", ["c1"], ["r1"])]
n2, i2, r1d = qdq("r1_", "r1", 0.03, 0)
n2.append(helper.make_node("MaxPool", [r1d], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
n3, i3, pd = qdq("p_", "p", 0.03, 0)
n4, i4, _ = weight_dq("c2_", rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2, 0, False)
n4.append(helper.make_node("Conv", [pd, "c2_wd"], ["c2"], pads=[1, 1, 1, 1]))
n5, i5, c2d = qdq("c2q_", "c2", 0.05, 120)
n5 += [helper.make_node("Add", [c2d, pd], ["s"]), helper.make_node("Relu", ["s"], ["r2"])]
n6, i6, r2d = qdq("r2_", "r2", 0.04, 0)
n6 += [helper.make_node("GlobalAveragePool", [r2d], ["g"]), helper.make_node("Flatten", ["g"], ["f"])]
n7, i7, fd = qdq("f_", "f", 0.01, 0)
n8, i8, _ = weight_dq("fc_", rng.standard_normal((5, 8)).astype(np.float32), 0, True)
n8.append(helper.make_node("Gemm", [fd, "fc_wd"], ["y"], transB=1))
save17("qdq_resnet_region", n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7 + n8, [vi("x", [1, 3, 20, 18])], [vi("y", [1, 5])],
       i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8)
