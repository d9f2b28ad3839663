// gemma3/model_file.hpp — reading a gemma3 model file: one mmap-able file
// holding the resolved config, the tokenizer, the chat template and every
// tensor (format: model_file_format.hpp, docs/format.md).
//
// ModelFile::open() maps the file and validates everything — header, CRCs,
// config, tokenizer section, and every tensor against the table of
// for_each_tensor (weights.hpp) — before handing out a pointer;
// bind_weights() then points the typed views at the mapping.
#pragma once

#include <algorithm>
#include <cstdint>
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
#include "gemma3/model_file_format.hpp"
#include "gemma3/quant.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/tokenizer_types.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

struct LoadOptions {
  bool verify_data = false;  // also check every tensor's CRC-32 (reads the whole file)
};

struct TensorEntry {
  std::string name;
  WeightType type = WeightType::F32;
  std::vector<uint64_t> shape;
  uint64_t offset = 0;            // absolute, in the file
  uint64_t size = 0;              // bytes
  uint32_t crc32 = 0;             // of the `size` data bytes
  const uint8_t* data = nullptr;  // into the mapping
};

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
      throw Error(path() + ": tensor " + t.name + " is " + weight_type_name(t.type) +
                  ", expected f32");
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
        throw Error(path() + ": tensor " + t.name +
                    ": data checksum mismatch (file damaged or tampered)");
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
    throw fail("not a gemma3 model file (" + std::to_string(fsize) +
               " bytes, shorter than the header)");
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
  if (mf.version_ < kOldestReadableVersion || mf.version_ > kModelFormatVersion)
    throw fail("unsupported format version " + std::to_string(mf.version_) +
               " (this reader reads versions " + std::to_string(kOldestReadableVersion) + " to " +
               std::to_string(kModelFormatVersion) +
               "; reconvert the checkpoint with this gemma3-convert)");
  if (hdr_file_size != fsize)
    throw fail("header says " + std::to_string(hdr_file_size) + " bytes but the file has " +
               std::to_string(fsize) + " (truncated or extended)");
  if (meta_size > fsize - kHeaderSize)
    throw fail("header field meta_size " + std::to_string(meta_size) + " exceeds the file");
  if (data_offset != align_up(kHeaderSize + size_t(meta_size), kTensorAlign) || data_offset > fsize)
    throw fail("header field data_offset " + std::to_string(data_offset) +
               " is inconsistent with meta_size");
  uint32_t crc = detail::crc32(base, 56);
  crc = detail::crc32(base + kHeaderSize, size_t(meta_size), crc);
  mf.data_offset_ = data_offset;
  mf.meta_size_ = meta_size;
  if (crc != meta_crc) throw fail("header/metadata checksum mismatch (file damaged or tampered)");
  // Checked after the CRC so a flipped bit is reported as damage, not as a strange value.
  if (flags != 0 || reserved != 0) throw fail("header flags/reserved fields are not zero");
  if (wtype > uint32_t(WeightType::Q4))
    throw fail("header field weight_type " + std::to_string(wtype) + " is unknown");
  mf.weight_type_ = WeightType(wtype);
  if (n_config > kMaxConfigEntries)
    throw fail("header field config_count " + std::to_string(n_config) + " is too large");
  if (n_pieces > kMaxPieces)
    throw fail("header field piece_count " + std::to_string(n_pieces) + " is too large");
  if (n_tensors > kMaxTensors)
    throw fail("header field tensor_count " + std::to_string(n_tensors) + " is too large");

  detail::ByteReader r(base + kHeaderSize, size_t(meta_size), path);
  // -- config
  mf.config_ = detail::read_config(r, n_config, path);
  detail::validate_config(mf.config_, path);
  // -- tokenizer: options, special ids, pieces. Each piece takes >= 9
  //    bytes, so the allocation below is bounded by the file size.
  TokenizerOptions& o = mf.tokenizer_.options;
  const uint8_t tflags = r.get<uint8_t>("tokenizer options");
  if (tflags >= 32)
    throw fail("tokenizer option flags " + std::to_string(tflags) + " has unknown bits");
  o.add_dummy_prefix = tflags & 1;
  o.remove_extra_whitespaces = tflags & 2;
  o.escape_whitespaces = tflags & 4;
  o.treat_whitespace_as_suffix = tflags & 8;
  o.byte_fallback = tflags & 16;
  for (std::string* str :
       {&o.unk_surface, &o.unk_piece, &o.bos_piece, &o.eos_piece, &o.pad_piece}) {
    const uint32_t len = r.get<uint32_t>("tokenizer options");
    if (len > kMaxPieceBytes) throw fail("tokenizer option string too long");
    *str = r.bytes(len, "tokenizer options");
  }
  // bos, eos, pad, unk as the writer's Tokenizer derived them: informational
  // (the Tokenizer derives them again from the pieces), range-checked below.
  int32_t ids[4];
  for (int32_t& id : ids) id = r.get<int32_t>("tokenizer ids");
  r.need(size_t(n_pieces) * 9, "tokenizer pieces");
  std::vector<Piece>& pieces = mf.tokenizer_.pieces;
  pieces.resize(n_pieces);
  for (uint32_t i = 0; i < n_pieces; ++i) {
    const std::string what = "tokenizer piece " + std::to_string(i);
    const uint32_t len = r.get<uint32_t>(what);
    if (len > kMaxPieceBytes)
      throw fail(what + ": length " + std::to_string(len) + " is too large");
    Piece& p = pieces[i];
    p.text = r.bytes(len, what);
    p.score = r.get<float>(what);
    const uint8_t type = r.get<uint8_t>(what);
    if (type < uint8_t(PieceType::Normal) || type > uint8_t(PieceType::Byte))
      throw fail(what + ": unknown piece type " + std::to_string(type));
    p.type = PieceType(type);
  }
  for (int32_t id : ids)
    if (id < -1 || id >= int64_t(n_pieces))
      throw fail("tokenizer special id " + std::to_string(id) + " is out of range");
  if (int64_t(n_pieces) > mf.config_.text.vocab_size)
    throw fail("tokenizer has " + std::to_string(n_pieces) + " pieces, more than vocab_size " +
               std::to_string(mf.config_.text.vocab_size));
  // -- chat template
  const uint32_t tlen = r.get<uint32_t>("chat template");
  if (tlen > kMaxChatTemplateBytes)
    throw fail("chat template length " + std::to_string(tlen) + " is too large");
  mf.chat_template_ = r.bytes(tlen, "chat template");
  // -- tensor table (each entry >= 2+1+4+4+8+8+8+4 bytes)
  r.need(size_t(n_tensors) * 39, "tensor table");
  mf.tensors_.resize(n_tensors);
  for (uint32_t i = 0; i < n_tensors; ++i) {
    const std::string what = "tensor table entry " + std::to_string(i);
    TensorEntry& t = mf.tensors_[i];
    const uint16_t nlen = r.get<uint16_t>(what);
    if (nlen == 0 || nlen > kMaxNameBytes)
      throw fail(what + ": bad name length " + std::to_string(nlen));
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
      if (d == 0 || d > (uint64_t(1) << 32))
        throw fail(tw + ": bad dimension in shape " + detail::shape_str(t.shape));
      numel *= d;
      if (numel > (uint64_t(1) << 40))
        throw fail(tw + ": shape " + detail::shape_str(t.shape) + " is too large");
    }
    if (t.offset % kTensorAlign != 0)
      throw fail(tw + ": offset " + std::to_string(t.offset) + " is not 64-byte aligned");
    if (t.offset > fsize || t.size > fsize - t.offset)
      throw fail(tw + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.size) +
                 ") lies outside the file (" + std::to_string(fsize) + " bytes)");
    if (t.shape.size() != 2 && t.type != WeightType::F32)
      throw fail(tw + ": only matrices may be stored as " + weight_type_name(t.type));
    const uint64_t expect = tensor_bytes(t.type, t.shape);
    if (t.size != expect)
      throw fail(tw + ": size " + std::to_string(t.size) + " does not match " +
                 weight_type_name(t.type) + " " + detail::shape_str(t.shape) + " (" +
                 std::to_string(expect) + " bytes)");
    if (!index_.emplace(t.name, i).second) throw fail(tw + ": listed twice in the tensor table");
    t.data = map_.data() + t.offset;
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  uint64_t prev_end = data_offset_;  // no tensor may reach into header/metadata
  std::string prev_name;
  // Gaps (alignment padding) must be zero: then every byte outside the tensor
  // data is covered by a check, and a flipped bit there is caught at load.
  auto zero_gap = [&](uint64_t from, uint64_t to, const std::string& after) {
    for (uint64_t p = from; p < to; ++p)
      if (map_.data()[p] != 0)
        throw fail("non-zero padding byte at offset " + std::to_string(p) + " after " + after);
  };
  zero_gap(kHeaderSize + meta_size_, std::min<uint64_t>(data_offset_, fsize), "the metadata");
  for (size_t i : order) {
    const TensorEntry& t = tensors_[i];
    if (t.offset < prev_end)
      throw fail("tensor " + t.name + " overlaps " +
                 (prev_name.empty() ? std::string("the header/metadata") : "tensor " + prev_name));
    zero_gap(prev_end, t.offset,
             prev_name.empty() ? std::string("the metadata") : "tensor " + prev_name);
    prev_end = t.offset + t.size;
    prev_name = t.name;
  }
  if (prev_end != fsize)
    throw fail(std::to_string(fsize - prev_end) + " unexplained bytes after the last tensor");
  // Against the model's tensor table.
  const std::vector<TensorSpec> specs = tensor_table(config_);
  std::map<std::string, int, std::less<>> known;
  for (const TensorSpec& s : specs) known[s.name] = 1;
  for (const TensorEntry& t : tensors_)
    if (!known.count(t.name))
      throw fail("unexpected tensor " + t.name + " (not part of this model's config)");
  for (const TensorSpec& s : specs) {
    const TensorEntry* t = find(s.name);
    if (t == nullptr) throw fail("missing tensor " + s.name);
    if (t->shape != s.shape)
      throw fail("tensor " + s.name + " has shape " + detail::shape_str(t->shape) +
                 ", the config implies " + detail::shape_str(s.shape));
    const WeightType want = storage_type(s, weight_type_);
    if (t->type != want)
      throw fail("tensor " + s.name + " is stored as " + weight_type_name(t->type) + ", expected " +
                 weight_type_name(want));
  }
}

// ---- binding ----------------------------------------------------------------------

// Points every view of Weights at its tensor in the mapping, through the
// accessors above. open() has checked every tensor's presence, shape and type
// against the same enumeration, so their checks cannot fail here.
inline Weights bind_weights(const ModelFile& f) {
  Weights w;
  for_each_tensor(f.config(), &w, [&](const TensorSpec& s, TensorSlot slot) {
    if (slot.matrix) *slot.matrix = f.matrix(s.name);
    else *slot.vector = f.f32(s.name, size_t(element_count(s.shape)));
  });
  return w;
}

}  // namespace gemma3
