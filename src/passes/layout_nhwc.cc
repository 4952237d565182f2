// layout_nhwc: runs convolutions and pooling on channels-last (NHWC) activations, the layout in
// which oneDNN picks its fast brgemm convolutions (docs/layout.md). Three steps:
//  1. every eligible layout-sensitive node (kNhwcRewrites) becomes
//     Transpose(0,2,3,1) -> its hone.Nhwc* twin -> Transpose(0,3,1,2) (for 1-D/3-D: the same
//     with 3 or 5 dims), so the graph computes the same at every step;
//  2. sink_transposes moves the transposes through the activations and residual Adds between
//     NHWC ops and cancels the inverse pairs, leaving transposes at the model's boundaries;
//  3. a residual Add (or hone.FusedAdd: Add + activation) of an NhwcConv output and another
//     tensor of the same shape becomes the NhwcConv's Sum input, done inside the convolution.
// Runs only when oneDNN is enabled (HONE_DNNL=0 keeps NCHW: the NHWC ops' reference path goes
// through NCHW copies and would only add work).
#include <functional>
#include <unordered_set>

#include "kernels/dnnl/dnnl_common.h"
#include "kernels/dnnl/matmul_int8_dnnl.h"
#include "onnx/shape_inference.h"
#include "passes/fusion_util.h"

namespace hone::passes {

using namespace fusion;

namespace {

// Static types of the NCHW graph's values (ONNX shape inference), by name.
using TypeFacts = std::unordered_map<std::string, ir::TypeInfo>;

// Rank of the activation a node works on, or 0 when the node cannot be rewritten.
using RankOf = std::function<int64_t(const ir::Graph&, const ir::Node&, const TypeFacts&)>;

const ir::TypeInfo* fact(const TypeFacts& facts, const std::string& v) {
  auto it = facts.find(v);
  return it == facts.end() || !it->second.is_tensor() ? nullptr : &it->second;
}

// Conv and hone.FusedConv with constant fp32 weights of 1, 2 or 3 spatial dims (X's rank is W's).
int64_t conv_rank(const ir::Graph& g, const ir::Node& n, const TypeFacts&) {
  if (n.outputs.size() != 1 || n.inputs.size() < 2 || n.inputs.size() > 3 || n.inputs[0].empty()) return 0;
  const Tensor* w = constant_value(g, n.inputs[1]);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() < 3 || w->rank() > 5) return 0;
  if (n.inputs.size() == 3 && !n.inputs[2].empty() && !constant_value(g, n.inputs[2])) return 0;
  return w->rank();
}

// QLinearConv with constant 2-D int8 weights (input 3), where oneDNN's int8 convolution is exact
// (VNNI): hone.NhwcQLinearConv runs it without reorders.
int64_t qlinear_conv_rank(const ir::Graph& g, const ir::Node& n, const TypeFacts&) {
  if (n.outputs.size() != 1 || n.inputs.size() < 8 || n.inputs[0].empty() || !kernels::onednn::int8_exact_isa()) return 0;
  const Tensor* w = constant_value(g, n.inputs[3]);
  return w && w->dtype() == DType::kInt8 && w->rank() == 4 ? 4 : 0;
}

bool is_byte(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// The int8 pools go channels last only where the int8 convolutions do (qlinear_conv_rank):
// between NCHW convolutions they would only add two transposes each.
bool int8_channels_last() { return kernels::onednn::int8_exact_isa(); }

// MaxPool (without Indices) and AveragePool on an X whose rank inference knows: float32, and for
// MaxPool also uint8 / int8 (fuse_qdq's DQ -> MaxPool -> Q between int8 convolutions).
int64_t window_pool_rank(const ir::Node& n, const TypeFacts& facts, bool bytes_too) {
  if (n.outputs.empty() || n.inputs.size() != 1) return 0;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return 0;
  const ir::TypeInfo* x = fact(facts, n.inputs[0]);
  if (!x || !x->has_shape) return 0;
  if (x->elem != DType::kFloat32 && !(bytes_too && is_byte(x->elem) && int8_channels_last())) return 0;
  const int64_t rank = static_cast<int64_t>(x->dims.size());
  if (rank < 3 || rank > 5 || !n.attr("kernel_shape") || static_cast<int64_t>(n.attr_ints("kernel_shape").size()) != rank - 2)
    return 0;
  return rank;
}

int64_t max_pool_rank(const ir::Graph&, const ir::Node& n, const TypeFacts& facts) {
  return window_pool_rank(n, facts, /*bytes_too=*/true);
}

int64_t average_pool_rank(const ir::Graph&, const ir::Node& n, const TypeFacts& facts) {
  return window_pool_rank(n, facts, /*bytes_too=*/false);
}

// com.microsoft.QLinearGlobalAveragePool on an 8-bit X of known rank 3-5, given channels first:
// hone.NhwcQLinearGlobalAveragePool is the same kernel reading channels last.
int64_t qlinear_global_pool_rank(const ir::Graph&, const ir::Node& n, const TypeFacts& facts) {
  if (n.outputs.size() != 1 || n.inputs.size() < 4 || n.inputs.size() > 5 || n.inputs[0].empty()) return 0;
  if (n.attr_int("channels_last", 0) != 0) return 0;
  const ir::TypeInfo* x = fact(facts, n.inputs[0]);
  if (!x || !is_byte(x->elem) || !x->has_shape || !int8_channels_last()) return 0;
  const int64_t rank = static_cast<int64_t>(x->dims.size());
  return rank >= 3 && rank <= 5 ? rank : 0;
}

int64_t global_pool_rank(const ir::Graph&, const ir::Node& n, const TypeFacts& facts) {
  if (n.outputs.size() != 1 || n.inputs.size() != 1) return 0;
  const ir::TypeInfo* x = fact(facts, n.inputs[0]);
  if (!x || x->elem != DType::kFloat32 || !x->has_shape) return 0;
  const int64_t rank = static_cast<int64_t>(x->dims.size());
  return rank >= 3 && rank <= 5 ? rank : 0;
}

// The layout-sensitive ops with a channels-last twin. Input 0 and output 0 are the activations
// that get transposed; the other inputs (weights, bias) pass as they are. To run more ops
// channels-last (the int8 ones: QLinearConv -> hone.NhwcQLinearConv ...), add a row here and a
// kernel for the twin; elementwise ops that transposes may move through are listed in
// sink_transposes.cc (kLayoutAgnosticOps).
struct NhwcRewrite {
  const char* domain;
  const char* op_type;
  const char* nhwc_op_type;  // in the hone domain
  RankOf rank_of;
};
const NhwcRewrite kNhwcRewrites[] = {
    {"", "Conv", "NhwcConv", conv_rank},
    {"hone", "FusedConv", "NhwcConv", conv_rank},
    {"", "MaxPool", "NhwcMaxPool", max_pool_rank},
    {"", "AveragePool", "NhwcAveragePool", average_pool_rank},
    {"", "GlobalAveragePool", "NhwcGlobalAveragePool", global_pool_rank},
    {"", "QLinearConv", "NhwcQLinearConv", qlinear_conv_rank},
    {"com.microsoft", "QLinearGlobalAveragePool", "NhwcQLinearGlobalAveragePool", qlinear_global_pool_rank},
};

const NhwcRewrite* rewrite_for(const ir::Node& n) {
  const std::string dom = ir::canonical_domain(n.domain);
  for (const auto& r : kNhwcRewrites)
    if (n.op_type == r.op_type && dom == r.domain) return &r;
  return nullptr;
}

// An ONNX op with the same output shape and element type as an int8 fusion's (fuse_qdq), for
// inference only: com.microsoft.QLinearAdd(a, .., b, ..) is Max(a, b) (broadcast, a's type);
// hone.QLookup(x, table) is Cast(x) to the table's type. False for anything else.
bool int8_stand_in(const ir::Graph& g, ir::Node& n) {
  const std::string dom = ir::canonical_domain(n.domain);
  if (dom == "com.microsoft" && n.op_type == "QLinearAdd" && n.inputs.size() >= 4 && n.outputs.size() == 1) {
    n.inputs = {n.inputs[0], n.inputs[3]};
    n.op_type = "Max";
  } else if (dom == kInternalDomain && n.op_type == "QLookup" && n.inputs.size() == 2 && n.outputs.size() == 1) {
    const Tensor* table = constant_value(g, n.inputs[1]);
    if (!table) return false;
    n.inputs.resize(1);
    n.op_type = "Cast";
    ir::Attribute to;
    to.name = "to";
    to.type = ir::AttrType::kInt;
    to.i = static_cast<int64_t>(table->dtype());  // hone's DType values are ONNX's element types
    n.attrs = {std::move(to)};
  } else {
    return false;
  }
  n.domain.clear();
  if (n.op_type == "Max") n.attrs.clear();
  return true;
}

// Shape inference on a copy in which the hone fusions are their ONNX originals again, and the
// int8 ones ONNX ops of the same output type (ONNX has no schema for them, and every value after
// one would stay unknown: the byte MaxPool and QLinearGlobalAveragePool need their input's).
TypeFacts infer_types(const ir::Model& m) {
  ir::Model copy = m;
  for (auto& n : copy.graph.nodes) {
    if (int8_stand_in(copy.graph, n)) continue;
    if (ir::canonical_domain(n.domain) != kInternalDomain) continue;
    if (n.op_type != "FusedConv" && n.op_type != "FusedAdd") continue;
    n.op_type = n.op_type == "FusedConv" ? "Conv" : "Add";
    n.domain.clear();
    std::erase_if(n.attrs, [](const ir::Attribute& a) { return a.name.rfind("activation", 0) == 0; });
  }
  TypeFacts facts;
  if (!onnxio::infer_shapes(copy).ok()) return facts;  // no facts: pooling and residuals stay as they are
  for (const auto* list : {&copy.graph.inputs, &copy.graph.outputs, &copy.graph.value_info})
    for (const auto& v : *list) facts[v.name] = v.type;
  return facts;
}

std::vector<int64_t> to_channels_last(int64_t rank) {
  std::vector<int64_t> p{0};
  for (int64_t i = 2; i < rank; ++i) p.push_back(i);
  p.push_back(1);
  return p;
}

std::vector<int64_t> to_channels_first(int64_t rank) {
  std::vector<int64_t> p{0, rank - 1};
  for (int64_t i = 1; i < rank - 1; ++i) p.push_back(i);
  return p;
}

ir::Node transpose_node(const std::string& in, const std::string& out, std::vector<int64_t> perm) {
  ir::Node t;
  t.name = out + "_transpose";
  t.op_type = "Transpose";
  t.inputs = {in};
  t.outputs = {out};
  ir::Attribute a;
  a.name = "perm";
  a.type = ir::AttrType::kInts;
  a.ints = std::move(perm);
  t.attrs.push_back(std::move(a));
  return t;
}

// Step 1. `nchw_of` gets, for each channels-last value made, the NCHW value it holds transposed.
void wrap_in_transposes(ir::Graph& g, const TypeFacts& facts, std::unordered_map<std::string, std::string>& nchw_of) {
  std::vector<ir::Node> out;
  out.reserve(g.nodes.size());
  std::unordered_set<std::string> made;
  auto fresh = [&](const std::string& base) {
    std::string name = unique_name(g, base);
    for (int k = 1; made.count(name); ++k) name = unique_name(g, base + "_" + std::to_string(k));
    made.insert(name);
    return name;
  };
  for (auto& n : g.nodes) {
    const NhwcRewrite* r = rewrite_for(n);
    const int64_t rank = r ? r->rank_of(g, n, facts) : 0;
    if (rank == 0) {
      out.push_back(std::move(n));
      continue;
    }
    const std::string x = n.inputs[0], y = n.outputs[0];
    const std::string x_last = fresh(x + "_nhwc"), y_last = fresh(y + "_nhwc");
    nchw_of[x_last] = x;
    nchw_of[y_last] = y;
    out.push_back(transpose_node(x, x_last, to_channels_last(rank)));
    ir::Node twin = std::move(n);
    twin.domain = kInternalDomain;
    twin.op_type = r->nhwc_op_type;
    twin.inputs[0] = x_last;
    twin.outputs.resize(1);  // MaxPool's absent Indices
    // The twins read channels last whatever it said (QLinearGlobalAveragePool's was 0).
    std::erase_if(twin.attrs, [](const ir::Attribute& a) { return a.name == "channels_last"; });
    twin.outputs[0] = y_last;
    out.push_back(std::move(twin));
    out.push_back(transpose_node(y_last, y, to_channels_first(rank)));
  }
  g.nodes = std::move(out);
}

// Both values known to have the same shape: equal static dims, or the same named symbol.
bool same_shape(const TypeFacts& facts, const std::string& a, const std::string& b) {
  const ir::TypeInfo* ta = fact(facts, a);
  const ir::TypeInfo* tb = fact(facts, b);
  if (!ta || !tb || !ta->has_shape || !tb->has_shape || ta->dims.size() != tb->dims.size()) return false;
  if (ta->elem != DType::kFloat32 || tb->elem != DType::kFloat32) return false;
  for (size_t i = 0; i < ta->dims.size(); ++i) {
    const ir::Dim& da = ta->dims[i];
    const ir::Dim& db = tb->dims[i];
    if (da.known() ? da.value != db.value : (da.param.empty() || da.param != db.param)) return false;
  }
  return true;
}

// Step 3: Add(NhwcConv(...), r) -> NhwcConv(..., Sum = r), hone.FusedAdd's activation moving into
// the conv (applied after the sum, as before). Only a conv without its own activation (that
// would come before the add), whose output the Add alone reads, and with r of its exact shape:
// an Add that broadcasts either side keeps its own node. The fused node takes the Add's place,
// after r's producer.
void fuse_residual_adds(ir::Graph& g, const TypeFacts& facts, const std::unordered_map<std::string, std::string>& nchw_of) {
  const GraphIndex ix = index_graph(g);
  auto nchw = [&](const std::string& v) {
    auto it = nchw_of.find(v);
    return it == nchw_of.end() ? std::string() : it->second;
  };
  std::vector<bool> remove(g.nodes.size(), false);
  bool changed = false;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& add = g.nodes[i];
    const std::string dom = ir::canonical_domain(add.domain);
    const bool fused_add = dom == kInternalDomain && add.op_type == "FusedAdd";
    if (!(is_onnx_op(add, "Add") || fused_add) || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    for (size_t k = 0; k < 2; ++k) {
      auto p = ix.producer.find(add.inputs[k]);
      if (p == ix.producer.end() || remove[p->second]) continue;
      const ir::Node& conv = g.nodes[p->second];
      if (conv.domain != kInternalDomain || conv.op_type != "NhwcConv" || conv.inputs.size() > 3 || conv.attr("activation"))
        continue;
      if (sole_consumer(g, ix, add.inputs[k]) != i) continue;
      const std::string& residual = add.inputs[1 - k];
      const std::string conv_nchw = nchw(add.inputs[k]), residual_nchw = nchw(residual);
      if (conv_nchw.empty() || residual_nchw.empty() || !same_shape(facts, conv_nchw, residual_nchw)) continue;
      ir::Node fused = conv;
      fused.inputs.resize(3);  // an absent bias stays ""
      fused.inputs.push_back(residual);
      if (fused_add)
        for (const auto& a : add.attrs)
          if (a.name.rfind("activation", 0) == 0) fused.attrs.push_back(a);
      const std::string dropped = add.inputs[k];
      fused.outputs = add.outputs;
      remove[p->second] = true;
      g.nodes[i] = std::move(fused);
      erase_value_info(g, dropped);
      changed = true;
      break;
    }
  }
  if (changed) erase_nodes(g, remove);
}

}  // namespace

Status layout_nhwc(ir::Model& m) {
  if (!kernels::onednn::enabled()) return Status::Ok();
  ir::Graph& g = m.graph;
  bool any = false;
  for (const auto& n : g.nodes) any = any || rewrite_for(n);
  if (!any) return Status::Ok();
  const TypeFacts facts = infer_types(m);
  std::unordered_map<std::string, std::string> nchw_of;
  wrap_in_transposes(g, facts, nchw_of);
  std::unordered_map<std::string, std::string> moved;  // a sunk node's new output -> its old name
  HONE_RETURN_IF_ERROR(sink_transposes_tracked(m, &moved));
  // A moved node's output holds, channels last, what its old name held.
  // A node moved twice holds a twice-permuted tensor: not recorded, so nothing fuses into it.
  for (const auto& [now, before] : moved)
    if (!moved.count(before)) nchw_of[now] = before;
  fuse_residual_adds(g, facts, nchw_of);
  declare_internal_domain(m);
  return Status::Ok();
}

}  // namespace hone::passes
