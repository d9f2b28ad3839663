// gemma3/image_types.hpp — the plain data of the image pipeline: a decoded
// RGB image, loading limits, crop boxes and model pixel values
// (functions: gemma3/image.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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
  int max_side = 16384;                                    // width and height
  std::uint64_t max_pixels = std::uint64_t{64} << 20;      // 64 Mpixel
  // Every scan of a multi-scan (progressive) JPEG is a pass over the whole
  // image, so many tiny scans make a CPU bomb (about 1 ms per empty scan per
  // 16 Mpixel here). Encoders write 3 to about 20.
  int max_jpeg_scans = 100;
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
  int count = 0;            // 1 + num_crops
  int num_crops = 0;        // 0 unless pan-and-scan made crops
  int size = 0;             // S
  std::vector<float> data;  // [count, 3, S, S], channels R, G, B
  const float* image(int i) const {
    return data.data() + static_cast<std::size_t>(i) * 3 * size * size;
  }
};

}  // namespace gemma3
