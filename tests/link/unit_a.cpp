// Two translation units of one program include the whole library: a
// header-only library must link without duplicate symbols (ODR), and both
// units must dispatch the kernels to the same Highway target.
#include "gemma3/ops/ops.hpp"
#include "gemma3/session.hpp"
#include "gemma3/vision.hpp"
#include "gemma3/image.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/chat.hpp"

#include <cstdio>
#include <cstring>
#include <string>

std::string unit_b_target();
float unit_b_dot(const float* a, const float* b, size_t n);

int main() {
  const float a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 4, 3, 2, 1};
  const float here = gemma3::ops::dot(a, b, 5);
  const float there = unit_b_dot(a, b, 5);
  const std::string ta = gemma3::ops::active_target_name(), tb = unit_b_target();
  std::printf("unit a: %s dot=%g; unit b: %s dot=%g\n", ta.c_str(), here, tb.c_str(), there);
  return (here == 35.0f && there == 35.0f && ta == tb) ? 0 : 1;
}
