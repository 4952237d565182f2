// Cast and CastLike between every numeric type, bool and string.
//
// Conversions ONNX leaves undefined follow hone's rules: float -> integer truncates toward zero,
// NaN becomes 0 and out-of-range values saturate; integer -> narrower integer wraps (as C++ and
// numpy do). Numbers print as the shortest text that reads back to the same value ("0.1", "1e-05",
// "nan", "inf"); text parses with strtod/strtoll ("NaN", "INF", "+INF", "-INF" included).
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_util.h"

namespace hone::rt {
namespace {

using namespace elementwise;

template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return saturate_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <class From>
std::string number_to_string(From v) {
  if constexpr (std::is_same_v<From, bool>) {
    return v ? "1" : "0";
  } else {
    if constexpr (std::is_floating_point_v<From>) {
      if (std::isnan(v)) return "nan";
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, r.ptr);
  }
}

template <class To>
Result<To> string_to_number(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  To v{};
  if constexpr (std::is_floating_point_v<To>) {
    v = static_cast<To>(std::strtod(begin, &end));
  } else if constexpr (std::is_same_v<To, bool>) {
    v = std::strtod(begin, &end) != 0;
  } else if constexpr (std::is_signed_v<To>) {
    v = static_cast<To>(std::strtoll(begin, &end, 10));
  } else {
    v = static_cast<To>(std::strtoull(begin, &end, 10));
  }
  while (end && *end && std::isspace(static_cast<unsigned char>(*end))) ++end;
  if (end == begin || (end && *end)) return runtime_error("cannot convert string \"" + s + "\" to a number");
  return v;
}

Status cast_to(KernelContext& ctx, const Tensor& x, DType to) {
  HONE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, to, x.shape()));
  if (x.dtype() == DType::kString && to == DType::kString) {
    y->strings() = x.strings();
    return Status::Ok();
  }
  if (x.dtype() == DType::kString) {
    return with_node(ctx, dispatch<kAll>(to, [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      storage_t<T>* out = y->data<storage_t<T>>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        HONE_ASSIGN_OR_RETURN(auto v, string_to_number<compute_t<T>>(x.strings()[static_cast<size_t>(i)]));
        out[i] = Elem<T>::store(v);
      }
      return Status::Ok();
    }));
  }
  if (to == DType::kString) {
    return with_node(ctx, dispatch<kAll>(x.dtype(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      const storage_t<T>* in = x.data<storage_t<T>>();
      for (int64_t i = 0; i < x.numel(); ++i) y->strings()[static_cast<size_t>(i)] = number_to_string(Elem<T>::load(in[i]));
      return Status::Ok();
    }));
  }
  return with_node(ctx, dispatch<kAll>(x.dtype(), [&](auto from_tag) -> Status {
    using From = typename decltype(from_tag)::type;
    return dispatch<kAll>(to, [&](auto to_tag) -> Status {
      using To = typename decltype(to_tag)::type;
      map_unary<From, To>(ctx, x, *y, convert<compute_t<To>, compute_t<From>>);
      return Status::Ok();
    });
  }));
}

// `to` is an int (TensorProto.DataType) from opset 6; before that it was a name such as "FLOAT".
Status cast(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (!x) return ctx.error("input 0 is missing");
  const ir::Attribute* to = ctx.node().attr("to");
  if (!to) return ctx.error("attribute 'to' is missing");
  std::optional<DType> dtype;
  if (to->type == ir::AttrType::kString) {
    std::string name = to->s;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    dtype = dtype_from_name(name);
  } else {
    dtype = dtype_from_onnx(static_cast<int32_t>(to->i));
  }
  if (!dtype) return ctx.error("attribute 'to' names an unsupported element type");
  return cast_to(ctx, *x, *dtype);
}

// CastLike(input, target_type): casts to the element type of the second input.
Status cast_like(KernelContext& ctx) {
  const Tensor *x, *like;
  HONE_RETURN_IF_ERROR(two_inputs(ctx, x, like));
  return cast_to(ctx, *x, like->dtype());
}

HONE_REGISTER_FN("", Cast, 1, kMaxOpset, cast);
HONE_REGISTER_FN("", CastLike, 15, kMaxOpset, cast_like);

}  // namespace
}  // namespace hone::rt
