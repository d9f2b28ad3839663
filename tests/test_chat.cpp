// Tests for gemma3/chat.hpp against chat_dev.jsonl (prompts rendered by the release
// chat template with jinja2 and HF, ids from transformers.js, and the HF processor's
// expanded ids for the image case).
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "gemma3/chat.hpp"
#include "gemma3/json.hpp"
#include "gemma3/tokenizer.hpp"

namespace json = gemma3::json;
using gemma3::ChatFormat;
using gemma3::ChatMessage;
using gemma3::ChatPart;
using gemma3::Tokenizer;

namespace {

const std::string kData = std::string(GEMMA3_TEST_DATA_DIR) + "/tokenizer";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "missing test data " << path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const Tokenizer& real() {
  static const Tokenizer t = Tokenizer::load(kData + "/tokenizer.model");
  return t;
}

// The model's ChatFormat from its config.json fields.
ChatFormat format_from_config(const std::string& path) {
  const auto c = json::parse(slurp(path), path);
  ChatFormat f;
  const json::Value* text = c.find("text_config");
  const json::Value* bos = text != nullptr ? text->find("bos_token_id") : nullptr;
  f.bos_id = bos != nullptr ? static_cast<int>(bos->as_int()) : 2;  // HF default
  f.boi_id = static_cast<int>(json::get_int(c, "boi_token_index", path));
  f.eoi_id = static_cast<int>(json::get_int(c, "eoi_token_index", path));
  f.image_token_id = static_cast<int>(json::get_int(c, "image_token_index", path));
  f.mm_tokens_per_image = static_cast<int>(json::get_int(c, "mm_tokens_per_image", path));
  return f;
}

ChatFormat real_format() {
  // The released google/gemma-3-4b-it config values (shared/fixtures/real-4b/config.json).
  return ChatFormat{2, 255999, 256000, 262144, 256};
}

std::vector<ChatMessage> messages_from_json(const json::Value& arr) {
  std::vector<ChatMessage> out;
  for (const auto& m : arr.as_array()) {
    ChatMessage msg;
    msg.role = json::get_string(m, "role", "message");
    const auto& content = json::get(m, "content", "message");
    if (content.is_string()) {
      msg.content.push_back(ChatPart::make_text(content.as_string()));
    } else {
      for (const auto& part : content.as_array()) {
        const std::string& type = json::get_string(part, "type", "part");
        if (type == "image") msg.content.push_back(ChatPart::make_image());
        else msg.content.push_back(ChatPart::make_text(json::get_string(part, "text", "part")));
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<int> ints(const json::Value& v) {
  std::vector<int> out;
  for (const auto& x : v.as_array()) out.push_back(static_cast<int>(x.as_int()));
  return out;
}

}  // namespace

TEST_CASE("chat: chat_dev.jsonl — prompt text and ids identical to the release template") {
  const Tokenizer& tok = real();
  const ChatFormat fmt = real_format();
  std::ifstream f(kData + "/chat_dev.jsonl");
  std::string line;
  int rows = 0, with_processor = 0;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto r = json::parse(line, "chat_dev.jsonl");
    const std::string& id = json::get_string(r, "id", "chat");
    CAPTURE(id);
    const auto messages = messages_from_json(json::get(r, "messages", id));
    const bool gen = json::get_bool(r, "add_generation_prompt", id);
    CHECK(gemma3::render_chat(messages, gen) == json::get_string(r, "prompt", id));
    const auto want = ints(json::get(r, "ids", id));
    CHECK(gemma3::tokenize_chat(tok, messages, gen, fmt, /*expand_images=*/false) == want);
    CHECK(std::count(want.begin(), want.end(), 2) == 1);  // exactly one <bos>
    if (const json::Value* p = r.find("processor_ids")) {
      ++with_processor;
      const auto got = gemma3::tokenize_chat(tok, messages, gen, fmt, /*expand_images=*/true);
      CHECK(got == ints(*p));
      CHECK(std::count(got.begin(), got.end(), 262144) == 256);
    } else {
      CHECK(gemma3::tokenize_chat(tok, messages, gen, fmt) == want);  // no image: same ids
    }
    ++rows;
  }
  CHECK(rows == 8);
  CHECK(with_processor >= 1);
}

TEST_CASE("chat: several images, image in a model turn, ids from the config") {
  const Tokenizer& tok = real();
  const ChatFormat fmt = real_format();
  const std::vector<ChatMessage> conv = {
      {"user", std::vector<ChatPart>{ChatPart::make_text("Compare "), ChatPart::make_image(),
                                     ChatPart::make_text("and"), ChatPart::make_image()}},
  };
  CHECK(gemma3::render_chat(conv, true) ==
        "<bos><start_of_turn>user\nCompare<start_of_image>and<start_of_image><end_of_turn>\n<start_"
        "of_turn>model\n");
  const auto ids = gemma3::tokenize_chat(tok, conv, true, fmt);
  CHECK(std::count(ids.begin(), ids.end(), 262144) == 512);
  // Each image: 255999, 256 x 262144, 256000, and "\n\n" text around it.
  const auto boi = std::find(ids.begin(), ids.end(), 255999);
  REQUIRE(boi != ids.end());
  CHECK(*(boi + 257) == 256000);
  CHECK(std::all_of(boi + 1, boi + 257, [](int x) { return x == 262144; }));
  CHECK(tok.decode(std::vector<int>(ids.begin(), boi)) == "<start_of_turn>user\nCompare\n\n");
}

TEST_CASE("chat: the tiny model's ids come from its config, not 4B constants") {
  const Tokenizer tok = Tokenizer::load(kData + "/tiny/tokenizer.model");
  const ChatFormat fmt = format_from_config(kData + "/tiny/config.json");
  CHECK(fmt.boi_id == 900);
  CHECK(fmt.image_token_id == 960);
  CHECK(fmt.mm_tokens_per_image == 16);
  const std::vector<ChatMessage> conv = {
      {"user",
       std::vector<ChatPart>{ChatPart::make_image(), ChatPart::make_text("What is this?")}}};
  const auto ids = gemma3::tokenize_chat(tok, conv, true, fmt);
  CHECK(ids.front() == 2);
  CHECK(std::count(ids.begin(), ids.end(), 960) == 16);
  const auto boi = std::find(ids.begin(), ids.end(), 900);
  REQUIRE(boi != ids.end());
  CHECK(*(boi + 17) == 901);
  // Wrong config for this tokenizer: clear error.
  CHECK_THROWS_AS(gemma3::tokenize_chat(tok, conv, true, real_format()), gemma3::Error);
}

TEST_CASE("chat: trimming follows Jinja's trim (Python str.strip)") {
  const std::vector<ChatMessage> conv = {
      {"system", "  Be brief.  "},  // system text is not trimmed
      {"user", "\xE3\x80\x80\xC2\xA0 hi \t\n\x0B\x0C\r\x1C\xE2\x80\xA8"},  // U+3000, U+00A0 ...
                                                                           // U+2028 stripped
      {"assistant", "\xE2\x80\x8Bok\xE2\x80\x8B"},  // U+200B is not whitespace
  };
  CHECK(gemma3::render_chat(conv, false) ==
        "<bos><start_of_turn>user\n  Be brief.  "
        "\n\nhi<end_of_turn>\n<start_of_turn>model\n\xE2\x80\x8Bok\xE2\x80\x8B"
        "<end_of_turn>\n");
  const std::vector<ChatMessage> spaces = {{"user", " \n "}};
  CHECK(gemma3::render_chat(spaces, false) == "<bos><start_of_turn>user\n<end_of_turn>\n");
}

TEST_CASE("chat: text that looks like control tokens is not a second BOS") {
  const Tokenizer& tok = real();
  const std::vector<ChatMessage> conv = {{"user", "<bos>hi"}};
  const auto ids = gemma3::tokenize_chat(tok, conv, true, real_format());
  CHECK(std::count(ids.begin(), ids.end(), 2) == 1);
  CHECK(ids[4] == 236820);  // "<" as plain text, as SentencePiece encodes it
}

TEST_CASE("chat: bad conversations give clear errors") {
  auto err = [](const std::vector<ChatMessage>& c) -> std::string {
    try {
      gemma3::render_chat(c, true);
    } catch (const gemma3::Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(err({}) == "chat: the conversation has no messages");
  CHECK(err({{"user", "a"}, {"user", "b"}}) ==
        "chat: message 1 (role \"user\"): conversation roles must alternate "
        "user/assistant/user/assistant/...");
  CHECK(err({{"assistant", "a"}}) ==
        "chat: message 0 (role \"assistant\"): conversation roles must alternate "
        "user/assistant/user/assistant/...");
  CHECK(err({{"system", "s"}, {"assistant", "a"}}).find("must alternate") != std::string::npos);
  CHECK(err({{"user", "a"}, {"tool", "b"}}) ==
        "chat: message 1 (role \"tool\"): unknown role; use system, user, assistant or model");
  CHECK(err({{"user", "a"}, {"system", "b"}}) ==
        "chat: message 1 (role \"system\"): a system message may only come first");
  CHECK(err({{"system", std::vector<ChatPart>{ChatPart::make_image()}}, {"user", "a"}}) ==
        "chat: message 0 (system) must start with a text part");
  CHECK(err({{"user", "a"}, {"model", "b"}, {"user", "c"}}).empty());  // "model" = "assistant"
  // Images without image ids in the format.
  const Tokenizer& tok = real();
  ChatFormat no_images;
  no_images.bos_id = 2;
  const std::vector<ChatMessage> img = {{"user", std::vector<ChatPart>{ChatPart::make_image()}}};
  CHECK_THROWS_AS(gemma3::tokenize_chat(tok, img, true, no_images), gemma3::Error);
  CHECK_THROWS_AS(gemma3::tokenize_chat(tok, {{"user", "x"}}, true, ChatFormat{}), gemma3::Error);
}
