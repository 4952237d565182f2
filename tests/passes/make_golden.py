#!/usr/bin/python3
"""Writes the tiny golden models of tests/passes/golden/ (committed; rerun after editing).

Each model exercises one pass; passes_test.cc holds the op counts expected after that pass and
checks that outputs equal the unoptimized model's."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
rng = np.random.default_rng(7)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def save(name, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_golden.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def identity():
    # a = Identity(X) disappears; the Dropout (mask unused) goes; Y = Identity(relu) renames the
    # Relu's output to Y; Z = Identity(X) must stay (X is a graph input, Z a graph output).
    nodes = [
        helper.make_node("Identity", ["X"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Dropout", ["b"], ["c", "mask"]),
        helper.make_node("Identity", ["c"], ["Y"]),
        helper.make_node("Identity", ["X"], ["Z"]),
    ]
    save("identity", nodes, [f32("X", [2, 3])], [f32("Y", [2, 3]), f32("Z", [2, 3])])


def identity_subgraph():
    # The If branches read `a` from the outer graph: removing a = Identity(X) must rename their
    # reads to X as well.
    then_g = helper.make_graph([helper.make_node("Relu", ["a"], ["t"])], "then", [], [f32("t", [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["e"])], "else", [], [f32("e", [2, 3])])
    nodes = [
        helper.make_node("Identity", ["X"], ["a"]),
        helper.make_node("If", ["cond"], ["Y"], then_branch=then_g, else_branch=else_g),
    ]
    save("identity_subgraph", nodes, [f32("X", [2, 3]), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
         [f32("Y", [2, 3])])


def dropout_kept():
    # Both Dropouts stay: one in training mode (ratio 0 keeps it deterministic for the output
    # check), one whose mask is read.
    nodes = [
        helper.make_node("Dropout", ["X", "ratio", "training"], ["Y"]),
        helper.make_node("Dropout", ["X"], ["d", "mask"]),
        helper.make_node("Cast", ["mask"], ["Z"], to=TensorProto.FLOAT),
    ]
    save("dropout_kept", nodes, [f32("X", [2, 3])], [f32("Y", [2, 3]), f32("Z", [2, 3])],
         [init("ratio", np.array(0, np.float32)), init("training", np.array(True))])


def dead_code():
    nodes = [
        helper.make_node("Exp", ["X"], ["e"]),
        helper.make_node("Add", ["e", "unused_w"], ["f"]),
        helper.make_node("Relu", ["X"], ["Y"]),
    ]
    save("dead_code", nodes, [f32("X", [2, 3])], [f32("Y", [2, 3])],
         [init("unused_w", rng.standard_normal(3).astype(np.float32)),
          init("orphan", np.zeros(4, np.float32))])


def fold_constants():
    # The weight (Constant + initializer) and the Reshape target (Shape of a static input, Gather,
    # Unsqueeze, Concat) are constants: only Mul and Reshape remain.
    nodes = [
        helper.make_node("Constant", [], ["c1"], value=init("c1v", rng.standard_normal(4).astype(np.float32))),
        helper.make_node("Add", ["c1", "w"], ["w2"]),
        helper.make_node("Mul", ["X", "w2"], ["m"]),
        helper.make_node("Shape", ["X"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["d0"], axis=0),
        helper.make_node("Unsqueeze", ["d0", "axes"], ["d0u"]),
        helper.make_node("Concat", ["d0u", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["m", "target"], ["Y"]),
    ]
    save("fold_constants", nodes, [f32("X", [2, 3, 4])], [f32("Y", [2, 12])],
         [init("w", rng.standard_normal(4).astype(np.float32)), init("zero", np.array(0, np.int64)),
          init("axes", np.array([0], np.int64)), init("minus_one", np.array([-1], np.int64))])


def fold_inferred_shape():
    # PyTorch's chunk of a packed projection: the Slice bound is Shape(m)[-1] / 2 of an
    # intermediate m whose shape inference proves static ([2, 6] @ [6, 8] -> [2, 8]): Shape,
    # Gather and Div fold, MatMul and Slice remain. The same arithmetic on a symbolic-batch input
    # (Z [batch, 8]) folds nothing: its Shape, Gather, Div and Slice stay.
    nodes = [helper.make_node("MatMul", ["X", "w"], ["m"])]
    for p, src, out in (("a_", "m", "Y"), ("b_", "Z", "Y2")):
        nodes += [
            helper.make_node("Shape", [src], [p + "s"]),
            helper.make_node("Gather", [p + "s", "last"], [p + "c"], axis=0),
            helper.make_node("Div", [p + "c", "two"], [p + "half"]),
            helper.make_node("Slice", [src, "zero", p + "half", "last"], [out]),
        ]
    save("fold_inferred_shape", nodes, [f32("X", [2, 6]), f32("Z", ["batch", 8])],
         [f32("Y", [2, 4]), f32("Y2", ["batch", 4])],
         [init("w", rng.standard_normal((6, 8)).astype(np.float32)), init("last", np.array([-1], np.int64)),
          init("two", np.array([2], np.int64)), init("zero", np.array([0], np.int64))])


def bn_inits(prefix, c):
    return [init(prefix + "_scale", rng.uniform(0.5, 1.5, c).astype(np.float32)),
            init(prefix + "_bias", rng.standard_normal(c).astype(np.float32)),
            init(prefix + "_mean", rng.standard_normal(c).astype(np.float32)),
            init(prefix + "_var", rng.uniform(0.5, 2.0, c).astype(np.float32))]


def bn(prefix, x, y):
    return helper.make_node("BatchNormalization", [x, prefix + "_scale", prefix + "_bias", prefix + "_mean",
                                                   prefix + "_var"], [y], epsilon=1e-3)


def fold_batchnorm():
    # Conv+bias+BN and Conv(no bias)+BN fold, Gemm(transB)+BN folds; bn4 stays because its Conv's
    # output is read by a Relu too.
    nodes = [
        helper.make_node("Conv", ["X", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        bn("bn1", "c1", "n1"),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"]),
        bn("bn2", "c2", "Y1"),
        helper.make_node("GlobalAveragePool", ["Y1"], ["p"]),
        helper.make_node("Flatten", ["p"], ["fl"]),
        helper.make_node("Gemm", ["fl", "wg", "cg"], ["g"], transB=1, beta=0.5),
        bn("bn3", "g", "Y2"),
        helper.make_node("Conv", ["X", "w3"], ["c3"]),
        bn("bn4", "c3", "Y3"),
        helper.make_node("Relu", ["c3"], ["Y4"]),
    ]
    inits = [init("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             init("b1", rng.standard_normal(4).astype(np.float32)),
             init("w2", rng.standard_normal((4, 4, 1, 1)).astype(np.float32)),
             init("wg", rng.standard_normal((5, 4)).astype(np.float32)),
             init("cg", rng.standard_normal(5).astype(np.float32)),
             init("w3", rng.standard_normal((2, 3, 1, 1)).astype(np.float32))]
    inits += bn_inits("bn1", 4) + bn_inits("bn2", 4) + bn_inits("bn3", 5) + bn_inits("bn4", 2)
    save("fold_batchnorm", nodes, [f32("X", [1, 3, 8, 8])],
         [f32("Y1", [1, 4, 8, 8]), f32("Y2", [1, 5]), f32("Y3", [1, 2, 8, 8]), f32("Y4", [1, 2, 8, 8])], inits)


def sink_views_below_add():
    # PyTorch's attention output projection at batch 1: Gemm [S, D] -> Reshape [S, 1, D] ->
    # Transpose(1, 0, 2) (moves only the size-1 dim: a view) -> Add of the residual [1, S, D].
    # The pass makes the Add read the Gemm's output. Kept: an Add behind a real transpose
    # ([S, 2, 3] -> [2, S, 3]), one whose other input broadcasts ([D] bias), and one whose view
    # is also a graph output.
    S, D = 5, 6
    nodes = [helper.make_node("Gemm", ["X", "W", "B"], ["g"]),
             helper.make_node("Reshape", ["g", "s3"], ["g3"]),
             helper.make_node("Transpose", ["g3"], ["gt"], perm=[1, 0, 2]),
             helper.make_node("Add", ["R", "gt"], ["Y"]),
             # A real transpose: stays.
             helper.make_node("MatMul", ["X", "W"], ["m"]),
             helper.make_node("Reshape", ["m", "s_real"], ["m3"]),
             helper.make_node("Transpose", ["m3"], ["mt"], perm=[1, 0, 2]),
             helper.make_node("Add", ["mt", "R2"], ["Y2"]),
             # The other input broadcasts: stays.
             helper.make_node("MatMul", ["X", "W"], ["b"]),
             helper.make_node("Reshape", ["b", "s3"], ["b3"]),
             helper.make_node("Add", ["b3", "bias"], ["Y3"]),
             # The view is a graph output too: stays.
             helper.make_node("Mul", ["X", "X"], ["q"]),
             helper.make_node("Reshape", ["q", "s3"], ["Y4"]),
             helper.make_node("Add", ["Y4", "R3"], ["Y5"])]
    inits = [init("W", rng.standard_normal((D, D)).astype(np.float32)),
             init("B", rng.standard_normal(D).astype(np.float32)),
             init("s3", np.array([S, 1, D], np.int64)), init("s_real", np.array([S, 2, 3], np.int64)),
             init("bias", rng.standard_normal(D).astype(np.float32))]
    save("sink_views_below_add", nodes,
         [f32("X", [S, D]), f32("R", [1, S, D]), f32("R2", [2, S, 3]), f32("R3", [S, 1, D])],
         [f32("Y", [1, S, D]), f32("Y2", [2, S, 3]), f32("Y3", [S, 1, D]), f32("Y4", [S, 1, D]),
          f32("Y5", [S, 1, D])], inits)


def hoist_gather():
    # A transformer block's tail read at one row: Y = Gather(LayerNorm(c), -2, axis 1) with
    # c = Add(Add(Mul(a, Erf(a)), R), k) and a = Add(MatMul(X, W), b). The Gather moves above all of
    # it: a is read twice, both readers moving; X (a graph input, also read by another MatMul), R
    # (a graph input) and k ([1, 1, D]: broadcast along the axis, gathered at 0) get new Gathers.
    # Kept: a Gather on the last axis of a MatMul (its columns), and one whose input is also a
    # graph output.
    S, D = 5, 6
    nodes = [helper.make_node("MatMul", ["X", "W"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Erf", ["a"], ["e"]),
             helper.make_node("Mul", ["a", "e"], ["g"]),
             helper.make_node("Add", ["g", "R"], ["r"]),
             helper.make_node("Add", ["r", "k"], ["c"]),
             helper.make_node("LayerNormalization", ["c", "scale", "bias"], ["ln"], axis=2),
             helper.make_node("Gather", ["ln", "i"], ["Y"], axis=1),
             helper.make_node("MatMul", ["X", "W2"], ["m2"]),
             helper.make_node("Gather", ["m2", "j"], ["Y2"], axis=2),
             helper.make_node("Relu", ["X"], ["Y3"]),
             helper.make_node("Gather", ["Y3", "j"], ["Y4"], axis=1)]
    inits = [init("W", rng.standard_normal((D, D)).astype(np.float32)),
             init("b", rng.standard_normal(D).astype(np.float32)),
             init("k", rng.standard_normal((1, 1, D)).astype(np.float32)),
             init("scale", rng.standard_normal(D).astype(np.float32)),
             init("bias", rng.standard_normal(D).astype(np.float32)),
             init("W2", rng.standard_normal((D, D)).astype(np.float32)),
             init("i", np.array(-2, np.int64)), init("j", np.array(1, np.int64))]
    save("hoist_gather", nodes, [f32("X", [1, S, D]), f32("R", [1, S, D])],
         [f32("Y", [1, D]), f32("Y2", [1, S]), f32("Y3", [1, S, D]), f32("Y4", [1, D])], inits, opset=17)


def hoist_gather_reduce():
    # The same with the LayerNorm written out as opset 13 exports it: ReduceMean (axes attribute
    # -1), Sub, Pow, ReduceSum (axes input [2]: renumbered to [1] once the Gather moved above it),
    # Mul, Add, Sqrt, Div, Mul, Add; x and d are read twice, every reader moving; the residual R is
    # a constant this time (cut into a new initializer). Kept: a Gather after a ReduceMean over the
    # gathered axis.
    S, D = 5, 6
    nodes = [helper.make_node("MatMul", ["X", "W"], ["m"]),
             helper.make_node("Add", ["m", "R"], ["x"]),
             helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
             helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["sq"]),
             helper.make_node("ReduceSum", ["sq", "last_axis"], ["ss"]),
             helper.make_node("Mul", ["ss", "inv_d"], ["var"]),
             helper.make_node("Add", ["var", "eps"], ["ve"]),
             helper.make_node("Sqrt", ["ve"], ["sd"]),
             helper.make_node("Div", ["d", "sd"], ["n"]),
             helper.make_node("Mul", ["n", "g"], ["ng"]),
             helper.make_node("Add", ["ng", "b"], ["y"]),
             helper.make_node("Gather", ["y", "i"], ["Y"], axis=1),
             helper.make_node("ReduceMean", ["X"], ["xm"], axes=[1]),
             helper.make_node("Gather", ["xm", "z"], ["Z"], axis=1)]
    inits = [init("W", rng.standard_normal((D, D)).astype(np.float32)),
             init("two", np.array(2.0, np.float32)), init("last_axis", np.array([2], np.int64)),
             init("inv_d", np.array(1.0 / D, np.float32)), init("eps", np.array(1e-5, np.float32)),
             init("g", rng.standard_normal(D).astype(np.float32)), init("b", rng.standard_normal(D).astype(np.float32)),
             init("i", np.array(1, np.int64)), init("z", np.array(0, np.int64)),
             init("R", rng.standard_normal((1, S, D)).astype(np.float32))]
    save("hoist_gather_reduce", nodes, [f32("X", [1, S, D])],
         [f32("Y", [1, D]), f32("Z", [1, D])], inits)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    identity()
    identity_subgraph()
    dropout_kept()
    dead_code()
    fold_constants()
    fold_batchnorm()
    fold_inferred_shape()
    sink_views_below_add()
    hoist_gather()
    hoist_gather_reduce()
