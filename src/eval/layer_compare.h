// Per-layer comparison of a reference (float) model and a candidate (quantized) model: which
// layer hurts? (`hone compare --per-layer`)
//
// hone's quantizer keeps the float model's value names on the outputs of the nodes it rewrites
// (src/quant/quantize.h), so a value "fc1_out" exists in both models. compare_layers() finds
// every value produced by a top-level node in both graphs, adds those values as extra graph
// outputs to both models, runs both on the same inputs one sample at a time, and accumulates
// ErrorMetrics per value (only values whose runtime shapes agree and are numeric count).
// In a QDQ candidate (static quantization) a value v is followed by QuantizeLinear ->
// DequantizeLinear, and v's consumers read the dequantized copy: that copy is what is compared
// with the reference's v (quantized_view), so the error of quantizing v counts where v is made.
//
// Ranking: a value's error is its relative RMS error against the reference (ErrorMetrics::
// rel_rms_error; scale-free, so a layer with large activations does not win by size alone). The
// error a layer ADDS is its output's error minus the largest error among its inputs that are
// compared too (graph inputs count as exact, weights are not values). An input made by an
// element-wise or data-movement node (Add, Mul, Reshape, Transpose, Concat, Gather ...) counts with
// the largest error along that chain: adding an exact mask of huge values to attention scores
// shrinks the sum's relative error, and the Softmax after it would otherwise seem to create the
// scores' error. Layers are ranked by added error, worst first: a layer that merely passes on the
// error of the one before it ranks low.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "hone/status.hpp"
#include "hone/tensor.hpp"
#include "ir/graph.h"

namespace hone::eval {

struct LayerError {
  std::string value;                 // the compared value's name
  std::string cand_value;            // the candidate value compared with it: `value`, or its QDQ copy
  std::string node;                  // reference node that produces it (its name, may be "")
  std::string ref_op;                // that node's op type
  std::string cand_op;               // op type of the candidate node that produces the value
  bool is_output = false;            // a graph output of the reference model
  std::vector<std::string> inputs;   // compared values among the reference node's inputs
  ErrorMetrics metrics;
  double input_rel_rms_error = 0;    // max error over `inputs`, seen through pass-through nodes (0: none)
  double added_error = 0;            // metrics.rel_rms_error - input_rel_rms_error
  double input_sqnr_db = 0;          // input_rel_rms_error in dB: -20 log10 (+inf when 0)
};

struct LayerReport {
  int64_t samples = 0;
  std::vector<LayerError> layers;    // reference graph order
  std::vector<size_t> ranking;       // indices into layers, largest added_error first
  // Values present in both graphs but not compared, with why ("shape 1x4 vs 1x8", "string").
  std::vector<std::pair<std::string, std::string>> skipped;
  const LayerError* find(const std::string& value) const;
};

struct LayerCompareOptions {
  int threads = 0;  // 0: one per physical core
};

// Produces sample i's inputs (declaration order of the models' real inputs, batch dim included).
using SampleFn = std::function<Result<std::vector<Tensor>>(int64_t i)>;

// Runs both models on samples 0 .. samples-1. The models run as given (no optimization passes:
// fusions would remove the very values compared). The models must take the same inputs.
// Errors: invalid_argument when the inputs differ; whatever a session or a run reports otherwise.
Result<LayerReport> compare_layers(const ir::Model& ref, const ir::Model& cand, int64_t samples, const SampleFn& sample,
                                   const LayerCompareOptions& options = {});

// `value`, or the output of DequantizeLinear(QuantizeLinear(value)) when the candidate has that
// pattern (the first one found).
std::string quantized_view(const ir::Graph& cand, const std::string& value);

// The names of the values compare_layers would look at: produced by a top-level node in both
// graphs (or a graph output of both), in reference graph order.
std::vector<std::string> shared_values(const ir::Graph& ref, const ir::Graph& cand);

}  // namespace hone::eval
