// Bounds on what hone accepts from a model file. Each is documented in docs/limits.md with the
// error it gives. They exist so that a hostile file costs bounded time and memory.
#pragma once

#include <cstdint>

namespace hone::onnxio {

// protobuf cannot parse a message above 2 GiB; weights beyond that must be external.
inline constexpr uint64_t kMaxModelFileBytes = (uint64_t{2} << 30) - 1;
// Nesting of subgraphs (If inside Loop inside If ...). Real models use a handful.
inline constexpr int kMaxGraphDepth = 32;
// protobuf message nesting; one graph level costs three (Graph -> Node -> Attribute -> Graph).
inline constexpr int kMaxProtoRecursion = 3 * kMaxGraphDepth + 16;
inline constexpr int64_t kMaxRank = 64;
// A single external data file may be large, but not past what any machine could hold.
inline constexpr uint64_t kMaxExternalBytes = uint64_t{1} << 40;
// Standalone TensorProto files (conformance inputs/outputs).
inline constexpr uint64_t kMaxTensorFileBytes = uint64_t{1} << 31;

}  // namespace hone::onnxio
