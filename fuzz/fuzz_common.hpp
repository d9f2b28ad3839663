// fuzz/fuzz_common.hpp — helpers shared by the libFuzzer targets.
//
// Every target follows one rule: the library may reject an input only by
// throwing gemma3::Error. Any other exception escapes LLVMFuzzerTestOneInput
// and libFuzzer reports it as a crash, as it does for a sanitizer report, a
// timeout or running out of memory (-rss_limit_mb). Properties that must hold
// for accepted inputs are checked with FUZZ_CHECK, which aborts.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#ifndef GEMMA3_TEST_DATA_DIR
#error "GEMMA3_TEST_DATA_DIR must be defined (fuzz/CMakeLists.txt does)"
#endif

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace fuzz {

// tests/data of the source tree (override with $GEMMA3_TEST_DATA_DIR).
inline std::string data_dir() {
  const char* e = std::getenv("GEMMA3_TEST_DATA_DIR");
  return e && *e ? e : GEMMA3_TEST_DATA_DIR;
}

// An in-memory file (memfd) reachable by path, for the APIs that open a path:
// no disk traffic per input.
class MemFile {
 public:
  MemFile() {
    fd_ = memfd_create("gemma3-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || (size > 0 && pwrite(fd_, data, size, 0) != ssize_t(size))) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// Strict UTF-8 check written independently of the library's (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF). Returns the length of the
// character at s[i], or 0 when s[i] does not start a valid one.
inline size_t utf8_len(std::string_view s, size_t i) {
  const auto at = [&](size_t k) -> unsigned {
    return i + k < s.size() ? (unsigned char)s[i + k] : 0x100u;
  };
  const unsigned c = at(0);
  unsigned need, cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    need = 1;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    need = 2;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    need = 3;
    cp = c & 0x07;
  } else return 0;
  for (unsigned k = 1; k <= need; ++k) {
    const unsigned b = at(k);
    if (b > 0xFF || (b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static const unsigned kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return need + 1;
}

inline bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace fuzz
