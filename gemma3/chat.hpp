// gemma3/chat.hpp — Gemma 3's chat format: conversation -> prompt text -> token ids.
//
// render_chat() reproduces the release chat template (chat_template.jinja) exactly:
//   <bos><start_of_turn>user\n{system + "\n\n" if any}{content}<end_of_turn>\n
//   <start_of_turn>model\n{content}<end_of_turn>\n ... [<start_of_turn>model\n]
// with each text part trimmed like Jinja's `trim` (Python str.strip()), images as
// <start_of_image>, "assistant" written as "model", and the system message folded into
// the first user turn (string content, or the first part's text, not trimmed).
//
// tokenize_chat() gives the ids the model sees: BOS as an id (the "<bos>" text is never
// encoded, so there is never a second BOS), then the SentencePiece encoding of the
// rest. With expand_images (what the Hugging Face processor does), each image becomes
//   "\n\n<start_of_image>" + mm_tokens_per_image x image token + "<end_of_image>\n\n"
// where the newlines are tokenized together with the surrounding text (so "user\n"
// followed by "\n\n" gives one "\n\n\n" piece, as in HF) and the image token id, which
// is not a SentencePiece piece, is inserted directly.
//
// Pan-and-scan (spec §4.2): an image part with num_crops > 0 is rendered as HF's
// processor rewrites it,
//   "Here is the original image " <img> " and here are some crops to help you see better "
//   <img> " " <img> ...   (num_crops crop images)
// and every <img> is then expanded as above (the original first, then the crops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"
#include "gemma3/detail/utf8.hpp"
#include "gemma3/image_types.hpp"
#include "gemma3/tokenizer.hpp"

namespace gemma3 {

// One part of a message: text, or an image. An image part carries its image
// as ONE of: decoded pixels, an encoded file in memory, or a file path (a
// Session loads it with its ImageOptions limits). Payload-less image parts
// (make_image()) are enough for rendering and tokenizing.
struct ChatPart {
  enum class Kind : uint8_t { Text, Image };
  Kind kind = Kind::Text;
  std::string text;  // Text parts only

  // Image parts. Shared, so that copying a conversation does not copy pixels.
  std::shared_ptr<const Image> image;                            // decoded RGB
  std::shared_ptr<const std::vector<std::uint8_t>> image_bytes;  // PNG/JPEG/... file bytes
  std::string image_path;                                        // a file to load
  // Pan-and-scan crops of this image (spec §4.2). Set by the Session after
  // preprocessing; > 0 changes the rendered text (see the top of this file).
  int num_crops = 0;

  static ChatPart make_text(std::string t) {
    ChatPart p;
    p.text = std::move(t);
    return p;
  }
  static ChatPart make_image() {
    ChatPart p;
    p.kind = Kind::Image;
    return p;
  }
  static ChatPart make_image_file(std::string path) {
    ChatPart p = make_image();
    p.image_path = std::move(path);
    return p;
  }
  static ChatPart make_image_data(std::vector<std::uint8_t> encoded) {
    ChatPart p = make_image();
    p.image_bytes = std::make_shared<const std::vector<std::uint8_t>>(std::move(encoded));
    return p;
  }
  static ChatPart make_image_data(const void* data, std::size_t size) {
    const auto* b = static_cast<const std::uint8_t*>(data);
    return make_image_data(std::vector<std::uint8_t>(b, b + (b ? size : 0)));
  }
  static ChatPart make_image_pixels(Image img) {
    ChatPart p = make_image();
    p.image = std::make_shared<const Image>(std::move(img));
    return p;
  }
  bool has_image_payload() const { return image || image_bytes || !image_path.empty(); }
};

struct ChatMessage {
  std::string role;  // "system" (first message only), "user", "assistant" or "model"
  std::vector<ChatPart> content;

  ChatMessage() = default;
  ChatMessage(std::string r, std::string text)
      : role(std::move(r)), content{ChatPart::make_text(std::move(text))} {}
  ChatMessage(std::string r, std::vector<ChatPart> parts)
      : role(std::move(r)), content(std::move(parts)) {}
};

// The ids that vary by model; fill from the model config (from_config does).
struct ChatFormat {
  int bos_id = -1;               // <bos>
  int boi_id = -1;               // <start_of_image>  (config boi_token_index)
  int eoi_id = -1;               // <end_of_image>    (config eoi_token_index)
  int image_token_id = -1;       // <image_soft_token> (config image_token_index)
  int mm_tokens_per_image = -1;  // image tokens per image (config mm_tokens_per_image)

  static ChatFormat from_config(const ModelConfig& c) {
    return ChatFormat{c.tokens.bos, c.tokens.boi, c.tokens.eoi, c.tokens.image,
                      c.mm_tokens_per_image};
  }
};

namespace detail {

// Python's str.isspace() code points: what Jinja's `trim` (str.strip()) removes.
inline bool is_python_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Jinja `trim`: strips Python whitespace at both ends (invalid UTF-8 is never stripped).
inline std::string_view python_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    const size_t n = utf8_seq_len(s, begin);
    if (n == 0 || !is_python_space(utf8_code_point(s, begin, n))) break;
    begin += n;
  }
  // Walk forward remembering where the trailing run of spaces starts.
  size_t end = begin, i = begin;
  while (i < s.size()) {
    const size_t n = utf8_seq_len(s, i);
    if (n == 0) {
      end = i + 1;
      ++i;
      continue;
    }
    if (!is_python_space(utf8_code_point(s, i, n))) end = i + n;
    i += n;
  }
  return s.substr(begin, end - begin);
}

// One rendered piece of the prompt: text, or the place of an image.
struct ChatSegment {
  bool image = false;
  std::string text;
};

inline std::vector<ChatSegment> render_chat_segments(const std::vector<ChatMessage>& messages,
                                                     bool add_generation_prompt) {
  if (messages.empty()) throw Error("chat: the conversation has no messages");
  std::vector<ChatSegment> out(1);
  auto text = [&](std::string_view t) {
    if (out.back().image) out.emplace_back();
    out.back().text.append(t);
  };
  auto image = [&] { out.push_back(ChatSegment{true, {}}); };

  std::string first_user_prefix;
  size_t first = 0;
  if (messages[0].role == "system") {
    const auto& c = messages[0].content;
    if (c.empty() || c[0].kind != ChatPart::Kind::Text)
      throw Error("chat: message 0 (system) must start with a text part");
    first_user_prefix = c[0].text + "\n\n";
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool want_user = (i - first) % 2 == 0;
    const std::string where = "chat: message " + std::to_string(i) + " (role \"" + m.role + "\")";
    if (m.role != "user" && m.role != "assistant" && m.role != "model") {
      if (m.role == "system") throw Error(where + ": a system message may only come first");
      throw Error(where + ": unknown role; use system, user, assistant or model");
    }
    if ((m.role == "user") != want_user)
      throw Error(where + ": conversation roles must alternate user/assistant/user/assistant/...");
    text("<start_of_turn>");
    text(m.role == "user" ? "user" : "model");
    text("\n");
    if (i == first) text(first_user_prefix);
    for (const ChatPart& p : m.content) {
      if (p.kind != ChatPart::Kind::Image) {
        text(python_strip(p.text));
      } else if (p.num_crops <= 0) {
        image();
      } else {  // spec §4.2: HF's replace_image_token text (inserted after templating: not trimmed)
        text("Here is the original image ");
        image();
        text(" and here are some crops to help you see better ");
        for (int c = 0; c < p.num_crops; ++c) {
          if (c) text(" ");
          image();
        }
      }
    }
    text("<end_of_turn>\n");
  }
  if (add_generation_prompt) text("<start_of_turn>model\n");
  return out;
}

}  // namespace detail

// The prompt text exactly as the chat template renders it (starts with "<bos>",
// images appear as "<start_of_image>").
inline std::string render_chat(const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt) {
  std::string s = "<bos>";
  for (const auto& seg : detail::render_chat_segments(messages, add_generation_prompt))
    s += seg.image ? std::string("<start_of_image>") : seg.text;
  return s;
}

namespace detail {

// Appends the ids of `prefix` + the segments (no BOS) to `ids`, expanding images
// as tokenize_chat() does. Used for a whole conversation and for a Session's
// later turns (prefix "\n" after the cached <end_of_turn>).
inline void encode_segments(const Tokenizer& tok, const std::vector<ChatSegment>& segments,
                            const ChatFormat& format, bool expand_images, std::string prefix,
                            std::vector<int>& ids) {
  bool has_image = false;
  for (const auto& s : segments) has_image = has_image || s.image;
  if (has_image) {
    if (format.boi_id < 0 || format.eoi_id < 0 || format.image_token_id < 0 ||
        format.mm_tokens_per_image <= 0)
      throw Error("chat: the conversation has images but ChatFormat's image fields are not set");
    // The markers are tokenized from their text; check they are the configured ids.
    const auto boi = tok.token_id("<start_of_image>"), eoi = tok.token_id("<end_of_image>");
    if (!boi || *boi != format.boi_id || !eoi || *eoi != format.eoi_id)
      throw Error(
          "chat: the tokenizer's <start_of_image>/<end_of_image> ids do not match the model config "
          "(" +
          std::to_string(format.boi_id) + "/" + std::to_string(format.eoi_id) + ")");
  }
  std::string pending = std::move(prefix);
  auto flush = [&] {
    const auto part = tok.encode(pending);
    ids.insert(ids.end(), part.begin(), part.end());
    pending.clear();
  };
  for (const auto& s : segments) {
    if (!s.image) {
      pending += s.text;
    } else if (!expand_images) {
      pending += "<start_of_image>";
    } else {
      pending += "\n\n<start_of_image>";
      flush();
      ids.insert(ids.end(), static_cast<size_t>(format.mm_tokens_per_image), format.image_token_id);
      pending += "<end_of_image>\n\n";
    }
  }
  flush();
}

}  // namespace detail

// Token ids of the conversation: format.bos_id, then the encoded prompt. With
// expand_images each image is expanded as the HF processor does; without, an image is
// the single <start_of_image> id of the template text.
inline std::vector<int> tokenize_chat(const Tokenizer& tok,
                                      const std::vector<ChatMessage>& messages,
                                      bool add_generation_prompt, const ChatFormat& format,
                                      bool expand_images = true) {
  if (format.bos_id < 0) throw Error("chat: ChatFormat.bos_id is not set");
  std::vector<int> ids{format.bos_id};
  detail::encode_segments(tok, detail::render_chat_segments(messages, add_generation_prompt),
                          format, expand_images, {}, ids);
  return ids;
}

}  // namespace gemma3
