// tests/test_multimodal.cpp — images in prompts, end to end, against the
// tiny-dev multimodal goldens (tests/data/multimodal/, copied from
// shared/fixtures/tiny-dev: an independent float32 port of HF Gemma 3).
//
// The golden prompt (mm_ids, 55 tokens) holds two images (img0 150×97 photo,
// img1 64×64 pattern), 16 image tokens each. Everything starts from the PNG
// files: load → preprocess → vision tower → insertion → decoder, on model
// files converted from tests/data/tiny/model to f32 and to bf16 (both hold
// the checkpoint's exact bf16 values, so both meet the f32 bound
// |diff| ≤ 1e-4 + 1e-4·|ref|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmt_test_util.hpp"
#include "gemma3/convert/hf_config.hpp"
#include "gemma3/convert/hf_checkpoint.hpp"
#include "gemma3/session.hpp"
#include "text_goldens.hpp"
#include "tool_test_util.hpp"

using namespace gemma3;

namespace {

const std::string kDir = std::string(GEMMA3_TEST_DATA_DIR) + "/multimodal/";
const std::string kImg0 = kDir + "img0_photo_150x97.png";
const std::string kImg1 = kDir + "img1_pattern_64x64.png";

const json::Value& inputs() {
  static const json::Value v =
      json::parse(goldens::read_text(kDir + "goldens.json"), "goldens.json");
  return json::get(v, "inputs", "goldens.json");
}

std::vector<int> input_ids(const std::string& name) {
  std::vector<int> out;
  for (const auto& x : json::get(inputs(), name, "inputs").as_array())
    out.push_back(int(x.as_int()));
  return out;
}

npy::Array<float> golden(const std::string& name) { return npy::load<float>(kDir + name + ".npy"); }

std::string model_path(WeightType type) {
  return std::string(GEMMA3_BINARY_DIR) + "/test_multimodal_tiny_" +
         (type == WeightType::F32 ? "f32" : "bf16") + ".g3";
}

// The tiny model converted to `type` (f32 or bf16), made once per run.
const Model& tiny(WeightType type) {
  static std::map<WeightType, std::unique_ptr<Model>> models;
  auto& m = models[type];
  if (!m) {
    convert::ConvertOptions o;
    o.type = type;
    convert::convert_hf_checkpoint(std::string(GEMMA3_TEST_DATA_DIR) + "/tiny/model",
                                   model_path(type), o);
    m.reset(new Model(model_path(type)));
  }
  return *m;
}

SessionOptions exact_greedy(size_t chunk = 256) {
  SessionOptions o;
  o.context = 128;
  o.kv_type = KVType::F32;
  o.threads = 2;
  o.prefill_chunk = chunk;
  o.sampling.greedy = true;
  return o;
}

// The reference loop's choice: argmax over ALL logits, lowest id on ties.
int argmax(const std::vector<float>& v) {
  return int(std::max_element(v.begin(), v.end()) - v.begin());
}

std::vector<ChatPart> golden_images() {
  return {ChatPart::make_image_file(kImg0), ChatPart::make_image_file(kImg1)};
}

void check_close(const std::string& what, const float* got, const float* ref, size_t n,
                 double tol = 1e-4) {
  const goldens::Diff d = goldens::compare(got, ref, n, tol, tol);
  INFO(what << ": max |diff| " << d.max_abs << " at " << d.worst_index << " (got "
            << got[d.worst_index] << ", ref " << ref[d.worst_index] << ")");
  CHECK(d.worst_ratio <= 1.0);
  MESSAGE(what << ": max |diff| " << d.max_abs);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool have_binary(const std::string& bin) {
  if (std::FILE* f = std::fopen(bin.c_str(), "rb")) {
    std::fclose(f);
    return true;
  }
  MESSAGE(bin << " not built (GEMMA3_BUILD_TOOLS=OFF): skipped");
  return false;
}

}  // namespace

TEST_CASE(
    "multimodal: inputs_embeds, logits and final hidden from the PNG files (f32, bf16 files)") {
  const auto ids = input_ids("mm_ids");
  const auto embeds_ref = golden("mm_inputs_embeds"), logits_ref = golden("mm_logits");
  const auto hidden_ref = golden("mm_final_hidden");
  for (WeightType type : {WeightType::F32, WeightType::BF16}) {
    INFO("weights " << std::string(type == WeightType::F32 ? "f32" : "bf16"));
    const Model& m = tiny(type);
    const ModelConfig& c = m.config();
    const size_t T = size_t(c.mm_tokens_per_image), H = size_t(c.text.hidden_size),
                 V = m.decoder().vocab_rows();
    // load → preprocess → vision tower (the library pieces a Session uses).
    const ops::ThreadContext tc(2);
    VisionEncoder enc(c, m.weights());
    std::vector<float> emb(2 * T * H);
    int i = 0;
    for (const std::string& png : {kImg0, kImg1}) {
      const PixelValues pv = preprocess_image(load_image(png), c);
      REQUIRE(pv.count == 1);
      const auto px = golden("img" + std::to_string(i) + "_pixel_values");
      check_close("pixels " + std::to_string(i), pv.image(0), px.data.data(), px.size(), 1e-6);
      enc.encode(pv.image(0), emb.data() + size_t(i) * T * H, tc);
      ++i;
    }
    const auto blocks = image_token_blocks(ids, c.tokens.image);
    REQUIRE(blocks.size() == 2);
    // The golden prompt's images are blocks 5..20 and 28..43.
    CHECK(blocks[0].start == 5);
    CHECK(blocks[1].start == 28);
    KVCache cache(c.text, ids.size(), KVType::F32);
    ForwardBuffers buf;
    std::vector<float> logits(ids.size() * V), embed, final_norm;
    const ForwardObserver obs = [&](const std::string& name, int, const float* d,
                                    const std::vector<size_t>& s) {
      if (name == "embed") embed.assign(d, d + s[0] * s[1]);
      if (name == "final_norm") final_norm.assign(d, d + s[0] * s[1]);
    };
    m.decoder().forward(
        cache, ids.data(), ids.size(),
        {{blocks[0].start, T, emb.data()}, {blocks[1].start, T, emb.data() + T * H}}, logits.data(),
        true, buf, tc, &obs, false);
    REQUIRE(embed.size() == embeds_ref.size());
    REQUIRE(final_norm.size() == hidden_ref.size());
    REQUIRE(logits.size() == logits_ref.size());
    check_close("mm_inputs_embeds", embed.data(), embeds_ref.data.data(), embed.size());
    check_close("mm_final_hidden", final_norm.data(), hidden_ref.data.data(), final_norm.size());
    check_close("mm_logits", logits.data(), logits_ref.data.data(), logits.size());
  }
}

TEST_CASE(
    "multimodal: session greedy continuation and step logits match the goldens, any prefill "
    "chunk") {
  const auto ids = input_ids("mm_ids");
  const auto want = input_ids("mm_new_ids");
  const auto steps = golden("mm_gen_step_logits");
  REQUIRE(steps.shape[0] == want.size());
  for (WeightType type : {WeightType::F32, WeightType::BF16}) {
    for (size_t chunk : {size_t(256), size_t(7), size_t(3)}) {
      INFO("weights " << std::string(type == WeightType::F32 ? "f32" : "bf16") << ", prefill chunk "
                      << chunk);
      const Model& m = tiny(type);
      const size_t V = m.decoder().vocab_rows();
      // The reference loop through the session: prefill with the images, then one token at a time.
      Session s(m, exact_greedy(chunk));
      std::vector<float> logits = s.prefill_with_images(ids, golden_images());
      std::vector<int> got;
      double worst = 0;
      for (size_t k = 0; k < want.size(); ++k) {
        const goldens::Diff d = goldens::compare(logits.data(), steps.data.data() + k * V, V);
        worst = std::max(worst, d.worst_ratio);
        got.push_back(argmax(logits));
        if (k + 1 < want.size()) logits = s.prefill({got.back()});
      }
      CHECK(got == want);
      CHECK(worst <= 1.0);
      // Sampling (greedy) through generate_with_images: the same ids.
      Session g(m, exact_greedy(chunk));
      const GenerateResult r = g.generate_with_images(ids, golden_images(), {}, want.size());
      CHECK(r.tokens == want);
      CHECK(g.timings().images == 2);
      CHECK(g.timings().image_encode_seconds > 0);
      CHECK(g.timings().prompt_tokens == ids.size());
    }
  }
}

TEST_CASE("multimodal: the chat API lays out images like the golden prompt; payload kinds agree") {
  const Model& m = tiny(WeightType::F32);
  const auto mm = input_ids("mm_ids");
  // mm_text: <bos><start_of_turn>user\n\n\n<start_of_image><image_soft_token>*16<end_of_image>\n\n
  //          <3 word tokens>\n\n<start_of_image>…<end_of_image>\n\n<4 word tokens><end_of_turn>\n
  //          <start_of_turn>model\n
  // The golden's word tokens are random ids (not reachable from text); any
  // words give the same layout around them.
  const std::string w1 = "n__ple", w2 = "use by st";
  const auto e1 = m.tokenizer().encode(w1), e2 = m.tokenizer().encode(w2);
  std::vector<int> want(mm.begin(), mm.begin() + 23);  // … 901, "\n\n"
  want.insert(want.end(), e1.begin(), e1.end());
  want.insert(want.end(), mm.begin() + 26, mm.begin() + 46);  // "\n\n", 900, 16 × 960, 901, "\n\n"
  want.insert(want.end(), e2.begin(), e2.end());
  want.insert(want.end(), mm.begin() + 50,
              mm.end());  // <end_of_turn> "\n" <start_of_turn> model "\n"
  CHECK(std::vector<int>(mm.begin() + 22, mm.begin() + 23) == std::vector<int>{7});

  const std::vector<uint8_t> png1 = fmt_test::read_bytes(kImg1);
  const std::vector<std::vector<ChatPart>> variants = {
      {ChatPart::make_image_file(kImg0), ChatPart::make_text(w1), ChatPart::make_image_file(kImg1),
       ChatPart::make_text(w2)},
      {ChatPart::make_image_pixels(load_image(kImg0)), ChatPart::make_text(w1),
       ChatPart::make_image_data(png1.data(), png1.size()), ChatPart::make_text(w2)},
  };
  std::vector<int> first_reply;
  for (const auto& parts : variants) {
    Session s(m, exact_greedy());
    const GenerateResult r = s.chat(parts, {}, 6);
    REQUIRE(s.tokens().size() >= want.size());
    CHECK(std::vector<int>(s.tokens().begin(), s.tokens().begin() + std::ptrdiff_t(want.size())) ==
          want);
    CHECK(s.timings().images == 2);
    CHECK(s.timings().prompt_tokens == want.size());
    CHECK(s.timings().image_encode_seconds > 0);
    CHECK(s.timings().time_to_first_token >= s.timings().image_encode_seconds);
    if (first_reply.empty()) first_reply = r.tokens;
    else CHECK(r.tokens == first_reply);  // file, decoded pixels and memory bytes: the same images
    // The chat turn's cache equals a raw prefill of the same ids with the same images.
    const std::vector<float> next = s.prefill({7});
    std::vector<int> all = s.tokens();
    Session fresh(m, exact_greedy());
    const std::vector<float>& ref = fresh.prefill_with_images(all, golden_images());
    const goldens::Diff d = goldens::compare(next.data(), ref.data(), ref.size());
    CHECK(d.worst_ratio <= 1.0);
  }
  CHECK(render_chat({ChatMessage("user", variants[0])}, true) ==
        "<bos><start_of_turn>user\n<start_of_image>n__ple<start_of_image>use by st<end_of_turn>\n"
        "<start_of_turn>model\n");
}

TEST_CASE("multimodal: an image in a later turn reuses the cache") {
  const Model& m = tiny(WeightType::F32);
  Session s(m, exact_greedy(5));
  const GenerateResult r1 = s.chat("hello there", {}, 4);
  const size_t before = s.position();
  const std::vector<ChatPart> turn2 = {ChatPart::make_image_file(kImg1),
                                       ChatPart::make_text("and this?")};
  s.chat(turn2, {}, 3);
  CHECK(s.timings().images == 1);
  // Only the new turn was fed; its ids are the template's for the whole conversation.
  const ChatFormat fmt = ChatFormat::from_config(m.config());
  const auto turn1 = tokenize_chat(m.tokenizer(), {ChatMessage("user", "hello there")}, true, fmt);
  const auto full = tokenize_chat(m.tokenizer(),
                                  {ChatMessage("user", "hello there"), ChatMessage("assistant", ""),
                                   ChatMessage("user", turn2)},
                                  true, fmt);
  std::vector<int> expect = turn1;
  expect.insert(expect.end(), r1.tokens.begin(), r1.tokens.end());
  expect.insert(expect.end(), full.begin() + std::ptrdiff_t(turn1.size()), full.end());
  REQUIRE(s.tokens().size() >= expect.size());
  CHECK(std::vector<int>(s.tokens().begin(), s.tokens().begin() + std::ptrdiff_t(expect.size())) ==
        expect);
  CHECK(s.timings().prompt_tokens == expect.size() - before);
  CHECK(std::count(expect.begin(), expect.end(), m.config().tokens.image) ==
        m.config().mm_tokens_per_image);
  // Cached turns + the image turn == one prefill of the whole history with the image.
  const std::vector<float> via_cache = s.prefill({7});
  Session fresh(m, exact_greedy());
  const std::vector<float>& ref =
      fresh.prefill_with_images(s.tokens(), {ChatPart::make_image_file(kImg1)});
  const goldens::Diff d = goldens::compare(via_cache.data(), ref.data(), ref.size());
  MESSAGE("later-turn image, cached vs one prefill: max |diff| " << d.max_abs);
  CHECK(d.worst_ratio <= 1.0);
}

TEST_CASE("multimodal: pan-and-scan (off by default) writes HF's crop prompt") {
  const Model& m = tiny(WeightType::F32);
  const int T = m.config().mm_tokens_per_image, img = m.config().tokens.image;
  const std::vector<ChatPart> parts = {ChatPart::make_image_file(kImg0),
                                       ChatPart::make_text("Describe.")};
  {
    Session s(m, exact_greedy());  // default: no crops, release behaviour
    s.chat(parts, {}, 1);
    CHECK(s.timings().images == 1);
  }
  // The release's min_crop_size 256 exceeds the tiny images; 14 makes img0
  // (150×97, ratio 1.55 ≥ 1.2) give round(1.55) = 2 crops of 75×97.
  SessionOptions o = exact_greedy();
  o.images.pan_and_scan = true;
  o.images.pan_and_scan_min_crop_size = 14;
  Session s(m, o);
  s.chat(parts, {}, 1);
  CHECK(s.timings().images == 3);
  // HF Gemma3Processor: "Here is the original image <boi> and here are some
  // crops to help you see better <boi> <boi>", then each <boi> expanded.
  const std::string seq_open = "\n\n<start_of_image>", seq_close = "<end_of_image>\n\n";
  const std::vector<std::string> texts = {
      "<start_of_turn>user\nHere is the original image " + seq_open,
      seq_close + " and here are some crops to help you see better " + seq_open,
      seq_close + " " + seq_open, seq_close + "Describe.<end_of_turn>\n<start_of_turn>model\n"};
  std::vector<int> want{m.config().tokens.bos};
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto e = m.tokenizer().encode(texts[i]);
    want.insert(want.end(), e.begin(), e.end());
    if (i + 1 < texts.size()) want.insert(want.end(), size_t(T), img);
  }
  REQUIRE(s.tokens().size() == want.size());  // one generated token is held back
  CHECK(s.tokens() == want);
  ChatPart cropped = ChatPart::make_image();
  cropped.num_crops = 2;
  CHECK(render_chat({ChatMessage("user", std::vector<ChatPart>{cropped})}, false) ==
        "<bos><start_of_turn>user\nHere is the original image <start_of_image> and here are some "
        "crops to help "
        "you see better <start_of_image> <start_of_image><end_of_turn>\n");
  // The blocks hold the original, then the crops: the same as feeding their
  // pixel values by hand.
  PreprocessConfig pc = m.config().preprocess;
  pc.do_pan_and_scan = true;
  pc.pan_and_scan_min_crop_size = 14;
  const PixelValues pv = preprocess_image(load_image(kImg0), pc, m.config().vision.image_size);
  REQUIRE(pv.count == 3);
  const size_t H = size_t(m.config().text.hidden_size);
  std::vector<float> emb(3 * size_t(T) * H);
  VisionEncoder enc(m.config(), m.weights());
  for (int i = 0; i < 3; ++i)
    enc.encode(pv.image(i), emb.data() + size_t(i) * T * H, ops::ThreadContext(2));
  const auto blocks = image_token_blocks(want, img);
  REQUIRE(blocks.size() == 3);
  const std::vector<float> via_session = s.prefill({7});
  std::vector<int> all = s.tokens();
  Session fresh(m, exact_greedy());
  std::vector<ImageSpan> spans;
  for (size_t i = 0; i < 3; ++i)
    spans.push_back({blocks[i].start, size_t(T), emb.data() + i * T * H});
  const std::vector<float>& ref = fresh.prefill(all, spans);
  CHECK(goldens::compare(via_session.data(), ref.data(), ref.size()).worst_ratio <= 1.0);
}

TEST_CASE("multimodal: bad images in a chat turn are clear errors and change nothing") {
  const Model& m = tiny(WeightType::F32);
  Session s(m, exact_greedy());
  auto chat_err = [&](const ChatPart& image) {
    return error_of([&] { s.chat({ChatPart::make_text("look"), image}, {}, 2); });
  };
  auto contains = [](const std::string& hay, const std::string& needle) {
    INFO("error: \"" << hay << "\", expected to contain \"" << needle << "\"");
    CHECK(hay.find(needle) != std::string::npos);
  };
  const std::string missing = kDir + "no_such_image.png";
  contains(chat_err(ChatPart::make_image_file(missing)),
           "session: image 1 of the turn: image '" + missing + "': cannot open");
  contains(chat_err(ChatPart::make_image_file(kDir)), "is a directory");
  contains(chat_err(ChatPart::make_image()), "session: image 1 of the turn has no image");
  const std::vector<uint8_t> png = fmt_test::read_bytes(kImg0);
  contains(chat_err(ChatPart::make_image_data(png.data(), png.size() / 2)), "image '<memory>'");
  contains(chat_err(ChatPart::make_image_data(std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'})),
           "unknown or unsupported format");
  contains(chat_err(ChatPart::make_image_data(std::vector<uint8_t>{})), "empty (0 bytes)");
  Image bad;
  bad.width = 4;
  bad.height = 4;  // no pixels
  contains(chat_err(ChatPart::make_image_pixels(bad)), "session: image 1 of the turn: ");
  // The second of two images is named.
  contains(error_of([&] {
             s.chat({ChatPart::make_image_file(kImg0), ChatPart::make_image_file(missing)}, {}, 2);
           }),
           "session: image 2 of the turn");
  CHECK(s.position() == 0);
  CHECK(s.tokens().empty());
  // The session's limits apply (a decompression bomb is refused before decoding).
  SessionOptions o = exact_greedy();
  o.images.limits.max_pixels = 1000;  // img0 has 14550
  Session limited(m, o);
  contains(error_of([&] { limited.chat({ChatPart::make_image_file(kImg0)}, {}, 1); }),
           "max_pixels");
  CHECK(limited.position() == 0);
  // A prompt too long for the context fails before any image is encoded.
  SessionOptions small = exact_greedy();
  small.context = 20;
  Session tight(m, small);
  contains(error_of([&] {
             tight.chat({ChatPart::make_image_file(kImg0), ChatPart::make_text("x")}, {}, 1);
           }),
           "context overflow");
  // After all that, the first session still works.
  CHECK_NOTHROW(s.chat({ChatPart::make_image_file(kImg1), ChatPart::make_text("ok")}, {}, 2));
  CHECK(s.timings().images == 1);
  // Raw ids: the image count must match the blocks; only image parts.
  Session raw(m, exact_greedy());
  contains(error_of([&] {
             raw.generate_with_images(input_ids("mm_ids"), {ChatPart::make_image_file(kImg0)}, {},
                                      1);
           }),
           "the prompt has 2 image blocks (runs of image token id 960) for 1 images");
  contains(error_of([&] {
             raw.generate_with_images({2, 960, 960}, {ChatPart::make_image_file(kImg0)}, {}, 1);
           }),
           "has 2 image tokens; the model takes 16 per image");
  contains(error_of([&] {
             raw.prefill_with_images({2, 5}, {ChatPart::make_text("x")});
           }),
           "must be image parts");
  CHECK(raw.position() == 0);
}

TEST_CASE("multimodal: a text-only model refuses image parts clearly") {
  fmt_test::TempDir tmp;
  const std::string dir = tmp.path + "/text";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  const std::string cfg_json =
      "{\"model_type\": \"gemma3_text\", \"hidden_size\": 32, \"num_hidden_layers\": 2, "
      "\"num_attention_heads\": 2,"
      " \"num_key_value_heads\": 2, \"head_dim\": 8, \"intermediate_size\": 64, \"vocab_size\": "
      "1024,"
      " \"layer_types\": [\"sliding_attention\", \"full_attention\"], \"eos_token_id\": [1, 5]}";
  fmt_test::write_text(dir + "/config.json", cfg_json);
  for (const char* f : {"/tokenizer.model", "/tokenizer_config.json"})
    fmt_test::write_bytes(dir + f, fmt_test::read_bytes(fmt_test::kTiny + f));
  const ModelConfig cfg = convert::resolve_hf_config(cfg_json, "config.json");
  REQUIRE(!cfg.has_vision);
  std::mt19937 rng(7);
  std::vector<fmt_test::StEntry> ts;
  for (const TensorSpec& t : tensor_table(cfg))
    ts.push_back({t.hf_names.back(), "BF16", t.hf_shape,
                  fmt_test::random_bf16(size_t(element_count(t.hf_shape)), rng)});
  fmt_test::write_safetensors(dir + "/model.safetensors", ts);
  convert::ConvertOptions o;
  o.type = WeightType::F32;
  convert::convert_hf_checkpoint(dir, tmp.path + "/text.g3", o);
  const Model m(tmp.path + "/text.g3");
  CHECK(!m.has_vision());
  Session s(m, exact_greedy());
  const std::string e = error_of([&] {
    s.chat({ChatPart::make_image_file(kImg0), ChatPart::make_text("hi")}, {}, 1);
  });
  CHECK(e ==
        "session: image 1 of the turn: this model has no vision tower (a text-only model); it "
        "cannot take images");
  CHECK(s.position() == 0);
  CHECK_NOTHROW(s.chat("hi", {}, 1));
}

TEST_CASE(
    "gemma3-dump --image: pixels, image embeddings, logits, hidden and greedy ids match the "
    "goldens") {
  const std::string bin = std::string(GEMMA3_BINARY_DIR) + "/gemma3-dump";
  if (!have_binary(bin)) return;
  tiny(WeightType::BF16);  // makes the model file
  const std::string model = model_path(WeightType::BF16);
  const std::string out = std::string(GEMMA3_BINARY_DIR) + "/test_multimodal_dump_";
  const auto ids = input_ids("mm_ids");
  std::string id_list;
  for (size_t i = 0; i < ids.size(); ++i) id_list += (i ? "," : "") + std::to_string(ids[i]);
  const std::string base =
      tool_command(bin) + " -m \"" + model + "\" --ids " + id_list + " --threads 2 ";
  std::string cmd = base + "--image \"" + kImg0 + "\" --image \"" + kImg1 +
                    "\" --chunk 5 --logits \"" + out + "logits.npy\" --hidden \"" + out +
                    "hidden.npy\" --pixels \"" + out + "pixels.npy\" " + "--image-embeddings \"" +
                    out + "emb.npy\" --generate 16 > \"" + out + "gen.txt\"";
  REQUIRE(std::system(cmd.c_str()) == 0);

  const auto pixels = npy::load<float>(out + "pixels.npy");
  CHECK(pixels.shape == std::vector<size_t>{2, 3, 112, 112});
  const auto emb = npy::load<float>(out + "emb.npy");
  CHECK(emb.shape == std::vector<size_t>{2, 16, 64});
  for (size_t i = 0; i < 2; ++i) {
    const auto px = golden("img" + std::to_string(i) + "_pixel_values");
    REQUIRE(pixels.size() == 2 * px.size());
    check_close("dump pixels " + std::to_string(i), pixels.data.data() + i * px.size(),
                px.data.data(), px.size(), 1e-6);
    const auto e = golden("img" + std::to_string(i) + "_image_embeddings");
    REQUIRE(emb.size() == 2 * e.size());
    // The vision bound of issue 6: 1e-5 + 1e-5·|ref|.
    check_close("dump image embeddings " + std::to_string(i), emb.data.data() + i * e.size(),
                e.data.data(), e.size(), 1e-5);
  }
  const auto logits = npy::load<float>(out + "logits.npy");
  const auto logits_ref = golden("mm_logits");
  REQUIRE(logits.shape == logits_ref.shape);
  check_close("dump logits", logits.data.data(), logits_ref.data.data(), logits.size());
  const auto hidden = npy::load<float>(out + "hidden.npy");
  const auto embeds_ref = golden("mm_inputs_embeds");
  REQUIRE(hidden.shape == (std::vector<size_t>{9, ids.size(), 64}));
  check_close("dump hidden[0] = inputs_embeds", hidden.data.data(), embeds_ref.data.data(),
              embeds_ref.size());
  std::string want;
  for (int id : input_ids("mm_new_ids")) want += (want.empty() ? "" : " ") + std::to_string(id);
  CHECK(goldens::read_text(out + "gen.txt") == want + "\n");

  // Errors: exit status 1 and one "error: " line.
  auto fails_with = [&](const std::string& args, const std::string& needle) {
    const std::string c = base + args + " > /dev/null 2> \"" + out + "err.txt\"";
    INFO(args);
    CHECK(std::system(c.c_str()) != 0);
    const std::string err = goldens::read_text(out + "err.txt");
    INFO(err);
    CHECK(err.rfind("error: ", 0) == 0);
    CHECK(err.find(needle) != std::string::npos);
  };
  fails_with(
      "--image \"" + kImg0 + "\" --logits \"" + out + "x.npy\"",
      "--ids has 2 image block(s) (runs of image token id 960) but 1 --image file(s) were given");
  fails_with("--logits \"" + out + "x.npy\"", "but 0 --image file(s) were given");
  fails_with(
      "--image \"" + kImg0 + "\" --image \"" + kImg1 + "\" --image \"" + kImg1 + "\" --generate 1",
      "but 3 --image file(s)");
  fails_with("--image \"" + kImg0 + "\" --image \"" + kDir + "missing.png\" --generate 1",
             "missing.png': cannot open");
}

TEST_CASE("gemma3-run --image: one turn, interactive /image, errors") {
  const std::string bin = std::string(GEMMA3_BINARY_DIR) + "/gemma3-run";
  if (!have_binary(bin)) return;
  const Model& m = tiny(WeightType::F32);
  const std::string out = std::string(GEMMA3_BINARY_DIR) + "/test_multimodal_run_";
  const std::string base =
      tool_command(bin) + " -m \"" + model_path(WeightType::F32) + "\" --threads 2 --greedy ";

  // Images first, then the prompt text, in the user turn.
  std::string cmd = base + "--image \"" + kImg0 + "\" --image \"" + kImg1 +
                    "\" -p \"what is this?\" -n 5 > \"" + out + "1.txt\" 2> \"" + out + "1.err\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  SessionOptions o = exact_greedy();
  o.context = 1024;
  o.kv_type = KVType::BF16;  // gemma3-run's default cache
  Session a(m, o);
  const std::string reply =
      a.chat({ChatPart::make_image_file(kImg0), ChatPart::make_image_file(kImg1),
              ChatPart::make_text("what is this?")},
             {}, 5)
          .text;
  CHECK(goldens::read_text(out + "1.txt") == reply + "\n");
  const std::string err = goldens::read_text(out + "1.err");
  INFO(err);
  CHECK(err.find("image encode 2 images") != std::string::npos);
  CHECK(err.find("tokens/s") != std::string::npos);

  // Interactive: "/image PATH" attaches to the next turn; a bad path is
  // reported and the chat goes on.
  cmd = "printf '/image " + kImg1 + "\\nwhat?\\n/image " + kDir + "missing.png\\nmore\\n' | " +
        base + "-n 3 -q > \"" + out + "2.txt\" 2> \"" + out + "2.err\"";
  REQUIRE(std::system(cmd.c_str()) == 0);
  Session b(m, o);
  const std::string r1 =
      b.chat({ChatPart::make_image_file(kImg1), ChatPart::make_text("what?")}, {}, 3).text;
  const std::string r2 = b.chat("more", {}, 3).text;
  CHECK(goldens::read_text(out + "2.txt") == r1 + "\n" + r2 + "\n");
  CHECK(goldens::read_text(out + "2.err")
            .find("error: image '" + kDir + "missing.png': cannot open") != std::string::npos);

  // Errors: exit status 1 and "error: ...".
  for (const std::string& bad : {"--image \"" + kDir + "missing.png\" -p x",
                                 "--raw --image \"" + kImg0 + "\" -p x", std::string("--image")}) {
    cmd = base + bad + " > /dev/null 2> \"" + out + "err.txt\"";
    INFO(bad);
    CHECK(std::system(cmd.c_str()) != 0);
    CHECK(goldens::read_text(out + "err.txt").find("error: ") != std::string::npos);
  }
}
