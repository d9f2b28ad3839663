// gemma3/detail/image_jpeg.hpp — JPEG decoding with libjpeg(-turbo), the
// decoder Pillow uses, with its default settings (accurate integer IDCT,
// fancy upsampling), so the pixels are Pillow's bit for bit. Used by
// gemma3/image.hpp; the program must link libjpeg (CMake: JPEG::JPEG).
//
// Why not stb_image here: stb 2.27 (Debian 12) mis-decodes hostile JPEGs in
// ways no pre-check can screen (docs/robustness.md, finding 11), and its
// IDCT and colour conversion differ from Pillow's by a level or two.
//
// libjpeg reports errors through a callback that must not return; it jumps
// back with longjmp. The two functions that call setjmp hold only trivially
// destructible locals, so no C++ destructor is skipped (everything with one
// lives in the caller, decode_jpeg).
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared before it
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

#include "gemma3/detail/image_formats.hpp"  // check_dims
#include "gemma3/error.hpp"
#include "gemma3/image_types.hpp"

namespace gemma3::detail {

// Everything libjpeg touches, in one plain struct owned by decode_jpeg.
struct JpegState {
  jpeg_decompress_struct cinfo;  // first member: callbacks cast back to JpegState
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
  int max_scans;
};

// libjpeg's fatal errors: keep its message, jump back to the setjmp.
inline void jpeg_on_error(j_common_ptr c) {
  JpegState* s = reinterpret_cast<JpegState*>(c);
  (*c->err->format_message)(c, s->message);
  std::longjmp(s->jump, 1);
}

// Warnings (level -1) and trace messages. Pillow ignores corrupt-data warnings
// and decodes on, as we do; but running out of data is "image file is
// truncated" there, so it stops us too. (libjpeg's memory source reports the
// end of the data with JWRN_JPEG_EOF and would go on with a fake EOI.)
inline void jpeg_on_message(j_common_ptr c, int level) {
  JpegState* s = reinterpret_cast<JpegState*>(c);
  if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF) {
    s->truncated = true;
    std::longjmp(s->jump, 1);
  }
}

// Every scan is a pass over the whole image, so a small file of many tiny
// scans costs (scans x pixels): a CPU bomb. Pillow has no limit; we have one
// (ImageLoadOptions::max_jpeg_scans). libjpeg calls this between scans while
// it reads a multi-scan file in jpeg_start_decompress.
inline void jpeg_on_progress(j_common_ptr c) {
  JpegState* s = reinterpret_cast<JpegState*>(c);
  const j_decompress_ptr d = &s->cinfo;
  if (d->input_scan_number > s->max_scans) {
    std::snprintf(s->message, sizeof s->message,
                  "more than %d scans (ImageLoadOptions::max_jpeg_scans)", s->max_scans);
    std::longjmp(s->jump, 1);
  }
}

// Phase 1: set up libjpeg and read the header. Returns false on error
// (s->message / s->truncated).
inline bool jpeg_read_header_into(JpegState* s, const std::uint8_t* p, std::size_t n) {
  if (setjmp(s->jump)) return false;
  s->cinfo.err = jpeg_std_error(&s->err);
  s->err.error_exit = jpeg_on_error;
  s->err.emit_message = jpeg_on_message;
  jpeg_create_decompress(&s->cinfo);  // fails only if jpeglib.h and the library disagree
  s->progress.progress_monitor = jpeg_on_progress;
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, p, static_cast<unsigned long>(n));
  jpeg_read_header(&s->cinfo, TRUE);
  // Pillow: 1 component -> "L", 3 -> "RGB" (libjpeg converts YCbCr), 4 ->
  // "CMYK" read as Adobe-inverted ("CMYK;I", libjpeg undoes YCCK).
  s->cinfo.out_color_space = s->cinfo.num_components == 4 ? JCS_CMYK : JCS_RGB;
  s->cinfo.dct_method = JDCT_ISLOW;
  s->cinfo.do_fancy_upsampling = TRUE;
  return true;
}

// Phase 2: decode all rows into rgb (width * height * 3 bytes), each row via
// `row` (width * out_color_components bytes), then read on to EOI.
inline bool jpeg_read_pixels(JpegState* s, std::uint8_t* rgb, std::uint8_t* row) {
  if (setjmp(s->jump)) return false;
  j_decompress_ptr d = &s->cinfo;
  jpeg_start_decompress(d);
  if (d->output_width != d->image_width || d->output_height != d->image_height ||
      d->out_color_components != (d->out_color_space == JCS_CMYK ? 4 : 3)) {
    std::snprintf(s->message, sizeof s->message, "unexpected output layout");
    return false;
  }
  const std::size_t w = d->output_width;
  while (d->output_scanline < d->output_height) {
    std::uint8_t* out = rgb + std::size_t(d->output_scanline) * w * 3;
    JSAMPROW rows[1] = {d->out_color_components == 3 ? out : row};
    if (jpeg_read_scanlines(d, rows, 1) != 1) {
      std::snprintf(s->message, sizeof s->message, "the decoder returned no row");
      return false;
    }
    if (d->out_color_components == 4) {
      // PIL: "CMYK;I" unpacks 255 - v, then cmyk2rgb gives
      // (255 - k) - round((255 - k) * c / 255) per channel; with c = 255 - vc
      // and k = 255 - vk that is vk - muldiv255(255 - vc, vk).
      for (std::size_t x = 0; x < w; ++x) {
        const int vk = row[4 * x + 3];
        for (int ch = 0; ch < 3; ++ch) {
          const int t = (255 - row[4 * x + ch]) * vk + 128;  // PIL's MULDIV255
          out[3 * x + ch] = static_cast<std::uint8_t>(vk - (((t >> 8) + t) >> 8));
        }
      }
    }
  }
  jpeg_finish_decompress(d);  // reads on to EOI: a file cut after the last row is truncated
  return true;
}

// Decodes a JPEG to RGB as PIL's Image.open(...).convert("RGB") does; limits
// checked from the header before any pixel is decoded.
inline Image decode_jpeg(const std::uint8_t* p, std::size_t n, const std::string& name,
                         const ImageLoadOptions& options) {
  JpegState s{};  // zeroed: destroying it before jpeg_create_decompress is a no-op
  s.max_scans = options.max_jpeg_scans;
  struct Destroy {
    jpeg_decompress_struct* c;
    ~Destroy() { jpeg_destroy_decompress(c); }
  } destroy{&s.cinfo};
  auto fail = [&]() -> Error {
    if (s.truncated) return Error("image '" + name + "': JPEG data is truncated");
    return Error("image '" + name + "': cannot decode JPEG: " + s.message);
  };
  if (!jpeg_read_header_into(&s, p, n)) throw fail();
  check_dims(name, int(s.cinfo.image_width), int(s.cinfo.image_height), options);
  Image img;
  img.width = int(s.cinfo.image_width);
  img.height = int(s.cinfo.image_height);
  img.rgb.resize(std::size_t(img.width) * std::size_t(img.height) * 3);
  std::vector<std::uint8_t> row(std::size_t(img.width) * 4);
  if (!jpeg_read_pixels(&s, img.rgb.data(), row.data())) throw fail();
  return img;
}

}  // namespace gemma3::detail
