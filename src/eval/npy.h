// NumPy .npy and .npz files: hone's data format for inputs, outputs and datasets.
//
// Only plain numeric arrays are accepted. Object arrays (dtype 'O') would need Python's pickle,
// which can run arbitrary code: they are refused, as are headers and sizes that do not add up.
// Every size is checked against the bytes actually present before anything is allocated.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hone/status.hpp"
#include "hone/tensor.hpp"

namespace hone::eval {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Parses the bytes of one .npy file (`what` names it in error messages).
Result<Tensor> parse_npy(std::string_view bytes, const std::string& what);
Result<Tensor> read_npy(const std::string& path);
// Serializes a tensor as .npy version 1.0 (little-endian, C order).
Result<std::string> to_npy(const Tensor& t);
Status write_npy(const std::string& path, const Tensor& t);

// Reads every array of an .npz archive, in archive order; keys lose their ".npy" suffix.
Result<NamedTensors> read_npz(const std::string& path);
// Writes an .npz archive (entries stored uncompressed) atomically.
Status write_npz(const std::string& path, const NamedTensors& arrays);

}  // namespace hone::eval
