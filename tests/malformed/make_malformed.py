#!/usr/bin/python3
"""Writes the malformed-model corpus into tests/malformed/cases/ (plus manifest.json).

Every case is a small hand-made model that hone must refuse with one clean line on stderr and
exit status 2: never a crash, a hang, a huge allocation or a success. The manifest records, per
case, the file to inspect, the expected exit status and a substring the error line must contain
(the substring names the actual defect, so a case that fails for some other reason is caught).

The generated files are committed; rerun this script after changing it:
    /usr/bin/python3 tests/malformed/make_malformed.py
Cases that need file-system features git cannot store (hard links) carry a "setup" entry that
the driver (run_malformed.py) performs in a temporary folder at test time.
"""

import json
import os
import random
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
OPSET = [helper.make_opsetid("", 13)]

cases = []  # manifest entries, in generation order


def tensor(name, data_type, dims, raw=None, **fields):
    """A TensorProto built field by field, so that it may contradict itself on purpose."""
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    for field, values in fields.items():
        getattr(t, field).extend(values)
    return t


def external(name, data_type, dims, location, offset=None, length=None):
    t = tensor(name, data_type, dims)
    t.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def value(name, elem=TensorProto.FLOAT, shape=(1, 4)):
    return helper.make_tensor_value_info(name, elem, list(shape))


def model(nodes, inputs, outputs, initializers=(), value_info=(), opsets=None):
    g = helper.make_graph(nodes, "g", list(inputs), list(outputs), list(initializers), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=OPSET if opsets is None else opsets, producer_name="make_malformed")
    m.ir_version = 8
    return m


def add_weight_model(weight):
    """Y = X + W for an initializer W: the simplest place to put a bad tensor."""
    elem = weight.data_type if 1 <= weight.data_type <= 16 else TensorProto.FLOAT
    shape = list(weight.dims) if len(weight.dims) <= 8 and all(0 <= d < 1 << 20 for d in weight.dims) else [1]
    return model([helper.make_node("Add", ["X", weight.name], ["Y"])], [value("X", elem, shape)],
                 [value("Y", elem, shape)], [weight])


def relu_model():
    return model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y")])


def write(name, payload, error, **extra):
    """Writes one case: payload is a ModelProto or raw bytes."""
    data = payload if isinstance(payload, bytes) else payload.SerializeToString()
    with open(os.path.join(CASES, name), "wb") as f:
        f.write(data)
    entry = {"file": name, "exit": 2, "error": error}
    entry.update(extra)
    cases.append(entry)


def write_data(name, nbytes):
    """A real external data file (so refusals are about the path, not a missing file)."""
    path = os.path.join(CASES, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(np.arange(nbytes // 4, dtype=np.float32).tobytes())


def must_not_parse(data):
    try:
        onnx.ModelProto.FromString(data)
    except Exception:  # noqa: BLE001 - any parse failure is what we want
        return True
    return False


def conv_model(w_shape, x_shape, y_shape=(1, 4, 3, 3), **attrs):
    w = helper.make_tensor("W", TensorProto.FLOAT, list(w_shape), np.zeros(int(np.prod(w_shape)), np.float32))
    return model([helper.make_node("Conv", ["X", "W"], ["Y"], **attrs)], [value("X", shape=x_shape)],
                 [value("Y", shape=y_shape)], [w])


def conv_transpose_model(w_shape, x_shape, **attrs):
    w = helper.make_tensor("W", TensorProto.FLOAT, list(w_shape), np.zeros(int(np.prod(w_shape)), np.float32))
    return model([helper.make_node("ConvTranspose", ["X", "W"], ["Y"], **attrs)], [value("X", shape=x_shape)],
                 [value("Y", shape=(1, 2, 7, 7))], [w])


def nested_if(levels):
    """`levels` Ifs, each in the then-branch of the one above."""
    leaf = helper.make_graph([helper.make_node("Identity", ["X"], ["Y0"])], "leaf", [], [value("Y0")])
    inner = leaf
    for level in range(1, levels + 1):
        # Only the then-branch nests (else is a leaf): sharing both would double the file per level.
        node = helper.make_node("If", ["C"], [f"Y{level}"], then_branch=inner, else_branch=leaf)
        inner = helper.make_graph([node], f"level{level}", [], [value(f"Y{level}")])
    top = inner.node[0]
    top.output[0] = "Y"
    return model([top], [value("C", TensorProto.BOOL, ()), value("X")], [value("Y")])


def main():
    shutil.rmtree(CASES, ignore_errors=True)
    os.makedirs(CASES)
    good = relu_model().SerializeToString()

    # --- Not a model at all -------------------------------------------------------------------
    write("empty_file.onnx", b"", "no graph")
    big = add_weight_model(helper.make_tensor("W", TensorProto.FLOAT, [64], np.ones(64, np.float32).tobytes(), raw=True))
    big_bytes = big.SerializeToString()
    truncated = big_bytes[: len(big_bytes) // 2]
    assert must_not_parse(truncated)
    write("truncated.onnx", truncated, "protobuf parsing failed")
    rng = random.Random(20240601)
    while True:
        junk = bytes(rng.randrange(256) for _ in range(512))
        if must_not_parse(junk):
            break
    write("random_bytes.onnx", junk, "protobuf parsing failed")
    write("text_file.onnx", b"this is not an onnx model\n" * 4, "protobuf parsing failed")
    # A field tag with wire type 7, which protobuf does not define.
    write("bad_wire_type.onnx", good + bytes([0x0F, 0x01]), "protobuf parsing failed")
    no_graph = onnx.ModelProto()
    no_graph.ir_version = 8
    no_graph.opset_import.extend(OPSET)
    write("no_graph.onnx", no_graph, "no graph")

    # --- Tensor data that contradicts its shape ---------------------------------------------------
    write("raw_data_too_short.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1, 4], raw=b"\0" * 12)),
          "raw_data holds 12 bytes")
    write("raw_data_too_long.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1, 4], raw=b"\0" * 20)),
          "raw_data holds 20 bytes")
    # 3 int64 need 24 bytes; 12 bytes would be right for int32: raw data and dtype disagree.
    write("raw_data_dtype_mismatch.onnx",
          add_weight_model(tensor("W", TensorProto.INT64, [3], raw=np.arange(3, dtype=np.int32).tobytes())),
          "raw_data holds 12 bytes")
    write("raw_data_huge_shape.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1 << 20, 1 << 20], raw=b"\0" * 16)),
          "raw_data holds 16 bytes")
    write("float_data_count_mismatch.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1, 4], float_data=[1, 2, 3])),
          "holds 3 values")
    write("int64_data_count_mismatch.onnx", add_weight_model(tensor("W", TensorProto.INT64, [1, 4], int64_data=[1, 2, 3, 4, 5])),
          "holds 5 values")
    write("int32_data_count_mismatch.onnx", add_weight_model(tensor("W", TensorProto.INT32, [2, 2], int32_data=[7])),
          "holds 1 values")
    write("double_data_huge_shape.onnx", add_weight_model(tensor("W", TensorProto.DOUBLE, [1 << 40], double_data=[1.0])),
          "holds 1 values")
    write("complex_odd_float_count.onnx", add_weight_model(tensor("W", TensorProto.COMPLEX64, [2], float_data=[1, 2, 3])),
          "holds 1 values")
    write("no_data_at_all.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1, 4])), "holds 0 values")
    write("string_count_mismatch.onnx",
          model([helper.make_node("Identity", ["S"], ["Y"])], [], [value("Y", TensorProto.STRING, (3,))],
                [tensor("S", TensorProto.STRING, [3], string_data=[b"a", b"b"])]),
          "declares 3 strings but holds 2")
    write("string_huge_count.onnx",
          model([helper.make_node("Identity", ["S"], ["Y"])], [], [value("Y", TensorProto.STRING, (1,))],
                [tensor("S", TensorProto.STRING, [1 << 40], string_data=[b"a"])]),
          "strings but holds 1")

    # --- Shapes -----------------------------------------------------------------------------------
    write("negative_dim_initializer.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [-1, 4], raw=b"")),
          "negative dimension -1")
    write("negative_dim_graph_input.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", shape=(1, -7))], [value("Y")]),
          "negative dimension -7")
    write("negative_dim_value_info.onnx",
          model([helper.make_node("Relu", ["X"], ["T"]), helper.make_node("Relu", ["T"], ["Y"])], [value("X")],
                [value("Y")], value_info=[value("T", shape=(-3, 4))]),
          "negative dimension -3")
    write("negative_dim_graph_output.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y", shape=(-2,))]),
          "negative dimension -2")
    # 2^32 * 2^31 = 2^63: one past INT64_MAX.
    write("dims_product_reaches_2_63.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1 << 32, 1 << 31], raw=b"")),
          "overflows")
    write("dims_product_overflows.onnx",
          add_weight_model(tensor("W", TensorProto.UINT8, [1 << 40, 1 << 40, 1 << 40], raw=b"")), "overflows")
    # 2^62 elements fit in int64 but 2^62 * 4 bytes do not.
    write("byte_size_overflows.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1 << 31, 1 << 31], raw=b"")),
          "overflows")
    write("rank_too_large_initializer.onnx", add_weight_model(tensor("W", TensorProto.FLOAT, [1] * 65, raw=b"\0" * 4)),
          "rank 65")
    write("rank_too_large_value_info.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", shape=[1] * 100)], [value("Y")]), "rank 100")

    # --- Data types -------------------------------------------------------------------------------
    write("unknown_data_type.onnx", add_weight_model(tensor("W", 99, [1], raw=b"\0" * 4)), "unsupported data_type 99")
    write("undefined_data_type.onnx", add_weight_model(tensor("W", 0, [1], raw=b"\0" * 4)), "unsupported data_type 0")
    write("unknown_elem_type.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X", elem=77)], [value("Y")]),
          "unsupported element type 77")
    write("initializer_contradicts_input_type.onnx",
          model([helper.make_node("Add", ["X", "W"], ["Y"])], [value("X"), value("W", TensorProto.INT64, (1, 4))],
                [value("Y")], [helper.make_tensor("W", TensorProto.FLOAT, [1, 4], [1, 2, 3, 4])]),
          "is declared int64 but its initializer is float")
    write("segmented_tensor.onnx",
          add_weight_model(_segmented()), "segments")

    # --- External data ----------------------------------------------------------------------------
    write_data("weights.bin", 64)
    write("external_dotdot.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "../cases/weights.bin")),
          "escapes the model's folder")
    write("external_dotdot_inner.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "sub/../../cases/weights.bin")),
          "escapes the model's folder")
    write("external_absolute.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "/etc/passwd")),
          "is an absolute path")
    write("external_windows_absolute.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "C:\\weights.bin")), "is an absolute path")
    os.symlink("weights.bin", os.path.join(CASES, "weights_symlink.bin"))
    write("external_symlink_file.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights_symlink.bin")),
          "is a symlink")
    write_data("real_dir/weights.bin", 64)
    os.symlink("real_dir", os.path.join(CASES, "linked_dir"))
    write("external_symlink_dir.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "linked_dir/weights.bin")), "through a symlink")
    # Git does not store hard links: the driver copies the model and its data file into a temp
    # folder and links the data file there before running the case.
    write("external_hardlink.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "hardlinked.bin")),
          "hard links", setup={"hardlink": {"source": "weights.bin", "name": "hardlinked.bin"}})
    write("external_past_end.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin", offset=56, length=16)),
          "past the end of the file")
    write("external_offset_overflow.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin", offset=(1 << 64) - 8)),
          "not a non-negative integer")
    write("external_offset_wraps.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin", offset=9223372036854775807)),
          "past the end of the file")
    write("external_huge_shape.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1 << 40], "weights.bin")),
          "past the end of the file")
    write("external_negative_offset.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin", offset=-4)),
          "not a non-negative integer")
    write("external_length_mismatch.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin", length=12)),
          "length 12 does not match")
    write("external_no_location.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "")),
          "names no location")
    write("external_missing_file.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "no_such_file.bin")),
          "cannot open")
    write("external_is_folder.onnx", add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "real_dir")),
          "not a regular file")
    write("external_empty_component.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "real_dir//weights.bin")), "empty path component")
    write("external_through_file.onnx",
          add_weight_model(external("W", TensorProto.FLOAT, [1, 4], "weights.bin/weights.bin")), "is not a folder")

    # --- Graph structure --------------------------------------------------------------------------
    write("dangling_input.onnx",
          model([helper.make_node("Add", ["X", "nowhere"], ["Y"])], [value("X")], [value("Y")]),
          "reads 'nowhere', which no node, input or initializer defines")
    write("cycle.onnx",
          model([helper.make_node("Add", ["X", "B"], ["A"]), helper.make_node("Relu", ["A"], ["B"]),
                 helper.make_node("Relu", ["A"], ["Y"])], [value("X")], [value("Y")]),
          "cycle")
    write("self_loop.onnx", model([helper.make_node("Add", ["X", "Y"], ["Y"])], [value("X")], [value("Y")]), "cycle")
    write("duplicate_node_output.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"]), helper.make_node("Sigmoid", ["X"], ["Y"])], [value("X")],
                [value("Y")]),
          "produces 'Y', which is already defined")
    write("duplicate_output_in_one_node.onnx",
          model([helper.make_node("Split", ["X"], ["Y", "Y"], axis=1)], [value("X")], [value("Y", shape=(1, 2))]),
          "produces 'Y', which is already defined")
    write("node_output_shadows_input.onnx",
          model([helper.make_node("Relu", ["X"], ["X"])], [value("X")], [value("X")]),
          "produces 'X', which is already defined")
    write("duplicate_graph_output.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y"), value("Y")]),
          "lists output 'Y' twice")
    write("duplicate_graph_input.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X"), value("X")], [value("Y")]),
          "declares input 'X' twice")
    write("duplicate_initializer.onnx",
          model([helper.make_node("Add", ["X", "W"], ["Y"])], [value("X")], [value("Y")],
                [helper.make_tensor("W", TensorProto.FLOAT, [1], [1.0]),
                 helper.make_tensor("W", TensorProto.FLOAT, [1], [2.0])]),
          "two initializers named 'W'")
    write("output_not_produced.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y"), value("Z")]),
          "output 'Z' is not produced")
    write("unnamed_initializer.onnx", add_weight_model(_unnamed(helper.make_tensor("W", TensorProto.FLOAT, [1, 4], [1] * 4))),
          "initializer without a name")
    write("unnamed_graph_input.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X"), value("")], [value("Y")]), "input without a name")
    write("empty_op_type.onnx", model([helper.make_node("", ["X"], ["Y"])], [value("X")], [value("Y")]), "no op_type")
    # Control characters from the file must not break the one-line error.
    write("control_chars_in_name.onnx",
          model([helper.make_node("Add", ["X", "evil\r\nname\x1b[2J"], ["Y"])], [value("X")], [value("Y")]),
          "which no node, input or initializer defines")

    # --- Opsets and ops ---------------------------------------------------------------------------
    write("missing_opset_import.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y")], opsets=[]),
          "imports no opset")
    write("default_domain_not_imported.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y")],
                opsets=[helper.make_opsetid("com.microsoft", 1)]),
          "missing opset_import")
    write("opset_version_zero.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y")], opsets=[helper.make_opsetid("", 0)]),
          "has version 0")
    write("opset_version_negative.onnx",
          model([helper.make_node("Relu", ["X"], ["Y"])], [value("X")], [value("Y")], opsets=[helper.make_opsetid("", -13)]),
          "has version -13")
    write("unknown_op.onnx", model([helper.make_node("FrobnicateTensor", ["X"], ["Y"])], [value("X")], [value("Y")]),
          "unknown op 'FrobnicateTensor'")
    write("unknown_op_ai_onnx_domain.onnx",
          model([helper.make_node("NoSuchOp", ["X"], ["Y"], domain="ai.onnx")], [value("X")], [value("Y")]),
          "unknown op 'NoSuchOp'")
    # LayerNormalization exists since opset 17; at opset 13 it is unknown.
    write("op_newer_than_opset.onnx",
          model([helper.make_node("LayerNormalization", ["X", "S"], ["Y"])], [value("X"), value("S", shape=(4,))],
                [value("Y")]),
          "unknown op 'LayerNormalization' at opset 13")
    write("attribute_without_type.onnx", _attribute_without_type(), "no type and no value")

    # --- Conv attributes against the weight ---------------------------------------------------------
    write("conv_kernel_shape_contradicts_weight.onnx",
          conv_model((4, 3, 3, 3), (1, 3, 5, 5), kernel_shape=[5, 5]), "kernel_shape [5,5] contradicts weight")
    write("conv_group_not_dividing.onnx", conv_model((4, 1, 3, 3), (1, 3, 5, 5), group=3),
          "not divisible by group 3")
    write("conv_group_zero.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), group=0), "group must be positive")
    write("conv_group_negative.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), group=-2), "group must be positive")
    # A group so large that channels * group overflows int64 if computed unchecked.
    write("conv_group_huge.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), group=(1 << 62)),
          "not divisible by group")
    # A weight with no output channels passes the divisibility test for any group; then
    # C_in/group * group overflows int64 unless computed with a check.
    write("conv_group_overflows_channels.onnx", conv_model((0, 4, 3, 3), (1, 3, 5, 5), group=(1 << 62)),
          "expects more than 2^63")
    write("conv_transpose_group_not_dividing.onnx", conv_transpose_model((3, 2, 3, 3), (1, 3, 5, 5), group=2),
          "3 input channels, not divisible by group 2")
    write("conv_transpose_input_channels_mismatch.onnx", conv_transpose_model((4, 2, 3, 3), (1, 3, 5, 5)),
          "has 3 channels but weight 'W'")
    write("conv_input_channels_mismatch.onnx", conv_model((4, 3, 3, 3), (1, 5, 5, 5)),
          "has 5 channels but weight 'W'")
    write("conv_input_rank_mismatch.onnx", conv_model((4, 3, 3, 3), (1, 3, 5)), "has rank 3 but the weight implies rank 4")
    write("conv_weight_rank_2.onnx", conv_model((4, 3), (1, 3, 5, 5)), "expected at least 3")
    write("conv_strides_wrong_length.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), strides=[1, 1, 1]),
          "strides has 3 values")
    write("conv_dilations_zero.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), dilations=[0, 1]),
          "dilations must be positive")
    write("conv_pads_negative.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), pads=[0, -1, 0, 0]),
          "pads must be non-negative")
    write("conv_pads_wrong_length.onnx", conv_model((4, 3, 3, 3), (1, 3, 5, 5), pads=[1, 1]), "pads has 2 values")
    bias = conv_model((4, 3, 3, 3), (1, 3, 5, 5))
    bias.graph.node[0].input.append("B")
    bias.graph.initializer.append(helper.make_tensor("B", TensorProto.FLOAT, [3], [0, 0, 0]))
    write("conv_bias_wrong_size.onnx", bias, "bias 'B' has shape 3")

    # --- Subgraphs --------------------------------------------------------------------------------
    nested = nested_if(200).SerializeToString()
    write("nested_if_200.onnx", nested, "nested too deeply", max_seconds=2)
    write("nested_if_33.onnx", nested_if(33), "nest deeper than the limit of 32", max_seconds=2)
    bad_branch = helper.make_graph([helper.make_node("Relu", ["undefined_in_branch"], ["Z"])], "then", [], [value("Z")])
    ok_branch = helper.make_graph([helper.make_node("Relu", ["X"], ["Z2"])], "else", [], [value("Z2")])
    write("subgraph_dangling_input.onnx",
          model([helper.make_node("If", ["C"], ["Y"], then_branch=bad_branch, else_branch=ok_branch)],
                [value("C", TensorProto.BOOL, ()), value("X")], [value("Y")]),
          "reads 'undefined_in_branch'")
    bad_init_branch = helper.make_graph([helper.make_node("Identity", ["K"], ["Z"])], "then", [], [value("Z")],
                                        [tensor("K", TensorProto.FLOAT, [1, 4], raw=b"\0" * 3)])
    write("subgraph_bad_initializer.onnx",
          model([helper.make_node("If", ["C"], ["Y"], then_branch=bad_init_branch, else_branch=ok_branch)],
                [value("C", TensorProto.BOOL, ()), value("X")], [value("Y")]),
          "raw_data holds 3 bytes")
    write("constant_attribute_bad_tensor.onnx",
          model([helper.make_node("Constant", [], ["Y"], value=tensor("v", TensorProto.FLOAT, [2, 2], float_data=[1]))],
                [], [value("Y", shape=(2, 2))]),
          "holds 1 values")

    # --- Paths that are not model files -----------------------------------------------------------
    cases.append({"file": "no_such_model.onnx", "exit": 2, "error": "cannot open"})
    cases.append({"file": "real_dir", "exit": 2, "error": "not a regular file"})

    with open(os.path.join(CASES, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {CASES}")


def _segmented():
    t = tensor("W", TensorProto.FLOAT, [1, 4], raw=b"\0" * 16)
    t.segment.begin = 0
    t.segment.end = 4
    return t


def _unnamed(t):
    t.name = ""
    return t


def _attribute_without_type():
    m = relu_model()
    a = m.graph.node[0].attribute.add()
    a.name = "mystery"  # no type, no value, no ref_attr_name
    return m


if __name__ == "__main__":
    sys.exit(main())
