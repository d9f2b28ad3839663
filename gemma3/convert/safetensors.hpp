// gemma3/convert/safetensors.hpp — reading Hugging Face safetensors checkpoints.
//
// Layout (spec §2.1): u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}},
// then the data; offsets are relative to the first byte after the header.
// Everything read from the file is checked before use (this parser is fuzzed):
// header length vs file size, JSON shape of every entry, dtype known,
// byte size == element count × dtype size, offsets inside the data, no two
// tensors overlapping, no duplicate names.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gemma3/detail/endian.hpp"
#include "gemma3/detail/file_util.hpp"
#include "gemma3/json.hpp"
#include "gemma3/detail/mmap.hpp"
#include "gemma3/error.hpp"
#include "gemma3/tensor.hpp"

namespace gemma3::convert {

constexpr uint64_t kMaxSafetensorsHeader = uint64_t(100) << 20;  // as the safetensors crate

struct StTensor {
  std::string name;
  std::string dtype;  // "BF16", "F16", "F32", ...
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // absolute byte range in the shard file
  size_t shard = 0;             // index into SafetensorsCheckpoint::shards()
  uint64_t numel() const {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
  }
};

// Element size of a safetensors dtype, 0 if the name is not one.
inline size_t st_dtype_size(const std::string& d) {
  static const std::pair<const char*, size_t> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  for (const auto& s : kSizes)
    if (d == s.first) return s.second;
  return 0;
}

// Parses and validates the header of a safetensors file held in [data, data+size).
// `what` names the file in errors. Offsets in the result are absolute.
inline std::vector<StTensor> parse_safetensors(const uint8_t* data, size_t size,
                                               const std::string& what) {
  detail::require_little_endian(what);  // read_f32 copies F32 data as host-order floats
  if (size < 8)
    throw Error(what + ": not a safetensors file (" + std::to_string(size) +
                " bytes, no header length)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxSafetensorsHeader)
    throw Error(what + ": safetensors header length " + std::to_string(n) +
                " is implausibly large");
  if (n > size - 8)
    throw Error(what + ": safetensors header length " + std::to_string(n) + " exceeds the file (" +
                std::to_string(size) + " bytes; truncated?)");
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;
  const std::string hw = what + ": safetensors header";
  const json::Value root =
      json::parse(std::string_view(reinterpret_cast<const char*>(data + 8), size_t(n)), hw);
  if (!root.is_object()) throw Error(hw + ": expected a JSON object, got " + root.type_name());
  std::vector<StTensor> out;
  std::map<std::string, int> seen;
  for (const auto& kv : root.as_object()) {
    const std::string& name = kv.first;
    if (!seen.emplace(name, 1).second)
      throw Error(hw + ": tensor \"" + name + "\" is listed twice");
    if (name == "__metadata__") {
      if (!kv.second.is_object()) throw Error(hw + ": __metadata__ must be an object");
      continue;
    }
    const std::string tw = hw + ": tensor \"" + name + "\"";
    const json::Value& e = kv.second;
    if (!e.is_object()) throw Error(tw + ": expected an object");
    StTensor t;
    t.name = name;
    t.dtype = json::get_string(e, "dtype", tw);
    const size_t esize = st_dtype_size(t.dtype);
    if (esize == 0) throw Error(tw + ": unknown dtype \"" + t.dtype + "\"");
    const auto& shape = json::get(e, "shape", tw).as_array(tw + ".shape");
    if (shape.size() > 8)
      throw Error(tw + ": rank " + std::to_string(shape.size()) + " is too large");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      const int64_t v = d.as_int(tw + ".shape");
      if (v < 0 || v > (int64_t(1) << 40)) throw Error(tw + ": bad dimension " + std::to_string(v));
      t.shape.push_back(uint64_t(v));
      if (v != 0 && numel > (uint64_t(1) << 42) / uint64_t(v))
        throw Error(tw + ": too many elements");
      numel *= uint64_t(v);
    }
    const auto& offs = json::get(e, "data_offsets", tw).as_array(tw + ".data_offsets");
    if (offs.size() != 2) throw Error(tw + ": data_offsets must hold two numbers");
    const int64_t b = offs[0].as_int(tw + ".data_offsets"),
                  en = offs[1].as_int(tw + ".data_offsets");
    if (b < 0 || en < b)
      throw Error(tw + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                  ") are invalid");
    if (uint64_t(en) > data_size)
      throw Error(tw + ": data_offsets end " + std::to_string(en) + " lies beyond the data (" +
                  std::to_string(data_size) + " bytes; truncated file?)");
    if (uint64_t(en - b) != numel * esize)
      throw Error(tw + ": " + std::to_string(en - b) + " data bytes do not match " + t.dtype +
                  " shape (" + std::to_string(numel * esize) + " bytes expected)");
    t.begin = data_start + uint64_t(b);
    t.end = data_start + uint64_t(en);
    out.push_back(std::move(t));
  }
  std::vector<const StTensor*> order;
  for (const auto& t : out) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const StTensor* a, const StTensor* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i]->begin < order[i - 1]->end && order[i]->begin != order[i]->end)
      throw Error(hw + ": tensors \"" + order[i - 1]->name + "\" and \"" + order[i]->name +
                  "\" overlap");
  return out;
}

// A checkpoint: model.safetensors, or the shards of model.safetensors.index.json.
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open_dir(const std::string& dir) {
    SafetensorsCheckpoint c;
    const std::string single = dir + "/model.safetensors";
    const std::string index = dir + "/model.safetensors.index.json";
    if (detail::file_exists(index)) {
      const json::Value root = json::parse(detail::read_file_bytes(index), index);
      const json::Value& map = json::get(root, "weight_map", index);
      if (!map.is_object()) throw Error(index + ": weight_map must be an object");
      std::map<std::string, std::string> where;  // tensor -> shard file
      std::map<std::string, size_t> shard_ids;
      for (const auto& kv : map.as_object()) {
        const std::string& shard =
            kv.second.as_string(index + ": weight_map[\"" + kv.first + "\"]");
        if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
          throw Error(index + ": weight_map[\"" + kv.first + "\"]: bad shard file name \"" + shard +
                      "\"");
        if (!where.emplace(kv.first, shard).second)
          throw Error(index + ": tensor \"" + kv.first + "\" listed twice");
        if (!shard_ids.count(shard)) {
          shard_ids[shard] = c.shards_.size();
          c.shards_.push_back(detail::MappedFile::open(dir + "/" + shard));
        }
      }
      for (size_t s = 0; s < c.shards_.size(); ++s) c.add_shard(s);
      for (const auto& kv : where) {
        auto it = c.index_.find(kv.first);
        if (it == c.index_.end() ||
            c.shards_[c.tensors_[it->second].shard].path() != dir + "/" + kv.second)
          throw Error(index + ": tensor \"" + kv.first + "\" is not in shard " + kv.second);
      }
      if (c.tensors_.size() != where.size()) {
        for (const auto& t : c.tensors_)
          if (!where.count(t.name))
            throw Error(c.shards_[t.shard].path() + ": tensor \"" + t.name +
                        "\" is not listed in " + index);
      }
    } else if (detail::file_exists(single)) {
      c.shards_.push_back(detail::MappedFile::open(single));
      c.add_shard(0);
    } else {
      throw Error(dir + ": no model.safetensors or model.safetensors.index.json");
    }
    return c;
  }

  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::vector<detail::MappedFile>& shards() const { return shards_; }
  const StTensor* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const std::string& shard_path(const StTensor& t) const { return shards_[t.shard].path(); }
  const uint8_t* bytes(const StTensor& t) const { return shards_[t.shard].data() + t.begin; }

  // Elements [first, first+n) of t, converted to f32 (BF16, F16, F32 only).
  void read_f32(const StTensor& t, uint64_t first, size_t n, float* out) const {
    if (first + n > t.numel())
      throw Error(shard_path(t) + ": tensor " + t.name + ": read past its end");
    const uint8_t* p = bytes(t);
    if (t.dtype == "F32") {
      std::memcpy(out, p + first * 4, n * 4);
    } else if (t.dtype == "BF16" || t.dtype == "F16") {
      const bool bf = t.dtype == "BF16";
      p += first * 2;
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = uint16_t(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
      }
    } else {
      throw Error(shard_path(t) + ": tensor " + t.name + ": unsupported dtype " + t.dtype +
                  " (need BF16, F16 or F32)");
    }
  }

 private:
  void add_shard(size_t s) {
    const detail::MappedFile& m = shards_[s];
    for (StTensor& t : parse_safetensors(m.data(), m.size(), m.path())) {
      t.shard = s;
      if (!index_.emplace(t.name, tensors_.size()).second)
        throw Error(m.path() + ": tensor \"" + t.name + "\" also appears in another shard");
      tensors_.push_back(std::move(t));
    }
  }
  std::vector<detail::MappedFile> shards_;
  std::vector<StTensor> tensors_;
  std::map<std::string, size_t> index_;
};

}  // namespace gemma3::convert
