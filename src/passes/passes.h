// The passes (one file each) and the graph-editing helpers they share. Internal to src/passes:
// callers go through pass_manager.h.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::passes {

Status eliminate_identity(ir::Model& m);
Status dead_code(ir::Model& m);
Status fold_constants(ir::Model& m);
Status fold_batchnorm(ir::Model& m);
// fp32 fusions into internal "hone" nodes (session only, never exported): fusion_util.h.
Status fuse_layernorm(ir::Model& m);
Status fuse_gelu(ir::Model& m);
Status fuse_attention(ir::Model& m);
Status fuse_matmul_bias(ir::Model& m);
Status fuse_conv_activation(ir::Model& m);
Status fuse_add_activation(ir::Model& m);
// Channels-last convolutions and pooling (hone.Nhwc*), session only: layout_nhwc.cc.
Status layout_nhwc(ir::Model& m);
// MobileNet-v2 inverted-residual blocks (three hone.NhwcConv) into one node: fuse_inverted_residual.cc.
Status fuse_inverted_residual(ir::Model& m);
// Moves Transposes down through elementwise ops and cancels inverse pairs: sink_transposes.cc.
Status sink_transposes(ir::Model& m);
// As sink_transposes; `moved` (may be null) gets, for each node that moved below a transpose and
// now writes its output under a new name, new name -> old name.
Status sink_transposes_tracked(ir::Model& m, std::unordered_map<std::string, std::string>* moved);
// Add(Reshape/order-keeping Transpose chain of y, r) into Reshape(Add(y, Reshape(r))), so that
// the Add meets y's producer: sink_views_below_add.cc.
Status sink_views_below_add(ir::Model& m);
// A Gather of one slice moves above the row-wise ops (elementwise, LayerNorm, MatMul) that make
// its input, so they compute that slice only: hoist_gather.cc.
Status hoist_gather(ir::Model& m);
// int8 fusions into nodes of hone's internal domain (session only, never exported).
Status fuse_dynamic_quant_matmul(ir::Model& m);
Status fuse_dynamic_quant_producer(ir::Model& m);
Status fuse_dynamic_quant_activation(ir::Model& m);
Status fuse_qdq(ir::Model& m);

// The domain of the fused nodes that exist only inside a Session (src/runtime/ops/qlinear_fused.cc).
inline constexpr const char* kHoneDomain = "hone";
// Adds the import of opset 1 of kHoneDomain when a pass created the first such node.
void ensure_hone_opset(ir::Model& m);

// How often each value is read: by a node of `g`, as a graph output, or anywhere inside a
// subgraph of g (a subgraph may read any outer value, so every name read there counts).
std::unordered_map<std::string, int> use_counts(const ir::Graph& g);

bool is_graph_output(const ir::Graph& g, const std::string& name);
bool is_graph_input(const ir::Graph& g, const std::string& name);

// The value of an initializer that is not also a graph input (a graph input with an initializer
// is only a default the caller may override, so it is not a constant); nullptr otherwise.
const Tensor* constant_value(const ir::Graph& g, const std::string& name);

// Makes every reader of `from` (nodes of g, graph outputs of subgraphs) read `to` instead;
// subgraphs that define a value named `from` themselves are left alone below that point.
void rename_uses(ir::Graph& g, const std::string& from, const std::string& to);

// Drops the declared type of an intermediate value that no longer exists.
void erase_value_info(ir::Graph& g, const std::string& name);

// `base`, or `base_1`, `base_2` ... : a name no value or node output of g uses yet.
std::string unique_name(const ir::Graph& g, const std::string& base);

// Removes the nodes whose flag is set, keeping the order of the rest.
void erase_nodes(ir::Graph& g, const std::vector<bool>& remove);

// Whether the node is an op of the default ONNX domain with this type.
bool is_onnx_op(const ir::Node& n, const char* op_type);

}  // namespace hone::passes
