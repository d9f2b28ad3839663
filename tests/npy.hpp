// tests/npy.hpp — a tiny reader for NumPy .npy files, for tests only.
//
// Supports what the goldens use: format versions 1.0, 2.0 and 3.0, C order,
// little-endian float32 ('<f4'), uint8 ('|u1'), int64 ('<i8') and int32 ('<i4').
// Anything else (Fortran order, big-endian, other dtypes, a truncated file)
// throws std::runtime_error naming the file and the problem.
//
//   npy::Array<float> a = npy::load<float>(path);   // a.shape, a.data
//   npy::Header h = npy::read_header(path);          // dtype + shape only
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "gemma3/detail/endian.hpp"

namespace npy {

struct Header {
  std::string descr;               // e.g. "<f4"
  std::vector<std::size_t> shape;  // empty for a scalar
  std::size_t data_offset = 0;     // bytes from the start of the file
  std::size_t count() const {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
};

template <typename T>
struct Array {
  std::vector<std::size_t> shape;
  std::vector<T> data;  // C order
  std::size_t size() const { return data.size(); }
  std::size_t ndim() const { return shape.size(); }
};

namespace detail {

[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("npy: " + path + ": " + what);
}

inline std::vector<char> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open file");
  f.seekg(0, std::ios::end);
  const std::streamoff n = f.tellg();
  if (n < 0) fail(path, "cannot determine file size");
  f.seekg(0, std::ios::beg);
  std::vector<char> buf(static_cast<std::size_t>(n));
  if (n > 0 && !f.read(buf.data(), n)) fail(path, "read error");
  return buf;
}

// Value of `key` in the header dict text, e.g. "'<f4'" or "(2, 3)" or "False".
inline std::string dict_value(const std::string& path, const std::string& dict,
                              const std::string& key) {
  const std::string k = "'" + key + "'";
  std::size_t p = dict.find(k);
  if (p == std::string::npos) fail(path, "header has no " + k);
  p = dict.find(':', p + k.size());
  if (p == std::string::npos) fail(path, "header: no ':' after " + k);
  ++p;
  while (p < dict.size() && dict[p] == ' ') ++p;
  if (p >= dict.size()) fail(path, "header: no value for " + k);
  std::size_t e;
  if (dict[p] == '\'') {
    e = dict.find('\'', p + 1);
    if (e == std::string::npos) fail(path, "header: unterminated string for " + k);
    return dict.substr(p + 1, e - p - 1);
  }
  if (dict[p] == '(') {
    e = dict.find(')', p);
    if (e == std::string::npos) fail(path, "header: unterminated tuple for " + k);
    return dict.substr(p, e - p + 1);
  }
  e = dict.find_first_of(",}", p);
  if (e == std::string::npos) fail(path, "header: unterminated value for " + k);
  std::string v = dict.substr(p, e - p);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

inline std::vector<std::size_t> parse_shape(const std::string& path, const std::string& t) {
  std::vector<std::size_t> shape;
  std::size_t i = 1;  // skip '('
  while (i < t.size()) {
    while (i < t.size() && (t[i] == ' ' || t[i] == ',')) ++i;
    if (i >= t.size() || t[i] == ')') break;
    if (t[i] < '0' || t[i] > '9') fail(path, "bad shape " + t);
    std::size_t v = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      const std::size_t d = static_cast<std::size_t>(t[i] - '0');
      if (v > (SIZE_MAX - d) / 10) fail(path, "shape value too large in " + t);
      v = v * 10 + d;
      ++i;
    }
    shape.push_back(v);
  }
  return shape;
}

template <typename T>
const char* descr_for() {
  if (std::is_same<T, float>::value) return "<f4";
  if (std::is_same<T, std::uint8_t>::value) return "|u1";
  if (std::is_same<T, std::int64_t>::value) return "<i8";
  if (std::is_same<T, std::int32_t>::value) return "<i4";
  return nullptr;
}

inline Header parse_header(const std::string& path, const std::vector<char>& buf) {
  static const char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
  if (buf.size() < 10 || std::memcmp(buf.data(), kMagic, 6) != 0)
    fail(path, "not a .npy file (bad magic)");
  const unsigned major = static_cast<unsigned char>(buf[6]);
  std::size_t len = 0, start = 0;
  if (major == 1) {
    len = static_cast<unsigned char>(buf[8]) | (static_cast<unsigned char>(buf[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (buf.size() < 12) fail(path, "truncated header");
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(buf[8 + i]);
    start = 12;
  } else {
    fail(path, "unsupported .npy format version " + std::to_string(major));
  }
  if (start + len > buf.size()) fail(path, "truncated header");
  const std::string dict(buf.data() + start, len);
  Header h;
  h.descr = dict_value(path, dict, "descr");
  if (dict_value(path, dict, "fortran_order") != "False")
    fail(path, "Fortran-order arrays are not supported");
  h.shape = parse_shape(path, dict_value(path, dict, "shape"));
  h.data_offset = start + len;
  return h;
}

}  // namespace detail

inline Header read_header(const std::string& path) {
  return detail::parse_header(path, detail::read_all(path));
}

// Loads an array whose dtype must be exactly T's ('<u1' is accepted for uint8).
template <typename T>
Array<T> load(const std::string& path) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, std::uint8_t>::value ||
                    std::is_same<T, std::int64_t>::value || std::is_same<T, std::int32_t>::value,
                "npy::load supports float, uint8_t, int32_t and int64_t");
  const std::vector<char> buf = detail::read_all(path);
  const Header h = detail::parse_header(path, buf);
  const std::string want = detail::descr_for<T>();
  const bool ok = h.descr == want || (want == "|u1" && h.descr == "<u1");
  if (!ok) detail::fail(path, "dtype is '" + h.descr + "', expected '" + want + "'");
  const std::size_t n = h.count();
  if (n != 0 && sizeof(T) > SIZE_MAX / n) detail::fail(path, "array too large");
  if (buf.size() - h.data_offset != n * sizeof(T))
    detail::fail(path, "data is " + std::to_string(buf.size() - h.data_offset) +
                           " bytes, shape needs " + std::to_string(n * sizeof(T)));
  Array<T> a;
  a.shape = h.shape;
  a.data.resize(n);
  if (!gemma3::detail::is_little_endian()) detail::fail(path, "big-endian hosts are not supported");
  if (n) std::memcpy(a.data.data(), buf.data() + h.data_offset, n * sizeof(T));
  return a;
}

}  // namespace npy
