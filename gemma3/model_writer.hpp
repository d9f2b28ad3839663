// gemma3/model_writer.hpp — writing a gemma3 model file (the converter's and
// the benchmark's output; format: model_file_format.hpp, docs/format.md).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/detail/config_fields.hpp"
#include "gemma3/detail/crc32.hpp"
#include "gemma3/detail/endian.hpp"
#include "gemma3/error.hpp"
#include "gemma3/model_file_format.hpp"
#include "gemma3/quant.hpp"
#include "gemma3/tensor.hpp"
#include "gemma3/tokenizer_types.hpp"
#include "gemma3/weights.hpp"

namespace gemma3 {

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
    detail::validate_config(cfg, path + " (config to write)");
    if (pieces.size() > kMaxPieces || int64_t(pieces.size()) > cfg.text.vocab_size)
      throw Error(path + ": " + std::to_string(pieces.size()) +
                  " tokenizer pieces exceed vocab_size");
    if (chat_template.size() > kMaxChatTemplateBytes)
      throw Error(path + ": chat template too large");

    // Metadata, with the tensor CRCs as zeros to be patched in finish().
    detail::ByteWriter w;
    detail::write_config(w, cfg, n_config_);
    const TokenizerOptions& o = tokenizer.options;
    w.put<uint8_t>(uint8_t((o.add_dummy_prefix ? 1 : 0) | (o.remove_extra_whitespaces ? 2 : 0) |
                           (o.escape_whitespaces ? 4 : 0) | (o.treat_whitespace_as_suffix ? 8 : 0) |
                           (o.byte_fallback ? 16 : 0)));
    for (const std::string* str :
         {&o.unk_surface, &o.unk_piece, &o.bos_piece, &o.eos_piece, &o.pad_piece}) {
      if (str->size() > kMaxPieceBytes) throw Error(path + ": tokenizer option string too long");
      w.put<uint32_t>(uint32_t(str->size()));
      w.bytes(*str);
    }
    // The special ids, informational for other readers, by the one rule the
    // Tokenizer uses too (special_ids, tokenizer_types.hpp).
    const SpecialIds ids = special_ids(pieces, o);
    for (int id : {ids.bos, ids.eos, ids.pad, ids.unk}) w.put<int32_t>(int32_t(id));
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
    for (const TensorSpec& s : specs_)
      table_bytes += 2 + s.name.size() + 8 + 8 * s.shape.size() + 20;
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
    if (rows_done_ + rows > size_t(s.shape[0]))
      throw Error(path_ + ": tensor " + s.name + ": too many rows");
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
      throw Error(path_ + ": tensor " + specs_[cur_].name + " was not written (" +
                  std::to_string(written_) + " of " + std::to_string(sizes_[cur_]) + " bytes)");
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
      throw Error(path_ + ": tensor " + s.name + ": more data than its " +
                  std::to_string(sizes_[cur_]) + " bytes");
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

}  // namespace gemma3
