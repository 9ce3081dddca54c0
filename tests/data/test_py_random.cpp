// python_random_sample and PyRandom against CPython 3.11 (tools/make_data_goldens.py ->
// tests/fixtures/data/py_random.json), and the SHA-256 against hashlib.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "data/py_random.h"
#include "data/sha256.h"

namespace erank {
namespace {

nlohmann::json fixture(const std::string& name) {
  std::ifstream f(std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/data/" + name);
  EXPECT_TRUE(f.good()) << name;
  return nlohmann::json::parse(f);
}

std::string list_hash(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return sha256_hex(s);
}

TEST(PyRandom, SampleMatchesCPython) {
  const auto j = fixture("py_random.json");
  int n_cases = 0;
  for (const auto& c : j.at("samples")) {
    const int64_t n = c.at("n"), k = c.at("k");
    const uint64_t seed = c.at("seed");
    const std::vector<int64_t> got = python_random_sample(n, k, seed);
    const std::string what =
        "n=" + std::to_string(n) + " k=" + std::to_string(k) + " seed=" + std::to_string(seed);
    ASSERT_EQ(static_cast<int64_t>(got.size()), k) << what;
    if (c.contains("full")) {
      EXPECT_EQ(got, c.at("full").get<std::vector<int64_t>>()) << what;
    }
    const auto first = c.at("first").get<std::vector<int64_t>>();
    const auto last = c.at("last").get<std::vector<int64_t>>();
    EXPECT_TRUE(std::equal(first.begin(), first.end(), got.begin())) << what;
    EXPECT_TRUE(std::equal(last.rbegin(), last.rend(), got.rbegin())) << what;
    EXPECT_EQ(list_hash(got), c.at("sha256").get<std::string>()) << what;
    ++n_cases;
  }
  EXPECT_GE(n_cases, 14);
}

TEST(PyRandom, StreamsMatchCPython) {
  const auto j = fixture("py_random.json");  // kept alive: the loop holds references into it
  for (const auto& s : j.at("streams")) {
    const uint64_t seed = s.at("seed");
    PyRandom r(seed);
    const auto ks = s.at("getrandbits_k").get<std::vector<int>>();
    const auto want = s.at("getrandbits").get<std::vector<std::string>>();
    for (size_t i = 0; i < ks.size(); ++i)
      EXPECT_EQ(std::to_string(r.getrandbits(ks[i])), want[i]) << "seed " << seed << " k " << ks[i];
    PyRandom r2(seed);
    for (const auto& f : s.at("random")) {
      // repr() of a float round-trips: parse it back and compare exactly
      EXPECT_EQ(r2.random(), std::stod(f.get<std::string>())) << "seed " << seed;
    }
  }
}

TEST(PyRandom, RejectsImpossibleSamples) {
  EXPECT_THROW(python_random_sample(5, 6, 1), Error);
  EXPECT_THROW(python_random_sample(5, -1, 1), Error);
  EXPECT_TRUE(python_random_sample(0, 0, 1).empty());
}

TEST(Sha256, MatchesHashlib) {
  const auto j = fixture("sha256.json");
  auto bytes = [] {
    std::string s;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  };
  EXPECT_EQ(sha256_hex(""), j.at("empty"));
  EXPECT_EQ(sha256_hex("abc"), j.at("abc"));
  EXPECT_EQ(sha256_hex(std::string(55, 'a')), j.at("a55"));
  EXPECT_EQ(sha256_hex(std::string(56, 'a')), j.at("a56"));
  EXPECT_EQ(sha256_hex(std::string(64, 'a')), j.at("a64"));
  EXPECT_EQ(sha256_hex(bytes()), j.at("bytes0_255x3"));
  // streaming in odd-sized pieces gives the same digest
  Sha256 h;
  const std::string a(1000000, 'a');
  for (size_t i = 0; i < a.size(); i += 777) h.update(std::string_view(a).substr(i, 777));
  EXPECT_EQ(h.hex_digest(), j.at("a1000000"));
}

}  // namespace
}  // namespace erank
