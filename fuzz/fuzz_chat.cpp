// fuzz/fuzz_chat.cpp — the chat-template renderer (render_chat,
// tokenize_chat) on conversations built from the input bytes
// (FuzzedDataProvider: message count, roles including invalid ones, text
// and image parts, arbitrary UTF-8 or not text, generation prompt, image
// expansion), with the real tokenizer and the 4B's special ids.
//
// Oracle for accepted conversations: the prompt starts with "<bos>"; without
// image expansion the ids are exactly [bos] + encode(prompt minus "<bos>")
// (chat.hpp's contract); with it, every id is in the vocabulary except the
// image token, which appears mm_tokens_per_image times per image part.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "fuzz_tokenizer_common.hpp"
#include "gemma3/chat.hpp"

FUZZ_LOAD_REAL_TOKENIZER_AT_START

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const gemma3::Tokenizer& tok = fuzz::real_tokenizer();
  gemma3::ChatFormat fmt;
  fmt.bos_id = 2;
  fmt.boi_id = 255999;
  fmt.eoi_id = 256000;
  fmt.image_token_id = 262144;
  fmt.mm_tokens_per_image = 4;  // the 4B has 256; fewer keeps runs fast, same code

  FuzzedDataProvider in(data, size);
  static const char* const kRoles[] = {"user", "assistant", "model", "system", "tool", "", "User"};
  std::vector<gemma3::ChatMessage> msgs;
  size_t images = 0;
  const int n = in.ConsumeIntegralInRange<int>(0, 8);
  for (int m = 0; m < n; ++m) {
    gemma3::ChatMessage msg;
    // Mostly the valid alternation, sometimes any role.
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) msg.role = in.PickValueInArray(kRoles);
    else
      msg.role = m == 0 && in.ConsumeBool()
                     ? "system"
                     : ((msgs.empty() || msgs.back().role != "user") ? "user" : "model");
    const int parts = in.ConsumeIntegralInRange<int>(0, 3);
    for (int p = 0; p < parts; ++p) {
      if (in.ConsumeIntegralInRange<int>(0, 3) == 0) {
        msg.content.push_back(gemma3::ChatPart::make_image());
        ++images;
      } else {
        msg.content.push_back(gemma3::ChatPart::make_text(in.ConsumeRandomLengthString(200)));
      }
    }
    msgs.push_back(std::move(msg));
  }
  const bool gen = in.ConsumeBool(), expand = in.ConsumeBool();
  std::string prompt;
  try {
    prompt = gemma3::render_chat(msgs, gen);
  } catch (const gemma3::Error&) {
    // Rejected conversation: tokenize_chat must reject it too.
    try {
      (void)gemma3::tokenize_chat(tok, msgs, gen, fmt, expand);
    } catch (const gemma3::Error&) {
      return 0;
    }
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(prompt.rfind("<bos>", 0) == 0);
  try {
    const std::vector<int> ids = gemma3::tokenize_chat(tok, msgs, gen, fmt, expand);
    FUZZ_CHECK(!ids.empty() && ids[0] == fmt.bos_id);
    size_t image_tokens = 0;
    for (int id : ids) {
      if (id == fmt.image_token_id) ++image_tokens;
      else FUZZ_CHECK(id >= 0 && id < tok.vocab_size());
    }
    // Image parts of a leading system message are not rendered by the template.
    if (!expand) {
      std::vector<int> want{fmt.bos_id};
      const std::vector<int> rest = tok.encode(std::string_view(prompt).substr(5));
      want.insert(want.end(), rest.begin(), rest.end());
      FUZZ_CHECK(ids == want);
      FUZZ_CHECK(image_tokens == 0);
    } else {
      FUZZ_CHECK(image_tokens % size_t(fmt.mm_tokens_per_image) == 0);
      FUZZ_CHECK(image_tokens / size_t(fmt.mm_tokens_per_image) <= images);
    }
  } catch (const gemma3::Error& e) {
    std::fprintf(stderr, "tokenize_chat threw on a conversation render_chat accepted: %s\n",
                 e.what());
    std::abort();
  }
  return 0;
}
