// gemma3/model_file_format.hpp — the gemma3 model file format: its constants,
// the bounds-checked byte reader and writer, and the config entries. The
// reader (model_file.hpp) and the writer (model_writer.hpp) share them.
//
// docs/format.md describes the bytes; in short (all little-endian):
//
//   [0, 64)            header: magic "GEMMA3MF", version, weight type, sizes,
//                      counts, CRC-32 of header + metadata
//   [64, 64+meta_size) metadata: config entries, tokenizer, chat template,
//                      tensor table (name, type, shape, offset, size, CRC-32)
//   [data_offset, end) tensor data, each tensor at a 64-byte aligned offset
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/error.hpp"

namespace gemma3 {

// ---- format constants (docs/format.md) ---------------------------------------

constexpr char kModelMagic[8] = {'G', 'E', 'M', 'M', 'A', '3', 'M', 'F'};
// Version 2: q8 and q4 are quantized as ggml's Q8_0 and Q4_0 (q4 codes now
// span [−8, 7], signed scales). The bytes mean what they meant in version 1,
// whose codes are a subset, so version-1 files still load unchanged.
constexpr uint32_t kModelFormatVersion = 2;
constexpr uint32_t kOldestReadableVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kTensorAlign = 64;
// Limits a reader enforces (a file beyond them is rejected as corrupt).
constexpr uint32_t kMaxConfigEntries = 1024;
constexpr uint32_t kMaxPieces = 1u << 24;
constexpr uint32_t kMaxTensors = 1u << 20;
constexpr uint32_t kMaxPieceBytes = 1u << 16;
constexpr uint32_t kMaxChatTemplateBytes = 1u << 24;
constexpr uint32_t kMaxNameBytes = 1024;
constexpr uint32_t kMaxDims = 4;

// Config value kinds.
enum class ConfigKind : uint8_t { Int = 0, Float = 1, Bool = 2, IntList = 3, BoolList = 4 };

namespace detail {

// Bounds-checked little-endian reader over [p, end); errors name the file and
// the section being read.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, std::string where)
      : p_(p), n_(n), where_(std::move(where)) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }
  void need(size_t k, const std::string& what) const {
    if (k > remaining())
      throw Error(where_ + ": truncated " + what + " (needs " + std::to_string(k) +
                  " bytes at metadata offset " + std::to_string(pos_) + ", " +
                  std::to_string(remaining()) + " left)");
  }
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string bytes(size_t k, const std::string& what) {
    need(k, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), k);
    pos_ += k;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string where_;
};

class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    const size_t at = buf.size();
    buf.resize(at + sizeof(T));
    std::memcpy(buf.data() + at, &v, sizeof(T));
  }
  void bytes(const std::string& s) { buf.insert(buf.end(), s.begin(), s.end()); }
  std::vector<uint8_t> buf;
};

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats expected");

// Serialises the config as typed entries (keys of for_each_config_field).
inline void write_config(ByteWriter& w, const ModelConfig& cfg, uint32_t& count) {
  count = 0;
  auto key = [&](const std::string& k, ConfigKind kind) {
    w.put<uint16_t>(uint16_t(k.size()));
    w.bytes(k);
    w.put<uint8_t>(uint8_t(kind));
    ++count;
  };
  struct Visitor {
    ByteWriter& w;
    decltype(key)& k;
    void operator()(const std::string& n, const int& v) {
      k(n, ConfigKind::Int);
      w.put<int64_t>(v);
    }
    void operator()(const std::string& n, const double& v) {
      k(n, ConfigKind::Float);
      w.put<double>(v);
    }
    void operator()(const std::string& n, const float& v) {
      k(n, ConfigKind::Float);
      w.put<double>(v);
    }
    void operator()(const std::string& n, const bool& v) {
      k(n, ConfigKind::Bool);
      w.put<uint8_t>(v ? 1 : 0);
    }
    void operator()(const std::string& n, const std::vector<int>& v) {
      k(n, ConfigKind::IntList);
      w.put<uint32_t>(uint32_t(v.size()));
      for (int x : v) w.put<int64_t>(x);
    }
    void operator()(const std::string& n, const std::vector<bool>& v) {
      k(n, ConfigKind::BoolList);
      w.put<uint32_t>(uint32_t(v.size()));
      for (bool x : v) w.put<uint8_t>(x ? 1 : 0);
    }
  };
  for_each_config_field(cfg, Visitor{w, key});
}

// Parses `count` config entries into a ModelConfig. Every key of
// for_each_config_field must appear exactly once with its kind; unknown keys
// are rejected (a new field means a new format version).
inline ModelConfig read_config(ByteReader& r, uint32_t count, const std::string& where) {
  struct Raw {
    ConfigKind kind = ConfigKind::Int;
    int64_t i = 0;
    double f = 0;
    std::vector<int64_t> list;
  };
  std::map<std::string, Raw> raw;
  for (uint32_t e = 0; e < count; ++e) {
    const std::string what = "config entry " + std::to_string(e);
    const uint16_t klen = r.get<uint16_t>(what);
    if (klen == 0 || klen > 256)
      throw Error(where + ": " + what + ": bad key length " + std::to_string(klen));
    std::string k = r.bytes(klen, what + " key");
    const uint8_t kind = r.get<uint8_t>(what);
    Raw v;
    switch (kind) {
      case uint8_t(ConfigKind::Int): v.i = r.get<int64_t>(k); break;
      case uint8_t(ConfigKind::Float): v.f = r.get<double>(k); break;
      case uint8_t(ConfigKind::Bool): v.i = r.get<uint8_t>(k); break;
      case uint8_t(ConfigKind::IntList):
      case uint8_t(ConfigKind::BoolList): {
        const uint32_t n = r.get<uint32_t>(k);
        const size_t elem = kind == uint8_t(ConfigKind::IntList) ? 8 : 1;
        r.need(size_t(n) * elem, "config " + k);  // bounds the allocation by the file
        v.list.resize(n);
        for (auto& x : v.list) x = elem == 8 ? r.get<int64_t>(k) : int64_t(r.get<uint8_t>(k));
        break;
      }
      default:
        throw Error(where + ": config " + k + ": unknown value kind " + std::to_string(kind));
    }
    v.kind = ConfigKind(kind);
    if (!raw.emplace(k, std::move(v)).second)
      throw Error(where + ": config " + k + ": duplicate key");
  }
  ModelConfig cfg;
  size_t used = 0;
  auto take = [&](const std::string& k, ConfigKind kind) -> const Raw& {
    auto it = raw.find(k);
    if (it == raw.end()) throw Error(where + ": config " + k + ": missing");
    if (it->second.kind != kind) throw Error(where + ": config " + k + ": wrong value kind");
    ++used;
    return it->second;
  };
  auto to_int = [&](const std::string& k, int64_t x) {
    if (x < INT32_MIN || x > INT32_MAX)
      throw Error(where + ": config " + k + ": value out of int range");
    return int(x);
  };
  auto to_bool = [&](const std::string& k, int64_t x) {
    if (x != 0 && x != 1) throw Error(where + ": config " + k + ": bool is neither 0 nor 1");
    return x == 1;
  };
  struct Visitor {
    decltype(take)& t;
    decltype(to_int)& ti;
    decltype(to_bool)& tb;
    void operator()(const std::string& n, int& v) { v = ti(n, t(n, ConfigKind::Int).i); }
    void operator()(const std::string& n, double& v) { v = t(n, ConfigKind::Float).f; }
    void operator()(const std::string& n, float& v) { v = float(t(n, ConfigKind::Float).f); }
    void operator()(const std::string& n, bool& v) { v = tb(n, t(n, ConfigKind::Bool).i); }
    void operator()(const std::string& n, std::vector<int>& v) {
      v.clear();
      for (int64_t x : t(n, ConfigKind::IntList).list) v.push_back(ti(n, x));
    }
    void operator()(const std::string& n, std::vector<bool>& v) {
      v.clear();
      for (int64_t x : t(n, ConfigKind::BoolList).list) v.push_back(tb(n, x));
    }
  };
  for_each_config_field(cfg, Visitor{take, to_int, to_bool});
  if (used != raw.size()) {
    ModelConfig probe;
    std::map<std::string, int> known;
    for_each_config_field(probe, [&](const std::string& n, auto&) { known[n] = 1; });
    for (const auto& kv : raw)
      if (!known.count(kv.first)) throw Error(where + ": config " + kv.first + ": unknown key");
  }
  return cfg;
}

inline std::string shape_str(const std::vector<uint64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace detail

}  // namespace gemma3
