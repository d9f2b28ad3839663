// gemma3/detail/image_formats.hpp — what the image loader checks in a file
// before stb_image decodes it (PNG, GIF, BMP, PNM; JPEG goes to libjpeg:
// image_jpeg.hpp): the format from its magic bytes, that the data is
// complete, the PNG chunk lengths and PNM header numbers that make
// stb_image 2.27 misbehave (docs/robustness.md, findings), the EXIF
// orientation, and the size limits. Used by gemma3/image.hpp.
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
#include <string>
#include <vector>

#include "gemma3/error.hpp"
#include "gemma3/image_types.hpp"

namespace gemma3::detail {

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
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
inline std::uint32_t le32(const std::uint8_t* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         p[0];
}

// stb_image pads missing bytes with zeros and decodes cut-off GIF, BMP and
// PNM files without complaint; Pillow refuses them ("image file is
// truncated"). These walks check that the data the decoder needs is present.
// (PNG needs none: stb fails on an incomplete IDAT stream. JPEG goes to
// libjpeg, which reports the end of its data itself: image_jpeg.hpp.)

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
      const bool named =
          std::all_of(type, type + 4, [](std::uint8_t c) { return std::isalpha(c) != 0; });
      return (named ? "chunk " + std::string(type, type + 4) : std::string("a chunk")) + " of " +
             std::to_string(len) + " bytes runs past the end of the file";
    }
    if (std::memcmp(type, "IEND", 4) == 0) break;
    if (std::memcmp(type, "IDAT", 4) == 0) {
      if (len == 0 && !data_seen) empty_idats->push_back(i);  // (its CRC may be cut off)
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
  std::size_t i = 13;                              // header + screen descriptor
  if (p[10] & 0x80) i += 3u << ((p[10] & 7) + 1);  // global colour table
  while (i < n) {
    const std::uint8_t b = p[i++];
    if (b == 0x21) {  // extension: label, sub-blocks
      if (transparency_flag && i + 2 < n && p[i] == 0xF9 && p[i + 1] >= 1 && (p[i + 2] & 1))
        *transparency_flag = i + 2;  // graphic control: packed byte
      ++i;
      if (!skip_sub_blocks(i)) return false;
    } else if (b == 0x2C) {  // image descriptor
      if (i + 9 > n) return false;
      const std::uint8_t flags = p[i + 8];
      i += 9;
      if (flags & 0x80) i += 3u << ((flags & 7) + 1);  // local colour table
      ++i;                                             // LZW minimum code size
      return i <= n && skip_sub_blocks(i);
    } else {
      return false;  // trailer or junk before any image
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

// The PNM (P5/P6) header exactly as stb_image 2.27 reads it: three numbers,
// each after whitespace (isspace) and '#' comments that end at '\n' or '\r'.
// Both checks below read the header through this one parser: a walk that
// ended comments differently read another maxval than stb and let a 16-bit
// file through (fuzz finding 10).
struct PnmHeader {
  std::uint64_t v[3] = {0, 0, 0};  // width, height, maxval
  int fields = 0;                  // numbers read (stb reports a bad header if < 3)
  bool too_long = false;           // a number of more than 9 digits
  std::size_t end = 0;             // just past the last digit of maxval
};

inline PnmHeader pnm_header(const std::uint8_t* p, std::size_t n) {
  PnmHeader h;
  std::size_t i = 2;
  for (int field = 0; field < 3; ++field) {
    for (;;) {
      while (i < n && std::isspace(p[i])) ++i;
      if (i >= n || p[i] != '#') break;
      while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
    }
    std::size_t digits = 0;
    std::uint64_t x = 0;
    for (; i < n && std::isdigit(p[i]); ++i, ++digits)
      if (digits < 10) x = x * 10 + std::uint64_t(p[i] - '0');
    if (digits > 9) {
      h.too_long = true;
      return h;
    }
    if (digits == 0) return h;
    h.v[field] = x;
    h.fields = field + 1;
  }
  h.end = i;
  return h;
}

// stb_image 2.27 reads the PNM header numbers into an int with no overflow
// check (signed overflow; found by fuzz/fuzz_image.cpp): numbers of more than
// 9 digits are refused before stb reads the header.
inline bool pnm_header_numbers_ok(const std::uint8_t* p, std::size_t n) {
  return !pnm_header(p, n).too_long;
}

// PNM (P5/P6): 8-bit samples only (stb 2.27 converts 16-bit ones with its
// 8-bit routine and reads past its buffer: finding 10), and the header's
// width x height samples must all be present. Returns a problem or "".
inline std::string pnm_problem(const std::uint8_t* p, std::size_t n) {
  const PnmHeader h = pnm_header(p, n);
  if (h.fields < 3) return "";  // let stb report the bad header
  if (h.v[2] > 255) return "16-bit PNM samples are not supported";
  const std::size_t i = h.end + 1;  // the single whitespace byte before the samples
  const std::uint64_t bytes = h.v[0] * h.v[1] * (p[1] == '6' ? 3 : 1);
  return i <= n && n - i >= bytes ? "" : "PNM data is truncated";
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
inline Image apply_orientation(Image in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;  // upright: moved, not copied
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
        case 2: sx = w - 1 - x; break;  // mirror left-right
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;                        // rotate 180
        case 4: sy = h - 1 - y; break;  // mirror top-bottom
        case 5:
          sx = y;
          sy = x;
          break;  // transpose
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // rotate 90 clockwise
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // transverse
        default:
          sx = w - 1 - y;
          sy = x;
          break;  // 8: rotate 90 counter-clockwise
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
    throw Error("image '" + name + "': " + std::to_string(w) + "x" + std::to_string(h) + " = " +
                std::to_string(pixels) + " pixels exceeds the limit of " +
                std::to_string(lim.max_pixels) +
                " (ImageLoadOptions::max_pixels); refused before decoding");
}

}  // namespace gemma3::detail
