// gemma3/detail/mmap.hpp — RAII read-only memory map of a whole file.
//
// Model files and safetensors shards are mapped, never read into buffers, so
// loading costs no copy and the kernel pages weights in on first touch.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "gemma3/error.hpp"

namespace gemma3::detail {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept { swap(o); }
  MappedFile& operator=(MappedFile&& o) noexcept {
    MappedFile tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~MappedFile() {
    if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
  }

  // Maps `path` read-only. An empty file maps to data() == nullptr, size() == 0.
  static MappedFile open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      throw Error(path + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(path + ": not a regular file");
    }
    MappedFile m;
    m.path_ = path;
    m.size_ = size_t(st.st_size);
    if (m.size_ > 0) {
      void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        ::close(fd);
        throw Error(path + ": cannot mmap: " + std::strerror(e));
      }
      m.data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    return m;
  }

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Tell the kernel [offset, offset+n) is no longer needed (keeps RSS modest
  // while streaming through an 8 GB checkpoint).
  void advise_done(size_t offset, size_t n) const {
    if (data_ == nullptr || n == 0) return;
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t start = (offset + page - 1) / page * page;
    const size_t end = (offset + n) / page * page;
    if (end > start) madvise(const_cast<uint8_t*>(data_) + start, end - start, MADV_DONTNEED);
  }

 private:
  void swap(MappedFile& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(path_, o.path_);
  }
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace gemma3::detail
