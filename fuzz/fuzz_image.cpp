// fuzz/fuzz_image.cpp — image decoding (load_image_from_memory: format
// sniffing, header limits, truncation walks, EXIF orientation, libjpeg for
// JPEG, stb_image for the rest) and preprocessing (Pillow bilinear resize to
// 16x16, pan-and-scan crops, rescale/normalize).
//
// stb_image's implementation is compiled into this target (the library
// programs use libstb.so, built from the same Debian stb source), so that
// libFuzzer sees its coverage and ASan its memory accesses: the decoder is
// where hostile images do harm. libjpeg is Debian's shared library, not
// instrumented: the fuzzer exercises our wrapper around it (error jumps,
// truncation, scan limit, CMYK conversion); libjpeg-turbo itself is fuzzed
// upstream (OSS-Fuzz). Limits are lowered (1 Mpixel, 2048 per side, 20 JPEG
// scans) so one input decodes in milliseconds; the limit checks are the same
// code.
//
// Oracle: an accepted image has width*height*3 bytes within the limits; its
// pixel values have the expected count and are finite.
#if defined(GEMMA3_FUZZ_STB_IMPLEMENTATION)
#define STB_IMAGE_IMPLEMENTATION
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#include <stb/stb_image.h>
#pragma clang diagnostic pop
#undef STB_IMAGE_IMPLEMENTATION  // image.hpp includes the header again
#endif

#include <cmath>

#include "fuzz_common.hpp"
#include "gemma3/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gemma3::ImageLoadOptions lim;
  lim.max_side = 2048;
  lim.max_pixels = uint64_t(1) << 20;
  lim.max_file_bytes = uint64_t(1) << 20;
  lim.max_jpeg_scans = 20;
  gemma3::Image img;
  try {
    img = gemma3::load_image_from_memory(data, size, "fuzz", lim);
  } catch (const gemma3::Error&) {
    return 0;
  }
  FUZZ_CHECK(img.width > 0 && img.height > 0 && img.width <= lim.max_side &&
             img.height <= lim.max_side);
  FUZZ_CHECK(uint64_t(img.width) * uint64_t(img.height) <= lim.max_pixels);
  FUZZ_CHECK(img.rgb.size() == size_t(img.width) * size_t(img.height) * 3);
  gemma3::PreprocessConfig c;
  c.do_pan_and_scan = (size & 1) != 0;
  c.pan_and_scan_min_crop_size = 2;
  c.pan_and_scan_max_num_crops = 3;
  c.pan_and_scan_min_ratio_to_activate = 1.2;
  try {
    const gemma3::PixelValues pv = gemma3::preprocess_image(img, c, 16);
    FUZZ_CHECK(pv.count == 1 + pv.num_crops && pv.num_crops <= 3 && pv.size == 16);
    FUZZ_CHECK(pv.data.size() == size_t(pv.count) * 3 * 16 * 16);
    for (float v : pv.data) FUZZ_CHECK(std::isfinite(v) && v >= -1.0f && v <= 1.0f);
  } catch (const gemma3::Error& e) {
    std::fprintf(stderr, "preprocess_image threw on a decoded image: %s\n", e.what());
    std::abort();
  }
  return 0;
}
