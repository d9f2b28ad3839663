// gemma3/convert/hf_checkpoint.hpp — a Hugging Face Gemma 3 checkpoint directory
// converted into one gemma3 model file (the work behind gemma3-convert).
//
// Reads config.json (+ preprocessor_config.json), model.safetensors or the
// shards of model.safetensors.index.json, tokenizer.model and the chat
// template; matches every tensor to the table of gemma3/weights.hpp (name
// variants of spec §2.3); writes the file atomically (temp file + rename).
// One tensor is in memory at a time (big matrices stream in row blocks), so
// converting the 8.6 GB 4B checkpoint needs little more than the output's
// page cache. Any problem throws gemma3::Error and leaves no output file.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gemma3/convert/hf_config.hpp"
#include "gemma3/convert/safetensors.hpp"
#include "gemma3/detail/sentencepiece_model.hpp"
#include "gemma3/model_file.hpp"
#include "gemma3/model_writer.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/weights.hpp"

namespace gemma3::convert {

struct ConvertOptions {
  WeightType type = WeightType::BF16;
  bool verify = true;     // re-open the written file and check every checksum
  bool progress = false;  // progress on stderr (a bar on a terminal, else a line per 10%)
};

struct ConvertSummary {
  size_t tensors = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

inline WeightType parse_weight_type(const std::string& s) {
  if (s == "f32") return WeightType::F32;
  if (s == "bf16") return WeightType::BF16;
  if (s == "q8") return WeightType::Q8;
  if (s == "q4") return WeightType::Q4;
  throw Error("--type: unknown weight type \"" + s + "\" (f32, bf16, q8 or q4)");
}

// The chat template: tokenizer_config.json "chat_template" (a string, or a
// list of {name, template} where "default" is taken), else chat_template.json,
// else chat_template.jinja; "" when there is none.
inline std::string find_chat_template(const std::string& dir) {
  auto from_json = [](const std::string& path) -> std::string {
    const json::Value root = json::parse(detail::read_file_bytes(path), path);
    const json::Value* t = root.find("chat_template");
    if (t == nullptr || t->is_null()) return "";
    if (t->is_string()) return t->as_string();
    for (const auto& e : t->as_array(path + ": chat_template"))
      if (json::get_string(e, "name", path + ": chat_template") == "default")
        return json::get_string(e, "template", path + ": chat_template");
    throw Error(path + ": chat_template list has no \"default\" entry");
  };
  std::string t;
  if (detail::file_exists(dir + "/tokenizer_config.json"))
    t = from_json(dir + "/tokenizer_config.json");
  if (t.empty() && detail::file_exists(dir + "/chat_template.json"))
    t = from_json(dir + "/chat_template.json");
  if (t.empty() && detail::file_exists(dir + "/chat_template.jinja"))
    t = detail::read_file_bytes(dir + "/chat_template.jinja");
  return t;
}

class ConvertProgress {
 public:
  ConvertProgress(uint64_t total, bool on)
      : total_(total ? total : 1), tty_(isatty(2) != 0), on_(on) {}
  void advance(uint64_t bytes) {
    if (!on_) return;
    done_ += bytes;
    const int pct = int(done_ * 100 / total_);
    if (pct == last_) return;
    last_ = pct;
    if (tty_) {
      const int w = 40, fill = pct * w / 100;
      std::fprintf(stderr, "\r[%.*s%*s] %3d%%  %.2f / %.2f GB", fill,
                   "########################################", w - fill, "", pct,
                   double(done_) / 1e9, double(total_) / 1e9);
      if (pct == 100) std::fputc('\n', stderr);
    } else {
      while (last_line_ < pct / 10) std::fprintf(stderr, "converted %d%%\n", ++last_line_ * 10);
    }
    std::fflush(stderr);
  }

 private:
  uint64_t total_, done_ = 0;
  bool tty_, on_;
  int last_ = -1, last_line_ = 0;
};

// A tokenizer.model file's pieces and options, checked by building a
// Tokenizer from them (what a ModelWriter takes).
inline TokenizerData read_tokenizer_model(const std::string& path) {
  TokenizerData tok = detail::parse_sentencepiece_model(detail::read_file_bytes(path), path);
  Tokenizer::from_data(tok, path);  // validates the vocabulary
  return tok;
}

inline ConvertSummary convert_hf_checkpoint(const std::string& dir, const std::string& out,
                                            const ConvertOptions& opt) {
  const WeightType type = opt.type;
  const auto t0 = std::chrono::steady_clock::now();
  // -- config
  const std::string cfg_path = dir + "/config.json";
  if (!detail::file_exists(cfg_path))
    throw Error(cfg_path + ": missing (is " + dir + " a Hugging Face checkpoint directory?)");
  ModelConfig cfg = resolve_hf_config(detail::read_file_bytes(cfg_path), cfg_path);
  const std::string pre_path = dir + "/preprocessor_config.json";
  if (detail::file_exists(pre_path))
    resolve_hf_preprocessor(detail::read_file_bytes(pre_path), pre_path, cfg);

  // -- tokenizer + chat template
  const std::string tok_path = dir + "/tokenizer.model";
  if (!detail::file_exists(tok_path))
    throw Error(tok_path + ": missing (the SentencePiece tokenizer is required)");
  const TokenizerData tok = read_tokenizer_model(tok_path);
  auto piece_id = [&](const char* text) -> int {
    for (size_t i = 0; i < tok.pieces.size(); ++i)
      if (tok.pieces[i].text == text) return int(i);
    throw Error(tok_path + ": no " + text + " piece (needed for the chat format)");
  };
  cfg.tokens.start_of_turn = piece_id("<start_of_turn>");
  cfg.tokens.end_of_turn = piece_id("<end_of_turn>");
  detail::validate_config(cfg, cfg_path);
  const std::string chat_template = find_chat_template(dir);

  // -- match the checkpoint's tensors to the table
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(dir);
  const std::vector<TensorSpec> specs = tensor_table(cfg);
  std::vector<const StTensor*> src(specs.size(), nullptr);
  std::map<std::string, int> claimed;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    for (const std::string& n : s.hf_names) {
      const StTensor* t = ckpt.find(n);
      if (t == nullptr) continue;
      if (src[i] != nullptr)
        throw Error(dir + ": tensor " + s.name + " is present twice (" + src[i]->name + " and " +
                    n + ")");
      src[i] = t;
      claimed[n] = 1;
    }
    if (src[i] == nullptr)
      throw Error(dir + ": missing tensor " + s.hf_names.front() + " (" + s.name + ")");
    const StTensor& t = *src[i];
    if (t.shape != s.hf_shape)
      throw Error(ckpt.shard_path(t) + ": tensor " + t.name + " has shape " +
                  detail::shape_str(t.shape) + ", the config implies " +
                  detail::shape_str(s.hf_shape));
    if (t.dtype != "BF16" && t.dtype != "F16" && t.dtype != "F32")
      throw Error(ckpt.shard_path(t) + ": tensor " + t.name + ": unsupported dtype " + t.dtype +
                  " (need BF16, F16 or F32)");
    total_bytes += t.end - t.begin;
  }
  for (const StTensor& t : ckpt.tensors()) {
    if (claimed.count(t.name)) continue;
    if (is_tied_lm_head_name(t.name)) {
      // Tied LM head (spec §1.2): it must be the embedding itself.
      const StTensor& e = *src[0];
      if (t.shape != e.shape)
        throw Error(ckpt.shard_path(t) + ": tensor " + t.name + " has shape " +
                    detail::shape_str(t.shape) + ", expected the embedding's " +
                    detail::shape_str(e.shape));
      bool same = t.dtype == e.dtype &&
                  std::memcmp(ckpt.bytes(t), ckpt.bytes(e), size_t(t.end - t.begin)) == 0;
      if (!same)
        throw Error(ckpt.shard_path(t) + ": tensor " + t.name +
                    " differs from embed_tokens (untied LM heads are not supported)");
      continue;
    }
    const std::string why = (!cfg.has_vision && t.name.find("vision") != std::string::npos)
                                ? " (config.json describes a text-only model)"
                                : "";
    throw Error(ckpt.shard_path(t) + ": unexpected tensor " + t.name + why);
  }

  // -- write
  ModelWriter w(out, cfg, type, tok, chat_template);
  ConvertProgress progress(total_bytes, opt.progress);
  std::vector<float> buf;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const StTensor& t = *src[i];
    const uint64_t n = t.numel();
    if (s.layout == SourceLayout::Transpose) {
      // HF [a, b] -> ours [b, a]; only the projector, small enough to hold.
      const size_t a = size_t(s.hf_shape[0]), b = size_t(s.hf_shape[1]);
      std::vector<float> in(static_cast<size_t>(n));
      ckpt.read_f32(t, 0, size_t(n), in.data());
      buf.resize(size_t(n));
      for (size_t r = 0; r < b; ++r)
        for (size_t c = 0; c < a; ++c) buf[r * a + c] = in[c * b + r];
      w.write_f32(buf.data(), buf.size());
    } else {
      // Row blocks of about 4M values (whole rows: the quantizer works per row).
      const uint64_t cols = s.shape.size() == 2 ? s.shape[1] : n;
      const uint64_t rows_per = std::max<uint64_t>(1, (uint64_t(4) << 20) / cols);
      const size_t esize = st_dtype_size(t.dtype);
      for (uint64_t r0 = 0; r0 * cols < n; r0 += rows_per) {
        const size_t k = size_t(std::min(n - r0 * cols, rows_per * cols));
        buf.resize(k);
        ckpt.read_f32(t, r0 * cols, k, buf.data());
        w.write_f32(buf.data(), k);
        ckpt.shards()[t.shard].advise_done(size_t(t.begin + r0 * cols * esize), k * esize);
      }
    }
    ckpt.shards()[t.shard].advise_done(size_t(t.begin), size_t(t.end - t.begin));
    progress.advance(t.end - t.begin);
  }
  w.finish();
  if (opt.verify) {
    try {
      ModelFile::open(out).verify_data(/*release_pages=*/true);
    } catch (const Error& e) {
      ::unlink(out.c_str());
      throw Error(std::string("self-check of the written file failed: ") + e.what());
    }
  }
  ConvertSummary sum;
  sum.tensors = specs.size();
  sum.bytes = w.file_size();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace gemma3::convert
