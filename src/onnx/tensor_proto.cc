#include "onnx/tensor_proto.h"

#include <cstring>

#include "core/checked_math.h"
#include "onnx/limits.h"

namespace hone::onnxio {
namespace {

std::string tensor_label(const onnx::TensorProto& p) {
  return p.name().empty() ? std::string("tensor") : "tensor '" + p.name() + "'";
}

// Copies a typed repeated field into the tensor, narrowing each element to T.
template <class T, class Field>
void copy_field(const Field& f, Tensor& t) {
  T* out = t.data<T>();
  for (int i = 0; i < f.size(); ++i) out[i] = static_cast<T>(f.Get(i));
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, ExternalDataReader* ext,
                                 std::optional<ir::ExternalSource>* source) {
  const std::string label = tensor_label(p);
  auto dtype = dtype_from_onnx(p.data_type());
  if (!dtype) return invalid_model(label + " has unsupported data_type " + std::to_string(p.data_type()));
  if (p.has_segment()) return unsupported(label + " uses segments, which hone does not support");
  if (p.dims_size() > kMaxRank) return invalid_model(label + " has rank " + std::to_string(p.dims_size()) + ", above the limit of " + std::to_string(kMaxRank));
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0) return invalid_model(label + " has negative dimension " + std::to_string(d));
  auto numel_r = shape_numel(shape);
  if (!numel_r.ok()) return invalid_model(label + ": " + numel_r.status().message());
  const int64_t numel = *numel_r;
  const size_t esize = dtype_size(*dtype);
  auto nbytes_opt = checked_mul(numel, static_cast<int64_t>(esize ? esize : 1));
  if (!nbytes_opt) return invalid_model(label + ": byte size overflows");
  const uint64_t nbytes = static_cast<uint64_t>(*nbytes_opt);

  if (*dtype == DType::kString) {
    if (p.string_data_size() != numel)
      return invalid_model(label + " declares " + std::to_string(numel) + " strings but holds " +
                           std::to_string(p.string_data_size()));
    HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(*dtype, shape));
    for (int64_t i = 0; i < numel; ++i) t.strings()[static_cast<size_t>(i)] = p.string_data(static_cast<int>(i));
    return t;
  }

  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto& kv : p.external_data()) {
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        const std::string& v = kv.value();
        if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
          return invalid_model(label + ": external data " + kv.key() + " '" + v + "' is not a non-negative integer");
        uint64_t x = std::stoull(v);
        if (kv.key() == "offset") offset = x;
        else length = x;
      }
    }
    if (location.empty()) return invalid_model(label + " is stored externally but names no location");
    if (length && *length != nbytes)
      return invalid_model(label + ": external data length " + std::to_string(*length) + " does not match its shape " +
                           shape_to_string(shape) + " of " + dtype_name(*dtype).data() + " (" + std::to_string(nbytes) + " bytes)");
    if (!ext) return invalid_model(label + " refers to external data, which is not allowed here");
    HONE_ASSIGN_OR_RETURN(uint64_t fsize, ext->file_size(location));
    auto end = checked_add_u(offset, nbytes);
    if (!end || *end > fsize)
      return invalid_model(label + ": external data '" + location + "' offset " + std::to_string(offset) + " + " +
                           std::to_string(nbytes) + " bytes lies past the end of the file (" + std::to_string(fsize) +
                           " bytes)");
    HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(*dtype, shape));
    if (nbytes) HONE_RETURN_IF_ERROR(ext->read(location, offset, nbytes, t.raw()).with_context(label));
    if (source) *source = ir::ExternalSource{location, static_cast<int64_t>(offset), static_cast<int64_t>(nbytes)};
    return t;
  }

  if (p.has_raw_data()) {
    if (p.raw_data().size() != nbytes)
      return invalid_model(label + ": raw_data holds " + std::to_string(p.raw_data().size()) + " bytes but shape " +
                           shape_to_string(shape) + " of " + dtype_name(*dtype).data() + " needs " +
                           std::to_string(nbytes));
    HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(*dtype, shape));
    if (nbytes) std::memcpy(t.raw(), p.raw_data().data(), nbytes);
    return t;
  }

  // Typed fields: each element of the field holds one element (two for complex numbers).
  const bool complex = *dtype == DType::kComplex64 || *dtype == DType::kComplex128;
  auto expect = checked_mul(numel, complex ? 2 : 1);
  if (!expect) return invalid_model(label + ": element count overflows");
  int64_t have = 0;
  switch (*dtype) {
    case DType::kFloat32: case DType::kComplex64: have = p.float_data_size(); break;
    case DType::kFloat64: case DType::kComplex128: have = p.double_data_size(); break;
    case DType::kInt64: have = p.int64_data_size(); break;
    case DType::kUInt32: case DType::kUInt64: have = p.uint64_data_size(); break;
    default: have = p.int32_data_size(); break;
  }
  if (have != *expect)
    return invalid_model(label + " has shape " + shape_to_string(shape) + " (" + std::to_string(numel) +
                         " elements) but holds " + std::to_string(complex ? have / 2 : have) + " values");
  HONE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(*dtype, shape));
  switch (*dtype) {
    case DType::kFloat32: case DType::kComplex64: copy_field<float>(p.float_data(), t); break;
    case DType::kFloat64: case DType::kComplex128: copy_field<double>(p.double_data(), t); break;
    case DType::kInt64: copy_field<int64_t>(p.int64_data(), t); break;
    case DType::kUInt32: copy_field<uint32_t>(p.uint64_data(), t); break;
    case DType::kUInt64: copy_field<uint64_t>(p.uint64_data(), t); break;
    case DType::kInt32: copy_field<int32_t>(p.int32_data(), t); break;
    case DType::kInt16: copy_field<int16_t>(p.int32_data(), t); break;
    case DType::kUInt16: case DType::kFloat16: case DType::kBFloat16: copy_field<uint16_t>(p.int32_data(), t); break;
    case DType::kInt8: copy_field<int8_t>(p.int32_data(), t); break;
    case DType::kUInt8: copy_field<uint8_t>(p.int32_data(), t); break;
    case DType::kBool: {
      auto* out = t.data<uint8_t>();
      for (int i = 0; i < p.int32_data_size(); ++i) out[i] = p.int32_data(i) != 0;
      break;
    }
    default: return unsupported(label + ": data_type " + std::string(dtype_name(*dtype)));
  }
  return t;
}

void tensor_to_proto(const Tensor& t, onnx::TensorProto* p) {
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::kString) {
    for (const auto& s : t.strings()) p->add_string_data(s);
    return;
  }
  p->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

}  // namespace hone::onnxio
