// tests/jpeg_test_util.hpp — writes JPEG files with libjpeg's compressor, for
// what stb_image_write cannot write (CMYK, greyscale, progressive). Used by
// tests/test_image.cpp and fuzz/fuzz_make_corpus.cpp.
#pragma once

#include <cstdio>  // jpeglib.h needs FILE and size_t declared before it
#include <cstdlib>
#include <cstdint>
#include <vector>

#include <jpeglib.h>

// Encodes 8-bit samples with libjpeg's compressor (for what stb_image_write
// cannot write): `space` JCS_CMYK writes an Adobe marker, as libjpeg does.
inline std::vector<std::uint8_t> encode_libjpeg(int w, int h, J_COLOR_SPACE space, int comps,
                                                const std::vector<std::uint8_t>& px, int quality,
                                                bool progressive = false) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);  // (exits on error: the test inputs are valid)
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = comps;
  c.in_color_space = space;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPLE*>(px.data() + std::size_t(c.next_scanline) * w * comps);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<std::uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}
