// Einsum: an equation such as "bij,bjk->bik" or "...ii" names every dim of every operand with a
// label; labels repeated within an operand take its diagonal, labels missing from the output are
// summed over, and "..." stands for broadcast dims. Without "->" the output (numpy's implicit
// mode) is the "..." dims followed by the labels used exactly once, in alphabetical order.
// The reference computation is one general loop: for each output element, the sum over every
// combination of the summed labels of the product of the operand elements they select.
#include <algorithm>
#include <cctype>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/op_registry.h"
#include "runtime/ops/half_convert.h"
#include "runtime/ops/op_util.h"

namespace hone::rt {
namespace {

constexpr int kLetterLabels = 52;  // a-z, A-Z; labels from 52 up are the dims of "..."

int letter_label(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c - 'A' + 26; }

// One term of the equation: its labels in order, with kEllipsis where "..." stands.
constexpr int kEllipsis = -1;

Result<std::vector<int>> parse_term(const std::string& term) {
  std::vector<int> labels;
  bool seen_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (std::isalpha(static_cast<unsigned char>(c))) {
      labels.push_back(letter_label(c));
    } else if (c == '.' && term.compare(i, 3, "...") == 0 && !seen_ellipsis) {
      labels.push_back(kEllipsis);
      seen_ellipsis = true;
      i += 2;
    } else {
      return runtime_error("invalid einsum term '" + term + "'");
    }
  }
  return labels;
}

struct EinsumPlan {
  int num_labels = 0;
  std::vector<int64_t> label_size;
  std::vector<int> output_labels;  // in output dim order
  std::vector<int> summed_labels;
  // Per operand, per label: the element stride that label moves by (0 when absent or broadcast).
  std::vector<std::vector<int64_t>> strides;
  Shape out_shape;
};

Result<EinsumPlan> plan_einsum(std::string equation, const std::vector<const Tensor*>& operands) {
  equation.erase(std::remove_if(equation.begin(), equation.end(), [](unsigned char c) { return std::isspace(c); }),
                 equation.end());
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::vector<int>> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    HONE_ASSIGN_OR_RETURN(auto term, parse_term(lhs.substr(start, comma - start)));
    terms.push_back(std::move(term));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size())
    return runtime_error("equation '" + equation + "' has " + std::to_string(terms.size()) + " terms for " +
                         std::to_string(operands.size()) + " inputs");

  // How many dims "..." stands for in each operand; they align to the right across operands.
  std::vector<int64_t> ellipsis_rank(terms.size(), 0);
  int64_t max_ellipsis = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    const bool has_ellipsis = std::count(terms[i].begin(), terms[i].end(), kEllipsis) > 0;
    const int64_t letters = static_cast<int64_t>(terms[i].size()) - (has_ellipsis ? 1 : 0);
    const int64_t rank = operands[i]->rank();
    if (has_ellipsis ? rank < letters : rank != letters)
      return runtime_error("input " + std::to_string(i) + " of rank " + std::to_string(rank) +
                           " does not match its einsum term");
    ellipsis_rank[i] = rank - letters;
    max_ellipsis = std::max(max_ellipsis, ellipsis_rank[i]);
  }

  EinsumPlan plan;
  plan.num_labels = kLetterLabels + static_cast<int>(max_ellipsis);
  plan.label_size.assign(static_cast<size_t>(plan.num_labels), -1);
  std::vector<int> label_uses(static_cast<size_t>(plan.num_labels), 0);
  plan.strides.assign(terms.size(), std::vector<int64_t>(static_cast<size_t>(plan.num_labels), 0));
  for (size_t i = 0; i < terms.size(); ++i) {
    const auto dim_strides = strides_of(operands[i]->shape());
    int64_t dim = 0;
    auto bind = [&](int label, bool broadcastable) -> Status {
      const int64_t size = operands[i]->dim(dim);
      int64_t& known = plan.label_size[static_cast<size_t>(label)];
      if (broadcastable && size == 1) {
        if (known < 0) known = 1;  // a later operand may widen it
      } else {
        if (known >= 0 && known != size && !(broadcastable && known == 1))
          return runtime_error("einsum label sizes disagree: " + std::to_string(known) + " vs " + std::to_string(size));
        known = size;
        plan.strides[i][static_cast<size_t>(label)] += dim_strides[static_cast<size_t>(dim)];
      }
      ++label_uses[static_cast<size_t>(label)];
      ++dim;
      return Status::Ok();
    };
    for (int label : terms[i]) {
      if (label == kEllipsis) {
        for (int64_t e = 0; e < ellipsis_rank[i]; ++e)
          HONE_RETURN_IF_ERROR(bind(kLetterLabels + static_cast<int>(max_ellipsis - ellipsis_rank[i] + e), true));
      } else {
        HONE_RETURN_IF_ERROR(bind(label, false));
      }
    }
  }

  std::vector<int> out_term;
  if (arrow != std::string::npos) {
    HONE_ASSIGN_OR_RETURN(out_term, parse_term(equation.substr(arrow + 2)));
  } else {
    if (max_ellipsis > 0) out_term.push_back(kEllipsis);
    // Alphabetical order as numpy has it: by character code, so upper case first.
    std::vector<std::pair<char, int>> once;
    for (int l = 0; l < kLetterLabels; ++l)
      if (label_uses[static_cast<size_t>(l)] == 1) once.push_back({static_cast<char>(l < 26 ? 'a' + l : 'A' + l - 26), l});
    std::sort(once.begin(), once.end());
    for (const auto& [c, l] : once) out_term.push_back(l);
  }
  std::vector<bool> in_output(static_cast<size_t>(plan.num_labels), false);
  for (int label : out_term) {
    if (label == kEllipsis) {
      for (int64_t e = 0; e < max_ellipsis; ++e) {
        plan.output_labels.push_back(kLetterLabels + static_cast<int>(e));
        in_output[static_cast<size_t>(kLetterLabels + e)] = true;
      }
      continue;
    }
    if (label_uses[static_cast<size_t>(label)] == 0)
      return runtime_error("einsum output label in '" + equation + "' appears in no input");
    if (in_output[static_cast<size_t>(label)]) return runtime_error("einsum output repeats a label in '" + equation + "'");
    in_output[static_cast<size_t>(label)] = true;
    plan.output_labels.push_back(label);
  }
  for (int l = 0; l < plan.num_labels; ++l)
    if (label_uses[static_cast<size_t>(l)] > 0 && !in_output[static_cast<size_t>(l)]) plan.summed_labels.push_back(l);
  for (int l : plan.output_labels) plan.out_shape.push_back(plan.label_size[static_cast<size_t>(l)]);
  HONE_RETURN_IF_ERROR(shape_numel(plan.out_shape).status());
  return plan;
}

template <class T>
using EinsumAcc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <class T>
void einsum_typed(const EinsumPlan& plan, const std::vector<const T*>& inputs, T* out, int64_t out_numel) {
  using Acc = EinsumAcc<T>;
  const size_t num_inputs = inputs.size();
  const size_t num_summed = plan.summed_labels.size();
  int64_t summed_count = 1;
  for (int l : plan.summed_labels) summed_count *= plan.label_size[static_cast<size_t>(l)];
  const bool parallel = out_numel > 1 && out_numel * summed_count > (1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<int64_t> offset(num_inputs), coord(num_summed);
#pragma omp for
    for (int64_t o = 0; o < out_numel; ++o) {
      std::fill(offset.begin(), offset.end(), 0);
      int64_t rest = o;
      for (size_t d = plan.output_labels.size(); d-- > 0;) {
        const auto label = static_cast<size_t>(plan.output_labels[d]);
        const int64_t c = rest % plan.label_size[label];
        rest /= plan.label_size[label];
        for (size_t i = 0; i < num_inputs; ++i) offset[i] += c * plan.strides[i][label];
      }
      std::fill(coord.begin(), coord.end(), 0);
      Acc sum{0};
      for (int64_t s = 0; s < summed_count; ++s) {
        Acc product{1};
        for (size_t i = 0; i < num_inputs; ++i) product *= static_cast<Acc>(inputs[i][offset[i]]);
        sum += product;
        // Odometer step over the summed labels, moving every operand's offset along.
        for (size_t d = num_summed; d-- > 0;) {
          const auto label = static_cast<size_t>(plan.summed_labels[d]);
          for (size_t i = 0; i < num_inputs; ++i) offset[i] += plan.strides[i][label];
          if (++coord[d] < plan.label_size[label]) break;
          for (size_t i = 0; i < num_inputs; ++i) offset[i] -= coord[d] * plan.strides[i][label];
          coord[d] = 0;
        }
      }
      out[o] = static_cast<T>(sum);
    }
  }
}

Status einsum(KernelContext& ctx) {
  std::vector<const Tensor*> operands;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.input(i)) return ctx.error("input " + std::to_string(i) + " is missing");
    if (ctx.input(i)->dtype() != ctx.input(0)->dtype()) return ctx.error("inputs differ in element type");
    operands.push_back(ctx.input(i));
  }
  if (operands.empty()) return ctx.error("Einsum needs at least one input");
  const ir::Attribute* equation = ctx.node().attr("equation");
  if (!equation) return ctx.error("missing attribute 'equation'");
  auto plan = plan_einsum(equation->s, operands);
  if (!plan.ok()) return ctx.error(plan.status().message());
  const DType dtype = operands[0]->dtype();
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dtype, plan->out_shape));
  if (is_half_type(dtype)) {
    std::vector<std::vector<float>> widened;
    std::vector<const float*> inputs;
    for (const Tensor* t : operands) widened.push_back(widen_to_float(*t));
    for (const auto& w : widened) inputs.push_back(w.data());
    std::vector<float> y32(static_cast<size_t>(y->numel()));
    einsum_typed<float>(*plan, inputs, y32.data(), y->numel());
    narrow_from_float(y32.data(), *y);
    return Status::Ok();
  }
  Status s = dispatch_numeric(dtype, [&](auto zero) -> Status {
    using T = decltype(zero);
    std::vector<const T*> inputs;
    for (const Tensor* t : operands) inputs.push_back(t->data<T>());
    einsum_typed<T>(*plan, inputs, y->data<T>(), y->numel());
    return Status::Ok();
  });
  return s.with_context(node_label(ctx.node()));
}

}  // namespace

HONE_REGISTER_FN("", Einsum, 12, kMaxOpset, einsum);

}  // namespace hone::rt
