// gemma3/model_file.hpp — the gemma3 model file: one mmap-able file holding
// the resolved config, the tokenizer, the chat template and every tensor.
//
// docs/format.md describes the bytes; in short (all little-endian):
//
//   [0, 64)            header: magic "GEMMA3MF", version, weight type, sizes,
//                      counts, CRC-32 of header + metadata
//   [64, 64+meta_size) metadata: config entries, tokenizer, chat template,
//                      tensor table (name, type, shape, offset, size, CRC-32)
//   [data_offset, end) tensor data, each tensor at a 64-byte aligned offset
//
// ModelFile::open() maps the file and validates everything before handing
// out a pointer; ModelWriter streams a new file tensor by tensor.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/detail/crc32.hpp"
#include "gemma3/detail/endian.hpp"
#include "gemma3/detail/mmap.hpp"
#include "gemma3/error.hpp"
#include "gemma3/quant.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/tokenizer_types.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

// ---- format constants (docs/format.md) ---------------------------------------

constexpr char kModelMagic[8] = {'G', 'E', 'M', 'M', 'A', '3', 'M', 'F'};
constexpr uint32_t kModelFormatVersion = 1;
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

struct LoadOptions {
  bool verify_data = false;  // also check every tensor's CRC-32 (reads the whole file)
};

struct TensorEntry {
  std::string name;
  WeightType type = WeightType::F32;
  std::vector<uint64_t> shape;
  uint64_t offset = 0;  // absolute, in the file
  uint64_t size = 0;    // bytes
  uint32_t crc32 = 0;   // of the `size` data bytes
  const uint8_t* data = nullptr;  // into the mapping
};

// Special ids of the tokenizer section (-1 = none).
struct TokenizerIds {
  int32_t bos = -1, eos = -1, pad = -1, unk = -1;
};

// The ids of the pieces named by the options' bos/eos/pad/unk piece texts.
inline TokenizerIds find_special_ids(const TokenizerData& t) {
  TokenizerIds ids;
  for (size_t i = 0; i < t.pieces.size(); ++i) {
    const std::string& s = t.pieces[i].text;
    const int32_t id = int32_t(i);
    if (s == t.options.bos_piece && ids.bos < 0) ids.bos = id;
    if (s == t.options.eos_piece && ids.eos < 0) ids.eos = id;
    if (s == t.options.pad_piece && ids.pad < 0) ids.pad = id;
    if (s == t.options.unk_piece && ids.unk < 0) ids.unk = id;
  }
  return ids;
}

namespace detail {

// Bounds-checked little-endian reader over [p, end); errors name the file and
// the section being read.
class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n, std::string where) : p_(p), n_(n), where_(std::move(where)) {}
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
    void operator()(const std::string& n, const int& v) { k(n, ConfigKind::Int); w.put<int64_t>(v); }
    void operator()(const std::string& n, const double& v) { k(n, ConfigKind::Float); w.put<double>(v); }
    void operator()(const std::string& n, const float& v) { k(n, ConfigKind::Float); w.put<double>(v); }
    void operator()(const std::string& n, const bool& v) { k(n, ConfigKind::Bool); w.put<uint8_t>(v ? 1 : 0); }
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
    if (klen == 0 || klen > 256) throw Error(where + ": " + what + ": bad key length " + std::to_string(klen));
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
      default: throw Error(where + ": config " + k + ": unknown value kind " + std::to_string(kind));
    }
    v.kind = ConfigKind(kind);
    if (!raw.emplace(k, std::move(v)).second) throw Error(where + ": config " + k + ": duplicate key");
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
    if (x < INT32_MIN || x > INT32_MAX) throw Error(where + ": config " + k + ": value out of int range");
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

// ---- reader -----------------------------------------------------------------------

class ModelFile {
 public:
  // Maps and validates `path`; throws gemma3::Error naming the file and the
  // field or tensor at fault.
  static ModelFile open(const std::string& path, LoadOptions opts = {});

  const std::string& path() const { return map_.path(); }
  size_t file_size() const { return map_.size(); }
  uint32_t format_version() const { return version_; }
  const ModelConfig& config() const { return config_; }
  WeightType weight_type() const { return weight_type_; }
  const std::vector<Piece>& tokenizer_pieces() const { return tokenizer_.pieces; }
  const TokenizerData& tokenizer_data() const { return tokenizer_; }
  const TokenizerIds& tokenizer_ids() const { return tokenizer_ids_; }
  const std::string& chat_template() const { return chat_template_; }
  const std::vector<TensorEntry>& tensors() const { return tensors_; }

  const TensorEntry* find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  // A stored matrix (any type); throws if absent or not 2-D.
  MatView matrix(std::string_view name) const {
    const TensorEntry& t = require(name);
    if (t.shape.size() != 2) throw Error(path() + ": tensor " + t.name + " is not a matrix");
    MatView m;
    m.type = t.type;
    m.rows = size_t(t.shape[0]);
    m.cols = size_t(t.shape[1]);
    m.data = t.data;
    return m;
  }
  // A stored f32 tensor of exactly `count` elements.
  const float* f32(std::string_view name, size_t count) const {
    const TensorEntry& t = require(name);
    if (t.type != WeightType::F32)
      throw Error(path() + ": tensor " + t.name + " is " + weight_type_name(t.type) + ", expected f32");
    if (element_count(t.shape) != count)
      throw Error(path() + ": tensor " + t.name + " has " + std::to_string(element_count(t.shape)) +
                  " elements, expected " + std::to_string(count));
    return reinterpret_cast<const float*>(t.data);  // 64-byte aligned in the mapping
  }

  // Recomputes every tensor's CRC-32; throws on the first mismatch.
  // release_pages: drop each tensor's pages after checking it (keeps RSS
  // small when only verifying, as gemma3-convert does).
  void verify_data(bool release_pages = false) const {
    for (const TensorEntry& t : tensors_) {
      const uint32_t c = detail::crc32(t.data, size_t(t.size));
      if (release_pages) map_.advise_done(size_t(t.offset), size_t(t.size));
      if (c != t.crc32)
        throw Error(path() + ": tensor " + t.name + ": data checksum mismatch (file damaged or tampered)");
    }
  }

 private:
  const TensorEntry& require(std::string_view name) const {
    const TensorEntry* t = find(name);
    if (t == nullptr) throw Error(path() + ": tensor " + std::string(name) + " not found");
    return *t;
  }
  void validate_tensors();

  detail::MappedFile map_;
  uint32_t version_ = 0;
  ModelConfig config_;
  WeightType weight_type_ = WeightType::F32;
  TokenizerData tokenizer_;
  TokenizerIds tokenizer_ids_;
  std::string chat_template_;
  std::vector<TensorEntry> tensors_;
  uint64_t data_offset_ = 0, meta_size_ = 0;
  std::map<std::string, size_t, std::less<>> index_;
};

inline ModelFile ModelFile::open(const std::string& path, LoadOptions opts) {
  detail::require_little_endian(path);  // ByteReader and the tensor data are host-order memcpy
  ModelFile mf;
  mf.map_ = detail::MappedFile::open(path);
  const uint8_t* base = mf.map_.data();
  const size_t fsize = mf.map_.size();
  auto fail = [&](const std::string& what) -> Error { return Error(path + ": " + what); };

  // -- header
  if (fsize < kHeaderSize)
    throw fail("not a gemma3 model file (" + std::to_string(fsize) + " bytes, shorter than the header)");
  if (std::memcmp(base, kModelMagic, 8) != 0)
    throw fail("not a gemma3 model file (bad magic; convert a checkpoint with gemma3-convert)");
  detail::ByteReader h(base, kHeaderSize, path + ": header");
  h.bytes(8, "magic");
  mf.version_ = h.get<uint32_t>("version");
  const uint32_t wtype = h.get<uint32_t>("weight_type");
  const uint64_t hdr_file_size = h.get<uint64_t>("file_size");
  const uint64_t meta_size = h.get<uint64_t>("meta_size");
  const uint64_t data_offset = h.get<uint64_t>("data_offset");
  const uint32_t n_config = h.get<uint32_t>("config_count");
  const uint32_t n_pieces = h.get<uint32_t>("piece_count");
  const uint32_t n_tensors = h.get<uint32_t>("tensor_count");
  const uint32_t flags = h.get<uint32_t>("flags");
  const uint32_t meta_crc = h.get<uint32_t>("meta_crc32");
  const uint32_t reserved = h.get<uint32_t>("reserved");
  if (mf.version_ != kModelFormatVersion)
    throw fail("unsupported format version " + std::to_string(mf.version_) + " (this reader reads version " +
               std::to_string(kModelFormatVersion) + ")");
  if (hdr_file_size != fsize)
    throw fail("header says " + std::to_string(hdr_file_size) + " bytes but the file has " +
               std::to_string(fsize) + " (truncated or extended)");
  if (meta_size > fsize - kHeaderSize) throw fail("header field meta_size " + std::to_string(meta_size) + " exceeds the file");
  if (data_offset != align_up(kHeaderSize + size_t(meta_size), kTensorAlign) || data_offset > fsize)
    throw fail("header field data_offset " + std::to_string(data_offset) + " is inconsistent with meta_size");
  uint32_t crc = detail::crc32(base, 56);
  crc = detail::crc32(base + kHeaderSize, size_t(meta_size), crc);
  mf.data_offset_ = data_offset;
  mf.meta_size_ = meta_size;
  if (crc != meta_crc) throw fail("header/metadata checksum mismatch (file damaged or tampered)");
  // Checked after the CRC so a flipped bit is reported as damage, not as a strange value.
  if (flags != 0 || reserved != 0) throw fail("header flags/reserved fields are not zero");
  if (wtype > uint32_t(WeightType::Q4)) throw fail("header field weight_type " + std::to_string(wtype) + " is unknown");
  mf.weight_type_ = WeightType(wtype);
  if (n_config > kMaxConfigEntries) throw fail("header field config_count " + std::to_string(n_config) + " is too large");
  if (n_pieces > kMaxPieces) throw fail("header field piece_count " + std::to_string(n_pieces) + " is too large");
  if (n_tensors > kMaxTensors) throw fail("header field tensor_count " + std::to_string(n_tensors) + " is too large");

  detail::ByteReader r(base + kHeaderSize, size_t(meta_size), path);
  // -- config
  mf.config_ = detail::read_config(r, n_config, path);
  detail::validate_config(mf.config_, path);
  // -- tokenizer: options, special ids, pieces. Each piece takes >= 9
  //    bytes, so the allocation below is bounded by the file size.
  TokenizerOptions& o = mf.tokenizer_.options;
  const uint8_t tflags = r.get<uint8_t>("tokenizer options");
  if (tflags >= 32) throw fail("tokenizer option flags " + std::to_string(tflags) + " has unknown bits");
  o.add_dummy_prefix = tflags & 1;
  o.remove_extra_whitespaces = tflags & 2;
  o.escape_whitespaces = tflags & 4;
  o.treat_whitespace_as_suffix = tflags & 8;
  o.byte_fallback = tflags & 16;
  for (std::string* str : {&o.unk_surface, &o.unk_piece, &o.bos_piece, &o.eos_piece, &o.pad_piece}) {
    const uint32_t len = r.get<uint32_t>("tokenizer options");
    if (len > kMaxPieceBytes) throw fail("tokenizer option string too long");
    *str = r.bytes(len, "tokenizer options");
  }
  TokenizerIds& ids = mf.tokenizer_ids_;
  ids.bos = r.get<int32_t>("tokenizer ids");
  ids.eos = r.get<int32_t>("tokenizer ids");
  ids.pad = r.get<int32_t>("tokenizer ids");
  ids.unk = r.get<int32_t>("tokenizer ids");
  r.need(size_t(n_pieces) * 9, "tokenizer pieces");
  std::vector<Piece>& pieces = mf.tokenizer_.pieces;
  pieces.resize(n_pieces);
  for (uint32_t i = 0; i < n_pieces; ++i) {
    const std::string what = "tokenizer piece " + std::to_string(i);
    const uint32_t len = r.get<uint32_t>(what);
    if (len > kMaxPieceBytes) throw fail(what + ": length " + std::to_string(len) + " is too large");
    Piece& p = pieces[i];
    p.text = r.bytes(len, what);
    p.score = r.get<float>(what);
    const uint8_t type = r.get<uint8_t>(what);
    if (type < uint8_t(PieceType::Normal) || type > uint8_t(PieceType::Byte))
      throw fail(what + ": unknown piece type " + std::to_string(type));
    p.type = PieceType(type);
  }
  for (int32_t id : {ids.bos, ids.eos, ids.pad, ids.unk})
    if (id < -1 || id >= int64_t(n_pieces)) throw fail("tokenizer special id " + std::to_string(id) + " is out of range");
  if (int64_t(n_pieces) > mf.config_.text.vocab_size)
    throw fail("tokenizer has " + std::to_string(n_pieces) + " pieces, more than vocab_size " +
               std::to_string(mf.config_.text.vocab_size));
  // -- chat template
  const uint32_t tlen = r.get<uint32_t>("chat template");
  if (tlen > kMaxChatTemplateBytes) throw fail("chat template length " + std::to_string(tlen) + " is too large");
  mf.chat_template_ = r.bytes(tlen, "chat template");
  // -- tensor table (each entry >= 2+1+4+4+8+8+8+4 bytes)
  r.need(size_t(n_tensors) * 39, "tensor table");
  mf.tensors_.resize(n_tensors);
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const std::string what = "tensor table entry " + std::to_string(i);
    TensorEntry& t = mf.tensors_[i];
    const uint16_t nlen = r.get<uint16_t>(what);
    if (nlen == 0 || nlen > kMaxNameBytes) throw fail(what + ": bad name length " + std::to_string(nlen));
    t.name = r.bytes(nlen, what);
    const std::string tw = "tensor " + t.name;
    const uint32_t type = r.get<uint32_t>(tw);
    if (type > uint32_t(WeightType::Q4)) throw fail(tw + ": unknown type " + std::to_string(type));
    t.type = WeightType(type);
    const uint32_t ndim = r.get<uint32_t>(tw);
    if (ndim == 0 || ndim > kMaxDims) throw fail(tw + ": bad rank " + std::to_string(ndim));
    t.shape.resize(ndim);
    for (auto& d : t.shape) d = r.get<uint64_t>(tw);
    t.offset = r.get<uint64_t>(tw);
    t.size = r.get<uint64_t>(tw);
    t.crc32 = r.get<uint32_t>(tw);
  }
  if (r.remaining() != 0)
    throw fail(std::to_string(r.remaining()) + " unexplained bytes at the end of the metadata");
  mf.validate_tensors();
  if (opts.verify_data) mf.verify_data();
  return mf;
}

// Table entries against the file (bounds, alignment, overlap, size) and
// against the tensor table of the config (names, shapes, types).
inline void ModelFile::validate_tensors() {
  auto fail = [&](const std::string& what) -> Error { return Error(path() + ": " + what); };
  const uint64_t fsize = map_.size();
  std::vector<size_t> order;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TensorEntry& t = tensors_[i];
    const std::string tw = "tensor " + t.name;
    uint64_t numel = 1;
    for (uint64_t d : t.shape) {
      if (d == 0 || d > (uint64_t(1) << 32)) throw fail(tw + ": bad dimension in shape " + detail::shape_str(t.shape));
      numel *= d;
      if (numel > (uint64_t(1) << 40)) throw fail(tw + ": shape " + detail::shape_str(t.shape) + " is too large");
    }
    if (t.offset % kTensorAlign != 0) throw fail(tw + ": offset " + std::to_string(t.offset) + " is not 64-byte aligned");
    if (t.offset > fsize || t.size > fsize - t.offset)
      throw fail(tw + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.size) +
                 ") lies outside the file (" + std::to_string(fsize) + " bytes)");
    if (t.shape.size() != 2 && t.type != WeightType::F32)
      throw fail(tw + ": only matrices may be stored as " + weight_type_name(t.type));
    const uint64_t expect = tensor_bytes(t.type, t.shape);
    if (t.size != expect)
      throw fail(tw + ": size " + std::to_string(t.size) + " does not match " + weight_type_name(t.type) + " " +
                 detail::shape_str(t.shape) + " (" + std::to_string(expect) + " bytes)");
    if (!index_.emplace(t.name, i).second) throw fail(tw + ": listed twice in the tensor table");
    t.data = map_.data() + t.offset;
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  uint64_t prev_end = data_offset_;  // no tensor may reach into header/metadata
  std::string prev_name;
  // Gaps (alignment padding) must be zero: then every byte outside the tensor
  // data is covered by a check, and a flipped bit there is caught at load.
  auto zero_gap = [&](uint64_t from, uint64_t to, const std::string& after) {
    for (uint64_t p = from; p < to; ++p)
      if (map_.data()[p] != 0) throw fail("non-zero padding byte at offset " + std::to_string(p) + " after " + after);
  };
  zero_gap(kHeaderSize + meta_size_, std::min<uint64_t>(data_offset_, fsize), "the metadata");
  for (size_t i : order) {
    const TensorEntry& t = tensors_[i];
    if (t.offset < prev_end)
      throw fail("tensor " + t.name + " overlaps " + (prev_name.empty() ? std::string("the header/metadata") : "tensor " + prev_name));
    zero_gap(prev_end, t.offset, prev_name.empty() ? std::string("the metadata") : "tensor " + prev_name);
    prev_end = t.offset + t.size;
    prev_name = t.name;
  }
  if (prev_end != fsize) throw fail(std::to_string(fsize - prev_end) + " unexplained bytes after the last tensor");
  // Against the model's tensor table.
  const std::vector<TensorSpec> specs = tensor_table(config_);
  std::map<std::string, int, std::less<>> known;
  for (const TensorSpec& s : specs) known[s.name] = 1;
  for (const TensorEntry& t : tensors_)
    if (!known.count(t.name)) throw fail("unexpected tensor " + t.name + " (not part of this model's config)");
  for (const TensorSpec& s : specs) {
    const TensorEntry* t = find(s.name);
    if (t == nullptr) throw fail("missing tensor " + s.name);
    if (t->shape != s.shape)
      throw fail("tensor " + s.name + " has shape " + detail::shape_str(t->shape) + ", the config implies " +
                 detail::shape_str(s.shape));
    const WeightType want = storage_type(s, weight_type_);
    if (t->type != want)
      throw fail("tensor " + s.name + " is stored as " + weight_type_name(t->type) + ", expected " + weight_type_name(want));
  }
}

// ---- writer -----------------------------------------------------------------------

// Streams a model file: the table is computed up front from the config and
// weight type (tensor_table order), then the caller supplies each tensor's
// values in that order, as f32 (encoded here to the tensor's storage type)
// or as already-encoded bytes. The file is written to "<path>.tmp.XXXXXX" and
// renamed over <path> by finish(); if finish() is never reached (an
// exception, a missing tensor) the destructor removes the temp file.
class ModelWriter {
 public:
  ModelWriter(const std::string& path, const ModelConfig& cfg, WeightType type,
              const TokenizerData& tokenizer, const std::string& chat_template)
      : path_(path), type_(type), specs_(tensor_table(cfg)) {
    detail::require_little_endian(path);  // ByteWriter and write_f32 emit host byte order
    const std::vector<Piece>& pieces = tokenizer.pieces;
    const TokenizerIds ids = find_special_ids(tokenizer);
    detail::validate_config(cfg, path + " (config to write)");
    if (pieces.size() > kMaxPieces || int64_t(pieces.size()) > cfg.text.vocab_size)
      throw Error(path + ": " + std::to_string(pieces.size()) + " tokenizer pieces exceed vocab_size");
    if (chat_template.size() > kMaxChatTemplateBytes) throw Error(path + ": chat template too large");

    // Metadata, with the tensor CRCs as zeros to be patched in finish().
    detail::ByteWriter w;
    detail::write_config(w, cfg, n_config_);
    const TokenizerOptions& o = tokenizer.options;
    w.put<uint8_t>(uint8_t((o.add_dummy_prefix ? 1 : 0) | (o.remove_extra_whitespaces ? 2 : 0) |
                           (o.escape_whitespaces ? 4 : 0) | (o.treat_whitespace_as_suffix ? 8 : 0) |
                           (o.byte_fallback ? 16 : 0)));
    for (const std::string* str : {&o.unk_surface, &o.unk_piece, &o.bos_piece, &o.eos_piece, &o.pad_piece}) {
      if (str->size() > kMaxPieceBytes) throw Error(path + ": tokenizer option string too long");
      w.put<uint32_t>(uint32_t(str->size()));
      w.bytes(*str);
    }
    w.put<int32_t>(ids.bos);
    w.put<int32_t>(ids.eos);
    w.put<int32_t>(ids.pad);
    w.put<int32_t>(ids.unk);
    for (const Piece& p : pieces) {
      if (p.text.size() > kMaxPieceBytes) throw Error(path + ": tokenizer piece too long");
      w.put<uint32_t>(uint32_t(p.text.size()));
      w.bytes(p.text);
      w.put<float>(p.score);
      w.put<uint8_t>(uint8_t(p.type));
    }
    n_pieces_ = uint32_t(pieces.size());
    w.put<uint32_t>(uint32_t(chat_template.size()));
    w.bytes(chat_template);
    // Offsets: tensors back to back in table order, each 64-byte aligned.
    size_t table_bytes = 0;
    for (const TensorSpec& s : specs_) table_bytes += 2 + s.name.size() + 8 + 8 * s.shape.size() + 20;
    data_offset_ = align_up(kHeaderSize + w.buf.size() + table_bytes, kTensorAlign);
    uint64_t off = data_offset_;
    for (const TensorSpec& s : specs_) {
      const WeightType t = storage_type(s, type_);
      const uint64_t size = tensor_bytes(t, s.shape);
      w.put<uint16_t>(uint16_t(s.name.size()));
      w.bytes(s.name);
      w.put<uint32_t>(uint32_t(t));
      w.put<uint32_t>(uint32_t(s.shape.size()));
      for (uint64_t d : s.shape) w.put<uint64_t>(d);
      w.put<uint64_t>(off);
      w.put<uint64_t>(size);
      crc_pos_.push_back(w.buf.size());
      w.put<uint32_t>(0);
      offsets_.push_back(off);
      sizes_.push_back(size);
      off = align_up(off + size, kTensorAlign);
    }
    file_size_ = specs_.empty() ? data_offset_ : offsets_.back() + sizes_.back();
    meta_ = std::move(w.buf);
    crcs_.assign(specs_.size(), 0);

    // The temp file, next to the target so rename() is atomic.
    tmp_path_ = path + ".tmp.XXXXXX";
    fd_ = mkstemp(&tmp_path_[0]);
    if (fd_ < 0) throw Error(path + ": cannot create output file: " + std::strerror(errno));
    fchmod(fd_, 0644);
    buf_.reserve(kBuf);
    const std::vector<uint8_t> zeros(size_t(data_offset_), 0);  // header + metadata placeholder
    append(zeros.data(), zeros.size());
    pos_ = data_offset_;
    start_tensor();
  }
  ModelWriter(const ModelWriter&) = delete;
  ModelWriter& operator=(const ModelWriter&) = delete;
  ~ModelWriter() { discard(); }

  // The tensors in the order they must be written.
  const std::vector<TensorSpec>& specs() const { return specs_; }
  WeightType weight_type() const { return type_; }
  size_t current() const { return cur_; }  // index of the tensor being written
  uint64_t file_size() const { return file_size_; }

  // Appends n values of the current tensor. Matrix tensors take whole rows.
  void write_f32(const float* x, size_t n) {
    const TensorSpec& s = spec_now();
    const WeightType t = storage_type(s, type_);
    if (s.storage == StorageClass::Small || t == WeightType::F32) {
      write_bytes(x, n * 4);
      return;
    }
    const size_t cols = size_t(s.shape[1]);
    if (n % cols != 0) throw Error(path_ + ": tensor " + s.name + ": write_f32 needs whole rows");
    const size_t rows = n / cols;
    if (t == WeightType::BF16) {
      tmp_.resize(n * 2);
      uint16_t* o = reinterpret_cast<uint16_t*>(tmp_.data());
      for (size_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
      write_bytes(tmp_.data(), tmp_.size());
      return;
    }
    // Q8/Q4: quantize a block of rows; its values go out now, its scales are
    // kept until the last row (they follow all values, tensor.hpp).
    if (rows_done_ + rows > size_t(s.shape[0])) throw Error(path_ + ": tensor " + s.name + ": too many rows");
    tmp_.resize(matrix_bytes(t, rows, cols));
    quantize_matrix(t, x, rows, cols, tmp_.data());
    const size_t vbytes = rows * row_bytes(t, cols);
    const uint8_t* sc = tmp_.data() + scales_offset(t, rows, cols);
    scales_.insert(scales_.end(), sc, sc + rows * ((cols + kQuantGroup - 1) / kQuantGroup) * 2);
    put(tmp_.data(), vbytes);
    rows_done_ += rows;
    if (rows_done_ == size_t(s.shape[0])) {
      const size_t total_rows = size_t(s.shape[0]);
      const size_t pad = scales_offset(t, total_rows, cols) - total_rows * row_bytes(t, cols);
      const std::vector<uint8_t> zeros(pad, 0);
      put(zeros.data(), pad);
      std::vector<uint8_t> sc_all;
      sc_all.swap(scales_);
      put(sc_all.data(), sc_all.size());
    }
  }

  // Appends already-encoded bytes of the current tensor (its storage type).
  void write_bytes(const void* p, size_t n) {
    if (!scales_.empty() || rows_done_ != 0)
      throw Error(path_ + ": tensor " + spec_now().name + ": mixing write_f32 and write_bytes");
    put(static_cast<const uint8_t*>(p), n);
  }

  // Completes the file: header, metadata with CRCs, fsync, rename.
  void finish() {
    if (cur_ != specs_.size())
      throw Error(path_ + ": tensor " + specs_[cur_].name + " was not written (" + std::to_string(written_) +
                  " of " + std::to_string(sizes_[cur_]) + " bytes)");
    flush();
    for (size_t i = 0; i < crcs_.size(); ++i) std::memcpy(meta_.data() + crc_pos_[i], &crcs_[i], 4);
    detail::ByteWriter h;
    for (char c : kModelMagic) h.put<char>(c);
    h.put<uint32_t>(kModelFormatVersion);
    h.put<uint32_t>(uint32_t(type_));
    h.put<uint64_t>(file_size_);
    h.put<uint64_t>(meta_.size());
    h.put<uint64_t>(data_offset_);
    h.put<uint32_t>(n_config_);
    h.put<uint32_t>(n_pieces_);
    h.put<uint32_t>(uint32_t(specs_.size()));
    h.put<uint32_t>(0);  // flags
    uint32_t crc = detail::crc32(h.buf.data(), h.buf.size());
    crc = detail::crc32(meta_.data(), meta_.size(), crc);
    h.put<uint32_t>(crc);
    h.put<uint32_t>(0);  // reserved
    h.bytes(std::string(meta_.begin(), meta_.end()));
    pwrite_all(h.buf.data(), h.buf.size(), 0);
    if (fsync(fd_) != 0) throw Error(path_ + ": fsync failed: " + std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      ::unlink(tmp_path_.c_str());
      throw Error(path_ + ": close failed: " + std::strerror(errno));
    }
    if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp_path_.c_str());
      throw Error(path_ + ": cannot rename the finished file into place: " + std::strerror(e));
    }
  }

 private:
  static constexpr size_t kBuf = size_t(4) << 20;

  const TensorSpec& spec_now() const {
    if (cur_ >= specs_.size()) throw Error(path_ + ": all tensors are already written");
    return specs_[cur_];
  }
  void start_tensor() {
    written_ = 0;
    rows_done_ = 0;
    crc_ = 0;
    while (cur_ < specs_.size() && sizes_[cur_] == 0) ++cur_;  // (no empty tensors exist)
  }
  // Tensor bytes: checked against the table, CRC'd, padded to the next tensor.
  void put(const uint8_t* p, size_t n) {
    const TensorSpec& s = spec_now();
    if (written_ + n > sizes_[cur_])
      throw Error(path_ + ": tensor " + s.name + ": more data than its " + std::to_string(sizes_[cur_]) + " bytes");
    crc_ = detail::crc32(p, n, crc_);
    append(p, n);
    written_ += n;
    pos_ += n;
    if (written_ == sizes_[cur_]) {
      crcs_[cur_] = crc_;
      ++cur_;
      if (cur_ < specs_.size()) {
        const std::vector<uint8_t> zeros(size_t(offsets_[cur_] - pos_), 0);
        append(zeros.data(), zeros.size());
        pos_ = offsets_[cur_];
      }
      start_tensor();
    }
  }
  void append(const uint8_t* p, size_t n) {
    if (fd_ < 0) throw Error(path_ + ": writer is closed");
    while (n > 0) {
      const size_t k = std::min(n, kBuf - buf_.size());
      buf_.insert(buf_.end(), p, p + k);
      p += k;
      n -= k;
      if (buf_.size() == kBuf) flush();
    }
  }
  void flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t k = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) throw Error(path_ + ": write failed: " + std::strerror(k < 0 ? errno : EIO));
      done += size_t(k);
    }
    buf_.clear();
  }
  void pwrite_all(const uint8_t* p, size_t n, uint64_t at) {
    while (n > 0) {
      const ssize_t k = ::pwrite(fd_, p, n, off_t(at));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) throw Error(path_ + ": write failed: " + std::strerror(k < 0 ? errno : EIO));
      p += k;
      n -= size_t(k);
      at += uint64_t(k);
    }
  }
  void discard() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      ::unlink(tmp_path_.c_str());
    }
  }

  std::string path_, tmp_path_;
  WeightType type_;
  std::vector<TensorSpec> specs_;
  std::vector<uint64_t> offsets_, sizes_;
  std::vector<size_t> crc_pos_;
  std::vector<uint32_t> crcs_;
  std::vector<uint8_t> meta_, buf_, tmp_, scales_;
  uint32_t n_config_ = 0, n_pieces_ = 0;
  uint64_t data_offset_ = 0, file_size_ = 0, pos_ = 0, written_ = 0;
  size_t cur_ = 0, rows_done_ = 0;
  uint32_t crc_ = 0;
  int fd_ = -1;
};

// ---- binding ----------------------------------------------------------------------

inline Weights bind_weights(const ModelFile& f) {
  const ModelConfig& c = f.config();
  const size_t H = size_t(c.text.hidden_size), D = size_t(c.text.head_dim);
  auto mat = [&](const std::string& name, size_t rows, size_t cols) {
    MatView m = f.matrix(name);
    if (m.rows != rows || m.cols != cols || m.type != f.weight_type())
      throw Error(f.path() + ": tensor " + name + " has the wrong shape or type");
    return m;
  };
  Weights w;
  const size_t q = size_t(c.text.num_attention_heads) * D, kv = size_t(c.text.num_key_value_heads) * D;
  const size_t F = size_t(c.text.intermediate_size);
  w.text.embed_tokens = mat("language_model.embed_tokens.weight", size_t(c.text.vocab_size), H);
  for (int i = 0; i < c.text.num_hidden_layers; ++i) {
    const std::string p = "language_model.layers." + std::to_string(i) + ".";
    DecoderLayerWeights L;
    L.q_proj = mat(p + "self_attn.q_proj.weight", q, H);
    L.k_proj = mat(p + "self_attn.k_proj.weight", kv, H);
    L.v_proj = mat(p + "self_attn.v_proj.weight", kv, H);
    L.o_proj = mat(p + "self_attn.o_proj.weight", H, q);
    L.q_norm = f.f32(p + "self_attn.q_norm.weight", D);
    L.k_norm = f.f32(p + "self_attn.k_norm.weight", D);
    L.gate_proj = mat(p + "mlp.gate_proj.weight", F, H);
    L.up_proj = mat(p + "mlp.up_proj.weight", F, H);
    L.down_proj = mat(p + "mlp.down_proj.weight", H, F);
    L.input_layernorm = f.f32(p + "input_layernorm.weight", H);
    L.post_attention_layernorm = f.f32(p + "post_attention_layernorm.weight", H);
    L.pre_feedforward_layernorm = f.f32(p + "pre_feedforward_layernorm.weight", H);
    L.post_feedforward_layernorm = f.f32(p + "post_feedforward_layernorm.weight", H);
    w.text.layers.push_back(L);
  }
  w.text.norm = f.f32("language_model.norm.weight", H);
  if (!c.has_vision) return w;

  const size_t Hv = size_t(c.vision.hidden_size), I = size_t(c.vision.intermediate_size);
  const size_t P = size_t(c.vision.patch_size), C = size_t(c.vision.num_channels);
  const size_t np = size_t(c.patches_per_side()) * size_t(c.patches_per_side());
  const std::string v = "vision_tower.vision_model.";
  w.vision.patch_embedding = mat(v + "embeddings.patch_embedding.weight", Hv, C * P * P);
  w.vision.patch_bias = f.f32(v + "embeddings.patch_embedding.bias", Hv);
  w.vision.position_embedding = f.f32(v + "embeddings.position_embedding.weight", np * Hv);
  for (int j = 0; j < c.vision.num_hidden_layers; ++j) {
    const std::string p = v + "encoder.layers." + std::to_string(j) + ".";
    VisionLayerWeights L;
    L.q_proj = mat(p + "self_attn.q_proj.weight", Hv, Hv);
    L.k_proj = mat(p + "self_attn.k_proj.weight", Hv, Hv);
    L.v_proj = mat(p + "self_attn.v_proj.weight", Hv, Hv);
    L.out_proj = mat(p + "self_attn.out_proj.weight", Hv, Hv);
    L.fc1 = mat(p + "mlp.fc1.weight", I, Hv);
    L.fc2 = mat(p + "mlp.fc2.weight", Hv, I);
    L.q_bias = f.f32(p + "self_attn.q_proj.bias", Hv);
    L.k_bias = f.f32(p + "self_attn.k_proj.bias", Hv);
    L.v_bias = f.f32(p + "self_attn.v_proj.bias", Hv);
    L.out_bias = f.f32(p + "self_attn.out_proj.bias", Hv);
    L.fc1_bias = f.f32(p + "mlp.fc1.bias", I);
    L.fc2_bias = f.f32(p + "mlp.fc2.bias", Hv);
    L.layer_norm1_weight = f.f32(p + "layer_norm1.weight", Hv);
    L.layer_norm1_bias = f.f32(p + "layer_norm1.bias", Hv);
    L.layer_norm2_weight = f.f32(p + "layer_norm2.weight", Hv);
    L.layer_norm2_bias = f.f32(p + "layer_norm2.bias", Hv);
    w.vision.layers.push_back(L);
  }
  w.vision.post_layernorm_weight = f.f32(v + "post_layernorm.weight", Hv);
  w.vision.post_layernorm_bias = f.f32(v + "post_layernorm.bias", Hv);
  w.projector.mm_soft_emb_norm = f.f32("multi_modal_projector.mm_soft_emb_norm.weight", Hv);
  w.projector.mm_input_projection = mat("multi_modal_projector.mm_input_projection_weight", H, Hv);
  return w;
}

// The tokenizer stored in a model file (for tools that need only the tokenizer).
inline Tokenizer load_tokenizer_from_model_file(const std::string& path) {
  const ModelFile f = ModelFile::open(path);
  return Tokenizer::from_data(f.tokenizer_data(), path);
}

}  // namespace gemma3
