#include "eval/npy.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/checked_math.h"
#include "core/file_util.h"

namespace hone::eval {
namespace {

constexpr uint64_t kMaxNpyBytes = uint64_t{16} << 30;  // one array; far above any dataset shard we expect
constexpr size_t kMaxHeaderBytes = 1 << 16;
constexpr int kMaxNpzEntries = 100000;

struct Descr {
  DType dtype;
  bool swap;  // big-endian data on this little-endian machine
};

Result<Descr> parse_descr(const std::string& d, const std::string& what) {
  if (d.size() < 2) return invalid_argument(what + ": unsupported dtype '" + d + "'");
  char order = d[0];
  std::string kind = d.substr(1);
  if (kind == "O" || kind.rfind("O", 0) == 0)
    return invalid_argument(what + ": object arrays (dtype 'O') need pickle, which hone refuses to load");
  static const std::pair<const char*, DType> kinds[] = {
      {"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"f2", DType::kFloat16}, {"i1", DType::kInt8},
      {"i2", DType::kInt16},   {"i4", DType::kInt32},   {"i8", DType::kInt64},   {"u1", DType::kUInt8},
      {"u2", DType::kUInt16},  {"u4", DType::kUInt32},  {"u8", DType::kUInt64},  {"b1", DType::kBool},
  };
  for (const auto& [k, t] : kinds)
    if (kind == k) {
      if (order != '<' && order != '|' && order != '>' && order != '=')
        return invalid_argument(what + ": unsupported byte order in dtype '" + d + "'");
      return Descr{t, order == '>' && dtype_size(t) > 1};
    }
  return invalid_argument(what + ": unsupported dtype '" + d + "' (hone reads numeric and bool arrays)");
}

// The header is a Python dict literal; numpy always writes the same three keys. A tiny parser
// for exactly that, strict about everything else.
struct Header {
  std::string descr;
  bool fortran = false;
  Shape shape;
};

Result<Header> parse_header(const std::string& h, const std::string& what) {
  Header r;
  auto value_after = [&](const std::string& key) -> Result<size_t> {
    size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) return invalid_argument(what + ": .npy header has no '" + key + "'");
    size_t colon = h.find(':', k);
    if (colon == std::string::npos) return invalid_argument(what + ": malformed .npy header");
    size_t v = h.find_first_not_of(' ', colon + 1);
    if (v == std::string::npos) return invalid_argument(what + ": malformed .npy header");
    return v;
  };
  HONE_ASSIGN_OR_RETURN(size_t d, value_after("descr"));
  if (h[d] != '\'') return invalid_argument(what + ": .npy descr is not a simple dtype string (structured arrays are not supported)");
  size_t dend = h.find('\'', d + 1);
  if (dend == std::string::npos) return invalid_argument(what + ": malformed .npy descr");
  r.descr = h.substr(d + 1, dend - d - 1);
  HONE_ASSIGN_OR_RETURN(size_t f, value_after("fortran_order"));
  if (h.compare(f, 4, "True") == 0) r.fortran = true;
  else if (h.compare(f, 5, "False") != 0) return invalid_argument(what + ": malformed .npy fortran_order");
  HONE_ASSIGN_OR_RETURN(size_t s, value_after("shape"));
  if (h[s] != '(') return invalid_argument(what + ": malformed .npy shape");
  size_t send = h.find(')', s);
  if (send == std::string::npos) return invalid_argument(what + ": malformed .npy shape");
  std::string dims = h.substr(s + 1, send - s - 1);
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    size_t j = i;
    while (j < dims.size() && std::isdigit(static_cast<unsigned char>(dims[j]))) ++j;
    if (j == i || j - i > 18) return invalid_argument(what + ": malformed .npy shape '(" + dims + ")'");
    r.shape.push_back(std::stoll(dims.substr(i, j - i)));
    if (r.shape.size() > 64) return invalid_argument(what + ": .npy rank above 64");
    i = j;
  }
  return r;
}

}  // namespace

Result<Tensor> parse_npy(std::string_view b, const std::string& what) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return invalid_argument(what + ": not a .npy file");
  const int major = static_cast<unsigned char>(b[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(b[8]) | static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return invalid_argument(what + ": truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return invalid_argument(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeaderBytes || offset + header_len > b.size()) return invalid_argument(what + ": truncated .npy header");
  HONE_ASSIGN_OR_RETURN(Header h, parse_header(std::string(b.substr(offset, header_len)), what));
  HONE_ASSIGN_OR_RETURN(Descr d, parse_descr(h.descr, what));
  if (h.fortran && h.shape.size() > 1)
    return invalid_argument(what + ": Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)");
  auto numel = shape_numel(h.shape);
  if (!numel.ok()) return invalid_argument(what + ": " + numel.status().message());
  auto bytes = checked_mul(*numel, static_cast<int64_t>(dtype_size(d.dtype)));
  const size_t have = b.size() - offset - header_len;
  if (!bytes || static_cast<uint64_t>(*bytes) > kMaxNpyBytes || static_cast<uint64_t>(*bytes) != have)
    return invalid_argument(what + ": .npy shape (" + shape_to_string(h.shape) + ") of " + h.descr + " needs " +
                            (bytes ? std::to_string(*bytes) : std::string("too many")) + " bytes but the file holds " +
                            std::to_string(have));
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(d.dtype, h.shape));
  if (have) std::memcpy(t.raw(), b.data() + offset + header_len, have);
  if (d.swap) {
    const size_t es = dtype_size(d.dtype);
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < have; i += es) std::reverse(p + i, p + i + es);
  }
  if (d.dtype == DType::kBool) {  // normalize to 0/1 so that kernels may trust bool bytes
    auto* p = t.data<uint8_t>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
  }
  return t;
}

Result<Tensor> read_npy(const std::string& path) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxNpyBytes + kMaxHeaderBytes + 16));
  return parse_npy(bytes, path);
}

Result<std::string> to_npy(const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::kFloat32: descr = "<f4"; break;
    case DType::kFloat64: descr = "<f8"; break;
    case DType::kFloat16: descr = "<f2"; break;
    case DType::kInt8: descr = "|i1"; break;
    case DType::kInt16: descr = "<i2"; break;
    case DType::kInt32: descr = "<i4"; break;
    case DType::kInt64: descr = "<i8"; break;
    case DType::kUInt8: descr = "|u1"; break;
    case DType::kUInt16: descr = "<u2"; break;
    case DType::kUInt32: descr = "<u4"; break;
    case DType::kUInt64: descr = "<u8"; break;
    case DType::kBool: descr = "|b1"; break;
    default: return unsupported("cannot write " + std::string(dtype_name(t.dtype())) + " to .npy");
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + (t.shape().size() == 1 || i + 1 < t.shape().size() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that the data starts on a 64-byte boundary, ending the header with '\n'.
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
  HONE_ASSIGN_OR_RETURN(std::string bytes, to_npy(t));
  return write_file_atomic(path, bytes);
}

Result<NamedTensors> read_npz(const std::string& path) {
  int err = 0;
  std::unique_ptr<zip_t, void (*)(zip_t*)> z(zip_open(path.c_str(), ZIP_RDONLY, &err), [](zip_t* p) {
    if (p) zip_discard(p);
  });
  if (!z) {
    zip_error_t e;
    zip_error_init_with_code(&e, err);
    std::string msg = zip_error_strerror(&e);
    zip_error_fini(&e);
    return invalid_argument(path + ": cannot read as .npz: " + msg);
  }
  zip_int64_t n = zip_get_num_entries(z.get(), 0);
  if (n < 0 || n > kMaxNpzEntries) return invalid_argument(path + ": .npz has too many entries");
  NamedTensors out;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_NAME))
      return invalid_argument(path + ": unreadable .npz entry " + std::to_string(i));
    std::string name = st.name;
    const std::string what = path + ":" + name;
    if (st.size > kMaxNpyBytes + kMaxHeaderBytes) return invalid_argument(what + ": entry is too large");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(z.get(), static_cast<zip_uint64_t>(i), 0), zip_fclose);
    if (!f) return invalid_argument(what + ": cannot open entry: " + zip_strerror(z.get()));
    std::string bytes;
    try {
      bytes.resize(static_cast<size_t>(st.size));
    } catch (const std::bad_alloc&) {
      return out_of_memory(what + ": cannot allocate " + std::to_string(st.size) + " bytes");
    }
    zip_int64_t got = bytes.empty() ? 0 : zip_fread(f.get(), bytes.data(), bytes.size());
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) return invalid_argument(what + ": truncated or corrupt entry");
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    HONE_ASSIGN_OR_RETURN(Tensor t, parse_npy(bytes, what));
    out.emplace_back(name, std::move(t));
  }
  return out;
}

Status write_npz(const std::string& path, const NamedTensors& arrays) {
  namespace fs = std::filesystem;
  std::vector<std::string> blobs;
  for (const auto& [name, t] : arrays) {
    HONE_ASSIGN_OR_RETURN(std::string b, to_npy(t));
    blobs.push_back(std::move(b));
  }
  // libzip writes its own temporary and renames on close; we still go through a temp name of our
  // own so that a failure before close can never leave a half-written archive at `path`.
  HONE_ASSIGN_OR_RETURN(AtomicFile tmp, AtomicFile::open(path));
  std::string build_path = path + ".building";
  int err = 0;
  zip_t* z = zip_open(build_path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) return io_error(path + ": cannot create .npz");
  for (size_t i = 0; i < arrays.size(); ++i) {
    zip_source_t* src = zip_source_buffer(z, blobs[i].data(), blobs[i].size(), 0);
    zip_int64_t idx = src ? zip_file_add(z, (arrays[i].first + ".npy").c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (src) zip_source_free(src);
      std::string msg = zip_strerror(z);
      zip_discard(z);
      return io_error(path + ": cannot add '" + arrays[i].first + "': " + msg);
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) {
    std::string msg = zip_strerror(z);
    zip_discard(z);
    std::error_code ec;
    fs::remove(build_path, ec);
    return io_error(path + ": writing .npz failed: " + msg);
  }
  HONE_ASSIGN_OR_RETURN(std::string bytes, read_file(build_path, uint64_t{1} << 40));
  std::error_code ec;
  fs::remove(build_path, ec);
  HONE_RETURN_IF_ERROR(tmp.write(bytes));
  return tmp.commit();
}

}  // namespace hone::eval
