// Tests of gemma3/session.hpp + gemma3/prefill.hpp + gemma3/model.hpp: the
// public API on the tiny model — greedy generation vs the reference
// continuation, multi-turn chat reusing the cache (and producing the
// template's ids), streaming, stopping, seeds, context overflow, prefill
// chunking around image spans. (Images through the whole pipeline:
// tests/test_multimodal.cpp.)
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/session.hpp"
#include "text_goldens.hpp"
#include "tool_test_util.hpp"

using namespace gemma3;

namespace {

const Model& tiny_model() {
  static std::unique_ptr<Model> m;
  if (!m) {
    const std::string out = std::string(GEMMA3_BINARY_DIR) + "/test_session_tiny_f32.g3";
    convert::ConvertOptions o;
    o.type = WeightType::F32;
    convert::convert_hf_checkpoint(std::string(GEMMA3_TEST_DATA_DIR) + "/tiny/model", out, o);
    m.reset(new Model(out));
  }
  return *m;
}

SessionOptions greedy_f32() {
  SessionOptions o;
  o.context = 256;
  o.kv_type = KVType::F32;
  o.threads = 2;
  o.sampling.greedy = true;
  return o;
}

}  // namespace

TEST_CASE("session: greedy raw generation reproduces the reference continuation") {
  Session s(tiny_model(), greedy_f32());
  const auto prompt = goldens::ids("gen_prompt_ids");
  const auto want = goldens::ids("gen_new_ids");
  std::string streamed;
  const auto r = s.generate(
      prompt,
      [&](const std::string& t, int) {
        streamed += t;
        return true;
      },
      want.size());
  CHECK(r.tokens == want);
  CHECK(r.reason == StopReason::MaxTokens);
  CHECK(streamed == r.text);
  CHECK(r.text == tiny_model().tokenizer().decode(want));
  const Timings& t = s.timings();
  CHECK(t.prompt_tokens == prompt.size());
  CHECK(t.generated_tokens == want.size());
  CHECK(t.decode_steps == want.size() - 1);  // the last token is held back, not fed
  CHECK(t.time_to_first_token > 0);
  CHECK(s.position() == prompt.size() + want.size() - 1);
  // reset: the same again
  s.reset();
  CHECK(s.position() == 0);
  CHECK(s.generate(prompt, {}, want.size()).tokens == want);
}

TEST_CASE("session: multi-turn chat reuses the cache and follows the template") {
  const Model& m = tiny_model();
  Session s(m, greedy_f32());
  s.set_system("be brief");
  const auto r1 = s.chat("hello there", {}, 6);
  const std::vector<int> after1 = s.tokens();
  const ChatFormat fmt = ChatFormat::from_config(m.config());
  const auto turn1 = tokenize_chat(
      m.tokenizer(), {ChatMessage("system", "be brief"), ChatMessage("user", "hello there")}, true,
      fmt);
  REQUIRE(after1.size() >= turn1.size());
  CHECK(std::vector<int>(after1.begin(), after1.begin() + std::ptrdiff_t(turn1.size())) == turn1);
  CHECK_THROWS_AS(s.set_system("too late"), Error);

  const auto r2 = s.chat("and then?", {}, 4);
  // Only the new turn was prefilled (plus the held-back last reply token).
  const auto full_empty_reply =
      tokenize_chat(m.tokenizer(),
                    {ChatMessage("system", "be brief"), ChatMessage("user", "hello there"),
                     ChatMessage("assistant", ""), ChatMessage("user", "and then?")},
                    true, fmt);
  std::vector<int> expect = turn1;
  expect.insert(expect.end(), r1.tokens.begin(), r1.tokens.end());
  expect.insert(expect.end(), full_empty_reply.begin() + std::ptrdiff_t(turn1.size()),
                full_empty_reply.end());
  std::vector<int> hist(s.tokens().begin(), s.tokens().begin() + std::ptrdiff_t(expect.size()));
  CHECK(hist == expect);
  CHECK(s.timings().prompt_tokens == expect.size() - after1.size());  // never re-runs earlier turns

  // The same conversation again gives the same ids (greedy, deterministic).
  Session again(m, greedy_f32());
  again.set_system("be brief");
  again.chat("hello there", {}, 6);
  CHECK(again.chat("and then?", {}, 4).tokens == r2.tokens);
  CHECK(again.tokens() == s.tokens());
}

TEST_CASE("session: cached multi-turn logits equal a single prefill of the same ids") {
  const Model& m = tiny_model();
  Session s(m, greedy_f32());
  s.chat("one two", {}, 5);
  s.chat("three", {}, 3);
  // Feed one more token through the session's cache (after the held-back
  // last reply token), and the whole history fresh in one prefill.
  const size_t before = s.position();
  const std::vector<float> via_cache = s.prefill({7});
  CHECK(s.position() == before + 2);
  const std::vector<int> all = s.tokens();
  Session fresh(m, greedy_f32());
  const std::vector<float> one_shot = fresh.prefill(all);
  const auto d = goldens::compare(via_cache.data(), one_shot.data(), one_shot.size());
  CHECK(d.worst_ratio <= 1.0);
}

TEST_CASE("session: streaming callback can stop; stop tokens end a turn") {
  Session s(tiny_model(), greedy_f32());
  int calls = 0;
  const auto r = s.generate(goldens::ids("gen_prompt_ids"), [&](const std::string&, int) {
    ++calls;
    return false;
  });
  CHECK(calls == 1);
  CHECK(r.tokens.size() == 1);
  CHECK(r.reason == StopReason::Callback);
}

TEST_CASE("session: seeded sampling is reproducible; never samples excluded ids") {
  SessionOptions o = greedy_f32();
  o.sampling = SamplingOptions();  // release defaults: top_k 64, top_p 0.95
  o.sampling.seed = 7;
  o.sampling.temperature = 1.5f;
  const auto prompt = goldens::ids("text0_ids");
  Session a(tiny_model(), o), b(tiny_model(), o);
  const auto ra = a.generate(prompt, {}, 40);
  const auto rb = b.generate(prompt, {}, 40);
  CHECK(ra.tokens == rb.tokens);
  const ModelConfig& c = tiny_model().config();
  for (int id : ra.tokens) {
    CHECK(id < tiny_model().tokenizer().vocab_size());
    CHECK(id != c.tokens.boi);
    CHECK(id != c.tokens.eoi);
    CHECK(id != c.tokens.image);
  }
}

TEST_CASE("session: context overflow is a clear error") {
  SessionOptions o = greedy_f32();
  o.context = 12;
  Session s(tiny_model(), o);
  std::vector<int> long_prompt(13, 20);
  CHECK_THROWS_WITH_AS(s.generate(long_prompt, {}, 1), doctest::Contains("context overflow"),
                       Error);
  CHECK(s.position() == 0);
  CHECK_THROWS_WITH_AS(s.generate(goldens::ids("text0_ids"), {}, 100),
                       doctest::Contains("context overflow"), Error);
  o.context = size_t(tiny_model().config().text.max_position_embeddings) + 1;
  CHECK_THROWS_AS(Session(tiny_model(), o), Error);
}

TEST_CASE("session: an image part needs an image; chat and raw modes do not mix") {
  // (Images in chat turns: tests/test_multimodal.cpp.)
  Session s(tiny_model(), greedy_f32());
  CHECK_THROWS_WITH_AS(s.chat(std::vector<ChatPart>{ChatPart::make_image()}),
                       doctest::Contains("has no image"), Error);
  CHECK(s.position() == 0);
  s.generate({2, 30}, {}, 1);
  CHECK_THROWS_AS(s.chat("hi"), Error);
  s.reset();
  CHECK_NOTHROW(s.chat("hi", {}, 1));
}

TEST_CASE("session: prefill chunks never split an image span") {
  const Model& m = tiny_model();
  const auto ids = goldens::ids("mm_ids");
  const auto blocks = image_blocks_from_token_types(goldens::ids("mm_token_type_ids"));
  const auto e0 = goldens::load("img0_image_embeddings");
  const auto e1 = goldens::load("img1_image_embeddings");
  const auto ref = goldens::load("mm_logits");
  const size_t V = m.decoder().vocab_rows();
  for (size_t chunk : {size_t(3), size_t(7), size_t(20), size_t(256)}) {
    SessionOptions o = greedy_f32();
    o.prefill_chunk = chunk;
    Session s(m, o);
    const auto& logits = s.prefill(ids, {{blocks[0].start, blocks[0].count, e0.data.data()},
                                         {blocks[1].start, blocks[1].count, e1.data.data()}});
    INFO("chunk " << chunk);
    const auto d = goldens::compare(logits.data(), ref.data.data() + (ids.size() - 1) * V, V);
    CHECK(d.worst_ratio <= 1.0);
  }
}

namespace {

// The chunk ends of prefilling n tokens (gemma3/prefill.hpp).
std::vector<size_t> chunk_ends(size_t n, size_t chunk, const std::vector<ImageSpan>& spans) {
  std::vector<size_t> ends;
  for (size_t pos = 0; pos < n; pos = ends.back())
    ends.push_back(prefill_chunk_end(pos, n, chunk, spans));
  return ends;
}

}  // namespace

TEST_CASE("prefill: image blocks and chunk ends around them") {
  using Ends = std::vector<size_t>;
  // Blocks are maximal runs, also at the very start and end; adjacent runs merge.
  const auto b = image_token_blocks({9, 9, 2, 9, 9, 9, 5, 9}, 9);
  REQUIRE(b.size() == 3);
  CHECK((b[0].start == 0 && b[0].count == 2));
  CHECK((b[1].start == 3 && b[1].count == 3));
  CHECK((b[2].start == 7 && b[2].count == 1));
  CHECK(image_token_blocks({}, 9).empty());
  CHECK(image_token_blocks({9, 9, 9, 9}, 9).size() == 1);
  const float e = 0;
  auto span = [&](size_t start, size_t count) { return ImageSpan{start, count, &e}; };
  CHECK(chunk_ends(10, 4, {}) == Ends{4, 8, 10});
  CHECK(chunk_ends(12, 4, {span(4, 4)}) == Ends{4, 8, 12});  // a block exactly on a chunk boundary
  CHECK(chunk_ends(12, 4, {span(2, 3)}) ==
        Ends{2, 6, 10, 12});  // across one: the chunk ends before it
  CHECK(chunk_ends(12, 4, {span(1, 6)}) == Ends{1, 7, 11, 12});  // longer than a chunk: one chunk
  CHECK(chunk_ends(10, 4, {span(2, 3), span(5, 3)}) == Ends{2, 5, 9, 10});  // adjacent spans
  CHECK(chunk_ends(8, 4, {span(5, 3)}) == Ends{4, 8});                      // at the very end
  CHECK(chunk_ends(8, 2, {span(5, 3)}) == Ends{2, 4, 5, 8});
  CHECK(chunk_ends(5, 2, {span(1, 0)}) == Ends{2, 4, 5});  // empty spans are ignored
}

TEST_CASE("prefill: the library function, its checks and the image-block checks") {
  const Model& m = tiny_model();
  const ModelConfig& c = m.config();
  const auto ids = goldens::ids("mm_ids");
  const auto blocks = image_token_blocks(ids, c.tokens.image);
  REQUIRE(blocks.size() == 2);
  const auto e0 = goldens::load("img0_image_embeddings");
  const auto e1 = goldens::load("img1_image_embeddings");
  const auto ref = goldens::load("mm_logits");
  const std::vector<ImageSpan> spans = {{blocks[0].start, blocks[0].count, e0.data.data()},
                                        {blocks[1].start, blocks[1].count, e1.data.data()}};
  const Decoder& dec = m.decoder();
  const ops::ThreadContext tc(2);
  ForwardBuffers buf;
  // Every position's logits, with chunks that would split both images.
  KVCache cache(c.text, ids.size(), KVType::F32);
  std::vector<float> logits(ids.size() * dec.vocab_rows());
  prefill(dec, cache, ids.data(), ids.size(), spans, 7, logits.data(), true, buf, tc);
  CHECK(cache.length() == ids.size());
  REQUIRE(logits.size() == ref.size());
  CHECK(goldens::compare(logits.data(), ref.data.data(), ref.size()).worst_ratio <= 1.0);

  // Refused before any chunk runs: the cache is untouched.
  KVCache fresh(c.text, ids.size(), KVType::F32);
  auto refused = [&](const std::vector<ImageSpan>& s, size_t chunk, const char* what) {
    CHECK_THROWS_WITH_AS(
        prefill(dec, fresh, ids.data(), ids.size(), s, chunk, nullptr, false, buf, tc),
        doctest::Contains(what), Error);
    CHECK(fresh.length() == 0);
  };
  refused({{ids.size() - 2, 4, e0.data.data()}}, 7, "does not lie inside");
  refused({{blocks[0].start, blocks[0].count, nullptr}}, 7, "has no embeddings");
  refused({spans[1], spans[0]}, 7, "sorted and disjoint");
  refused(spans, 0, "at least 1");
  KVCache small(c.text, ids.size() - 1, KVType::F32);
  CHECK_THROWS_WITH_AS(
      prefill(dec, small, ids.data(), ids.size(), spans, 7, nullptr, false, buf, tc),
      doctest::Contains("context overflow"), Error);

  // One image per block of mm_tokens_per_image ids; errors start with `who`.
  CHECK(check_image_blocks(c, ids, 2).size() == 2);
  CHECK_THROWS_WITH_AS(
      check_image_blocks(c, ids, 1, "x"),
      doctest::Contains("x: the prompt has 2 image blocks (runs of image token id"), Error);
  const std::vector<int> short_block = {2, c.tokens.image, c.tokens.image, 5};
  CHECK_THROWS_WITH_AS(check_image_blocks(c, short_block, 1, "x"),
                       doctest::Contains("x: image block 0 at position 1 has 2 image tokens"),
                       Error);
  CHECK(encode_image_blocks(m, {2, 5}, {}, tc).spans.empty());  // no blocks: no encoder
}

TEST_CASE("gemma3-dump: logits, hidden states and reference greedy ids match the goldens") {
  const std::string bin = std::string(GEMMA3_BINARY_DIR) + "/gemma3-dump";
  if (std::FILE* f = std::fopen(bin.c_str(), "rb")) {
    std::fclose(f);
  } else {
    MESSAGE("gemma3-dump not built (GEMMA3_BUILD_TOOLS=OFF): skipped");
    return;
  }
  tiny_model();  // makes the model file
  const std::string model = std::string(GEMMA3_BINARY_DIR) + "/test_session_tiny_f32.g3";
  const std::string dir = std::string(GEMMA3_BINARY_DIR) + "/test_session_dump_";
  auto join = [](const std::vector<int>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
  };
  // text1 with a small chunk: logits + residual stream.
  std::string cmd = tool_command(bin) + " -m \"" + model + "\" --ids " +
                    join(goldens::ids("text1_ids")) + " --logits \"" + dir +
                    "logits.npy\" --hidden \"" + dir + "hidden.npy\" --chunk 5 --threads 2";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto logits = npy::load<float>(dir + "logits.npy");
  const auto ref = goldens::load("text1_logits");
  REQUIRE(logits.shape == ref.shape);
  goldens::check_close("dump logits", logits.data.data(), ref);
  const auto hidden = npy::load<float>(dir + "hidden.npy");
  const auto io = goldens::load("text1_layer_io");
  REQUIRE(hidden.shape == io.shape);
  goldens::check_close("dump hidden", hidden.data.data(), io);

  // --generate: the reference loop's ids, one line.
  cmd = tool_command(bin) + " -m \"" + model + "\" --ids " + join(goldens::ids("gen_prompt_ids")) +
        " --generate 24 > \"" + dir + "gen.txt\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string want;
  for (int id : goldens::ids("gen_new_ids")) want += (want.empty() ? "" : " ") + std::to_string(id);
  CHECK(goldens::read_text(dir + "gen.txt") == want + "\n");

  // Errors: exit status 1 and "error: ..." (no crash).
  cmd = tool_command(bin) + " -m \"" + model + "\" --ids 2,99999 --logits \"" + dir +
        "x.npy\" 2> \"" + dir + "err.txt\"";
  CHECK(std::system(cmd.c_str()) != 0);
  CHECK(goldens::read_text(dir + "err.txt").rfind("error: ", 0) == 0);
}

TEST_CASE("gemma3-run: one turn, interactive turns from stdin, raw mode, errors") {
  const std::string bin = std::string(GEMMA3_BINARY_DIR) + "/gemma3-run";
  if (std::FILE* f = std::fopen(bin.c_str(), "rb")) {
    std::fclose(f);
  } else {
    MESSAGE("gemma3-run not built (GEMMA3_BUILD_TOOLS=OFF): skipped");
    return;
  }
  tiny_model();
  const std::string model = std::string(GEMMA3_BINARY_DIR) + "/test_session_tiny_f32.g3";
  const std::string out = std::string(GEMMA3_BINARY_DIR) + "/test_session_run_";
  const std::string base = tool_command(bin) + " -m \"" + model + "\" --threads 1 ";

  // One greedy chat turn: stdout = the reply the API gives, stderr = speed figures.
  std::string cmd =
      base + "-p \"hello there\" -n 6 --greedy > \"" + out + "1.txt\" 2> \"" + out + "1.err\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  SessionOptions o = greedy_f32();
  Session s(tiny_model(), o);
  const std::string reply = s.chat("hello there", {}, 6).text;
  CHECK(goldens::read_text(out + "1.txt") == reply + "\n");
  CHECK(goldens::read_text(out + "1.err").find("tokens/s") != std::string::npos);

  // Interactive: two lines = two turns continuing one conversation.
  cmd = "printf 'hello there\\nand then?\\n' | " + base + "-n 4 --greedy -q > \"" + out + "2.txt\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  Session t(tiny_model(), o);
  const std::string r1 = t.chat("hello there", {}, 4).text;
  const std::string r2 = t.chat("and then?", {}, 4).text;
  CHECK(goldens::read_text(out + "2.txt") == r1 + "\n" + r2 + "\n");

  // Raw mode: BOS + text.
  cmd = base + "--raw -p \"hello\" -n 3 --greedy -q > \"" + out + "3.txt\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::vector<int> ids{tiny_model().config().tokens.bos};
  for (int id : tiny_model().tokenizer().encode("hello")) ids.push_back(id);
  Session u(tiny_model(), o);
  CHECK(goldens::read_text(out + "3.txt") == u.generate(ids, {}, 3).text + "\n");

  // Errors: status 1 and one "error: " line.
  for (const std::string bad : {"--top-p 2 -p x", "--ctx 100000 -p x", "--bogus", "-n x -p y"}) {
    cmd = base + bad + " > /dev/null 2> \"" + out + "err.txt\"";
    INFO(bad);
    CHECK(std::system(cmd.c_str()) != 0);
    const std::string err = goldens::read_text(out + "err.txt");
    CHECK(err.find("error: ") != std::string::npos);
  }
}

TEST_CASE("session: the default context fits the model (min(8192, max_position_embeddings))") {
  Session s(tiny_model());  // the tiny model allows 1024 positions
  CHECK(s.context() == size_t(tiny_model().config().text.max_position_embeddings));
  SessionOptions too_long;
  too_long.context = size_t(tiny_model().config().text.max_position_embeddings) + 1;
  CHECK_THROWS_AS(Session(tiny_model(), too_long), gemma3::Error);
}
