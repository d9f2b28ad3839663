// gemma3/image.hpp — loading images and turning them into SigLIP pixel values.
//
// Reproduces the Hugging Face Gemma3ImageProcessor (spec §4.1, §4.2):
//   decode (stb_image) -> RGB (alpha dropped, grey replicated, palette expanded)
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
// The program must link libstb (it provides the stb_image implementation).
#pragma once

#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <array>
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
#include <vector>

#include "gemma3/config.hpp"
#include "gemma3/error.hpp"

namespace gemma3 {

// An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC, R G B).
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3 bytes
};

// Loading options. The limits are checked before decoding; raise them for very
// large inputs (the defaults accept any ordinary photo; 64 Mpixel = 192 MiB RGB).
struct ImageLoadOptions {
  std::uint64_t max_file_bytes = std::uint64_t{64} << 20;  // 64 MiB
  int max_side = 16384;                                     // width and height
  std::uint64_t max_pixels = std::uint64_t{64} << 20;      // 64 Mpixel
  // Turn the image upright per its EXIF Orientation tag (JPEG APP1, PNG eXIf),
  // as HF's load_image does (ImageOps.exif_transpose). Off = raw pixel order,
  // like a PIL image opened without it.
  bool apply_exif_orientation = true;
};

// A crop rectangle in source pixels.
struct CropBox {
  int x = 0, y = 0, width = 0, height = 0;
};

// Model input for one image: the original then its crops, each [3, S, S].
struct PixelValues {
  int count = 0;      // 1 + num_crops
  int num_crops = 0;  // 0 unless pan-and-scan made crops
  int size = 0;       // S
  std::vector<float> data;  // [count, 3, S, S], channels R, G, B
  const float* image(int i) const {
    return data.data() + static_cast<std::size_t>(i) * 3 * size * size;
  }
};

namespace detail {

inline std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

inline bool has_prefix(const std::uint8_t* p, std::size_t n, const char* magic) {
  const std::size_t m = std::strlen(magic);
  return n >= m && std::memcmp(p, magic, m) == 0;
}

// The formats we hand to stb_image, recognised by their magic bytes. stb also
// guesses TGA from arbitrary bytes, so a whitelist keeps garbage an error.
inline const char* sniff_format(const std::uint8_t* p, std::size_t n) {
  if (has_prefix(p, n, "\x89PNG\r\n\x1a\n")) return "PNG";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "JPEG";
  if (has_prefix(p, n, "GIF87a") || has_prefix(p, n, "GIF89a")) return "GIF";
  if (has_prefix(p, n, "BM")) return "BMP";
  if (has_prefix(p, n, "P5") || has_prefix(p, n, "P6")) return "PNM";
  return nullptr;
}

inline std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
inline std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

// stb_image pads missing bytes with zeros and decodes cut-off JPEG, GIF and
// BMP files without complaint; Pillow refuses them ("image file is
// truncated"). These walks check that the data the decoder needs is present.
// (PNG needs none: stb fails on an incomplete IDAT stream.)

// JPEG entropy-coded data ends at the first marker: 0xFF, any 0xFF fill bytes,
// then a byte other than 0x00 (a stuffed 0xFF data byte) or RST0-7. stb_image
// and libjpeg read "FF FF 00" as data too. Returns the index of the last 0xFF
// before the marker byte (or n).
inline std::size_t jpeg_skip_entropy_data(const std::uint8_t* p, std::size_t n, std::size_t i) {
  while (i < n) {
    if (p[i] != 0xFF) { ++i; continue; }
    std::size_t j = i + 1;
    while (j < n && p[j] == 0xFF) ++j;
    if (j < n && (p[j] == 0x00 || (p[j] >= 0xD0 && p[j] <= 0xD7))) { i = j + 1; continue; }
    return j - 1;
  }
  return n;
}

// JPEG: walk the marker segments; an EOI marker must follow the last scan.
inline bool jpeg_is_complete(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 2;  // after SOI
  while (i + 1 < n) {
    if (p[i] != 0xFF) { ++i; continue; }  // stray byte between segments (libjpeg warns, goes on)
    const std::uint8_t m = p[i + 1];
    if (m == 0xFF) { ++i; continue; }  // fill byte
    i += 2;
    if (m == 0xD9) return true;  // EOI
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
    if (i + 2 > n) return false;
    const std::size_t len = (std::size_t{p[i]} << 8) | p[i + 1];
    if (len < 2 || i + len > n) return false;
    i += len;
    if (m == 0xDA) i = jpeg_skip_entropy_data(p, n, i);  // SOS: skip to the next marker
  }
  return false;
}

// Huffman tables stb_image 2.27 (Debian 12's libstb) mishandles; both found by
// fuzz/fuzz_image.cpp. Walks the segments as stb does, reading them the way
// stb reads them (0 past the end); returns what is wrong, or "" if all is safe.
// - A DHT table with more than 256 codes: stb writes past its tables (fixed
//   upstream in 2.28).
// - A scan using a table no earlier DHT defined: stb's decoder state is
//   malloc'ed, not cleared, so that table is stale heap bytes and
//   stbi__jpeg_huff_decode indexes values[] with garbage (out-of-bounds read).
//   libjpeg refuses such files too ("Huffman table 0x.. was not defined"),
//   except Motion-JPEG frames without DHT, for which it substitutes the
//   standard tables; stb cannot decode those.
inline std::string jpeg_huffman_problem(const std::uint8_t* p, std::size_t n) {
  auto at = [&](std::size_t k) -> unsigned { return k < n ? p[k] : 0u; };
  bool defined[2][4] = {};  // [DC, AC][table id]
  int sof = 0;              // the first SOF stb accepts (C0, C1, C2) decides progressive
  std::size_t i = 2;        // after SOI
  while (i + 1 < n) {
    if (p[i] != 0xFF) { ++i; continue; }
    const std::uint8_t m = p[i + 1];
    if (m == 0xFF) { ++i; continue; }
    i += 2;
    if (m == 0xD9) return "";
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
    if (i + 2 > n) return "";
    const std::size_t len = (std::size_t{p[i]} << 8) | p[i + 1];
    if (m == 0xC4) {  // DHT: tables until the segment length is used up
      long left = static_cast<long>(len) - 2;
      std::size_t k = i + 2;
      while (left > 0) {
        const unsigned q = at(k++);
        if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb refuses this table itself
        unsigned codes = 0;
        for (int b = 0; b < 16; ++b) codes += at(k++);
        if (codes > 256) return "a Huffman table defines more than 256 codes";
        defined[q >> 4][q & 15] = true;
        k += codes;
        left -= 17 + static_cast<long>(codes);
      }
    }
    if (sof == 0 && (m == 0xC0 || m == 0xC1 || m == 0xC2)) sof = m;
    if (m == 0xDA) {  // SOS: the tables its components use must exist by now
      const unsigned ns = at(i + 2);
      const unsigned ss = at(i + 3 + 2 * ns), ah = at(i + 5 + 2 * ns) >> 4;
      // Progressive (stb): a DC scan (Ss = 0) decodes with the DC table on its
      // first pass only; an AC scan uses only the AC table.
      const bool uses_dc = sof != 0xC2 || (ss == 0 && ah == 0);
      const bool uses_ac = sof != 0xC2 || ss != 0;
      for (unsigned c = 0; c < ns && c < 4; ++c) {
        const unsigned q = at(i + 4 + 2 * c), td = q >> 4, ta = q & 15;
        if (uses_dc && td <= 3 && !defined[0][td])
          return "a scan uses Huffman table DC " + std::to_string(td) + ", which no DHT segment defines before it";
        if (uses_ac && ta <= 3 && !defined[1][ta])
          return "a scan uses Huffman table AC " + std::to_string(ta) + ", which no DHT segment defines before it";
      }
    }
    if (len < 2 || i + len > n) return "";  // truncation is reported elsewhere
    i += len;
    if (m == 0xDA) i = jpeg_skip_entropy_data(p, n, i);
  }
  return "";
}

// PNG: walks the chunks up to IEND as stb_image 2.27 reads them, for two of
// its faults (both found by fuzz_image):
// - it grows its IDAT buffer to the length a chunk claims before reading it,
//   so a 170-byte file made it allocate 2 GiB: a chunk running past the
//   end of the file is refused here (stb would fail on it anyway);
// - it passes a null buffer to memcpy (UB) for a zero-length IDAT before any
//   IDAT with data. Such chunks are legal and carry nothing: their offsets go
//   to *empty_idats and the caller decodes a copy without them.
// Returns what is wrong, or "".
inline std::string png_chunk_problem(const std::uint8_t* p, std::size_t n,
                                     std::vector<std::size_t>* empty_idats) {
  bool data_seen = false;
  std::size_t i = 8;  // after the signature
  while (i + 8 <= n) {
    const std::uint32_t len = be32(p + i);
    const std::uint8_t* type = p + i + 4;
    if (len > n - i - 8) {  // the data is not all there (a missing CRC stb ignores)
      const bool named = std::all_of(type, type + 4, [](std::uint8_t c) { return std::isalpha(c) != 0; });
      return (named ? "chunk " + std::string(type, type + 4) : std::string("a chunk")) + " of " +
             std::to_string(len) + " bytes runs past the end of the file";
    }
    if (std::memcmp(type, "IEND", 4) == 0) break;
    if (std::memcmp(type, "IDAT", 4) == 0) {
      if (len == 0 && !data_seen) empty_idats->push_back(i);
      if (len != 0) data_seen = true;
    }
    i += 12 + std::size_t{len};
  }
  return "";
}

// GIF: the blocks up to the end of the first image's data must be present.
// Also reports where the first frame's transparency flag is (0 if none).
inline bool gif_first_frame_is_complete(const std::uint8_t* p, std::size_t n,
                                        std::size_t* transparency_flag = nullptr) {
  auto skip_sub_blocks = [&](std::size_t& i) {
    while (i < n) {
      const std::size_t len = p[i++];
      if (len == 0) return true;
      i += len;
    }
    return false;
  };
  if (n < 13) return false;
  std::size_t i = 13;                                   // header + screen descriptor
  if (p[10] & 0x80) i += 3u << ((p[10] & 7) + 1);       // global colour table
  while (i < n) {
    const std::uint8_t b = p[i++];
    if (b == 0x21) {                                    // extension: label, sub-blocks
      if (transparency_flag && i + 2 < n && p[i] == 0xF9 && p[i + 1] >= 1 && (p[i + 2] & 1))
        *transparency_flag = i + 2;                     // graphic control: packed byte
      ++i;
      if (!skip_sub_blocks(i)) return false;
    } else if (b == 0x2C) {                             // image descriptor
      if (i + 9 > n) return false;
      const std::uint8_t flags = p[i + 8];
      i += 9;
      if (flags & 0x80) i += 3u << ((flags & 7) + 1);   // local colour table
      ++i;                                              // LZW minimum code size
      return i <= n && skip_sub_blocks(i);
    } else {
      return false;                                     // trailer or junk before any image
    }
  }
  return false;
}

// BMP (uncompressed rows): the pixel array must fit in the file.
inline bool bmp_is_complete(const std::uint8_t* p, std::size_t n) {
  if (n < 26) return false;
  const std::uint32_t offset = le32(p + 10), header = le32(p + 14);
  std::int64_t w = 0, h = 0, bpp = 0;
  if (header == 12) {  // OS/2 core header: 16-bit sizes
    w = p[18] | (p[19] << 8);
    h = p[20] | (p[21] << 8);
    bpp = p[24] | (p[25] << 8);
  } else {
    if (n < 34) return false;
    w = static_cast<std::int32_t>(le32(p + 18));
    h = static_cast<std::int32_t>(le32(p + 22));
    bpp = p[28] | (p[29] << 8);
    const std::uint32_t compression = le32(p + 30);
    if (compression != 0 && compression != 3 && compression != 6) return true;  // stb decides
  }
  if (h < 0) h = -h;
  if (w <= 0 || bpp <= 0) return true;  // let stb report the bad header
  const std::uint64_t row = (std::uint64_t(w) * std::uint64_t(bpp) + 31) / 32 * 4;
  return std::uint64_t(offset) + row * std::uint64_t(h) <= n;
}

// PNM (P5/P6): 8-bit samples only (stb misreads 16-bit ones), and the
// header's width x height samples must all be present. Returns a problem or "".
inline std::string pnm_problem(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 2;
  std::uint64_t v[3] = {0, 0, 0};  // width, height, maxval
  for (auto& x : v) {
    for (;;) {  // whitespace and '#' comments
      while (i < n && std::isspace(p[i])) ++i;
      if (i >= n || p[i] != '#') break;
      while (i < n && p[i] != '\n') ++i;
    }
    if (i >= n || !std::isdigit(p[i])) return "";  // let stb report the bad header
    while (i < n && std::isdigit(p[i]) && x < (1u << 30)) x = x * 10 + (p[i++] - '0');
  }
  if (v[2] > 255) return "16-bit PNM samples are not supported";
  ++i;  // the single whitespace byte before the samples
  const std::uint64_t bytes = v[0] * v[1] * (p[1] == '6' ? 3 : 1);
  return i <= n && n - i >= bytes ? "" : "PNM data is truncated";
}

// stb_image 2.27 reads the PNM header numbers into an int with no overflow
// check (signed overflow; found by fuzz/fuzz_image.cpp). Numbers of more than
// 9 digits are refused before stb reads the header (stb's whitespace/comment rules).
inline bool pnm_header_numbers_ok(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 2;
  for (int field = 0; field < 3; ++field) {
    for (;;) {
      while (i < n && std::isspace(p[i])) ++i;
      if (i >= n || p[i] != '#') break;
      while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
    }
    std::size_t digits = 0;
    while (i < n && std::isdigit(p[i])) ++i, ++digits;
    if (digits > 9) return false;
    if (digits == 0) return true;  // stb stops here with a bad header
  }
  return true;
}

// EXIF Orientation (tag 0x0112) from TIFF-structured EXIF data; 1 if absent.
inline int tiff_orientation(const std::uint8_t* t, std::size_t n) {
  if (n < 8) return 1;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](std::size_t o) { return le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]; };
  const std::uint32_t ifd = le ? le32(t + 4) : be32(t + 4);
  if (ifd > n || n - ifd < 2) return 1;
  const std::size_t count = static_cast<std::size_t>(u16(ifd));
  for (std::size_t e = 0; e < count; ++e) {
    const std::size_t o = ifd + 2 + 12 * e;
    if (o + 12 > n) return 1;
    if (u16(o) == 0x0112 && u16(o + 2) == 3) {  // SHORT value, stored inline
      const int v = u16(o + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

inline int exif_orientation(const std::string& fmt, const std::uint8_t* p, std::size_t n) {
  if (fmt == "JPEG") {  // APP1 "Exif\0\0" + TIFF, among the segments before SOS
    std::size_t i = 2;
    while (i + 4 <= n && p[i] == 0xFF && p[i + 1] != 0xDA && p[i + 1] != 0xD9) {
      const std::size_t len = (std::size_t{p[i + 2]} << 8) | p[i + 3];
      if (len < 2 || i + 2 + len > n) return 1;
      if (p[i + 1] == 0xE1 && len >= 8 && std::memcmp(p + i + 4, "Exif\0\0", 6) == 0)
        return tiff_orientation(p + i + 10, len - 8);
      i += 2 + len;
    }
  } else if (fmt == "PNG") {  // eXIf chunk holds the TIFF data directly
    std::size_t i = 8;
    while (i + 12 <= n) {
      const std::size_t len = be32(p + i);
      if (len > n - i - 12) return 1;
      if (std::memcmp(p + i + 4, "eXIf", 4) == 0) return tiff_orientation(p + i + 8, len);
      if (std::memcmp(p + i + 4, "IEND", 4) == 0) return 1;
      i += 12 + len;
    }
  }
  return 1;
}

// Applies an EXIF orientation (2..8) like PIL's exif_transpose: output pixel
// (x, y) takes source pixel (sx, sy).
inline Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;  // 5..8 exchange width and height
  Image out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                    // mirror left-right
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;    // rotate 180
        case 4: sy = h - 1 - y; break;                    // mirror top-bottom
        case 5: sx = y; sy = x; break;                    // transpose
        case 6: sx = y; sy = h - 1 - x; break;            // rotate 90 clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;    // transverse
        default: sx = w - 1 - y; sy = x; break;           // 8: rotate 90 counter-clockwise
      }
      std::memcpy(&out.rgb[(std::size_t(y) * out.width + x) * 3],
                  &in.rgb[(std::size_t(sy) * w + sx) * 3], 3);
    }
  }
  return out;
}

inline void check_dims(const std::string& name, int w, int h, const ImageLoadOptions& lim) {
  if (w <= 0 || h <= 0)
    throw Error("image '" + name + "': invalid size " + std::to_string(w) + "x" +
                std::to_string(h));
  if (w > lim.max_side || h > lim.max_side)
    throw Error("image '" + name + "': " + std::to_string(w) + "x" + std::to_string(h) +
                " exceeds the limit of " + std::to_string(lim.max_side) +
                " pixels per side (ImageLoadOptions::max_side); refused before decoding");
  const std::uint64_t pixels = std::uint64_t(w) * std::uint64_t(h);
  if (pixels > lim.max_pixels)
    throw Error("image '" + name + "': " + std::to_string(w) + "x" + std::to_string(h) +
                " = " + std::to_string(pixels) + " pixels exceeds the limit of " +
                std::to_string(lim.max_pixels) +
                " (ImageLoadOptions::max_pixels); refused before decoding");
}

}  // namespace detail

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
    throw Error("image '" + name + "': " + std::to_string(size) +
                " bytes exceeds the limit of " + std::to_string(options.max_file_bytes) +
                " bytes (ImageLoadOptions::max_file_bytes)");
  if (size > static_cast<std::size_t>(INT_MAX))
    throw Error("image '" + name + "': larger than 2 GiB, not supported");
  const char* format = detail::sniff_format(p, size);
  if (!format)
    throw Error("image '" + name +
                "': unknown or unsupported format (expected PNG, JPEG, GIF, BMP or PNM)");

  const std::string fmt = format;
  if (fmt == "JPEG") {
    const std::string huff = detail::jpeg_huffman_problem(p, size);
    if (!huff.empty()) throw Error("image '" + name + "': corrupt JPEG (" + huff + ")");
  }
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
  if (fmt == "JPEG") complete = detail::jpeg_is_complete(p, size);
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
      from = at + 12;
    }
    copy.insert(copy.end(), p + from, p + size);
    src = copy.data();
    src_size = copy.size();
  }
  int w2 = 0, h2 = 0, comp2 = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(src, static_cast<int>(src_size), &w2, &h2, &comp2, 3), stbi_image_free);
  if (!px)
    throw Error("image '" + name + "': cannot decode " + fmt + ": " + detail::stb_reason());
  detail::check_dims(name, w2, h2, options);
  Image img;
  img.width = w2;
  img.height = h2;
  img.rgb.assign(px.get(), px.get() + std::size_t(w2) * std::size_t(h2) * 3);
  if (options.apply_exif_orientation)
    return detail::apply_orientation(img, detail::exif_orientation(fmt, p, size));
  return img;
}

// Reads a file (size checked before reading) and decodes it as above.
inline Image load_image(const std::string& path, const ImageLoadOptions& options = {}) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("image '" + path + "': cannot read: is a directory");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                     std::fclose);
  if (!f) throw Error("image '" + path + "': cannot open: " + std::strerror(errno));
  const long n = std::fseek(f.get(), 0, SEEK_END) == 0 ? std::ftell(f.get()) : -1;
  if (n < 0) throw Error("image '" + path + "': cannot read: not a regular file");
  if (static_cast<std::uint64_t>(n) > options.max_file_bytes)
    throw Error("image '" + path + "': " + std::to_string(n) +
                " bytes exceeds the limit of " + std::to_string(options.max_file_bytes) +
                " bytes (ImageLoadOptions::max_file_bytes)");
  std::rewind(f.get());
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(n));
  if (n > 0 && std::fread(buf.data(), 1, buf.size(), f.get()) != buf.size())
    throw Error("image '" + path + "': read error");
  return load_image_from_memory(buf.data(), buf.size(), path, options);
}

// ---------------------------------------------------------------------------
// Pillow's BILINEAR resize (Image.resize(..., BILINEAR, reducing_gap=None)),
// bit-exact for 8-bit RGB. Spec §4.1: separable, antialiased (the triangle is
// stretched by the downscale factor), fixed-point weights with 22 fraction
// bits, horizontal pass first into a uint8 image, then vertical.
namespace detail {

constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output index: first source index, number of taps, and `ksize` weights.
struct ResampleCoeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weight;  // [out_size * ksize]
};

inline ResampleCoeffs bilinear_coeffs(int in_size, int out_size) {
  // Pillow computes the box width in float, the rest in double.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // bilinear support is 1
  ResampleCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weight.assign(std::size_t(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // trunc, as in C
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    const int n = xmax - xmin;
    double sum = 0.0;
    for (int x = 0; x < n; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      sum += w[x];
    }
    for (int x = 0; x < n; ++x) {
      const double k = sum != 0.0 ? w[x] / sum : w[x];
      // Fixed point, rounding half away from zero (weights are never negative).
      c.weight[std::size_t(xx) * c.ksize + x] =
          static_cast<std::int32_t>(0.5 + k * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = n;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t acc) {
  const std::int32_t v = acc >> kPrecisionBits;  // acc >= 0 for bilinear weights
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

inline Image resample_horizontal(const Image& in, int out_w) {
  const ResampleCoeffs c = bilinear_coeffs(in.width, out_w);
  Image out;
  out.width = out_w;
  out.height = in.height;
  out.rgb.resize(std::size_t(out_w) * in.height * 3);
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* src = in.rgb.data() + std::size_t(y) * in.width * 3;
    std::uint8_t* dst = out.rgb.data() + std::size_t(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const std::int32_t* k = c.weight.data() + std::size_t(xx) * c.ksize;
      const std::uint8_t* s = src + std::size_t(c.first[xx]) * 3;
      std::int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int x = 0; x < c.count[xx]; ++x) {
        r += s[3 * x + 0] * k[x];
        g += s[3 * x + 1] * k[x];
        b += s[3 * x + 2] * k[x];
      }
      dst[3 * xx + 0] = clip8(r);
      dst[3 * xx + 1] = clip8(g);
      dst[3 * xx + 2] = clip8(b);
    }
  }
  return out;
}

inline Image resample_vertical(const Image& in, int out_h) {
  const ResampleCoeffs c = bilinear_coeffs(in.height, out_h);
  Image out;
  out.width = in.width;
  out.height = out_h;
  const std::size_t row = std::size_t(in.width) * 3;
  out.rgb.resize(row * out_h);
  // Row-at-a-time accumulation: same integer sums as Pillow's per-pixel loop
  // (integer addition is exact), but streams through memory.
  std::vector<std::int32_t> acc(row);
  for (int yy = 0; yy < out_h; ++yy) {
    const std::int32_t* k = c.weight.data() + std::size_t(yy) * c.ksize;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < c.count[yy]; ++y) {
      const std::uint8_t* s = in.rgb.data() + std::size_t(c.first[yy] + y) * row;
      const std::int32_t ky = k[y];
      for (std::size_t i = 0; i < row; ++i) acc[i] += s[i] * ky;
    }
    std::uint8_t* dst = out.rgb.data() + std::size_t(yy) * row;
    for (std::size_t i = 0; i < row; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace detail

// Pillow-exact BILINEAR resize of an RGB image to out_w x out_h.
inline Image resize_bilinear(const Image& in, int out_w, int out_h) {
  if (in.width <= 0 || in.height <= 0 ||
      in.rgb.size() != std::size_t(in.width) * std::size_t(in.height) * 3)
    throw Error("resize_bilinear: invalid input image " + std::to_string(in.width) + "x" +
                std::to_string(in.height) + " with " + std::to_string(in.rgb.size()) +
                " bytes");
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
inline std::vector<CropBox> pan_and_scan_boxes(int width, int height,
                                               const PreprocessConfig& c) {
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
    throw Error("crop: box " + std::to_string(b.width) + "x" + std::to_string(b.height) +
                "+" + std::to_string(b.x) + "+" + std::to_string(b.y) +
                " is outside the image");
  Image out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.rgb.resize(std::size_t(out.width) * out.height * 3);
  for (int y = y0; y < y1; ++y)
    std::memcpy(out.rgb.data() + std::size_t(y - y0) * out.width * 3,
                img.rgb.data() + (std::size_t(y) * img.width + x0) * 3,
                std::size_t(out.width) * 3);
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
      lut[ch][v] = (static_cast<float>(double(v) * c.rescale_factor) - c.image_mean[ch]) /
                   c.image_std[ch];
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
