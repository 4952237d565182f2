// Seeded random inputs of a model's declared shapes (`--random`, `compare` without data, bench).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hone/session.hpp"

namespace hone::eval {

// Concrete shape of an input: --shape override, else declared dims with symbolic dims = 1.
// Errors when an override contradicts a known dim or has the wrong rank, or when the input's
// shape is not declared at all and no override is given.
Result<Shape> resolve_input_shape(const IoInfo& input, const std::map<std::string, Shape>& overrides);

// Floats uniform in [-1, 1); integers in [0, 10) (safe as token ids and indices); bools 50/50.
Result<Tensor> random_tensor(DType dtype, const Shape& shape, uint64_t seed);

// One random tensor per input, in declaration order; input i uses seed + i.
Result<std::vector<Tensor>> random_inputs(const std::vector<IoInfo>& inputs, const std::map<std::string, Shape>& overrides,
                                          uint64_t seed);

}  // namespace hone::eval
