// File helpers that keep the promises in docs/cli.md: inputs are only read, outputs appear whole
// (temp file in the target folder + rename) or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hone/status.hpp"

namespace hone {

// Reads a whole regular file; refuses one larger than max_bytes.
Result<std::string> read_file(const std::string& path, uint64_t max_bytes);

// True when both paths name the same existing file (same device and inode).
bool same_file(const std::string& a, const std::string& b);

// Writes `path` atomically: bytes go to a temporary file beside it, which is flushed to disk and
// renamed over `path` only when everything succeeded. On any failure the temporary is removed and
// `path` is untouched.
class AtomicFile {
 public:
  static Result<AtomicFile> open(const std::string& path);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();  // discards the temporary unless commit() succeeded

  Status write(std::string_view bytes);
  Status commit();  // fsync + rename
  const std::string& path() const { return path_; }

 private:
  AtomicFile(std::string path, std::string tmp, int fd) : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// One-shot: write all bytes atomically.
Status write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace hone
