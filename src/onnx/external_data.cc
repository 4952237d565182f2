#include "onnx/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/checked_math.h"
#include "onnx/limits.h"

namespace hone::onnxio {

Status check_external_location(const std::string& loc) {
  if (loc.empty()) return invalid_model("external data has an empty location");
  if (loc.find('\0') != std::string::npos) return invalid_model("external data location contains a NUL byte");
  if (loc[0] == '/' || loc[0] == '\\') return invalid_model("external data location '" + loc + "' is an absolute path");
  if (loc.size() > 1 && loc[1] == ':') return invalid_model("external data location '" + loc + "' is an absolute path");
  size_t start = 0;
  while (start <= loc.size()) {
    size_t end = loc.find_first_of("/\\", start);
    if (end == std::string::npos) end = loc.size();
    std::string part = loc.substr(start, end - start);
    if (part == "..") return invalid_model("external data location '" + loc + "' escapes the model's folder");
    if (part.empty() && end != loc.size()) return invalid_model("external data location '" + loc + "' has an empty path component");
    start = end + 1;
  }
  return Status::Ok();
}

ExternalDataReader::~ExternalDataReader() {
  for (auto& [_, f] : files_)
    if (f.fd >= 0) ::close(f.fd);
}

Result<ExternalDataReader::OpenFile*> ExternalDataReader::open(const std::string& loc) {
  auto it = files_.find(loc);
  if (it != files_.end()) return &it->second;
  HONE_RETURN_IF_ERROR(check_external_location(loc));
  if (model_dir_.empty()) return invalid_model("external data '" + loc + "' but the model was not loaded from a file");

  // Walk the path one component at a time with O_NOFOLLOW so that no component may be a
  // symlink: checking a resolved path and then opening it would race with the file system.
  int dirfd = ::open(model_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return io_error(model_dir_ + ": cannot open the model's folder: " + std::strerror(errno));
  size_t start = 0;
  int fd = -1;
  while (true) {
    size_t end = loc.find_first_of("/\\", start);
    bool last = end == std::string::npos;
    std::string part = loc.substr(start, last ? std::string::npos : end - start);
    if (part == ".") {  // harmless, stay in this folder
      if (last) break;
      start = end + 1;
      continue;
    }
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY);
    int next = ::openat(dirfd, part.c_str(), flags);
    int err = errno;
    if (next < 0) {
      // Ask the folder we are in what this component is, rather than guess from errno: ENOTDIR
      // means a symlink (O_NOFOLLOW | O_DIRECTORY) or a plain file used as a folder, and the
      // user needs to know which.
      struct stat st;
      const bool is_link = ::fstatat(dirfd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
      ::close(dirfd);
      if (is_link && last) return invalid_model("external data '" + loc + "' is a symlink; hone refuses to follow it");
      if (is_link)
        return invalid_model("external data '" + loc + "' goes through a symlink ('" + part +
                             "'); hone refuses to follow it");
      if (err == ENOTDIR) return invalid_model("external data '" + loc + "': '" + part + "' is not a folder");
      return invalid_model("external data '" + loc + "': cannot open: " + std::strerror(err));
    }
    ::close(dirfd);
    dirfd = -1;
    if (last) {
      fd = next;
      break;
    }
    dirfd = next;
    start = end + 1;
  }
  if (fd < 0) {
    if (dirfd >= 0) ::close(dirfd);
    return invalid_model("external data location '" + loc + "' names a folder");
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_model("external data '" + loc + "' is not a regular file");
  }
  if (st.st_nlink > 1) {
    ::close(fd);
    return invalid_model("external data '" + loc + "' has " + std::to_string(st.st_nlink) +
                         " hard links; hone refuses hard-linked weight files");
  }
  OpenFile f{fd, static_cast<uint64_t>(st.st_size)};
  return &files_.emplace(loc, f).first->second;
}

Result<uint64_t> ExternalDataReader::file_size(const std::string& loc) {
  HONE_ASSIGN_OR_RETURN(OpenFile * f, open(loc));
  return f->size;
}

Status ExternalDataReader::read(const std::string& loc, uint64_t offset, uint64_t length, void* dst) {
  HONE_ASSIGN_OR_RETURN(OpenFile * f, open(loc));
  auto end = checked_add_u(offset, length);
  if (!end || *end > f->size)
    return invalid_model("external data '" + loc + "': offset " + std::to_string(offset) + " + length " +
                         std::to_string(length) + " lies past the end of the file (" + std::to_string(f->size) +
                         " bytes)");
  auto* out = static_cast<char*>(dst);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(f->fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("external data '" + loc + "': read failed");
    done += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace hone::onnxio
