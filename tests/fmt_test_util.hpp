// tests/fmt_test_util.hpp — helpers shared by the model-file and converter tests:
// temp dirs, file bytes, a minimal safetensors writer to build checkpoints.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gemma3/detail/crc32.hpp"

namespace fmt_test {

inline const std::string kTiny = std::string(GEMMA3_TEST_DATA_DIR) + "/tiny/model";
inline const std::string kTinySharded = std::string(GEMMA3_TEST_DATA_DIR) + "/tiny/model_sharded";

inline std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}
inline void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
inline std::string read_text(const std::string& p) {
  const auto b = read_bytes(p);
  return std::string(b.begin(), b.end());
}
inline void write_text(const std::string& p, const std::string& s) {
  write_bytes(p, std::vector<uint8_t>(s.begin(), s.end()));
}
inline bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}
inline std::vector<std::string> list_dir(const std::string& d) {
  std::vector<std::string> out;
  if (DIR* dir = opendir(d.c_str())) {
    while (dirent* e = readdir(dir))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        out.push_back(e->d_name);
    closedir(dir);
  }
  return out;
}

// A fresh directory under $TMPDIR, removed (with its files) at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/gemma3_fmt_test.XXXXXX";
    path = mkdtemp(&tmpl[0]) ? tmpl : "";
  }
  ~TempDir() { remove_all(path); }
  static void remove_all(const std::string& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
      for (const auto& n : list_dir(p)) remove_all(p + "/" + n);
      ::rmdir(p.c_str());
    } else {
      ::unlink(p.c_str());
    }
  }
  std::string operator/(const std::string& n) const { return path + "/" + n; }
};

// Copies the regular files of `from` into a new directory `to`.
inline void copy_dir(const std::string& from, const std::string& to) {
  ::mkdir(to.c_str(), 0755);
  for (const auto& n : list_dir(from)) write_bytes(to + "/" + n, read_bytes(from + "/" + n));
}

// One tensor of a safetensors file being built.
struct StEntry {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes a safetensors file. `header_override`, when non-empty, replaces the
// JSON header (for malformed-header tests).
inline void write_safetensors(const std::string& path, const std::vector<StEntry>& ts,
                              const std::string& header_override = "") {
  std::ostringstream h;
  h << "{";
  uint64_t off = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    h << (i ? "," : "") << "\"" << ts[i].name << "\":{\"dtype\":\"" << ts[i].dtype
      << "\",\"shape\":[";
    for (size_t k = 0; k < ts[i].shape.size(); ++k) h << (k ? "," : "") << ts[i].shape[k];
    h << "],\"data_offsets\":[" << off << "," << off + ts[i].bytes.size() << "]}";
    off += ts[i].bytes.size();
  }
  h << "}";
  std::string header = header_override.empty() ? h.str() : header_override;
  while (header.size() % 8) header += ' ';
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& t : ts) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  write_bytes(path, out);
}

// Random bf16 bytes for n values ~ N(0, sd).
inline std::vector<uint8_t> random_bf16(size_t n, std::mt19937& rng, float sd = 0.05f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<uint8_t> b(n * 2);
  for (size_t i = 0; i < n; ++i) {
    float f = d(rng);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t h = uint16_t(bits >> 16);  // truncation is fine for test data
    b[2 * i] = uint8_t(h);
    b[2 * i + 1] = uint8_t(h >> 8);
  }
  return b;
}

// Little-endian field access into a model file's bytes (docs/format.md).
template <class T>
T get_le(const std::vector<uint8_t>& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}
template <class T>
void set_le(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}

// Recomputes the header CRC (docs/format.md: header bytes [0, 56) + metadata)
// after an edit, so that the edit reaches the checks behind the checksum.
inline void fix_crc(std::vector<uint8_t>& b) {
  const uint64_t meta = get_le<uint64_t>(b, 24);
  uint32_t c = gemma3::detail::crc32(b.data(), 56);
  c = gemma3::detail::crc32(b.data() + 64, size_t(meta), c);
  set_le<uint32_t>(b, 56, c);
}

}  // namespace fmt_test
