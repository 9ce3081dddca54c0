// Correlations across models (erank sweep) against scipy.stats on the same numbers
// (tests/fixtures/metrics/correlations.json, written by tools/make_correlation_refs.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "metrics/correlation.h"

namespace erank {
namespace {

nlohmann::json load_cases() {
  std::ifstream f(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/metrics/correlations.json");
  EXPECT_TRUE(f.good());
  return nlohmann::json::parse(f);
}

void expect_same(const nlohmann::json& want, double got, const std::string& what) {
  if (want.is_null()) {
    EXPECT_TRUE(std::isnan(got)) << what << ": scipy gives nan, erank " << got;
  } else {
    EXPECT_NEAR(got, want.get<double>(), 1e-9) << what;
  }
}

TEST(Correlation, EqualsScipy) {
  const nlohmann::json doc = load_cases();
  ASSERT_GE(doc["cases"].size(), 10u);
  for (const auto& c : doc["cases"]) {
    const auto x = c["x"].get<std::vector<double>>(), y = c["y"].get<std::vector<double>>();
    const std::string name = c["name"];
    expect_same(c["pearson"], stats::pearson(x, y), name + " pearson");
    expect_same(c["spearman"], stats::spearman(x, y), name + " spearman");
    expect_same(c["kendall"], stats::kendall_tau_b(x, y), name + " kendall");
  }
}

TEST(Correlation, AverageRanksShareTies) {
  const std::vector<double> x = {10, 20, 20, 5, 20};
  const std::vector<double> want = {2, 4, 4, 1, 4};  // scipy.stats.rankdata: ties take the mean
  EXPECT_EQ(stats::average_ranks(x), want);
}

TEST(Correlation, DegenerateInputsAreNaN) {
  const std::vector<double> one = {1.0}, two = {1.0, 2.0}, three = {1.0, 2.0, 3.0};
  EXPECT_TRUE(std::isnan(stats::pearson(one, one)));
  EXPECT_TRUE(std::isnan(stats::spearman(two, three)));  // different sizes
  EXPECT_TRUE(std::isnan(stats::kendall_tau_b(one, one)));
}

}  // namespace
}  // namespace erank
