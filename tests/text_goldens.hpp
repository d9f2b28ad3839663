// tests/text_goldens.hpp — shared helpers of the decoder/attention/session
// tests: the tiny-dev goldens copied into tests/data/goldens/ (goldens.json,
// the float32 .npy outputs of the independent HF-semantics reference, and the
// tiny model's config.json).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gemma3/json.hpp"
#include "npy.hpp"

namespace goldens {

inline std::string dir() { return std::string(GEMMA3_TEST_DATA_DIR) + "/goldens/"; }

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline const gemma3::json::Value& index() {
  static const gemma3::json::Value v =
      gemma3::json::parse(read_text(dir() + "goldens.json"), "goldens.json");
  return v;
}

inline const gemma3::json::Value& tiny_config() {
  static const gemma3::json::Value v =
      gemma3::json::parse(read_text(dir() + "config.json"), "config.json");
  return v;
}

inline std::vector<int> ids(const std::string& name) {
  std::vector<int> out;
  const auto& arr =
      gemma3::json::get(gemma3::json::get(index(), "inputs", "goldens"), name, "inputs").as_array();
  for (const auto& x : arr) out.push_back(int(x.as_int()));
  return out;
}

inline npy::Array<float> load(const std::string& name) {
  return npy::load<float>(dir() + name + ".npy");
}

// Worst violation of |got − ref| ≤ atol + rtol·|ref| (≤ 1 passes), and the
// max |diff|, over n values.
struct Diff {
  double worst_ratio = 0, max_abs = 0;
  size_t worst_index = 0;
};

inline Diff compare(const float* got, const float* ref, size_t n, double atol = 1e-4,
                    double rtol = 1e-4) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    const double e = std::fabs(double(got[i]) - double(ref[i]));
    const double r = std::isfinite(e) ? e / (atol + rtol * std::fabs(double(ref[i]))) : 1e30;
    if (e > d.max_abs || !std::isfinite(e)) d.max_abs = std::isfinite(e) ? e : 1e30;
    if (r > d.worst_ratio) {
      d.worst_ratio = r;
      d.worst_index = i;
    }
  }
  return d;
}

// CHECKs that got matches the golden within the bound, reporting where not.
inline void check_close(const std::string& what, const float* got, const npy::Array<float>& ref,
                        double atol = 1e-4, double rtol = 1e-4) {
  const Diff d = compare(got, ref.data.data(), ref.size(), atol, rtol);
  INFO(what << ": max |diff| " << d.max_abs << ", worst index " << d.worst_index << " (got "
            << got[d.worst_index] << ", ref " << ref.data[d.worst_index] << ")");
  CHECK(d.worst_ratio <= 1.0);
}

}  // namespace goldens
