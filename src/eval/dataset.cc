// Datasets (dataset.h): .npz archives, folders of .npy files, folders of images.
//
// Conversions (docs/calibration.md "Datasets"): arrays must carry the input's dtype, except that
//   - a float input (float32/float16/bfloat16/float64) takes any float array, converted per sample
//     (NumPy's default float64 is the common case; the rounding is what a cast in NumPy does);
//   - an integer input takes any integer array, converted per sample with a range check (NumPy's
//     default int64 token ids for an int32 input); a value that does not fit is an error.
// Integer data for a float input (raw uint8 pixels ...) is refused: scaling is preprocessing,
// which the user or `--preprocess` must decide.
#include "eval/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>

#include "core/checked_math.h"
#include "eval/compare.h"
#include "eval/npy.h"

// stb_image: Debian's libstb-dev ships the single-header library. Its implementation is compiled
// here, with every function static, so that no other object (or libstb.so) can clash with it.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR  // 8-bit formats only: png, jpg, bmp, gif, tga, pnm
#define STBI_NO_LINEAR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_FAILURE_USERMSG
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace hone::eval {

namespace fs = std::filesystem;

namespace {

// Images larger than this (pixels per side) are refused before decoding: a hostile header must not
// make us allocate gigabytes.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxResizeSide = 16384;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_file(const fs::path& p) {
  static const std::set<std::string> kExt = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".ppm", ".pgm", ".pnm"};
  return kExt.count(lower(p.extension().string())) > 0;
}

Result<double> parse_number(const std::string& s, const std::string& key) {
  // "1/255" is allowed for scale-like values: a fraction reads better than 0.00392156...
  auto slash = s.find('/');
  auto one = [&](const std::string& t) -> Result<double> {
    if (t.empty()) return invalid_argument("--preprocess: " + key + ": empty number");
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(t, &used);
    } catch (...) {
      return invalid_argument("--preprocess: " + key + ": '" + t + "' is not a number");
    }
    if (used != t.size()) return invalid_argument("--preprocess: " + key + ": '" + t + "' is not a number");
    if (!std::isfinite(v)) return invalid_argument("--preprocess: " + key + ": '" + t + "' is not finite");
    return v;
  };
  if (slash == std::string::npos) return one(s);
  HONE_ASSIGN_OR_RETURN(double a, one(s.substr(0, slash)));
  HONE_ASSIGN_OR_RETURN(double b, one(s.substr(slash + 1)));
  if (b == 0) return invalid_argument("--preprocess: " + key + ": division by zero in '" + s + "'");
  return a / b;
}

Result<std::vector<float>> parse_list(const std::string& s, const std::string& key) {
  std::vector<float> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ':')) {
    HONE_ASSIGN_OR_RETURN(double v, parse_number(item, key));
    out.push_back(static_cast<float>(v));
  }
  if (out.empty() || (!s.empty() && s.back() == ':'))
    return invalid_argument("--preprocess: " + key + ": expected values separated by ':' (e.g. 0.485:0.456:0.406)");
  return out;
}

// Float value of element i of a float tensor (float32/float64/float16/bfloat16).
inline double float_at(const Tensor& t, const void* base, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return static_cast<const float*>(base)[i];
    case DType::kFloat64:
      return static_cast<const double*>(base)[i];
    case DType::kFloat16:
      return half_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(static_cast<const uint16_t*>(base)[i]);
    default:
      return 0;
  }
}

// Integer element i as a (sign, magnitude)-safe pair: int64 covers every source but uint64 above
// INT64_MAX, which is reported as "too large" by the caller's range check through `big`.
inline int64_t int_at(DType dt, const void* base, int64_t i, bool* big) {
  switch (dt) {
    case DType::kInt8:
      return static_cast<const int8_t*>(base)[i];
    case DType::kUInt8:
      return static_cast<const uint8_t*>(base)[i];
    case DType::kInt16:
      return static_cast<const int16_t*>(base)[i];
    case DType::kUInt16:
      return static_cast<const uint16_t*>(base)[i];
    case DType::kInt32:
      return static_cast<const int32_t*>(base)[i];
    case DType::kUInt32:
      return static_cast<const uint32_t*>(base)[i];
    case DType::kInt64:
      return static_cast<const int64_t*>(base)[i];
    case DType::kUInt64: {
      uint64_t v = static_cast<const uint64_t*>(base)[i];
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) *big = true;
      return static_cast<int64_t>(std::min<uint64_t>(v, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
    }
    default:
      return 0;
  }
}

template <class T>
bool put_int(void* dst, int64_t i, int64_t v) {
  if (v < static_cast<int64_t>(std::numeric_limits<T>::min())) return false;
  if constexpr (sizeof(T) == 8 && std::is_unsigned_v<T>) {
    // uint64: any non-negative int64 fits
  } else {
    if (v > static_cast<int64_t>(std::numeric_limits<T>::max())) return false;
  }
  static_cast<T*>(dst)[i] = static_cast<T>(v);
  return true;
}

bool convertible(DType from, DType to) {
  if (from == to) return true;
  const DTypeInfo& f = dtype_info(from);
  const DTypeInfo& t = dtype_info(to);
  if (f.is_float && t.is_float) return true;
  if (f.is_integer && t.is_integer) return true;
  return false;
}

// `count` elements of `src` starting at element `offset`, as a new tensor of dtype `to` and shape
// `shape`. The caller checked convertible(); integer range failures are reported here.
Result<Tensor> convert_slice(const Tensor& src, int64_t offset, int64_t count, DType to, const Shape& shape,
                             const std::string& what) {
  HONE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(to, shape));
  const size_t esize = dtype_size(src.dtype());
  const char* base = static_cast<const char*>(src.raw()) + static_cast<size_t>(offset) * esize;
  if (src.dtype() == to) {
    std::memcpy(out.raw(), base, static_cast<size_t>(count) * esize);
    return out;
  }
  if (dtype_info(to).is_float) {
    for (int64_t i = 0; i < count; ++i) {
      double v = float_at(src, base, i);
      switch (to) {
        case DType::kFloat32:
          out.data<float>()[i] = static_cast<float>(v);
          break;
        case DType::kFloat64:
          out.data<double>()[i] = v;
          break;
        case DType::kFloat16:
          out.data<uint16_t>()[i] = float_to_half(static_cast<float>(v));
          break;
        case DType::kBFloat16:
          out.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v));
          break;
        default:
          return unsupported(what + ": cannot convert to " + std::string(dtype_name(to)));
      }
    }
    return out;
  }
  for (int64_t i = 0; i < count; ++i) {
    bool big = false;
    int64_t v = int_at(src.dtype(), base, i, &big);
    bool ok = !big;
    if (ok) {
      switch (to) {
        case DType::kInt8:
          ok = put_int<int8_t>(out.raw(), i, v);
          break;
        case DType::kUInt8:
          ok = put_int<uint8_t>(out.raw(), i, v);
          break;
        case DType::kInt16:
          ok = put_int<int16_t>(out.raw(), i, v);
          break;
        case DType::kUInt16:
          ok = put_int<uint16_t>(out.raw(), i, v);
          break;
        case DType::kInt32:
          ok = put_int<int32_t>(out.raw(), i, v);
          break;
        case DType::kUInt32:
          ok = put_int<uint32_t>(out.raw(), i, v);
          break;
        case DType::kInt64:
          ok = put_int<int64_t>(out.raw(), i, v);
          break;
        case DType::kUInt64:
          ok = put_int<uint64_t>(out.raw(), i, v);
          break;
        default:
          return unsupported(what + ": cannot convert to " + std::string(dtype_name(to)));
      }
    }
    if (!ok)
      return runtime_error(what + ": value " + (big ? std::string("above 2^63") : std::to_string(v)) +
                           " does not fit the input's dtype " + std::string(dtype_name(to)));
  }
  return out;
}

// How one source array feeds one model input.
struct ArrayFeed {
  std::string input;   // model input name
  DType input_dtype;   // what the model wants
  Tensor array;        // whole source array, first axis = samples
  bool keep_rank;      // true: sample i = array[i:i+1] (leading 1); false: sample i = array[i]
  Shape sample_shape;  // shape of one sample as fed
  int64_t sample_numel = 0;
};

std::string io_shape(const IoInfo& in) { return in.to_string(); }

// Matches an array to a declared input: decides how samples are cut and checks dims.
Result<ArrayFeed> match_array(const IoInfo& in, const Tensor& array, const std::string& what) {
  ArrayFeed f;
  f.input = in.name;
  f.input_dtype = in.dtype == DType::kUndefined ? array.dtype() : in.dtype;
  f.array = array;
  if (!convertible(array.dtype(), f.input_dtype)) {
    std::string why = "array '" + in.name + "' is " + std::string(dtype_name(array.dtype())) + " but input " +
                      io_shape(in) + " is " + std::string(dtype_name(f.input_dtype));
    if (dtype_info(array.dtype()).is_integer && dtype_info(f.input_dtype).is_float)
      why += " (integer data for a float input is not converted: scale it, or use an image folder with --preprocess)";
    return invalid_argument(what + ": " + why);
  }
  if (array.rank() == 0)
    return invalid_argument(what + ": array '" + in.name + "' is a scalar; its first axis must count the samples");
  Shape rest(array.shape().begin() + 1, array.shape().end());
  if (!in.has_shape) {
    f.keep_rank = true;
  } else {
    const int64_t r = static_cast<int64_t>(in.dims.size());
    if (array.rank() == r) {
      // First axis is both samples and the model's batch dim: each sample has batch 1.
      if (r == 0 || (in.dims[0] >= 0 && in.dims[0] != 1))
        return invalid_argument(what + ": array '" + in.name + "' of shape " + shape_to_string(array.shape()) +
                                " cannot feed input " + io_shape(in) + " one sample at a time" +
                                (r > 0 ? " (its first dim is fixed to " + std::to_string(in.dims[0]) +
                                             "; give the samples on an extra leading axis)"
                                       : ""));
      f.keep_rank = true;
    } else if (array.rank() == r + 1) {
      f.keep_rank = false;  // the leading axis is the sample axis, on top of the input's own shape
    } else {
      return invalid_argument(what + ": array '" + in.name + "' has shape " + shape_to_string(array.shape()) +
                              " (samples first) but input " + io_shape(in) + " has rank " + std::to_string(r));
    }
    Shape fed = f.keep_rank ? Shape{} : rest;
    if (f.keep_rank) {
      fed.push_back(1);
      fed.insert(fed.end(), rest.begin(), rest.end());
    }
    for (int64_t d = 0; d < r; ++d) {
      int64_t want = in.dims[static_cast<size_t>(d)];
      if (want >= 0 && want != fed[static_cast<size_t>(d)])
        return invalid_argument(what + ": array '" + in.name + "' gives samples of shape " + shape_to_string(fed) +
                                " but input " + io_shape(in) + " needs " + std::to_string(want) + " at dim " +
                                std::to_string(d));
    }
  }
  if (f.keep_rank) {
    f.sample_shape.push_back(1);
    f.sample_shape.insert(f.sample_shape.end(), rest.begin(), rest.end());
  } else {
    f.sample_shape = rest;
  }
  HONE_ASSIGN_OR_RETURN(f.sample_numel, shape_numel(f.sample_shape));
  return f;
}

// Bilinear resize of interleaved 8-bit pixels, half-pixel centres (as OpenCV's INTER_LINEAR and
// PIL without antialiasing): output (y, x) samples the input at ((y + 0.5) * sh - 0.5, ...).
std::vector<float> resize_bilinear(const uint8_t* src, int sw, int sh, int c, int dw, int dh) {
  std::vector<float> out(static_cast<size_t>(dw) * static_cast<size_t>(dh) * static_cast<size_t>(c));
  const double fy = static_cast<double>(sh) / dh, fx = static_cast<double>(sw) / dw;
  std::vector<int> x0(static_cast<size_t>(dw)), x1(static_cast<size_t>(dw));
  std::vector<float> ax(static_cast<size_t>(dw));
  for (int x = 0; x < dw; ++x) {
    double sx = std::clamp((x + 0.5) * fx - 0.5, 0.0, static_cast<double>(sw - 1));
    int i0 = static_cast<int>(sx);
    x0[static_cast<size_t>(x)] = i0;
    x1[static_cast<size_t>(x)] = std::min(i0 + 1, sw - 1);
    ax[static_cast<size_t>(x)] = static_cast<float>(sx - i0);
  }
  for (int y = 0; y < dh; ++y) {
    double sy = std::clamp((y + 0.5) * fy - 0.5, 0.0, static_cast<double>(sh - 1));
    int y0 = static_cast<int>(sy), y1 = std::min(y0 + 1, sh - 1);
    float ay = static_cast<float>(sy - y0);
    const uint8_t* r0 = src + static_cast<size_t>(y0) * static_cast<size_t>(sw) * static_cast<size_t>(c);
    const uint8_t* r1 = src + static_cast<size_t>(y1) * static_cast<size_t>(sw) * static_cast<size_t>(c);
    float* o = out.data() + static_cast<size_t>(y) * static_cast<size_t>(dw) * static_cast<size_t>(c);
    for (int x = 0; x < dw; ++x) {
      const size_t a = static_cast<size_t>(x0[static_cast<size_t>(x)]) * static_cast<size_t>(c);
      const size_t b = static_cast<size_t>(x1[static_cast<size_t>(x)]) * static_cast<size_t>(c);
      const float wx = ax[static_cast<size_t>(x)];
      for (int k = 0; k < c; ++k) {
        float top =
            r0[a + static_cast<size_t>(k)] + (r0[b + static_cast<size_t>(k)] - r0[a + static_cast<size_t>(k)]) * wx;
        float bot =
            r1[a + static_cast<size_t>(k)] + (r1[b + static_cast<size_t>(k)] - r1[a + static_cast<size_t>(k)]) * wx;
        o[static_cast<size_t>(x) * static_cast<size_t>(c) + static_cast<size_t>(k)] = top + (bot - top) * ay;
      }
    }
  }
  return out;
}

}  // namespace

Result<Preprocess> parse_preprocess(const std::string& spec) {
  Preprocess p;
  if (spec.empty()) return invalid_argument("--preprocess: empty recipe");
  std::stringstream ss(spec);
  std::string item;
  std::set<std::string> seen;
  while (std::getline(ss, item, ',')) {
    auto eq = item.find('=');
    std::string key = eq == std::string::npos ? item : item.substr(0, eq);
    std::string val = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key.empty()) return invalid_argument("--preprocess: empty item in '" + spec + "'");
    if (!seen.insert(key).second) return invalid_argument("--preprocess: '" + key + "' given twice");
    if (key != "grayscale" && eq == std::string::npos)
      return invalid_argument("--preprocess: '" + key + "' needs a value (" + key + "=...)");
    if (key == "resize") {
      auto x = val.find('x');
      std::string hs = x == std::string::npos ? val : val.substr(0, x);
      std::string ws = x == std::string::npos ? val : val.substr(x + 1);
      auto side = [&](const std::string& s) -> Result<int64_t> {
        if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return invalid_argument("--preprocess: resize: expected HxW with positive integers, got '" + val + "'");
        int64_t v = std::stoll(s);
        if (v <= 0 || v > kMaxResizeSide)
          return invalid_argument("--preprocess: resize: " + s + " is out of range 1.." +
                                  std::to_string(kMaxResizeSide));
        return v;
      };
      HONE_ASSIGN_OR_RETURN(p.height, side(hs));
      HONE_ASSIGN_OR_RETURN(p.width, side(ws));
    } else if (key == "scale") {
      HONE_ASSIGN_OR_RETURN(p.scale, parse_number(val, key));
    } else if (key == "mean") {
      HONE_ASSIGN_OR_RETURN(p.mean, parse_list(val, key));
    } else if (key == "std") {
      HONE_ASSIGN_OR_RETURN(p.std, parse_list(val, key));
      for (float s : p.std)
        if (!(s > 0)) return invalid_argument("--preprocess: std: values must be positive, got " + std::to_string(s));
    } else if (key == "layout") {
      std::string l = lower(val);
      if (l == "nchw")
        p.nchw = true;
      else if (l == "nhwc")
        p.nchw = false;
      else
        return invalid_argument("--preprocess: layout: expected nchw or nhwc, got '" + val + "'");
    } else if (key == "grayscale") {
      std::string v = lower(val);
      if (eq == std::string::npos || v == "1" || v == "true" || v == "yes")
        p.grayscale = true;
      else if (v == "0" || v == "false" || v == "no")
        p.grayscale = false;
      else
        return invalid_argument("--preprocess: grayscale: expected no value, 1/0 or true/false, got '" + val + "'");
    } else {
      return invalid_argument("--preprocess: unknown key '" + key +
                              "' (known: resize=HxW, scale=S, mean=A:B:C, std=A:B:C, layout=nchw|nhwc, grayscale)");
    }
  }
  const size_t channels = p.grayscale ? 1 : 3;
  if (!p.mean.empty() && p.mean.size() != 1 && p.mean.size() != channels)
    return invalid_argument("--preprocess: mean: " + std::to_string(p.mean.size()) + " values for " +
                            std::to_string(channels) + " channel(s)");
  if (!p.std.empty() && p.std.size() != 1 && p.std.size() != channels)
    return invalid_argument("--preprocess: std: " + std::to_string(p.std.size()) + " values for " +
                            std::to_string(channels) + " channel(s)");
  return p;
}

struct Dataset::Impl {
  std::string path;
  std::vector<std::string> input_names;
  int64_t count = 0;
  // npz / npy folder
  std::vector<ArrayFeed> feeds;  // in input declaration order
  std::map<std::string, Tensor> extras;
  // image folder
  bool images = false;
  std::vector<std::string> files;
  Preprocess pre;
  IoInfo image_input;
};

namespace {

Result<std::shared_ptr<Dataset::Impl>> open_arrays(const std::string& path, const NamedTensors& arrays,
                                                   const std::vector<IoInfo>& inputs) {
  auto impl = std::make_shared<Dataset::Impl>();
  impl->path = path;
  std::map<std::string, Tensor> by_name;
  for (const auto& [name, t] : arrays) {
    if (!by_name.emplace(name, t).second) return invalid_argument(path + ": array '" + name + "' appears twice");
  }
  int64_t count = -1;
  std::string count_from;
  for (const IoInfo& in : inputs) {
    auto it = by_name.find(in.name);
    if (it == by_name.end()) {
      std::string have;
      for (const auto& [n, t] : arrays) have += (have.empty() ? "" : ", ") + n;
      return invalid_argument(path + ": no array for model input '" + in.name +
                              "' (arrays: " + (have.empty() ? "none" : have) + ")");
    }
    HONE_ASSIGN_OR_RETURN(ArrayFeed f, match_array(in, it->second, path));
    int64_t n = f.array.dim(0);
    if (count >= 0 && n != count)
      return invalid_argument(path + ": array '" + in.name + "' has " + std::to_string(n) + " samples but '" +
                              count_from + "' has " + std::to_string(count));
    count = n;
    count_from = in.name;
    impl->feeds.push_back(std::move(f));
    by_name.erase(it);
  }
  impl->extras = std::move(by_name);
  if (count < 0) {
    // A model without inputs: the sample count comes from nowhere; zero samples is honest.
    count = 0;
  }
  impl->count = count;
  return impl;
}

// "a/b:c" cannot name a file: such input names are looked up with '/' and ':' replaced by '_'.
std::string file_stem_for(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (c == '/' || c == '\\' || c == ':') c = '_';
  return s;
}

Result<std::shared_ptr<Dataset::Impl>> open_npy_folder(const std::string& path, const std::vector<IoInfo>& inputs) {
  NamedTensors arrays;
  std::set<std::string> input_stems;
  std::map<std::string, std::string> stem_to_input;
  for (const IoInfo& in : inputs) stem_to_input[file_stem_for(in.name)] = in.name;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.is_regular_file(ec) && lower(e.path().extension().string()) == ".npy") files.push_back(e.path());
  }
  if (ec) return io_error(path + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    HONE_ASSIGN_OR_RETURN(Tensor t, read_npy(f.string()));
    std::string stem = f.stem().string();
    auto it = stem_to_input.find(stem);
    arrays.emplace_back(it == stem_to_input.end() ? stem : it->second, std::move(t));
  }
  return open_arrays(path, arrays, inputs);
}

Result<std::shared_ptr<Dataset::Impl>> open_image_folder(const std::string& path, std::vector<fs::path> files,
                                                         const std::vector<IoInfo>& inputs,
                                                         const std::optional<Preprocess>& preprocess) {
  if (inputs.size() != 1)
    return invalid_argument(path + ": an image folder feeds one image input, but the model has " +
                            std::to_string(inputs.size()) + " inputs (use an .npz)");
  const IoInfo& in = inputs[0];
  if (in.dtype != DType::kFloat32 && in.dtype != DType::kUndefined)
    return invalid_argument(path + ": images become float32 tensors, but input " + in.to_string() + " is " +
                            std::string(dtype_name(in.dtype)));
  auto impl = std::make_shared<Dataset::Impl>();
  impl->path = path;
  impl->images = true;
  impl->image_input = in;
  impl->pre = preprocess.value_or(Preprocess{});
  Preprocess& p = impl->pre;
  const int64_t channels = p.grayscale ? 1 : 3;
  if (!p.mean.empty() && p.mean.size() != 1 && static_cast<int64_t>(p.mean.size()) != channels)
    return invalid_argument(path + ": --preprocess mean has " + std::to_string(p.mean.size()) + " values for " +
                            std::to_string(channels) + " channel(s)");
  if (!p.std.empty() && p.std.size() != 1 && static_cast<int64_t>(p.std.size()) != channels)
    return invalid_argument(path + ": --preprocess std has " + std::to_string(p.std.size()) + " values for " +
                            std::to_string(channels) + " channel(s)");
  if (in.has_shape) {
    if (in.dims.size() != 4)
      return invalid_argument(path + ": images feed a rank-4 input (N,C,H,W or N,H,W,C), but input is " +
                              in.to_string());
    const int64_t cd = p.nchw ? 1 : 3, hd = p.nchw ? 2 : 1, wd = p.nchw ? 3 : 2;
    if (in.dims[0] >= 0 && in.dims[0] != 1)
      return invalid_argument(path + ": input " + in.to_string() + " has a fixed batch of " +
                              std::to_string(in.dims[0]) + "; image folders give one image per sample");
    if (in.dims[static_cast<size_t>(cd)] >= 0 && in.dims[static_cast<size_t>(cd)] != channels)
      return invalid_argument(path + ": input " + in.to_string() + " has " +
                              std::to_string(in.dims[static_cast<size_t>(cd)]) + " channels at dim " +
                              std::to_string(cd) + " (layout " + (p.nchw ? "nchw" : "nhwc") + ") but the images give " +
                              std::to_string(channels) + (p.grayscale ? "" : " (grayscale gives 1)"));
    const int64_t h = in.dims[static_cast<size_t>(hd)], w = in.dims[static_cast<size_t>(wd)];
    if (p.height == 0 && h > 0 && w > 0) {
      // No resize asked for, but the model fixes the size: resizing to it is the only thing that can run.
      p.height = h;
      p.width = w;
    } else if (p.height > 0 && ((h >= 0 && h != p.height) || (w >= 0 && w != p.width))) {
      return invalid_argument(path + ": --preprocess resize=" + std::to_string(p.height) + "x" +
                              std::to_string(p.width) + " but input " + in.to_string() + " needs " + std::to_string(h) +
                              "x" + std::to_string(w));
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    // Header only: a file that is not an image (or is too large) fails here, before any work.
    int w = 0, h = 0, c = 0;
    if (!stbi_info(f.string().c_str(), &w, &h, &c))
      return invalid_argument(path + ": " + f.filename().string() + ": not a readable image (" + stbi_failure_reason() +
                              ")");
    if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide)
      return invalid_argument(path + ": " + f.filename().string() + ": image size " + std::to_string(w) + "x" +
                              std::to_string(h) + " is out of range (max " + std::to_string(kMaxImageSide) +
                              " per side)");
    impl->files.push_back(f.string());
  }
  impl->count = static_cast<int64_t>(impl->files.size());
  return impl;
}

Result<Tensor> load_image(const Dataset::Impl& d, int64_t i) {
  const std::string& file = d.files[static_cast<size_t>(i)];
  const Preprocess& p = d.pre;
  const int want = p.grayscale ? 1 : 3;
  int w = 0, h = 0, c = 0;
  if (!stbi_info(file.c_str(), &w, &h, &c) || w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide)
    return invalid_argument(file + ": not a readable image");
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &c, want), stbi_image_free);
  if (!pixels) return invalid_argument(file + ": cannot decode: " + stbi_failure_reason());
  int oh = p.height > 0 ? static_cast<int>(p.height) : h;
  int ow = p.width > 0 ? static_cast<int>(p.width) : w;
  std::vector<float> hwc;
  if (oh == h && ow == w) {
    hwc.assign(pixels.get(),
               pixels.get() + static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(want));
  } else {
    hwc = resize_bilinear(pixels.get(), w, h, want, ow, oh);
  }
  const IoInfo& in = d.image_input;
  if (in.has_shape && in.dims.size() == 4) {
    const int64_t hd = p.nchw ? 2 : 1, wd = p.nchw ? 3 : 2;
    if ((in.dims[static_cast<size_t>(hd)] >= 0 && in.dims[static_cast<size_t>(hd)] != oh) ||
        (in.dims[static_cast<size_t>(wd)] >= 0 && in.dims[static_cast<size_t>(wd)] != ow))
      return invalid_argument(file + ": image is " + std::to_string(oh) + "x" + std::to_string(ow) + " but input " +
                              in.to_string() + " needs another size (use --preprocess resize=HxW)");
  }
  Shape shape = p.nchw ? Shape{1, want, oh, ow} : Shape{1, oh, ow, want};
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(DType::kFloat32, shape));
  float* o = t.data<float>();
  const size_t plane = static_cast<size_t>(oh) * static_cast<size_t>(ow);
  for (int k = 0; k < want; ++k) {
    const float mean = p.mean.empty() ? 0.f : p.mean[p.mean.size() == 1 ? 0 : static_cast<size_t>(k)];
    const float sd = p.std.empty() ? 1.f : p.std[p.std.size() == 1 ? 0 : static_cast<size_t>(k)];
    const float sc = static_cast<float>(p.scale);
    for (size_t j = 0; j < plane; ++j) {
      float v = (hwc[j * static_cast<size_t>(want) + static_cast<size_t>(k)] * sc - mean) / sd;
      if (p.nchw)
        o[static_cast<size_t>(k) * plane + j] = v;
      else
        o[j * static_cast<size_t>(want) + static_cast<size_t>(k)] = v;
    }
  }
  return t;
}

}  // namespace

Result<Dataset> Dataset::open(const std::string& path, const std::vector<IoInfo>& inputs,
                              const std::optional<Preprocess>& preprocess) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return io_error(path + ": no such file or folder");
  std::shared_ptr<Impl> impl;
  if (fs::is_directory(st)) {
    bool has_npy = false;
    std::vector<fs::path> images;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (!e.is_regular_file(ec)) continue;
      std::string ext = lower(e.path().extension().string());
      if (ext == ".npy")
        has_npy = true;
      else if (is_image_file(e.path()))
        images.push_back(e.path());
    }
    if (ec) return io_error(path + ": cannot list the folder: " + ec.message());
    if (has_npy && !preprocess) {
      HONE_ASSIGN_OR_RETURN(impl, open_npy_folder(path, inputs));
    } else if (!images.empty()) {
      HONE_ASSIGN_OR_RETURN(impl, open_image_folder(path, std::move(images), inputs, preprocess));
    } else if (has_npy) {
      return invalid_argument(path + ": --preprocess applies to a folder of images; this one holds only .npy files");
    } else {
      return invalid_argument(path + ": the folder has no .npy files and no images (png, jpg, bmp, gif, tga, pnm)");
    }
  } else {
    if (preprocess)
      return invalid_argument(path + ": --preprocess applies to a folder of images, not to an array file");
    std::string ext = lower(fs::path(path).extension().string());
    if (ext == ".npy") {
      if (inputs.size() != 1)
        return invalid_argument(path + ": one .npy file feeds a single-input model; this one has " +
                                std::to_string(inputs.size()) + " inputs (use an .npz or a folder of .npy files)");
      HONE_ASSIGN_OR_RETURN(Tensor t, read_npy(path));
      NamedTensors arrays;
      arrays.emplace_back(inputs[0].name, std::move(t));
      HONE_ASSIGN_OR_RETURN(impl, open_arrays(path, arrays, inputs));
    } else {
      HONE_ASSIGN_OR_RETURN(NamedTensors arrays, read_npz(path));
      HONE_ASSIGN_OR_RETURN(impl, open_arrays(path, arrays, inputs));
    }
  }
  for (const IoInfo& in : inputs) impl->input_names.push_back(in.name);
  return Dataset(std::move(impl));
}

std::vector<std::string> Dataset::input_names() const {
  return impl_ ? impl_->input_names : std::vector<std::string>{};
}

int64_t Dataset::size() const { return impl_ ? impl_->count : 0; }

const std::string& Dataset::path() const {
  static const std::string kEmpty;
  return impl_ ? impl_->path : kEmpty;
}

const Tensor* Dataset::extra(const std::string& name) const {
  if (!impl_) return nullptr;
  auto it = impl_->extras.find(name);
  return it == impl_->extras.end() ? nullptr : &it->second;
}

Result<std::vector<Tensor>> Dataset::sample(int64_t i) const {
  if (!impl_) return invalid_argument("dataset: not opened");
  if (i < 0 || i >= impl_->count)
    return invalid_argument(impl_->path + ": sample " + std::to_string(i) + " is out of range (" +
                            std::to_string(impl_->count) + " samples)");
  std::vector<Tensor> out;
  if (impl_->images) {
    HONE_ASSIGN_OR_RETURN(Tensor t, load_image(*impl_, i));
    out.push_back(std::move(t));
    return out;
  }
  for (const ArrayFeed& f : impl_->feeds) {
    auto offset = checked_mul(i, f.sample_numel);
    if (!offset) return invalid_argument(impl_->path + ": sample offset overflows");
    HONE_ASSIGN_OR_RETURN(Tensor t,
                          convert_slice(f.array, *offset, f.sample_numel, f.input_dtype, f.sample_shape,
                                        impl_->path + ": sample " + std::to_string(i) + " of '" + f.input + "'"));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace hone::eval
