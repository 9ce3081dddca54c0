// Min-K% Prob and Min-K%++ (metrics/contamination.h) against a float64 numpy reimplementation
// from the papers' definitions (tools/make_contamination_refs.py ->
// tests/fixtures/metrics/contamination.json): per-token log p, mu, sigma and score, the text
// scores for k in {0.1, 0.2, 0.5} (ties, near-one-hot and near-uniform rows, texts so short that
// int(len * k) is 0), and the distribution summaries (np.mean, np.std, np.quantile,
// np.histogram). All within 1e-9 relative.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "metrics/contamination.h"

namespace erank {
namespace {

namespace mc = contamination;
using json = nlohmann::json;

const json& fixture() {
  static const json j = [] {
    std::ifstream f(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/metrics/contamination.json");
    return json::parse(f);
  }();
  return j;
}

// |a - b| within 1e-9 of |b| (1e-12 absolute for values near zero); returns the relative error.
double worst = 0;
std::string worst_at;
void expect_close(double a, double b, const std::string& what) {
  const double err = std::abs(a - b);
  EXPECT_LE(err, 1e-9 * std::abs(b) + 1e-12) << what << ": " << a << " vs " << b;
  if (err / std::max(std::abs(b), 1e-3) > worst) {
    worst = err / std::max(std::abs(b), 1e-3);
    worst_at = what;
  }
}

TEST(Contamination, TokenStatsEqualNumpy) {
  int rows = 0;
  for (const auto& c : fixture()["cases"]) {
    const std::string name = c["name"];
    const int64_t n = c["n"], V = c["vocab"];
    const bool f32 = c["dtype"] == "float32";
    for (int64_t t = 0; t + 1 < n; ++t) {
      std::vector<double> zd;
      for (const auto& v : c["logits"][size_t(t)]) zd.push_back(v.get<double>());
      ASSERT_EQ(static_cast<int64_t>(zd.size()), V);
      const int32_t tok = c["ids"][size_t(t + 1)];
      mc::TokenStats s;
      if (f32) {
        std::vector<float> zf(zd.begin(), zd.end());  // exact: the doubles are float32 values
        s = mc::token_stats(zf, tok);
        const mc::TokenStats sd = mc::token_stats(zd, tok);
        EXPECT_EQ(s.logp, sd.logp);  // the float and double rows hold the same numbers
        EXPECT_EQ(s.sigma, sd.sigma);
      } else {
        s = mc::token_stats(zd, tok);
      }
      const std::string at = name + " row " + std::to_string(t);
      expect_close(s.logp, c["token_logp"][size_t(t)], at + " logp");
      expect_close(s.mu, c["mu"][size_t(t)], at + " mu");
      expect_close(s.sigma, c["sigma"][size_t(t)], at + " sigma");
      expect_close(mc::mink_pp_score(s), c["mink_pp_token"][size_t(t)], at + " score");
      ++rows;
    }
  }
  EXPECT_GT(rows, 60);
  std::printf("[ contamination ] %d rows: worst relative error %.3g (%s)\n", rows, worst,
              worst_at.c_str());
}

TEST(Contamination, TextScoresEqualNumpy) {
  int checked = 0;
  for (const auto& c : fixture()["cases"]) {
    const std::string name = c["name"];
    const int64_t n = c["n"];
    std::vector<double> lp;
    std::vector<mc::TokenStats> st;
    for (int64_t t = 0; t + 1 < n; ++t) {
      std::vector<double> z;
      for (const auto& v : c["logits"][size_t(t)]) z.push_back(v.get<double>());
      st.push_back(mc::token_stats(z, c["ids"][size_t(t + 1)].get<int32_t>()));
      lp.push_back(st.back().logp);
    }
    for (double k : fixture()["ks"]) {
      const std::string key = fmt::format("{}", k);  // as Python writes them: "0.1", "0.2", "0.5"
      ASSERT_TRUE(c["min_k"].contains(key)) << key;
      const std::string at = name + " k=" + key;
      EXPECT_EQ(mc::k_length(n - 1, k), c["k_length"][key].get<int64_t>()) << at;
      const auto a = mc::min_k_prob(lp, k);
      const auto b = mc::min_k_plus_plus(st, k);
      if (c["min_k"][key].is_null()) {
        EXPECT_FALSE(a) << at;
        EXPECT_FALSE(b) << at;
        continue;
      }
      ASSERT_TRUE(a && b) << at;
      expect_close(*a, c["min_k"][key], at + " min_k");
      expect_close(*b, c["min_k_plus_plus"][key], at + " min_k++");
      // Where the papers' code gives a number, it is erank's.
      if (!c["paper_min_k"][key].is_null()) {
        EXPECT_EQ(c["paper_k_length"][key], c["k_length"][key]) << at;
        expect_close(*a, c["paper_min_k"][key], at + " paper min_k");
        expect_close(*b, c["paper_min_k_plus_plus"][key], at + " paper min_k++");
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 25);
  std::printf("[ contamination ] %d text scores: worst relative error %.3g (%s)\n", checked, worst,
              worst_at.c_str());
}

TEST(Contamination, DistributionEqualsNumpy) {
  for (const auto& d : fixture()["distributions"]) {
    const std::vector<double> v = d["values"];
    const mc::Distribution s = mc::distribution(v, d["bins"].get<int>());
    EXPECT_EQ(s.n, static_cast<int64_t>(v.size()));
    expect_close(s.mean, d["mean"], "mean");
    if (d["sd"].is_null())
      EXPECT_TRUE(std::isnan(s.sd));
    else
      expect_close(s.sd, d["sd"], "sd");
    for (size_t i = 0; i < 5; ++i) expect_close(s.quantiles[i], d["quantiles"][i], "quantile");
    ASSERT_EQ(s.edges.size(), d["edges"].size());
    for (size_t i = 0; i < s.edges.size(); ++i) expect_close(s.edges[i], d["edges"][i], "edge");
    EXPECT_EQ(s.counts, d["counts"].get<std::vector<int64_t>>());
  }
}

TEST(Contamination, ClosedFormsAndEdgeCases) {
  // Two tokens, p = 1/4 and 3/4: log p is Bernoulli-distributed.
  const std::vector<double> two = {0.0, std::log(3.0)};  // p = 1/4, 3/4
  const mc::TokenStats s = mc::token_stats(two, 0);
  const double mu = 0.25 * std::log(0.25) + 0.75 * std::log(0.75);
  const double var = 0.25 * 0.75 * std::pow(std::log(0.25) - std::log(0.75), 2);  // Bernoulli
  EXPECT_NEAR(s.logp, std::log(0.25), 1e-15);
  EXPECT_NEAR(s.mu, mu, 1e-15);
  EXPECT_NEAR(s.sigma, std::sqrt(var), 1e-15);
  // sigma = 0 (a one-hot row in double): 0 / 0 or -inf; such a text has no Min-K%++.
  const mc::TokenStats nan_row{.logp = -1, .mu = -1, .sigma = 0};
  const mc::TokenStats inf_row{.logp = -2, .mu = -1, .sigma = 0};
  const mc::TokenStats fine{.logp = -2, .mu = -1, .sigma = 0.5};
  EXPECT_FALSE(mc::min_k_plus_plus(std::vector<mc::TokenStats>{fine, nan_row}, 1.0));
  EXPECT_FALSE(mc::min_k_plus_plus(std::vector<mc::TokenStats>{fine, inf_row}, 1.0));
  EXPECT_EQ(*mc::min_k_plus_plus(std::vector<mc::TokenStats>{fine, fine}, 1.0), -2.0);

  EXPECT_EQ(mc::k_length(0, 0.2), 0);
  EXPECT_EQ(mc::k_length(4, 0.2), 1);   // int(0.8) = 0 -> 1
  EXPECT_EQ(mc::k_length(10, 0.2), 2);  // 10 * 0.2 = 2.0000000000000004 -> 2
  EXPECT_EQ(mc::k_length(7, 1.0), 7);
  EXPECT_EQ(*mc::min_k_prob(std::vector<double>{-1, -5, -3, -2}, 0.5), -4.0);
  EXPECT_FALSE(mc::min_k_prob(std::vector<double>{}, 0.5));

  EXPECT_THROW(mc::check_k(0.0, "k"), Error);
  EXPECT_THROW(mc::check_k(1.5, "k"), Error);
  EXPECT_THROW(mc::check_k(-0.2, "k"), Error);
  EXPECT_THROW(mc::check_k(std::numeric_limits<double>::quiet_NaN(), "k"), Error);
  EXPECT_NO_THROW(mc::check_k(1.0, "k"));
  EXPECT_THROW(mc::token_stats(two, 2), Error);  // outside the vocabulary
  EXPECT_THROW(mc::token_stats(two, -1), Error);
  const std::vector<float> bad = {0.f, std::numeric_limits<float>::infinity()};
  EXPECT_THROW(mc::token_stats(bad, 0), Error);
  EXPECT_THROW(mc::distribution(std::vector<double>{}), Error);
  EXPECT_THROW(mc::distribution(std::vector<double>{1.0, NAN}), Error);
}

}  // namespace
}  // namespace erank
