// Tests for gemma3/image.hpp: decoding to RGB, limits and bad files,
// Pillow-exact resize, pixel values, pan-and-scan geometry.
//
// Goldens: tests/data/image/img{0,1}_{resized_u8,pixel_values}.npy, copied from
// the tiny-dev fixtures (HF Gemma3ImageProcessor + Pillow). The small hand-made
// files come from tests/data/image/gen/ (see README.md there); their expected
// pixels are written down here from what the generator stores.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gemma3/image.hpp"
#include "jpeg_test_util.hpp"
#include "npy.hpp"

using gemma3::Image;

namespace {

const std::string kDir = std::string(GEMMA3_TEST_DATA_DIR) + "/image/";

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Encodes with stb_image_write into memory.
void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<std::uint8_t>*>(ctx);
  v->insert(v->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
}
std::vector<std::uint8_t> encode(const char* format, int w, int h, int comp,
                                 const std::vector<std::uint8_t>& px) {
  std::vector<std::uint8_t> out;
  int ok = 0;
  if (std::string(format) == "png")
    ok = stbi_write_png_to_func(append_bytes, &out, w, h, comp, px.data(), w * comp);
  else if (std::string(format) == "bmp")
    ok = stbi_write_bmp_to_func(append_bytes, &out, w, h, comp, px.data());
  else ok = stbi_write_jpg_to_func(append_bytes, &out, w, h, comp, px.data(), 95);
  REQUIRE(ok);
  return out;
}

Image load_mem(const std::vector<std::uint8_t>& bytes, const gemma3::ImageLoadOptions& lim = {}) {
  return gemma3::load_image_from_memory(bytes.data(), bytes.size(), "test-bytes", lim);
}

Image make(int w, int h, std::vector<std::uint8_t> rgb) {
  Image im;
  im.width = w;
  im.height = h;
  im.rgb = std::move(rgb);
  return im;
}

// The error text of loading `path`, or "" when it loads.
std::string load_error(const std::string& path, const gemma3::ImageLoadOptions& lim = {}) {
  try {
    gemma3::load_image(path, lim);
  } catch (const gemma3::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------
TEST_CASE("fixture images: resized uint8 equals the Pillow goldens exactly") {
  // img0: 150x97 -> 112x112 (width down, height up); img1: 64x64 -> 112 (up).
  const char* names[2] = {"img0_photo_150x97.png", "img1_pattern_64x64.png"};
  const int sizes[2][2] = {{150, 97}, {64, 64}};
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    const Image img = gemma3::load_image(kDir + names[i]);
    CHECK(img.width == sizes[i][0]);
    CHECK(img.height == sizes[i][1]);
    const Image r = gemma3::resize_for_model(img, 112);
    const auto gold = npy::load<float>(kDir + "img" + std::to_string(i) + "_resized_u8.npy");
    REQUIRE(gold.shape == std::vector<std::size_t>{112, 112, 3});
    REQUIRE(r.rgb.size() == gold.size());
    std::size_t mismatches = 0;
    for (std::size_t k = 0; k < gold.size(); ++k)
      if (static_cast<float>(r.rgb[k]) != gold.data[k]) ++mismatches;
    CHECK(mismatches == 0);  // tolerance: exact
  }
}

TEST_CASE("fixture images: pixel values equal the HF goldens exactly") {
  const char* names[2] = {"img0_photo_150x97.png", "img1_pattern_64x64.png"};
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    // The model-config overload: settings from config.preprocess (defaults =
    // the released preprocessor_config.json), size from config.vision.
    gemma3::ModelConfig cfg;
    cfg.vision.image_size = 112;
    const gemma3::PixelValues pv =
        gemma3::preprocess_image(gemma3::load_image(kDir + names[i]), cfg);
    CHECK(pv.count == 1);
    CHECK(pv.num_crops == 0);
    CHECK(pv.size == 112);
    const auto gold = npy::load<float>(kDir + "img" + std::to_string(i) + "_pixel_values.npy");
    REQUIRE(gold.shape == std::vector<std::size_t>{3, 112, 112});
    REQUIRE(pv.data.size() == gold.size());
    double max_diff = 0;
    for (std::size_t k = 0; k < gold.size(); ++k)
      max_diff = std::max(max_diff, double(std::fabs(pv.data[k] - gold.data[k])));
    CHECK(max_diff == 0.0);  // tolerance: exact (issue allows 1e-5 + 1e-5*|ref|)
  }
}

TEST_CASE("pixel values: rescale in float64 then normalize in float32") {
  Image img = make(2, 1, {0, 128, 255, 255, 0, 51});
  gemma3::PreprocessConfig pc;
  std::vector<float> out(6);
  gemma3::to_pixel_values(img, pc, out.data());
  // CHW: R plane {0, 255}, G {128, 0}, B {255, 51}.
  CHECK(out[0] == -1.0f);
  CHECK(out[1] == 1.0f);
  const float g128 = (static_cast<float>(128.0 * (1.0 / 255.0)) - 0.5f) / 0.5f;
  CHECK(out[2] == g128);
  CHECK(out[5] == (static_cast<float>(51.0 * (1.0 / 255.0)) - 0.5f) / 0.5f);
  // Per-channel mean/std come from the config.
  const float mean[3] = {0.25f, 0.5f, 0.75f}, stdev[3] = {2.0f, 0.5f, 0.25f};
  for (int c = 0; c < 3; ++c) {
    pc.image_mean[c] = mean[c];
    pc.image_std[c] = stdev[c];
  }
  gemma3::to_pixel_values(img, pc, out.data());
  CHECK(out[1] == (1.0f - 0.25f) / 2.0f);
  CHECK(out[4] == (1.0f - 0.75f) / 0.25f);
  // do_normalize = false arrives as mean 0, std 1; do_rescale = false as factor 1
  // (gemma3/convert/hf_config.hpp): x/255 first, then the raw byte values.
  for (int c = 0; c < 3; ++c) {
    pc.image_mean[c] = 0.0f;
    pc.image_std[c] = 1.0f;
  }
  gemma3::to_pixel_values(img, pc, out.data());
  CHECK(out[1] == 1.0f);
  pc.rescale_factor = 1.0;
  gemma3::to_pixel_values(img, pc, out.data());
  CHECK(out[1] == 255.0f);
}

TEST_CASE("preprocess settings: bad image size or values are refused") {
  Image img = make(1, 1, {1, 2, 3});
  gemma3::PreprocessConfig pc;
  CHECK_THROWS_AS(gemma3::preprocess_image(img, pc, 0), gemma3::Error);
  CHECK_THROWS_AS(gemma3::resize_for_model(img, -1), gemma3::Error);
  CHECK(gemma3::preprocess_image(img, pc, 8).size == 8);
  pc.image_std[1] = 0.0f;
  CHECK_THROWS_AS(gemma3::preprocess_image(img, pc, 8), gemma3::Error);
  pc.image_std[1] = 0.5f;
  pc.do_pan_and_scan = true;
  pc.pan_and_scan_min_crop_size = 0;
  CHECK_THROWS_AS(gemma3::preprocess_image(img, pc, 8), gemma3::Error);
  CHECK_FALSE(gemma3::PreprocessConfig{}.do_pan_and_scan);  // off by default
}

// ---------------------------------------------------------------------------
TEST_CASE("resize: hand-derived Pillow bilinear values") {
  SUBCASE("upscale 2 -> 4") {
    // scale 0.5, support 1. Outputs (centres 0.25, 0.75, 1.25, 1.75):
    // x0: one tap (src 0) -> 0; x1: 0.75*0 + 0.25*255 = 63.75 -> 64;
    // x2: 0.25*0 + 0.75*255 = 191.25 -> 191; x3: one tap (src 1) -> 255.
    const Image out = gemma3::resize_bilinear(make(2, 1, {0, 0, 0, 255, 255, 255}), 4, 1);
    const std::uint8_t want[4] = {0, 64, 191, 255};
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) CHECK(int(out.rgb[3 * x + c]) == int(want[x]));
  }
  SUBCASE("downscale 4 -> 2 is antialiased") {
    // scale 2: the triangle spans 2 source pixels each side. Output 0 (centre 1):
    // taps 0..2 with weights 3/7, 3/7, 1/7 -> (0*3 + 100*3 + 200)/7 = 71.4 -> 71.
    // Output 1 (centre 3): taps 1..3, weights 1/7, 3/7, 3/7 -> 820/7 = 117.1 -> 117.
    // (A plain 2-tap bilinear would give 50 and 120.)
    const Image in = make(1, 4, {0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40});
    const Image out = gemma3::resize_bilinear(in, 1, 2);  // vertical pass only
    CHECK(int(out.rgb[0]) == 71);
    CHECK(int(out.rgb[3]) == 117);
    // The same along x (horizontal pass only).
    const Image out_x = gemma3::resize_bilinear(
        make(4, 1, {0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40}), 2, 1);
    CHECK(int(out_x.rgb[0]) == 71);
    CHECK(int(out_x.rgb[3]) == 117);
  }
  SUBCASE("a constant image stays constant at any size") {
    const Image in = make(7, 5, std::vector<std::uint8_t>(7 * 5 * 3, 201));
    for (int s : {1, 2, 3, 5, 9, 31}) {
      const Image out = gemma3::resize_bilinear(in, s, s + 1);
      CHECK(out.width == s);
      CHECK(out.height == s + 1);
      for (std::uint8_t v : out.rgb) REQUIRE(int(v) == 201);
    }
  }
  SUBCASE("same size is a copy; bad sizes throw") {
    const Image in = make(2, 1, {1, 2, 3, 4, 5, 6});
    CHECK(gemma3::resize_bilinear(in, 2, 1).rgb == in.rgb);
    CHECK_THROWS_AS(gemma3::resize_bilinear(in, 0, 4), gemma3::Error);
    CHECK_THROWS_AS(gemma3::resize_bilinear(make(2, 2, {1, 2, 3}), 4, 4), gemma3::Error);
  }
}

// ---------------------------------------------------------------------------
TEST_CASE("loading: formats and conversion to RGB") {
  SUBCASE("file and memory give the same image") {
    const Image a = gemma3::load_image(kDir + "img0_photo_150x97.png");
    const Image b = load_mem(read_file(kDir + "img0_photo_150x97.png"));
    CHECK(a.rgb == b.rgb);
    CHECK(a.rgb.size() == std::size_t(150) * 97 * 3);
  }
  SUBCASE("palette PNG with tRNS: palette colours, alpha dropped") {
    const Image im = gemma3::load_image(kDir + "palette_3x2.png");
    REQUIRE(im.width == 3);
    REQUIRE(im.height == 2);
    const std::vector<std::uint8_t> want = {255, 0,  0,  0, 255, 0,   0, 0,   255,
                                            10,  20, 30, 0, 0,   255, 0, 255, 0};
    CHECK(im.rgb == want);
  }
  SUBCASE("1-bit greyscale PNG expands to 0/255 on all channels") {
    const Image im = gemma3::load_image(kDir + "grey1bit_8x1.png");
    const int bits[8] = {255, 0, 255, 255, 0, 0, 0, 0};
    REQUIRE(im.width == 8);
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) CHECK(int(im.rgb[3 * x + c]) == bits[x]);
  }
  SUBCASE("16-bit PNG keeps the high byte") {
    const Image im = gemma3::load_image(kDir + "rgb16_2x1.png");
    const std::vector<std::uint8_t> want = {0x12, 0xAB, 0x00, 0xFF, 0x80, 0x7F};
    CHECK(im.rgb == want);
  }
  SUBCASE("GIF: first frame only") {
    const Image im = gemma3::load_image(kDir + "anim_3x2.gif");
    REQUIRE(im.width == 3);
    REQUIRE(im.height == 2);
    const std::vector<std::uint8_t> want = {200, 10,  10,  10, 200, 10,  10, 10,  200,
                                            250, 250, 250, 10, 10,  200, 10, 200, 10};
    CHECK(im.rgb == want);
  }
  SUBCASE("GIF with a transparent index: palette colour, like PIL convert(\"RGB\")") {
    const Image im = gemma3::load_image(kDir + "transparent_3x2.gif");
    const std::vector<std::uint8_t> want = {200, 10,  10,  10, 200, 10,  10, 10,  200,
                                            250, 250, 250, 10, 10,  200, 10, 200, 10};
    CHECK(im.rgb == want);
  }
  SUBCASE("greyscale, grey+alpha and RGBA PNGs (stb_image_write)") {
    const std::vector<std::uint8_t> grey = {0, 77, 255, 3};
    CHECK(load_mem(encode("png", 2, 2, 1, grey)).rgb ==
          std::vector<std::uint8_t>({0, 0, 0, 77, 77, 77, 255, 255, 255, 3, 3, 3}));
    // Alpha is dropped, not composited: a fully transparent pixel keeps its colour.
    const std::vector<std::uint8_t> ga = {90, 0, 200, 128};
    CHECK(load_mem(encode("png", 2, 1, 2, ga)).rgb ==
          std::vector<std::uint8_t>({90, 90, 90, 200, 200, 200}));
    const std::vector<std::uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 255, 70, 80, 90, 7};
    CHECK(load_mem(encode("png", 3, 1, 4, rgba)).rgb ==
          std::vector<std::uint8_t>({10, 20, 30, 40, 50, 60, 70, 80, 90}));
  }
  SUBCASE("BMP, 24 and 32 bit") {
    const std::vector<std::uint8_t> rgb = {1, 2, 3, 250, 251, 252, 9, 8, 7, 100, 0, 50};
    CHECK(load_mem(encode("bmp", 2, 2, 3, rgb)).rgb == rgb);
    const std::vector<std::uint8_t> rgba = {1, 2, 3, 0, 250, 251, 252, 9};
    CHECK(load_mem(encode("bmp", 2, 1, 4, rgba)).rgb ==
          std::vector<std::uint8_t>({1, 2, 3, 250, 251, 252}));
  }
  SUBCASE("JPEG decodes close to its source (lossy)") {
    const Image png = gemma3::load_image(kDir + "img0_photo_150x97.png");
    const Image jpg = gemma3::load_image(kDir + "photo_q90.jpg");
    REQUIRE(jpg.width == 150);
    REQUIRE(jpg.height == 97);
    double sum = 0;
    for (std::size_t i = 0; i < png.rgb.size(); ++i)
      sum += std::abs(int(png.rgb[i]) - int(jpg.rgb[i]));
    // Quality 90 with 4:2:0 chroma on a detailed photo: 5.2 levels on average.
    CHECK(sum / png.rgb.size() < 8.0);
    // A smooth image survives much better (catches a wrong colour transform).
    std::vector<std::uint8_t> smooth(32 * 16 * 3);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 32; ++x) {
        smooth[(y * 32 + x) * 3 + 0] = std::uint8_t(x * 8);
        smooth[(y * 32 + x) * 3 + 1] = std::uint8_t(y * 16);
        smooth[(y * 32 + x) * 3 + 2] = std::uint8_t(200 - x * 3);
      }
    const Image sj = load_mem(encode("jpg", 32, 16, 3, smooth));
    double ssum = 0;
    for (std::size_t i = 0; i < smooth.size(); ++i)
      ssum += std::abs(int(smooth[i]) - int(sj.rgb[i]));
    CHECK(ssum / smooth.size() < 2.0);
    // Grey JPEG (3 components, zero chroma): channels equal within YCbCr rounding.
    const Image grey = gemma3::load_image(kDir + "grey_q90.jpg");
    REQUIRE(grey.rgb.size() == png.rgb.size());
    int spread = 0;
    for (std::size_t i = 0; i < grey.rgb.size(); i += 3)
      spread = std::max({spread, std::abs(grey.rgb[i] - grey.rgb[i + 1]),
                         std::abs(grey.rgb[i + 2] - grey.rgb[i + 1])});
    CHECK(spread <= 2);
    // A 1-component JPEG is "L" in PIL; convert("RGB") replicates it exactly.
    // Flat 8x8 blocks at quality 100 (all quantizers 1) decode to their value.
    std::vector<std::uint8_t> l(16 * 8);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 16; ++x) l[y * 16 + x] = x < 8 ? 37 : 201;
    const Image li = load_mem(encode_libjpeg(16, 8, JCS_GRAYSCALE, 1, l, 100));
    REQUIRE(li.width == 16);
    for (int i = 0; i < 16 * 8; ++i)
      for (int ch = 0; ch < 3; ++ch) CHECK(int(li.rgb[3 * i + ch]) == int(l[i]));
  }
  SUBCASE("CMYK JPEG: Adobe-inverted samples, then PIL's CMYK to RGB") {
    // PIL reads a 4-component JPEG as CMYK with rawmode "CMYK;I" (Adobe
    // convention: stored v = 255 - ink), then convert("RGB") computes per
    // channel nk = 255 - k, out = nk - MULDIV255(ink, nk) where
    // MULDIV255(a, b) = (t = a*b + 128, ((t >> 8) + t) >> 8) (Pillow Convert.c).
    // Left block: ink (0, 255, 255, 0), red. Right: ink (100, 0, 50, 51):
    // nk = 204; 100*204+128 = 20528 -> (80 + 20528) >> 8 = 80, R = 124;
    // G = 204; 50*204+128 = 10328 -> (40 + 10328) >> 8 = 40, B = 164.
    const std::uint8_t ink[2][4] = {{0, 255, 255, 0}, {100, 0, 50, 51}};
    std::vector<std::uint8_t> px(16 * 8 * 4);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 16; ++x)
        for (int ch = 0; ch < 4; ++ch) px[(y * 16 + x) * 4 + ch] = 255 - ink[x / 8][ch];
    const Image im = load_mem(encode_libjpeg(16, 8, JCS_CMYK, 4, px, 100));
    REQUIRE(im.width == 16);
    REQUIRE(im.height == 8);
    const std::uint8_t want[2][3] = {{255, 0, 0}, {124, 204, 164}};
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 16; ++x)
        for (int ch = 0; ch < 3; ++ch) CHECK(int(im.rgb[(y * 16 + x) * 3 + ch]) == want[x / 8][ch]);
  }
  SUBCASE("PNM (P6, P5)") {
    auto bytes = [](const std::string& header, std::vector<std::uint8_t> px) {
      std::vector<std::uint8_t> v(header.begin(), header.end());
      v.insert(v.end(), px.begin(), px.end());
      return v;
    };
    const auto b6 = bytes("P6\n# comment\n3 1\n255\n", {1, 2, 3, 255, 128, 0, 16, 32, 48});
    CHECK(load_mem(b6).rgb == std::vector<std::uint8_t>({1, 2, 3, 255, 128, 0, 16, 32, 48}));
    const auto b5 = bytes("P5 2 1 255 ", {7, 240});
    CHECK(load_mem(b5).rgb == std::vector<std::uint8_t>({7, 7, 7, 240, 240, 240}));
    // 16-bit samples: refused (stb_image misreads them).
    const auto b16 = bytes("P5 2 1 65535\n", {0x12, 0x34, 0xAB, 0xCD});
    CHECK_THROWS_WITH_AS(load_mem(b16), doctest::Contains("16-bit"), gemma3::Error);
    // Cut-off sample data is an error (stb would pad it with zeros).
    CHECK_THROWS_WITH_AS(load_mem(std::vector<std::uint8_t>(b6.begin(), b6.end() - 1)),
                         doctest::Contains("truncated"), gemma3::Error);
  }
  SUBCASE("stray bytes between JPEG segments are tolerated, like libjpeg") {
    std::vector<std::uint8_t> jpg = read_file(kDir + "photo_q90.jpg");
    const Image clean = load_mem(jpg);
    const std::size_t app0_end = 4 + ((std::size_t{jpg[4]} << 8) | jpg[5]);  // SOI + APP0
    jpg.insert(jpg.begin() + std::ptrdiff_t(app0_end), {0x00, 0x00});
    CHECK(load_mem(jpg).rgb == clean.rgb);
  }
  SUBCASE("1x1 image works end to end") {
    const Image im = load_mem(encode("png", 1, 1, 3, {255, 0, 51}));
    REQUIRE(im.width == 1);
    const gemma3::PixelValues pv = gemma3::preprocess_image(im, gemma3::PreprocessConfig{}, 4);
    REQUIRE(pv.data.size() == 3 * 16u);
    for (int i = 0; i < 16; ++i) {
      CHECK(pv.data[i] == 1.0f);
      CHECK(pv.data[16 + i] == -1.0f);
      CHECK(pv.data[32 + i] == (static_cast<float>(51 / 255.0) - 0.5f) / 0.5f);
    }
  }
}

namespace {
std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {  // PNG chunk CRC
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}
// TIFF-structured EXIF holding only the Orientation tag (one IFD entry).
std::vector<std::uint8_t> tiff_orientation(int v, bool little_endian) {
  if (little_endian)
    return {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, std::uint8_t(v),
            0,   0,   0,  0, 0, 0, 0};
  return {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, std::uint8_t(v),
          0,   0,   0, 0,  0, 0};
}
// A PNG with an eXIf chunk inserted after IHDR (8-byte signature + 25-byte IHDR).
std::vector<std::uint8_t> png_with_exif(std::vector<std::uint8_t> png, int orientation) {
  const std::vector<std::uint8_t> tiff = tiff_orientation(orientation, orientation % 2 == 0);
  std::vector<std::uint8_t> chunk = {0, 0, 0, std::uint8_t(tiff.size()), 'e', 'X', 'I', 'f'};
  chunk.insert(chunk.end(), tiff.begin(), tiff.end());
  const std::uint32_t crc = crc32(chunk.data() + 4, chunk.size() - 4);
  for (int s = 24; s >= 0; s -= 8) chunk.push_back(std::uint8_t(crc >> s));
  png.insert(png.begin() + 33, chunk.begin(), chunk.end());
  return png;
}
}  // namespace

TEST_CASE("loading: EXIF orientation is applied like PIL exif_transpose") {
  // 3x2 image "a b c / d e f"; pixel k has value 10*k on all channels.
  std::vector<std::uint8_t> px;
  for (int k = 1; k <= 6; ++k) px.insert(px.end(), 3, std::uint8_t(10 * k));
  const auto png = encode("png", 3, 2, 3, px);
  // Expected layouts (letters a..f = 1..6), derived by hand for each tag value:
  // 2 mirror: c b a / f e d; 3 rotate 180: f e d / c b a; 4 flip: d e f / a b c;
  // 5 transpose: a d / b e / c f; 6 rotate 90 cw: d a / e b / f c;
  // 7 transverse: f c / e b / d a; 8 rotate 90 ccw: c f / b e / a d.
  const std::vector<std::vector<int>> want = {
      {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
      {1, 4, 2, 5, 3, 6}, {4, 1, 5, 2, 6, 3}, {6, 3, 5, 2, 4, 1}, {3, 6, 2, 5, 1, 4}};
  for (int o = 1; o <= 8; ++o) {
    CAPTURE(o);
    const Image im = load_mem(png_with_exif(png, o));
    CHECK(im.width == (o >= 5 ? 2 : 3));
    CHECK(im.height == (o >= 5 ? 3 : 2));
    for (int i = 0; i < 6; ++i) CHECK(int(im.rgb[3 * i + 1]) == 10 * want[o - 1][i]);
  }
  gemma3::ImageLoadOptions raw;
  raw.apply_exif_orientation = false;
  CHECK(load_mem(png_with_exif(png, 6), raw).rgb == px);

  // JPEG: APP1 "Exif\0\0" segment right after SOI. 16x8, left half dark, right
  // half bright; rotated 90 cw (6) the left half becomes the top half of 8x16.
  std::vector<std::uint8_t> lr(16 * 8 * 3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) lr[(y * 16 + x) * 3 + c] = x < 8 ? 20 : 230;
  std::vector<std::uint8_t> jpg = encode("jpg", 16, 8, 3, lr);
  const std::vector<std::uint8_t> tiff = tiff_orientation(6, false);
  std::vector<std::uint8_t> app1 = {0xFF, 0xE1, 0, std::uint8_t(2 + 6 + tiff.size()), 'E', 'x', 'i',
                                    'f',  0,    0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());
  const Image up = load_mem(jpg);
  REQUIRE(up.width == 8);
  REQUIRE(up.height == 16);
  CHECK(int(up.rgb[(2 * 8 + 4) * 3]) < 60);    // (4, 2): top half, dark
  CHECK(int(up.rgb[(13 * 8 + 4) * 3]) > 190);  // (4, 13): bottom half, bright
  CHECK(load_mem(jpg, raw).width == 16);

  // Damaged EXIF data must not crash: damage only the APP1 segment / eXIf chunk.
  std::uint32_t seed = 777;
  auto rnd = [&seed]() { return seed = seed * 1664525u + 1013904223u; };
  const std::vector<std::uint8_t> png6 = png_with_exif(png, 6);
  for (int t = 0; t < 300; ++t) {
    std::vector<std::uint8_t> a = jpg, b = png6;
    for (int k = 0; k < 3; ++k) {
      a[2 + rnd() % app1.size()] = std::uint8_t(rnd() >> 24);
      b[33 + rnd() % 38] = std::uint8_t(rnd() >> 24);  // 12 + 26 bytes of eXIf chunk
    }
    for (const auto* bytes : {&a, &b}) {
      try {
        const Image im = load_mem(*bytes);
        CHECK(im.rgb.size() == std::size_t(im.width) * im.height * 3);
      } catch (const gemma3::Error&) {
      }
    }
  }
}

// ---------------------------------------------------------------------------
TEST_CASE("loading: bad files are clear errors") {
  struct Case {
    const char* file;
    const char* reason;  // part of the message
  };
  const Case cases[] = {
      {"empty.png", "empty"},
      {"text.txt", "unsupported format"},
      {"garbage.bin", "unsupported format"},
      {"truncated.png", "cannot decode PNG"},
      {"truncated.jpg", "truncated"},
      {"truncated.gif", "GIF data is truncated"},
      {"zero_0x0.png", "invalid size 0x0"},
      {"bomb_60000x60000.png", "refused before decoding"},
      {"wide_100000x1.png", "max_side"},
      {"no_such_file.png", "cannot open"},
      {"", "is a directory"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const std::string msg = load_error(kDir + c.file);
    INFO("message: " << msg);
    CHECK(contains(msg, c.reason));
    CHECK(contains(msg, kDir + c.file));  // names the file
  }
}

TEST_CASE("loading: limits are checked before decoding and can be raised") {
  // 100000 x 1 is refused by the side limit; with a higher limit it decodes
  // (generator: grey ramp v = x % 256).
  gemma3::ImageLoadOptions lim;
  lim.max_side = 100000;
  const Image wide = gemma3::load_image(kDir + "wide_100000x1.png", lim);
  REQUIRE(wide.width == 100000);
  REQUIRE(wide.height == 1);
  CHECK(int(wide.rgb[3 * 300 + 2]) == 300 % 256);
  CHECK(int(wide.rgb[3 * 99999]) == 99999 % 256);
  lim.max_pixels = 99999;
  CHECK(contains(load_error(kDir + "wide_100000x1.png", lim), "max_pixels"));

  // The bomb stays refused by the pixel limit even with the side limit raised:
  // the header alone decides, no 10.8 GB allocation is attempted.
  gemma3::ImageLoadOptions sides;
  sides.max_side = 100000;
  CHECK(contains(load_error(kDir + "bomb_60000x60000.png", sides), "max_pixels"));

  gemma3::ImageLoadOptions small_file;
  small_file.max_file_bytes = 1000;
  CHECK(contains(load_error(kDir + "img0_photo_150x97.png", small_file), "max_file_bytes"));
  const auto bytes = read_file(kDir + "img0_photo_150x97.png");
  CHECK_THROWS_WITH_AS(load_mem(bytes, small_file), doctest::Contains("max_file_bytes"),
                       gemma3::Error);
}

TEST_CASE("loading: JPEG scan limit (max_jpeg_scans) stops a many-scan CPU bomb") {
  // A progressive JPEG (libjpeg's simple progression: 10 scans for YCbCr), then
  // the same file with its last scan repeated 1500 times: every repeat is
  // another pass over the image (libjpeg only warns about the bogus
  // progression). Each SOS marker (FF DA) starts a scan; entropy-coded data
  // cannot hold FF DA, so counting the pairs counts the scans.
  std::vector<std::uint8_t> px(64 * 48 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t(i * 7 + i / 192);
  const std::vector<std::uint8_t> prog = encode_libjpeg(64, 48, JCS_RGB, 3, px, 90, true);
  std::vector<std::size_t> sos;
  for (std::size_t i = 0; i + 1 < prog.size(); ++i)
    if (prog[i] == 0xFF && prog[i + 1] == 0xDA) sos.push_back(i);
  REQUIRE(sos.size() == 10);
  REQUIRE(prog[prog.size() - 2] == 0xFF);
  REQUIRE(prog[prog.size() - 1] == 0xD9);  // EOI right after the last scan
  const Image ref = load_mem(prog);
  gemma3::ImageLoadOptions lim;
  lim.max_jpeg_scans = 10;
  CHECK(load_mem(prog, lim).rgb == ref.rgb);
  lim.max_jpeg_scans = 9;
  CHECK_THROWS_WITH_AS(load_mem(prog, lim),
                       doctest::Contains("more than 9 scans (ImageLoadOptions::max_jpeg_scans)"),
                       gemma3::Error);

  std::vector<std::uint8_t> bomb(prog.begin(), prog.end() - 2);
  const std::vector<std::uint8_t> last_scan(prog.begin() + std::ptrdiff_t(sos.back()),
                                            prog.end() - 2);
  for (int r = 0; r < 1500; ++r) bomb.insert(bomb.end(), last_scan.begin(), last_scan.end());
  bomb.push_back(0xFF);
  bomb.push_back(0xD9);
  CHECK_THROWS_WITH_AS(load_mem(bomb), doctest::Contains("more than 100 scans"), gemma3::Error);
  lim.max_jpeg_scans = 2000;  // raised: it decodes (the repeats refine nothing new)
  const Image slow = load_mem(bomb, lim);
  CHECK(slow.width == 64);
  CHECK(slow.height == 48);
}

TEST_CASE("loading: cut-off and damaged data never crash") {
  for (const char* f : {"photo_q90.jpg", "img0_photo_150x97.png", "anim_3x2.gif", "bmp24"}) {
    CAPTURE(f);
    std::vector<std::uint8_t> full;
    if (std::string(f) == "bmp24") {  // 5x3 24-bit BMP: 16-byte rows after a 54-byte header
      full = encode("bmp", 5, 3, 3, std::vector<std::uint8_t>(45, 99));
    } else {
      full = read_file(kDir + f);
    }
    // Cutting into the image data is an error. Like Pillow, data after the
    // image (PNG IEND, later GIF frames) is not required, and stb does not
    // check the zlib checksum, so PNG cuts stay well inside IDAT. The JPEG
    // must keep its end-of-image marker. The GIF's first frame ends at byte 50
    // (6 header + 7 screen + 12 palette + 8 control + 10 descriptor + 1 code
    // size + 5 data + 1 terminator).
    std::vector<std::size_t> cuts = {
        1, 8, 20, full.size() / 3, full.size() / 2, full.size() * 9 / 10};
    if (std::string(f) == "photo_q90.jpg") {
      cuts.push_back(full.size() - 2);
      cuts.push_back(full.size() - 1);
    }
    if (std::string(f) == "anim_3x2.gif") {
      cuts.clear();
      for (std::size_t c = 1; c < 50; ++c) cuts.push_back(c);
      const std::vector<std::uint8_t> first(full.begin(), full.begin() + 50);
      CHECK(load_mem(first).rgb == load_mem(full).rgb);
    }
    for (std::size_t cut : cuts) {
      CAPTURE(cut);
      const std::vector<std::uint8_t> part(full.begin(), full.begin() + cut);
      CHECK_THROWS_AS(load_mem(part), gemma3::Error);
    }
    // Random byte damage: either a valid image or gemma3::Error (ASan checks
    // the "never crash" part).
    std::uint32_t seed = 12345;
    auto rnd = [&seed]() { return seed = seed * 1664525u + 1013904223u; };
    for (int t = 0; t < 200; ++t) {
      std::vector<std::uint8_t> bad = full;
      for (int k = 0; k < 4; ++k) bad[rnd() % bad.size()] = static_cast<std::uint8_t>(rnd() >> 24);
      try {
        const Image im = load_mem(bad);
        CHECK(im.rgb.size() == std::size_t(im.width) * im.height * 3);
      } catch (const gemma3::Error&) {
      }
    }
  }
  // Valid magic followed by garbage.
  std::vector<std::uint8_t> fake_png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> fake_jpg = {0xFF, 0xD8, 0xFF, 0xE0};
  for (int i = 0; i < 64; ++i) {
    fake_png.push_back(static_cast<std::uint8_t>(i * 37));
    fake_jpg.push_back(static_cast<std::uint8_t>(i * 53));
  }
  CHECK_THROWS_AS(load_mem(fake_png), gemma3::Error);
  CHECK_THROWS_AS(load_mem(fake_jpg), gemma3::Error);
}

// ---------------------------------------------------------------------------
namespace {
std::vector<gemma3::CropBox> boxes(int w, int h, int min_crop = 256, int max_crops = 4) {
  gemma3::PreprocessConfig pc;
  pc.do_pan_and_scan = true;
  pc.pan_and_scan_min_crop_size = min_crop;
  pc.pan_and_scan_max_num_crops = max_crops;
  return gemma3::pan_and_scan_boxes(w, h, pc);
}
std::vector<std::vector<int>> as_vec(const std::vector<gemma3::CropBox>& b) {
  std::vector<std::vector<int>> v;
  for (const auto& c : b) v.push_back({c.x, c.y, c.width, c.height});
  return v;
}
}  // namespace

TEST_CASE("pan-and-scan crop geometry (spec §4.2, derived by hand)") {
  using V = std::vector<std::vector<int>>;
  // 1000x400: ratio 2.5 >= 1.2; n = floor(2.5 + 0.5) = 3; floor(1000/256) = 3;
  // clamp [2, 4] -> 3; crop 334x400 (ceil(1000/3)); last crop truncated to 332.
  CHECK(as_vec(boxes(1000, 400)) == V{{0, 0, 334, 400}, {334, 0, 334, 400}, {668, 0, 332, 400}});
  // Portrait: the same along y.
  CHECK(as_vec(boxes(400, 1000)) == V{{0, 0, 400, 334}, {0, 334, 400, 334}, {0, 668, 400, 332}});
  // 2000x300: n = floor(6.67 + 0.5) = 7, floor(2000/256) = 7, max 4 -> 4 crops of 500.
  CHECK(as_vec(boxes(2000, 300)) ==
        V{{0, 0, 500, 300}, {500, 0, 500, 300}, {1000, 0, 500, 300}, {1500, 0, 500, 300}});
  // 1300x1000: ratio 1.3, n = floor(1.8) = 1 -> at least 2: 650 wide.
  CHECK(as_vec(boxes(1300, 1000)) == V{{0, 0, 650, 1000}, {650, 0, 650, 1000}});
  // 1200x1000: ratio exactly 1.2 activates (only "< ratio" is refused).
  CHECK(as_vec(boxes(1200, 1000)) == V{{0, 0, 600, 1000}, {600, 0, 600, 1000}});
  // 1201x1000: crop ceil(600.5) = 601, last one 600.
  CHECK(as_vec(boxes(1201, 1000)) == V{{0, 0, 601, 1000}, {601, 0, 600, 1000}});
  // 4000x1000 with max 3 crops: n = floor(4.5) = 4 -> 3; ceil(4000/3) = 1334.
  CHECK(as_vec(boxes(4000, 1000, 256, 3)) ==
        V{{0, 0, 1334, 1000}, {1334, 0, 1334, 1000}, {2668, 0, 1332, 1000}});
  // Not elongated enough: 1190x1000 (1.19), square.
  CHECK(boxes(1190, 1000).empty());
  CHECK(boxes(1000, 1000).empty());
  // Crops too small: 700x200: n = min(floor(700/256) = 2, 4) = 2, crop 350x200,
  // 200 < 256 -> none.
  CHECK(boxes(700, 200).empty());
  // 900x256: n = floor(3.52 + 0.5) = 4, but floor(900/256) = 3 -> 3 crops of 300
  // (4 would make 225-wide crops, below 256, and give none).
  CHECK(as_vec(boxes(900, 256)) == V{{0, 0, 300, 256}, {300, 0, 300, 256}, {600, 0, 300, 256}});
  // 3000x500: n = floor(6.5) = 6, floor(3000/256) = 11 -> 6 -> max 4: 750 wide.
  CHECK(as_vec(boxes(3000, 500)).size() == 4);
}

TEST_CASE("pan-and-scan preprocessing: original first, then each crop") {
  // 40x16 image with a horizontal ramp; min crop 8, image size 8:
  // ratio 2.5 -> n = 3, floor(40/8) = 5 -> 3; crop ceil(40/3) = 14 x 16.
  std::vector<std::uint8_t> rgb(40 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c) rgb[(y * 40 + x) * 3 + c] = std::uint8_t(x * 6 + c * 10 + y);
  const Image img = make(40, 16, rgb);
  gemma3::PreprocessConfig pc;
  pc.do_pan_and_scan = true;
  pc.pan_and_scan_min_crop_size = 8;
  const gemma3::PixelValues pv = gemma3::preprocess_image(img, pc, 8);
  REQUIRE(pv.count == 4);
  CHECK(pv.num_crops == 3);
  REQUIRE(pv.data.size() == 4u * 3 * 8 * 8);
  const Image c2 = gemma3::crop(img, {28, 0, 14, 16});  // truncated to 12 wide
  CHECK(c2.width == 12);
  CHECK(c2.height == 16);
  CHECK(int(c2.rgb[0]) == 28 * 6);
  const gemma3::CropBox expect[4] = {
      {0, 0, 40, 16}, {0, 0, 14, 16}, {14, 0, 14, 16}, {28, 0, 12, 16}};
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    std::vector<float> want(3 * 64);
    gemma3::to_pixel_values(gemma3::resize_bilinear(gemma3::crop(img, expect[i]), 8, 8), pc,
                            want.data());
    CHECK(std::vector<float>(pv.image(i), pv.image(i) + 3 * 64) == want);
  }
  // Off (the default): only the original.
  pc.do_pan_and_scan = false;
  CHECK(gemma3::preprocess_image(img, pc, 8).count == 1);
}
