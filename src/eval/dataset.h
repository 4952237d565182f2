// Datasets for calibration, evaluation and comparison (docs/cli.md "Data"):
//   - an .npz with one array per model input (key = input name, first axis = samples), plus
//     optional extra arrays such as labels (`--labels NAME`, default "labels") or "tokens";
//   - a folder of .npy files named after the inputs (same layout as the .npz);
//   - a folder of images (png/jpg/bmp via libstb) with a Preprocess recipe, for one image input.
// Samples are read one at a time: a dataset never holds more than its source arrays (npz/npy) or
// one decoded image at a time (image folders).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "hone/session.hpp"
#include "hone/status.hpp"
#include "hone/tensor.hpp"

namespace hone::eval {

// `--preprocess resize=224x224,scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=nchw`
struct Preprocess {
  int64_t height = 0, width = 0;  // 0: keep the image's size
  double scale = 1.0 / 255.0;
  std::vector<float> mean;        // per channel; empty: 0
  std::vector<float> std;         // per channel; empty: 1
  bool nchw = true;               // false: nhwc
  bool grayscale = false;         // one channel instead of three
};
Result<Preprocess> parse_preprocess(const std::string& spec);

class Dataset {
 public:
  // `inputs` are the model's inputs (names, dtypes, shapes): arrays are matched by name and
  // checked (dtype, per-sample shape) when opened, so a bad dataset fails before any work.
  static Result<Dataset> open(const std::string& path, const std::vector<IoInfo>& inputs,
                              const std::optional<Preprocess>& preprocess = std::nullopt);

  int64_t size() const;  // number of samples
  // Sample i as model inputs in declaration order, each with a leading batch dim of 1.
  Result<std::vector<Tensor>> sample(int64_t i) const;
  // A non-input array by name (labels, tokens ...), whole; nullptr when absent.
  const Tensor* extra(const std::string& name) const;
  const std::string& path() const;
  // Names of the model inputs sample() returns, in the same order (as given to open()).
  std::vector<std::string> input_names() const;

  struct Impl;
  explicit Dataset(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hone::eval
