// Writes tests/data/image/photo_q90.jpg (the fixture photo as a baseline JPEG,
// quality 90), grey_q90.jpg (its green channel, written from 1-channel data; stb_image_write stores
// it as 3-component YCbCr with zero chroma) and
// truncated.jpg (photo_q90.jpg cut at 60 %), with libstb's stb_image_write.
//   g++ -std=c++17 make_jpeg.cpp -lstb -o /tmp/make_jpeg && /tmp/make_jpeg tests/data/image
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load((dir + "/img0_photo_150x97.png").c_str(), &w, &h, &n, 3);
  if (!px) { std::fprintf(stderr, "cannot read the photo\n"); return 1; }
  const std::string jpg = dir + "/photo_q90.jpg";
  if (!stbi_write_jpg(jpg.c_str(), w, h, 3, px, 90)) return 1;
  std::vector<unsigned char> grey(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = px[3 * i + 1];
  if (!stbi_write_jpg((dir + "/grey_q90.jpg").c_str(), w, h, 1, grey.data(), 90)) return 1;
  stbi_image_free(px);
  std::FILE* f = std::fopen(jpg.c_str(), "rb");
  std::vector<unsigned char> buf(1 << 20);
  const size_t len = std::fread(buf.data(), 1, buf.size(), f);
  std::fclose(f);
  f = std::fopen((dir + "/truncated.jpg").c_str(), "wb");
  std::fwrite(buf.data(), 1, len * 6 / 10, f);
  std::fclose(f);
  return 0;
}
