// Second translation unit of the link test (see unit_a.cpp).
#include "gemma3/ops/ops.hpp"
#include "gemma3/session.hpp"
#include "gemma3/vision.hpp"
#include "gemma3/image.hpp"
#include "gemma3/tokenizer.hpp"
#include "gemma3/chat.hpp"

#include <string>

std::string unit_b_target() { return gemma3::ops::active_target_name(); }
float unit_b_dot(const float* a, const float* b, size_t n) { return gemma3::ops::dot(a, b, n); }
