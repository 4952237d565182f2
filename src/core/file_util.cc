#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace hone {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": cannot open: " + errno_text());
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error(path + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return io_error(path + ": file is " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                    std::to_string(max_bytes));
  }
  std::string data;
  try {
    data.resize(static_cast<size_t>(st.st_size));
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return out_of_memory(path + ": cannot allocate " + std::to_string(st.st_size) + " bytes");
  }
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return io_error(path + ": read failed" + (n < 0 ? ": " + errno_text() : std::string(" (file shrank)")));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return data;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Result<AtomicFile> AtomicFile::open(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  std::string tmpl = dir + "/." + p.filename().string() + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return io_error(path + ": cannot create a temporary file in " + dir + ": " + errno_text());
  ::fchmod(fd, 0644);
  return AtomicFile(path, tmpl, fd);
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(o.fd_) {
  o.fd_ = -1;
  o.tmp_.clear();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status AtomicFile::write(std::string_view bytes) {
  if (fd_ < 0) return io_error(path_ + ": write after close");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error(path_ + ": write failed: " + (n < 0 ? errno_text() : std::string("no progress")));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  if (fd_ < 0) return io_error(path_ + ": commit after close");
  if (::fsync(fd_) != 0) return io_error(path_ + ": fsync failed: " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    return io_error(path_ + ": close failed: " + errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return io_error(path_ + ": rename failed: " + errno_text());
  tmp_.clear();
  return Status::Ok();
}

Status write_file_atomic(const std::string& path, std::string_view bytes) {
  HONE_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::open(path));
  HONE_RETURN_IF_ERROR(f.write(bytes));
  return f.commit();
}

}  // namespace hone
