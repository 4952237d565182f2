#!/usr/bin/python3
"""Writes the golden models of the fp32 fusion passes into tests/passes/golden/ (committed; rerun
after editing): fuse_layernorm, fuse_gelu, fuse_matmul_bias, fuse_conv_activation, a small
transformer block for all of them at once, and fuse_attention (rank-4 and rank-3 exports). tests/unit/passes/fusion_fp32_test.cc holds the op
counts expected after each pass and checks outputs against the unoptimized model."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
rng = np.random.default_rng(11)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def scalar(name, v):
    return init(name, np.array(v, dtype=np.float32))


def save(name, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_golden_fp32.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def layernorm_nodes(p, x, y, square="pow", beta=True):
    """PyTorch's decomposition of LayerNorm over the last axis (opset 13: axes attribute)."""
    nodes = [
        helper.make_node("ReduceMean", [x], [p + "mean"], axes=[-1]),
        helper.make_node("Sub", [x, p + "mean"], [p + "d"]),
        helper.make_node("Pow", [p + "d", "two"], [p + "sq"]) if square == "pow"
        else helper.make_node("Mul", [p + "d", p + "d"], [p + "sq"]),
        helper.make_node("ReduceMean", [p + "sq"], [p + "var"], axes=[-1]),
        helper.make_node("Add", [p + "var", "eps"], [p + "ve"]),
        helper.make_node("Sqrt", [p + "ve"], [p + "std"]),
        helper.make_node("Div", [p + "d", p + "std"], [p + "n"]),
        helper.make_node("Mul", [p + "n", p + "gamma"], [p + "s" if beta else y]),
    ]
    if beta:
        nodes.append(helper.make_node("Add", [p + "beta", p + "s"], [y]))
    return nodes


def gelu_nodes(p, x, y, variant="a"):
    """Erf GELU: (a) (x * (1 + erf(x / sqrt2))) * 0.5, PyTorch's export; (b) (x * 0.5) * (1 + erf(x * 1/sqrt2))."""
    if variant == "a":
        return [
            helper.make_node("Div", [x, "sqrt2"], [p + "xs"]),
            helper.make_node("Erf", [p + "xs"], [p + "e"]),
            helper.make_node("Add", [p + "e", "one"], [p + "e1"]),
            helper.make_node("Mul", [x, p + "e1"], [p + "m"]),
            helper.make_node("Mul", [p + "m", "half"], [y]),
        ]
    return [
        helper.make_node("Mul", ["inv_sqrt2", x], [p + "xs"]),
        helper.make_node("Erf", [p + "xs"], [p + "e"]),
        helper.make_node("Add", ["one", p + "e"], [p + "e1"]),
        helper.make_node("Mul", ["half", x], [p + "h"]),
        helper.make_node("Mul", [p + "h", p + "e1"], [y]),
    ]


CONSTANTS = [scalar("two", 2.0), scalar("eps", 1e-5), scalar("sqrt2", np.sqrt(2.0)), scalar("inv_sqrt2", np.sqrt(0.5)),
             scalar("one", 1.0), scalar("half", 0.5)]


def fuse_layernorm():
    # ln1 (Pow, beta) and ln2 (Mul(d, d), no beta) fuse; ln3 stays: its mean is also an output.
    d = 37
    nodes = layernorm_nodes("ln1_", "X", "Y1") + layernorm_nodes("ln2_", "Y1", "Y2", square="mul", beta=False)
    nodes += layernorm_nodes("ln3_", "X", "Y3")
    inits = CONSTANTS[:2]
    for p in ("ln1_", "ln2_", "ln3_"):
        inits += [init(p + "gamma", rng.uniform(0.5, 1.5, d).astype(np.float32)),
                  init(p + "beta", rng.standard_normal(d).astype(np.float32))]
    save("fuse_layernorm", nodes, [f32("X", [2, 5, d])],
         [f32("Y1", [2, 5, d]), f32("Y2", [2, 5, d]), f32("Y3", [2, 5, d]), f32("ln3_mean", [2, 5, 1])], inits)


def fuse_gelu():
    # g1 (PyTorch's form) and g2 (x * 0.5 first, Mul by 1/sqrt2) fuse; g3 stays: its Erf output
    # is also a graph output.
    nodes = gelu_nodes("g1_", "X", "Y1") + gelu_nodes("g2_", "Y1", "Y2", variant="b") + gelu_nodes("g3_", "X", "Y3")
    save("fuse_gelu", nodes, [f32("X", [3, 50])], [f32("Y1", [3, 50]), f32("Y2", [3, 50]), f32("Y3", [3, 50]),
                                                    f32("g3_e", [3, 50])], CONSTANTS)


def fuse_matmul_bias():
    # m1: MatMul + Add(bias first, as PyTorch exports Linear) + Relu -> one node; m2: MatMul + Add;
    # m3: MatMul + Clip(0, 6) without bias; m4 stays (B is an input, not a constant); m5 stays
    # (the bias varies along rows).
    k, n = 24, 19
    nodes = [
        helper.make_node("MatMul", ["X", "w1"], ["m1"]),
        helper.make_node("Add", ["b1", "m1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["Y1"]),
        helper.make_node("MatMul", ["X", "w2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["Y2"]),
        helper.make_node("MatMul", ["X", "w3"], ["m3"]),
        helper.make_node("Clip", ["m3", "zero", "six"], ["Y3"]),
        helper.make_node("MatMul", ["X", "W"], ["m4"]),
        helper.make_node("Add", ["m4", "b2"], ["Y4"]),
        helper.make_node("MatMul", ["X", "w2"], ["m5"]),
        helper.make_node("Add", ["m5", "b5"], ["Y5"]),
        # Gemm + activation: g1 (transB, bias) and g2 (no C) fuse; g3 stays (alpha != 1).
        helper.make_node("Gemm", ["X2", "wg", "cg"], ["g1"], transB=1),
        helper.make_node("Relu", ["g1"], ["Y6"]),
        helper.make_node("Gemm", ["X2", "w1"], ["g2"]),
        helper.make_node("Sigmoid", ["g2"], ["Y7"]),
        helper.make_node("Gemm", ["X2", "w1"], ["g3"], alpha=0.5),
        helper.make_node("Relu", ["g3"], ["Y8"]),
    ]
    inits = [init("w1", rng.standard_normal((k, n)).astype(np.float32)),
             init("b1", rng.standard_normal(n).astype(np.float32)),
             init("w2", rng.standard_normal((k, n)).astype(np.float32)),
             init("b2", rng.standard_normal((1, n)).astype(np.float32)),
             init("w3", rng.standard_normal((k, n)).astype(np.float32)),
             init("b5", rng.standard_normal((7, 1)).astype(np.float32)),
             init("wg", rng.standard_normal((n, k)).astype(np.float32)),
             init("cg", rng.standard_normal(n).astype(np.float32)),
             scalar("zero", 0.0), scalar("six", 6.0)]
    save("fuse_matmul_bias", nodes, [f32("X", [2, 7, k]), f32("W", [k, n]), f32("X2", [5, k])],
         [f32("Y1", [2, 7, n]), f32("Y2", [2, 7, n]), f32("Y3", [2, 7, n]), f32("Y4", [2, 7, n]), f32("Y5", [2, 7, n]),
          f32("Y6", [5, n]), f32("Y7", [5, n]), f32("Y8", [5, n])],
         inits)


def fuse_conv_activation():
    # c1 + Relu, c2 + Clip(0, 6), c3 + Sigmoid fuse; c4 stays (its output is read twice).
    nodes = [
        helper.make_node("Conv", ["X", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=4),
        helper.make_node("Clip", ["c2", "zero", "six"], ["Y1"]),
        helper.make_node("Conv", ["X", "w3", "b3"], ["c3"], strides=[2, 2]),
        helper.make_node("Sigmoid", ["c3"], ["Y2"]),
        helper.make_node("Conv", ["X", "w3"], ["c4"]),
        helper.make_node("Relu", ["c4"], ["Y3"]),
        helper.make_node("Neg", ["c4"], ["Y4"]),
    ]
    inits = [init("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             init("b1", rng.standard_normal(4).astype(np.float32)),
             init("w2", rng.standard_normal((4, 1, 3, 3)).astype(np.float32)),
             init("w3", rng.standard_normal((5, 3, 1, 1)).astype(np.float32)),
             init("b3", rng.standard_normal(5).astype(np.float32)),
             scalar("zero", 0.0), scalar("six", 6.0)]
    save("fuse_conv_activation", nodes, [f32("X", [1, 3, 9, 9])],
         [f32("Y1", [1, 4, 7, 7]), f32("Y2", [1, 5, 5, 5]), f32("Y3", [1, 5, 9, 9]), f32("Y4", [1, 5, 9, 9])], inits)


def fuse_add_activation():
    # a1: Conv + residual Add + Relu fuses (Conv output is float32 by its weights); a2: Add of a
    # row bias + Sigmoid fuses (declared input); a3 stays: the sum is also read by Neg.
    nodes = [
        helper.make_node("Conv", ["X", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c", "X"], ["s1"]),
        helper.make_node("Relu", ["s1"], ["Y1"]),
        helper.make_node("Add", ["X", "row"], ["s2"]),
        helper.make_node("Sigmoid", ["s2"], ["Y2"]),
        helper.make_node("Add", ["X", "X"], ["s3"]),
        helper.make_node("Relu", ["s3"], ["Y3"]),
        helper.make_node("Neg", ["s3"], ["Y4"]),
    ]
    inits = [init("w", rng.standard_normal((3, 3, 3, 3)).astype(np.float32)),
             init("row", rng.standard_normal(9).astype(np.float32))]
    shape = [2, 3, 9, 9]
    save("fuse_add_activation", nodes, [f32("X", shape)], [f32("Y1", shape), f32("Y2", shape), f32("Y3", shape),
                                                             f32("Y4", shape)], inits)


def transformer_ffn():
    # LayerNorm (decomposed) -> Linear -> GELU -> Linear, residual: at level 2 it becomes
    # hone.LayerNormalization, hone.FusedMatMul (bias + Gelu), hone.FusedMatMul (bias), Add.
    d, h = 32, 64
    nodes = layernorm_nodes("ln_", "X", "n") + [
        helper.make_node("MatMul", ["n", "w1"], ["m1"]),
        helper.make_node("Add", ["b1", "m1"], ["a1"]),
    ] + gelu_nodes("g_", "a1", "g") + [
        helper.make_node("MatMul", ["g", "w2"], ["m2"]),
        helper.make_node("Add", ["b2", "m2"], ["a2"]),
        helper.make_node("Add", ["X", "a2"], ["Y"]),
    ]
    inits = CONSTANTS + [init("ln_gamma", rng.uniform(0.5, 1.5, d).astype(np.float32)),
                         init("ln_beta", rng.standard_normal(d).astype(np.float32)),
                         init("w1", (rng.standard_normal((d, h)) * 0.2).astype(np.float32)),
                         init("b1", rng.standard_normal(h).astype(np.float32)),
                         init("w2", (rng.standard_normal((h, d)) * 0.2).astype(np.float32)),
                         init("b2", rng.standard_normal(d).astype(np.float32))]
    save("transformer_ffn", nodes, [f32("X", [1, 9, d])], [f32("Y", [1, 9, d])], inits)


def attention_core(p, q, k, v, y, rank, scale_on="scores", mask=None):
    """The attention core as PyTorch exports it: head split Transposes of Q/K/V (K to [.., D, S]),
    MatMul, the 1/sqrt(D) scale (a Div on the scores, or on Q before the MatMul), the mask Add,
    Softmax, MatMul with V and the head merge Transpose."""
    split, kt = ([0, 2, 1, 3], [0, 2, 3, 1]) if rank == 4 else ([1, 0, 2], [1, 2, 0])
    nodes = [
        helper.make_node("Transpose", [q], [p + "qh"], perm=split),
        helper.make_node("Transpose", [k], [p + "kt"], perm=kt),
        helper.make_node("Transpose", [v], [p + "vh"], perm=split),
    ]
    qh = p + "qh"
    if scale_on == "q":
        nodes.append(helper.make_node("Div", [qh, "sqrt_d"], [p + "qs"]))
        qh = p + "qs"
    nodes.append(helper.make_node("MatMul", [qh, p + "kt"], [p + "s"]))
    s = p + "s"
    if scale_on == "scores":
        nodes.append(helper.make_node("Div", [s, "sqrt_d"], [p + "ss"]))
        s = p + "ss"
    if mask:
        nodes.append(helper.make_node("Add", [s, mask], [p + "sm"]))
        s = p + "sm"
    nodes += [
        helper.make_node("Softmax", [s], [p + "p"], axis=-1),
        helper.make_node("MatMul", [p + "p", p + "vh"], [p + "o"]),
        helper.make_node("Transpose", [p + "o"], [y], perm=split),
    ]
    return nodes


def fuse_attention_bshd():
    # HF-BERT style, rank 4: X [B, S, E] -> Q/K/V [B, S, H, D]; padding mask input [B, 1, 1, S].
    # Attention "a" fuses; attention "b" exports its probabilities (a second reader): it must not.
    b, s, h, d = 2, 6, 2, 8
    e = h * d
    nodes = []
    for t in "qkv":
        nodes += [helper.make_node("MatMul", ["X", "w" + t], [t + "p"]),
                  helper.make_node("Reshape", [t + "p", "heads"], [t])]
    nodes += attention_core("a_", "q", "k", "v", "a_y", 4, "scores", "M")
    nodes += attention_core("b_", "q", "k", "v", "b_y", 4, "scores", "M")
    nodes += [helper.make_node("Reshape", ["a_y", "merged"], ["Y"]),
              helper.make_node("Reshape", ["b_y", "merged"], ["Y2"])]
    inits = [init("w" + t, (rng.standard_normal((e, e)) * 0.3).astype(np.float32)) for t in "qkv"]
    inits += [init("heads", np.array([b, s, h, d], dtype=np.int64)), init("merged", np.array([b, s, e], dtype=np.int64)),
              scalar("sqrt_d", np.sqrt(d))]
    save("fuse_attention_bshd", nodes, [f32("X", [b, s, e]), f32("M", [b, 1, 1, s])],
         [f32("Y", [b, s, e]), f32("Y2", [b, s, e]), f32("b_p", [b, h, s, s])], inits)


def fuse_attention_mha():
    # nn.MultiheadAttention style, rank 3: X [S, 1, E] -> packed QKV projection + bias, Slices,
    # Reshape to [S, H, D], the scale on Q, and a causal mask (-inf above the diagonal).
    s, h, d = 7, 3, 8
    e = h * d
    nodes = [helper.make_node("MatMul", ["X", "wqkv"], ["qkv_m"]),
             helper.make_node("Add", ["bqkv", "qkv_m"], ["qkv"])]
    for i, t in enumerate("qkv"):
        nodes += [helper.make_node("Slice", ["qkv", "start_" + t, "end_" + t, "last"], [t + "s"]),
                  helper.make_node("Reshape", [t + "s", "heads"], [t])]
    nodes += attention_core("a_", "q", "k", "v", "a_y", 3, "q", "causal")
    nodes.append(helper.make_node("Reshape", ["a_y", "merged"], ["Y"]))
    causal = np.triu(np.full((s, s), -np.inf, dtype=np.float32), 1)
    inits = [init("wqkv", (rng.standard_normal((e, 3 * e)) * 0.3).astype(np.float32)),
             init("bqkv", rng.standard_normal(3 * e).astype(np.float32)), init("causal", causal),
             init("heads", np.array([s, h, d], dtype=np.int64)), init("merged", np.array([s, 1, e], dtype=np.int64)),
             init("last", np.array([-1], dtype=np.int64)), scalar("sqrt_d", np.sqrt(d))]
    for i, t in enumerate("qkv"):
        inits += [init("start_" + t, np.array([i * e], dtype=np.int64)), init("end_" + t, np.array([(i + 1) * e], dtype=np.int64))]
    save("fuse_attention_mha", nodes, [f32("X", [s, 1, e])], [f32("Y", [s, 1, e])], inits)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    fuse_layernorm()
    fuse_gelu()
    fuse_matmul_bias()
    fuse_conv_activation()
    transformer_ffn()
    fuse_add_activation()
    fuse_attention_bshd()
    fuse_attention_mha()
