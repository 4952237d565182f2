// Reading tensor bytes stored outside the model file, safely.
//
// A model names its external data files by relative path. That path is untrusted: hone refuses
// absolute paths, `..` components, symlinks anywhere on the way, and hard links (link count > 1),
// and checks that offset + length lies inside the file before reading a byte. (The CVEs that
// motivated this: CVE-2022-25882 and CVE-2024-27318, ONNX external-data path traversal.)
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hone/status.hpp"

namespace hone::onnxio {

class ExternalDataReader {
 public:
  explicit ExternalDataReader(std::string model_dir) : model_dir_(std::move(model_dir)) {}
  ~ExternalDataReader();
  ExternalDataReader(const ExternalDataReader&) = delete;
  ExternalDataReader& operator=(const ExternalDataReader&) = delete;

  // Copies `length` bytes at `offset` of `location` into dst.
  Status read(const std::string& location, uint64_t offset, uint64_t length, void* dst);
  // Size of an external file after validating its location.
  Result<uint64_t> file_size(const std::string& location);

 private:
  struct OpenFile {
    int fd = -1;
    uint64_t size = 0;
  };
  Result<OpenFile*> open(const std::string& location);

  std::string model_dir_;
  std::map<std::string, OpenFile> files_;
};

// Checks that a location is a plain relative path inside the model folder (no absolute path, no
// `..`, no empty component). Does not touch the file system.
Status check_external_location(const std::string& location);

}  // namespace hone::onnxio
