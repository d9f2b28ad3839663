// gemma3/image.hpp — loading images and turning them into SigLIP pixel values.
//
// Reproduces the Hugging Face Gemma3ImageProcessor (spec §4.1, §4.2):
//   decode (libjpeg for JPEG, as Pillow; stb_image for the rest) -> RGB (alpha dropped, grey
//   replicated, palette expanded)
//   -> [pan-and-scan crops] -> Pillow BILINEAR resize to S x S (uint8, bit-exact)
//   -> x * rescale_factor (float64, then float32) -> (x - mean) / std (float32)
//   -> channels first [3, S, S].
// Decoding limits (file size, width, height, pixels) are checked from the
// header before any pixel is decoded, so a decompression bomb costs nothing.
//
//   gemma3::Image img = gemma3::load_image("cat.jpg");
//   gemma3::PixelValues pv = gemma3::preprocess_image(img, model_config);  // [count, 3, S, S]
// (S = config.vision.image_size; mean, std, rescale and pan-and-scan settings
// come from config.preprocess, i.e. preprocessor_config.json.)
//
// The program must link libjpeg and libstb (the stb_image implementation);
// the CMake target gemma3::gemma3 brings both.
#pragma once

#include <stb/stb_image.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/detail/image_formats.hpp"
#include "gemma3/detail/image_jpeg.hpp"
#include "gemma3/detail/image_resample.hpp"
#include "gemma3/error.hpp"
#include "gemma3/image_types.hpp"

namespace gemma3 {

// Decodes PNG, JPEG, BMP, GIF (first frame) or PNM from memory to RGB, the way
// PIL's convert("RGB") does: alpha is dropped (not composited), grey is
// replicated, palettes are expanded; 16-bit samples keep their high byte;
// EXIF orientation is applied unless turned off. `name` is used in errors.
inline Image load_image_from_memory(const void* data, std::size_t size,
                                    const std::string& name = "<memory>",
                                    const ImageLoadOptions& options = {}) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  if (size == 0 || p == nullptr) throw Error("image '" + name + "': empty (0 bytes)");
  if (size > options.max_file_bytes)
    throw Error("image '" + name + "': " + std::to_string(size) + " bytes exceeds the limit of " +
                std::to_string(options.max_file_bytes) +
                " bytes (ImageLoadOptions::max_file_bytes)");
  if (size > static_cast<std::size_t>(INT_MAX))
    throw Error("image '" + name + "': larger than 2 GiB, not supported");
  const char* format = detail::sniff_format(p, size);
  if (!format)
    throw Error("image '" + name +
                "': unknown or unsupported format (expected PNG, JPEG, GIF, BMP or PNM)");

  const std::string fmt = format;
  auto orient = [&](Image img) {
    if (!options.apply_exif_orientation) return img;
    const int orientation = detail::exif_orientation(fmt, p, size);
    return detail::apply_orientation(std::move(img), orientation);
  };
  if (fmt == "JPEG") return orient(detail::decode_jpeg(p, size, name, options));

  if (fmt == "PNM" && !detail::pnm_header_numbers_ok(p, size))
    throw Error("image '" + name + "': PNM header number too large");
  // PNG sizes are read from IHDR directly: stb refuses very large PNGs itself
  // with a misleading message, and ours names the limit.
  if (fmt == "PNG" && size >= 24 && std::memcmp(p + 12, "IHDR", 4) == 0) {
    const std::uint32_t pw = detail::be32(p + 16), ph = detail::be32(p + 20);
    detail::check_dims(name, pw > INT_MAX ? INT_MAX : int(pw), ph > INT_MAX ? INT_MAX : int(ph),
                       options);
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(p, static_cast<int>(size), &w, &h, &comp))
    throw Error("image '" + name + "': cannot read the " + fmt +
                " header: " + detail::stb_reason());
  detail::check_dims(name, w, h, options);
  std::size_t gif_transparency = 0;
  bool complete = true;
  if (fmt == "GIF") complete = detail::gif_first_frame_is_complete(p, size, &gif_transparency);
  if (fmt == "BMP") complete = detail::bmp_is_complete(p, size);
  if (!complete) throw Error("image '" + name + "': " + fmt + " data is truncated");
  std::vector<std::size_t> empty_idats;
  const std::string png = fmt == "PNG" ? detail::png_chunk_problem(p, size, &empty_idats) : "";
  if (!png.empty()) throw Error("image '" + name + "': cannot decode PNG: " + png);
  const std::string pnm = fmt == "PNM" ? detail::pnm_problem(p, size) : "";
  if (!pnm.empty()) throw Error("image '" + name + "': " + pnm);

  // stb paints a GIF's transparent pixels black; PIL's convert("RGB") shows the
  // palette colour of the transparent index. Decode a copy without the flag.
  std::vector<std::uint8_t> copy;
  const std::uint8_t* src = p;
  std::size_t src_size = size;
  if (gif_transparency) {
    copy.assign(p, p + size);
    copy[gif_transparency] &= 0xFE;
    src = copy.data();
  }
  // PNG: leave out empty IDAT chunks stb mishandles (see png_chunk_problem).
  if (!empty_idats.empty()) {
    std::size_t from = 0;
    for (const std::size_t at : empty_idats) {
      copy.insert(copy.end(), p + from, p + at);
      from = std::min(at + 12, size);  // (a last chunk may lack its CRC)
    }
    copy.insert(copy.end(), p + from, p + size);
    src = copy.data();
    src_size = copy.size();
  }
  int w2 = 0, h2 = 0, comp2 = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(src, static_cast<int>(src_size), &w2, &h2, &comp2, 3), stbi_image_free);
  if (!px) throw Error("image '" + name + "': cannot decode " + fmt + ": " + detail::stb_reason());
  detail::check_dims(name, w2, h2, options);
  Image img;
  img.width = w2;
  img.height = h2;
  img.rgb.assign(px.get(), px.get() + std::size_t(w2) * std::size_t(h2) * 3);
  return orient(std::move(img));
}

// Reads a file (size checked before reading) and decodes it as above.
inline Image load_image(const std::string& path, const ImageLoadOptions& options = {}) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("image '" + path + "': cannot read: is a directory");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw Error("image '" + path + "': cannot open: " + std::strerror(errno));
  const long n = std::fseek(f.get(), 0, SEEK_END) == 0 ? std::ftell(f.get()) : -1;
  if (n < 0) throw Error("image '" + path + "': cannot read: not a regular file");
  if (static_cast<std::uint64_t>(n) > options.max_file_bytes)
    throw Error("image '" + path + "': " + std::to_string(n) + " bytes exceeds the limit of " +
                std::to_string(options.max_file_bytes) +
                " bytes (ImageLoadOptions::max_file_bytes)");
  std::rewind(f.get());
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(n));
  if (n > 0 && std::fread(buf.data(), 1, buf.size(), f.get()) != buf.size())
    throw Error("image '" + path + "': read error");
  return load_image_from_memory(buf.data(), buf.size(), path, options);
}

// Pillow-exact BILINEAR resize of an RGB image to out_w x out_h.
inline Image resize_bilinear(const Image& in, int out_w, int out_h) {
  if (in.width <= 0 || in.height <= 0 ||
      in.rgb.size() != std::size_t(in.width) * std::size_t(in.height) * 3)
    throw Error("resize_bilinear: invalid input image " + std::to_string(in.width) + "x" +
                std::to_string(in.height) + " with " + std::to_string(in.rgb.size()) + " bytes");
  if (out_w <= 0 || out_h <= 0)
    throw Error("resize_bilinear: invalid output size " + std::to_string(out_w) + "x" +
                std::to_string(out_h));
  // Like Pillow, a pass runs only if that axis changes size.
  if (in.width == out_w && in.height == out_h) return in;
  if (in.height == out_h) return detail::resample_horizontal(in, out_w);
  if (in.width == out_w) return detail::resample_vertical(in, out_h);
  return detail::resample_vertical(detail::resample_horizontal(in, out_w), out_h);
}

// ---------------------------------------------------------------------------
// Preprocessing.

// Checks the settings (from config.preprocess) and the model's image size.
inline void validate_preprocess_config(const PreprocessConfig& c, int image_size) {
  if (image_size <= 0 || image_size > 65536)
    throw Error("image preprocessing: image size " + std::to_string(image_size) +
                " is invalid (it comes from vision_config.image_size)");
  if (!(c.rescale_factor > 0.0) || !std::isfinite(c.rescale_factor))
    throw Error("image preprocessing: rescale_factor must be positive and finite");
  for (int ch = 0; ch < 3; ++ch)
    if (!(c.image_std[ch] != 0.0f) || !std::isfinite(c.image_std[ch]) ||
        !std::isfinite(c.image_mean[ch]))
      throw Error("image preprocessing: image_mean/image_std channel " + std::to_string(ch) +
                  " is invalid (std must be finite and non-zero)");
  if (c.do_pan_and_scan) {
    if (c.pan_and_scan_min_crop_size < 1)
      throw Error("image preprocessing: pan_and_scan_min_crop_size must be >= 1");
    if (c.pan_and_scan_max_num_crops < 1)
      throw Error("image preprocessing: pan_and_scan_max_num_crops must be >= 1");
    if (!std::isfinite(c.pan_and_scan_min_ratio_to_activate))
      throw Error("image preprocessing: pan_and_scan_min_ratio_to_activate must be finite");
  }
}

// Pan-and-scan crop boxes for a width x height image (spec §4.2, HF
// Gemma3ImageProcessor.pan_and_scan). Empty when the image is not elongated
// enough or the crops would be smaller than min_crop_size. Ordered row by row;
// the last crop is truncated at the image edge (HF slices the array).
inline std::vector<CropBox> pan_and_scan_boxes(int width, int height, const PreprocessConfig& c) {
  if (width <= 0 || height <= 0) return {};
  const int min_crop = std::max(1, c.pan_and_scan_min_crop_size);
  const int max_crops = std::max(1, c.pan_and_scan_max_num_crops);
  const double ratio = c.pan_and_scan_min_ratio_to_activate;
  int n_w = 1, n_h = 1;
  // The long side gets n = round-half-up(long/short) crops, at most
  // floor(long/min_crop), then clamped to [2, max_crops] (in that order).
  auto count = [&](int long_side, int short_side) {
    int n = static_cast<int>(std::floor(double(long_side) / double(short_side) + 0.5));
    n = std::min(long_side / min_crop, n);  // == floor(long/min_crop) for ints
    n = std::max(2, n);
    return std::min(max_crops, n);
  };
  if (width >= height) {  // landscape or square
    if (double(width) / double(height) < ratio) return {};
    n_w = count(width, height);
  } else {
    if (double(height) / double(width) < ratio) return {};
    n_h = count(height, width);
  }
  const int crop_w = (width + n_w - 1) / n_w;  // ceil(width / n_w)
  const int crop_h = (height + n_h - 1) / n_h;
  if (std::min(crop_w, crop_h) < min_crop) return {};
  std::vector<CropBox> boxes;
  for (int i = 0; i < n_h; ++i) {
    for (int j = 0; j < n_w; ++j) {
      CropBox b;
      b.x = crop_w * j;
      b.y = crop_h * i;
      b.width = std::min(crop_w, width - b.x);
      b.height = std::min(crop_h, height - b.y);
      // Only degenerate settings (min_crop_size below the crop count) can make
      // an empty crop; HF would fail there, we leave it out.
      if (b.width > 0 && b.height > 0) boxes.push_back(b);
    }
  }
  return boxes;
}

// Copy of a rectangle of `img` (clipped to the image).
inline Image crop(const Image& img, const CropBox& b) {
  const int x0 = std::max(0, b.x), y0 = std::max(0, b.y);
  const int x1 = int(std::min<long long>(img.width, (long long)b.x + b.width));
  const int y1 = int(std::min<long long>(img.height, (long long)b.y + b.height));
  if (x1 <= x0 || y1 <= y0)
    throw Error("crop: box " + std::to_string(b.width) + "x" + std::to_string(b.height) + "+" +
                std::to_string(b.x) + "+" + std::to_string(b.y) + " is outside the image");
  Image out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.rgb.resize(std::size_t(out.width) * out.height * 3);
  for (int y = y0; y < y1; ++y)
    std::memcpy(out.rgb.data() + std::size_t(y - y0) * out.width * 3,
                img.rgb.data() + (std::size_t(y) * img.width + x0) * 3, std::size_t(out.width) * 3);
  return out;
}

// The uint8 image the vision tower sees (before rescale/normalize): the
// Pillow-exact resize to image_size x image_size (aspect ratio not kept).
inline Image resize_for_model(const Image& img, int image_size) {
  validate_preprocess_config(PreprocessConfig{}, image_size);
  return resize_bilinear(img, image_size, image_size);
}

// Writes the [3, h, w] float32 planes of an RGB uint8 image: rescale in
// float64 then cast to float32, normalize in float32 (HF rescale + normalize).
// (do_rescale / do_normalize = false arrive as factor 1 / mean 0, std 1.)
inline void to_pixel_values(const Image& img, const PreprocessConfig& c, float* out) {
  if (img.width <= 0 || img.height <= 0 ||
      img.rgb.size() != std::size_t(img.width) * std::size_t(img.height) * 3)
    throw Error("to_pixel_values: invalid image " + std::to_string(img.width) + "x" +
                std::to_string(img.height) + " with " + std::to_string(img.rgb.size()) + " bytes");
  // 256-entry table per channel: exactly the per-pixel formula, evaluated once.
  float lut[3][256];
  for (int ch = 0; ch < 3; ++ch)
    for (int v = 0; v < 256; ++v)
      lut[ch][v] =
          (static_cast<float>(double(v) * c.rescale_factor) - c.image_mean[ch]) / c.image_std[ch];
  const std::size_t plane = std::size_t(img.width) * img.height;
  for (std::size_t i = 0; i < plane; ++i)
    for (int ch = 0; ch < 3; ++ch) out[ch * plane + i] = lut[ch][img.rgb[3 * i + ch]];
}

// Full preprocessing of one image: the original, then (with pan-and-scan) its
// crops, each resized to image_size x image_size and normalized; [count, 3, S, S].
inline PixelValues preprocess_image(const Image& img, const PreprocessConfig& c, int image_size) {
  validate_preprocess_config(c, image_size);
  std::vector<CropBox> boxes;
  if (c.do_pan_and_scan) boxes = pan_and_scan_boxes(img.width, img.height, c);
  PixelValues pv;
  pv.size = image_size;
  pv.num_crops = static_cast<int>(boxes.size());
  pv.count = 1 + pv.num_crops;
  const std::size_t per = std::size_t(3) * image_size * image_size;
  pv.data.resize(per * pv.count);
  to_pixel_values(resize_bilinear(img, image_size, image_size), c, pv.data.data());
  for (std::size_t i = 0; i < boxes.size(); ++i)
    to_pixel_values(resize_bilinear(crop(img, boxes[i]), image_size, image_size), c,
                    pv.data.data() + per * (i + 1));
  return pv;
}

// The same with the model's settings: config.preprocess, config.vision.image_size.
inline PixelValues preprocess_image(const Image& img, const ModelConfig& config) {
  return preprocess_image(img, config.preprocess, config.vision.image_size);
}

}  // namespace gemma3
