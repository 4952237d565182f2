#!/usr/bin/python3
"""Writes models/mlp_tiny.onnx: the small model `make run` inspects until `hone demo` lands.
A 64-128-10 MLP (Gemm + Relu + Softmax) with seeded random weights and a symbolic batch dim.
usage: /usr/bin/python3 tools/zoo/make_default_model.py [OUT.onnx]"""
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(0)
w1 = (rng.standard_normal((128, 64)) * 0.1).astype(np.float32)
b1 = np.zeros(128, np.float32)
w2 = (rng.standard_normal((10, 128)) * 0.1).astype(np.float32)
b2 = np.zeros(10, np.float32)
nodes = [
    helper.make_node("Gemm", ["input", "w1", "b1"], ["h"], name="fc1", transB=1),
    helper.make_node("Relu", ["h"], ["h_relu"], name="relu1"),
    helper.make_node("Gemm", ["h_relu", "w2", "b2"], ["logits"], name="fc2", transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
]
graph = helper.make_graph(
    nodes, "mlp_tiny",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 64])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
    [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hone-zoo")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1] if len(sys.argv) > 1 else "models/mlp_tiny.onnx")
