// Logits processors against transformers' own chain (tools/make_sampling_refs.py ->
// tests/fixtures/generate/sampling_refs.json), greedy and seeded sampling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "generate/logits_processors.h"
#include "generate/sampler.h"

namespace erank::gen {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

const nlohmann::json& refs() {
  static const nlohmann::json j = [] {
    std::ifstream f(ERANK_SOURCE_DIR "/tests/fixtures/generate/sampling_refs.json");
    EXPECT_TRUE(f.good()) << "run tools/make_sampling_refs.py";
    return nlohmann::json::parse(f);
  }();
  return j;
}

std::vector<uint8_t> b64(const std::string& s) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+'             ? 62
            : c == '/'             ? 63
                                   : -1;
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::vector<float> b64_f32(const std::string& s) {
  auto b = b64(s);
  std::vector<float> f(b.size() / 4);
  std::memcpy(f.data(), b.data(), f.size() * 4);  // little-endian, as the script writes
  return f;
}

SamplingParams params_of(const nlohmann::json& p) {
  SamplingParams s;
  s.do_sample = p.value("do_sample", true);
  s.temperature = p.value("temperature", 1.0);
  s.top_p = p.value("top_p", 1.0);
  s.min_p = p.value("min_p", 0.0);
  s.repetition_penalty = p.value("repetition_penalty", 1.0);
  s.top_k = p.value("top_k", 0);
  return s;
}

std::vector<std::string> names_of(const LogitsChain& c) {
  std::vector<std::string> n;
  for (size_t i = 0; i < c.size(); ++i) n.push_back(c.at(i).name());
  return n;
}

std::vector<double> softmax_d(const std::vector<float>& x) {
  double m = -kInf, s = 0;
  for (float v : x) m = std::max(m, static_cast<double>(v));
  std::vector<double> p(x.size());
  for (size_t i = 0; i < x.size(); ++i) s += p[i] = std::exp(static_cast<double>(x[i]) - m);
  for (double& v : p) v /= s;
  return p;
}

TEST(Sampling, ChainOrderEqualsTransformers) {
  int n = 0;
  for (const auto& c : refs()["chains"]) {
    EXPECT_EQ(names_of(make_chain(params_of(c["params"]))),
              c["names"].get<std::vector<std::string>>())
        << c["params"].dump();
    ++n;
  }
  EXPECT_EQ(n, 64);
  // The full chain, as transformers orders it (read from the fixture's all-on entry too).
  SamplingParams all{true, 0.7, 0.9, 0.1, 1.2, 50, 0};
  EXPECT_EQ(names_of(make_chain(all)),
            (std::vector<std::string>{"RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper",
                                      "TopKLogitsWarper", "TopPLogitsWarper", "MinPLogitsWarper"}));
}

TEST(Sampling, ProcessorsEqualTransformers) {
  const auto& j = refs();
  std::vector<std::vector<float>> vecs;
  for (const auto& v : j["vectors"]) {
    vecs.push_back(b64_f32(v["logits"]));
    ASSERT_EQ(vecs.back().size(), v["vocab"].get<size_t>());
  }
  double max_dev = 0;
  int n_cases = 0, n_borderline = 0, n_flips = 0;
  for (const auto& c : j["cases"]) {
    const auto& vj = j["vectors"][c["vector"].get<size_t>()];
    const auto ctx = vj["context"].get<std::vector<int32_t>>();
    std::vector<float> x = vecs[c["vector"].get<size_t>()];
    const std::string what = vj["name"].get<std::string>() + " " + c["params"].dump();
    const LogitsChain chain = make_chain(params_of(c["params"]));
    EXPECT_EQ(names_of(chain), c["names"].get<std::vector<std::string>>()) << what;
    chain.apply(ctx, x);

    const auto bits = b64(c["kept"]);
    const auto ref_p = b64_f32(c["probs"]);
    const auto p = softmax_d(x);
    // Pairs (ours, transformers') over the tokens both keep; flips: kept by one side only.
    std::vector<std::pair<double, double>> both;
    int flips = 0;
    size_t r = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const bool ref_kept = (bits[i / 8] >> (i % 8)) & 1;
      flips += ref_kept != (x[i] > -kInf);
      if (ref_kept && r < ref_p.size()) {
        if (x[i] > -kInf) both.emplace_back(p[i], ref_p[r]);
        ++r;
      }
    }
    EXPECT_EQ(r, ref_p.size()) << what;
    const int allowed = c["borderline_flips"].get<int>();
    double s_ours = 1, s_ref = 1;
    if (allowed == 0) {
      EXPECT_EQ(flips, 0) << what;
    } else {  // a tied group straddles the top-p cut within torch's f32 softmax rounding
      EXPECT_LE(flips, allowed) << what;
      ++n_borderline;
      n_flips += flips;
      s_ours = s_ref = 0;  // compare the distributions renormalised over the common support
      for (const auto& [a, b] : both) s_ours += a, s_ref += b;
    }
    double dev = 0;
    for (const auto& [a, b] : both) dev = std::max(dev, std::abs(a / s_ours - b / s_ref));
    EXPECT_LE(dev, 1e-6) << what;
    max_dev = std::max(max_dev, dev);
    ++n_cases;
  }
  EXPECT_EQ(n_cases, 200);
  std::printf(
      "[ sampling ] %d cases vs transformers %s: max |p - p_ref| = %.3g, %d borderline "
      "case(s) with %d flipped token(s)\n",
      n_cases, j["transformers_version"].get<std::string>().c_str(), max_dev, n_borderline,
      n_flips);
}

TEST(Sampling, RepetitionPenaltyByHand) {
  std::vector<float> x{2.f, -2.f, 0.f, 1.f, -kInf};
  const std::vector<int32_t> ids{0, 0, 1, 2, 4, 99, 1};  // repeats once; 99 >= V is ignored
  make_repetition_penalty(2.0)->apply(ids, x);
  EXPECT_EQ(x, (std::vector<float>{1.f, -4.f, 0.f, 1.f, -kInf}));
}

TEST(Sampling, TopKKeepsTiesAtKth) {
  std::vector<float> x{1, 3, 2, 3, 2, 0};
  make_top_k(2)->apply({}, x);  // k-th largest is 3: both 3s stay
  EXPECT_EQ(x, (std::vector<float>{-kInf, 3, -kInf, 3, -kInf, -kInf}));
  std::vector<float> y{1, 3, 2, 3, 2, 0};
  make_top_k(3)->apply({}, y);  // k-th is 2: both 2s stay too
  EXPECT_EQ(y, (std::vector<float>{-kInf, 3, 2, 3, 2, -kInf}));
}

TEST(Sampling, TopPAndMinPKeepOne) {
  std::vector<float> x{0, 10, 1};
  make_top_p(0.0)->apply({}, x);
  EXPECT_EQ(x, (std::vector<float>{-kInf, 10, -kInf}));
  std::vector<float> y{0, 0, 0};
  make_min_p(1.0)->apply({}, y);  // all tied at the max: none below it
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0}));
}

TEST(Sampling, ValidationAsTransformers) {
  SamplingParams p;
  p.do_sample = true;
  p.temperature = 0;
  EXPECT_THROW(make_chain(p), Error);
  p.do_sample = false;  // greedy ignores the warpers, as generate() does
  EXPECT_TRUE(make_chain(p).empty());
  EXPECT_THROW(make_top_p(-0.1), Error);
  EXPECT_THROW(make_min_p(1.5), Error);
  EXPECT_THROW(make_repetition_penalty(0), Error);
  EXPECT_THROW(make_top_k(0), Error);
  p = SamplingParams{};
  p.do_sample = true;
  p.top_k = -1;
  EXPECT_THROW(make_chain(p), Error);
  EXPECT_TRUE(make_chain(SamplingParams{}).empty());
}

TEST(Sampling, GreedyIsFirstArgmax) {
  Rng rng(1);
  const std::vector<float> x{1, 5, -kInf, 5, 2};
  EXPECT_EQ(pick_token(x, false, rng), 1);
  const std::vector<float> all_inf{-kInf, -kInf};
  EXPECT_EQ(pick_token(all_inf, false, rng), 0);  // torch.argmax of equal values: the first
  EXPECT_THROW(pick_token(all_inf, true, rng), Error);
  const std::vector<float> nan_first{std::nanf(""), 1, 3, 3};
  EXPECT_EQ(pick_token(nan_first, false, rng), 2);
}

// Long rows take the lane-wise pass: the first index of the largest non-NaN value, wherever the
// ties, NaNs and the tail fall, as a plain scan finds it.
TEST(Sampling, GreedyOnLongRowsIsTheFirstArgmaxOfAScan) {
  Rng rng(7), draw(11);
  for (size_t n : {16, 17, 31, 1000, 262147}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> x(n);
      for (float& v : x) v = float(draw.next() % 64) - 80;  // few distinct values: many ties
      for (size_t k = 0; k < n / 7; ++k) x[draw.next() % n] = std::nanf("");
      if (trial == 1) x[n - 1] = 100;                                 // the maximum in the tail
      if (trial == 2) x[draw.next() % n] = x[draw.next() % n] = 100;  // two, anywhere
      if (trial == 3) std::fill(x.begin(), x.end(), std::nanf(""));
      bool any = false;
      float m = 0;
      for (float v : x)
        if (!std::isnan(v) && (!any || v > m)) m = v, any = true;
      size_t first = n - 1;  // all NaN: the last index
      if (any) first = size_t(std::find(x.begin(), x.end(), m) - x.begin());
      EXPECT_EQ(pick_token(x, false, rng), int32_t(first)) << "n " << n << " trial " << trial;
    }
  }
}

TEST(Sampling, SameSeedSameDraws) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(i * 0.37) * 3);
  auto draws = [&](uint64_t seed) {
    Rng r(seed);
    std::vector<int32_t> d;
    for (int i = 0; i < 200; ++i) d.push_back(pick_token(x, true, r));
    return d;
  };
  EXPECT_EQ(draws(42), draws(42));
  EXPECT_NE(draws(42), draws(43));
  EXPECT_NE(draws(0), draws(1));
  Rng r(0);
  for (int i = 0; i < 10000; ++i) {
    const double u = r.uniform();
    ASSERT_TRUE(u >= 0 && u < 1);
  }
}

// Upper quantile of chi-square with k degrees of freedom (Wilson-Hilferty), z standard normals.
double chi2_quantile(int k, double z) {
  const double a = 2.0 / (9.0 * k);
  return k * std::pow(1 - a + z * std::sqrt(a), 3);
}

TEST(Sampling, FrequenciesMatchProbabilities) {
  // A processed row: temperature and top-k, so -inf tokens must never come out.
  std::vector<float> x{0.3f, -1.2f, 2.0f, 0.0f, 1.1f, -0.5f, 1.9f, -3.0f, 0.7f, 0.2f, -2.2f, 1.5f};
  SamplingParams sp;
  sp.do_sample = true;
  sp.temperature = 1.3;
  sp.top_k = 8;
  make_chain(sp).apply({}, x);
  const auto p = softmax_d(x);
  const int N = 400000;
  std::vector<int> count(x.size());
  Rng rng(sequence_seed(2024, 7));
  for (int i = 0; i < N; ++i) ++count[static_cast<size_t>(pick_token(x, true, rng))];
  double chi2 = 0;
  int df = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(count[i], 0) << i;
      continue;
    }
    const double e = N * p[i];
    chi2 += (count[i] - e) * (count[i] - e) / e;
    ++df;
  }
  EXPECT_EQ(df, 7);
  EXPECT_LT(chi2, chi2_quantile(df, 4.753));  // P(chi2 > bound) = 1e-6 under the right law
}

TEST(Sampling, SequenceSeedDependsOnSeedAndIndexOnly) {
  const uint64_t s = sequence_seed(5, 3);
  EXPECT_EQ(s, sequence_seed(5, 3));
  EXPECT_NE(s, sequence_seed(5, 4));
  EXPECT_NE(s, sequence_seed(6, 3));
  EXPECT_NE(sequence_seed(0, 1), sequence_seed(1, 0));
  std::set<uint64_t> seen;
  for (uint64_t seed = 0; seed < 300; ++seed)
    for (uint64_t i = 0; i < 300; ++i) seen.insert(sequence_seed(seed, i));
  EXPECT_EQ(seen.size(), 300u * 300u);
  // The same values computed on threads, in reverse order.
  std::vector<uint64_t> fwd(64), rev(64);
  for (uint64_t i = 0; i < 64; ++i) fwd[i] = sequence_seed(99, i);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 63 - t; i >= 0; i -= 4) rev[i] = sequence_seed(99, static_cast<uint64_t>(i));
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(fwd, rev);
}

}  // namespace
}  // namespace erank::gen
