// Tests of gemma3/sampler.hpp: greedy, temperature, top-k, top-p, min-p,
// repetition penalty, seeds, and the ids that must never be sampled.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gemma3/sampler.hpp"

using namespace gemma3;

namespace {

SamplingOptions plain() {  // sampling with every filter off
  SamplingOptions o;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.0f;
  o.seed = 1234;
  return o;
}

// Logits whose softmax is exactly probs (up to a constant).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

std::map<int, int> histogram(Sampler& s, const std::vector<float>& logits, int draws,
                             const std::vector<int>& history = {}) {
  std::map<int, int> h;
  for (int i = 0; i < draws; ++i) h[s.sample(logits.data(), logits.size(), history)]++;
  return h;
}

}  // namespace

TEST_CASE("sampler: defaults are the release generation config (spec §3.8)") {
  SamplingOptions o;
  CHECK(o.temperature == 1.0f);
  CHECK(o.top_k == 64);
  CHECK(o.top_p == 0.95f);
  CHECK(!o.greedy);
}

TEST_CASE("sampler: greedy never returns excluded ids or ids >= vocabulary") {
  std::vector<float> l(20, 0.0f);
  l[19] = 9;  // beyond the vocabulary (like the 4B's 64 extra rows)
  l[7] = 8;   // an image marker
  l[3] = 5;
  l[4] = 5;  // tie with 3: the smaller id wins
  SamplingOptions o;
  o.greedy = true;
  Sampler s(o, 16, {7});
  CHECK(s.sample(l.data(), l.size()) == 3);
  o.greedy = false;
  o.temperature = 0.0f;  // temperature 0 is greedy too
  Sampler t(o, 16, {7});
  CHECK(t.sample(l.data(), l.size()) == 3);
}

TEST_CASE("sampler: sampling never returns excluded ids even when they dominate") {
  std::vector<float> l(40, 0.0f);
  l[30] = 50;  // beyond the vocabulary
  l[5] = 50;   // excluded
  for (int k : {0, 2, 64}) {
    SamplingOptions o = plain();
    o.top_k = k;
    Sampler s(o, 32, {5, 6});
    const auto h = histogram(s, l, 2000);
    for (const auto& e : h) {
      CHECK(e.first < 32);
      CHECK(e.first != 5);
      CHECK(e.first != 6);
    }
  }
  SamplingOptions o = plain();
  Sampler s(o, 3, {0, 1, 2});
  CHECK_THROWS_AS(s.sample(l.data(), l.size()), Error);
}

TEST_CASE("sampler: plain sampling follows the softmax; temperature sharpens it") {
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  const auto l = logits_of(p);
  Sampler s(plain(), 4);
  const int n = 40000;
  auto h = histogram(s, l, n);
  for (int i = 0; i < 4; ++i)
    CHECK(double(h[i]) / n == doctest::Approx(p[size_t(i)]).epsilon(0.05));
  SamplingOptions o = plain();
  o.temperature = 0.5f;  // p^2 normalised: 0.25, 0.09, 0.0225, 0.0025 / 0.365
  Sampler t(o, 4);
  h = histogram(t, l, n);
  CHECK(double(h[0]) / n == doctest::Approx(0.25 / 0.365).epsilon(0.05));
  CHECK(double(h[1]) / n == doctest::Approx(0.09 / 0.365).epsilon(0.05));
}

TEST_CASE("sampler: top-k, top-p and min-p keep exactly the right sets") {
  const auto l = logits_of({0.05, 0.5, 0.15, 0.3});  // order: 1, 3, 2, 0
  auto kept = [&](SamplingOptions o) {
    Sampler s(o, 4);
    std::set<int> out;
    for (const auto& e : histogram(s, l, 3000)) out.insert(e.first);
    return out;
  };
  SamplingOptions o = plain();
  o.top_k = 2;
  CHECK(kept(o) == std::set<int>{1, 3});
  o.top_k = 1;
  CHECK(kept(o) == std::set<int>{1});
  o = plain();
  o.top_p = 0.75f;  // 0.5 + 0.3 ≥ 0.75
  CHECK(kept(o) == std::set<int>{1, 3});
  o.top_p = 0.85f;
  CHECK(kept(o) == std::set<int>{1, 3, 2});
  o.top_p = 0.3f;  // the best alone already has mass 0.5
  CHECK(kept(o) == std::set<int>{1});
  o = plain();
  o.min_p = 0.2f;  // keep p ≥ 0.1
  CHECK(kept(o) == std::set<int>{1, 3, 2});
  o.min_p = 0.7f;  // keep p ≥ 0.35
  CHECK(kept(o) == std::set<int>{1});
  o = plain();
  o.top_k = 3;
  o.top_p = 0.9f;  // within the top 3 (mass 0.95): 0.5/0.95 + 0.3/0.95 = 0.84 < 0.9 → all 3
  CHECK(kept(o) == std::set<int>{1, 3, 2});
}

TEST_CASE("sampler: top-p over a large vocabulary without top-k matches a full sort") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> l(50000);
  for (float& x : l) x = nd(rng);
  SamplingOptions o = plain();
  o.top_p = 0.9f;
  // Reference nucleus by a full sort.
  std::vector<int> order(l.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return l[size_t(a)] > l[size_t(b)]; });
  double total = 0;
  const double mx = l[size_t(order[0])];
  for (float x : l) total += std::exp(double(x) - mx);
  std::set<int> nucleus;
  double acc = 0;
  for (int id : order) {
    nucleus.insert(id);
    acc += std::exp(double(l[size_t(id)]) - mx);
    if (acc >= 0.9 * total) break;
  }
  REQUIRE(nucleus.size() > 64);  // forces several partial-sort rounds
  Sampler s(o, l.size());
  for (int i = 0; i < 3000; ++i) CHECK(nucleus.count(s.sample(l.data(), l.size())) == 1);
}

TEST_CASE("sampler: repetition penalty divides positive and multiplies negative logits") {
  std::vector<float> l = {2.0f, 1.9f, -1.0f, -1.2f};
  SamplingOptions o;
  o.greedy = true;
  o.repeat_penalty = 1.5f;
  Sampler s(o, 4);
  CHECK(s.sample(l.data(), 4, {}) == 0);
  CHECK(s.sample(l.data(), 4, {0}) == 1);     // 2.0 / 1.5 < 1.9
  CHECK(s.sample(l.data(), 4, {0, 1}) == 0);  // 1.33 > 1.27
  std::vector<float> neg = {-1.0f, -1.2f};
  CHECK(s.sample(neg.data(), 2, {0}) == 1);  // −1.5 < −1.2
  CHECK(s.sample(l.data(), 4, {}) == 0);     // penalties do not stick
  o.repeat_last_n = 1;                       // only the last token counts
  Sampler w(o, 4);
  CHECK(w.sample(l.data(), 4, {0, 3}) == 0);
}

TEST_CASE("sampler: a seed reproduces the sequence; the engine is the standard mt19937_64") {
  std::vector<float> l(300);
  for (size_t i = 0; i < l.size(); ++i) l[i] = float(std::sin(double(i) * 0.7)) * 2.0f;
  SamplingOptions o;  // release defaults
  o.seed = 42;
  Sampler a(o, 300), b(o, 300);
  std::vector<int> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l.data(), l.size()));
    sb.push_back(b.sample(l.data(), l.size()));
  }
  CHECK(sa == sb);
  o.seed = 43;
  Sampler c(o, 300);
  std::vector<int> sc;
  for (int i = 0; i < 200; ++i) sc.push_back(c.sample(l.data(), l.size()));
  CHECK(sa != sc);
  a.reseed(42);
  CHECK(a.sample(l.data(), l.size()) == sa[0]);
  std::mt19937_64 e;  // C++ standard [rand.predef]: the 10000th output is fixed
  e.discard(9999);
  CHECK(e() == 9981545732273789042ull);
}

TEST_CASE("sampler: bad options are rejected") {
  SamplingOptions o;
  o.top_p = 0.0f;
  CHECK_THROWS_AS(Sampler(o, 10), Error);
  o = SamplingOptions();
  o.top_k = -1;
  CHECK_THROWS_AS(Sampler(o, 10), Error);
  o = SamplingOptions();
  o.repeat_penalty = 0.0f;
  CHECK_THROWS_AS(Sampler(o, 10), Error);
  CHECK_THROWS_AS(Sampler(SamplingOptions(), 0), Error);
}
