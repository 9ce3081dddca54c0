// The loglikelihood scorer against a naive oracle: one full forward per request on the reference
// backend (double), over lm-eval's input (ctx + cont)[-(max_length + 1):][:-1], log-softmax and
// argmax at the continuation rows. Requests share contexts, have multi-token continuations, are
// truncated, longer than a step, and carry few-shot hints that match fully, partly or not at all;
// the tiny fixtures of five architectures (Gemma 3's window of 4 and a Mistral with a window of 5
// exercise sliding-window rings). Results are bitwise the same for any batch size and thread
// count, and a request scored alone gets the same bits as in a batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>

#include "backend/backend.h"
#include "core/error.h"
#include "models/model.h"
#include "tasks/loglikelihood.h"

using namespace erank;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;
const std::string kFix = kSrc + "/tests/fixtures/hf/";

std::vector<int32_t> ids_for(int64_t n, int64_t vocab, uint32_t seed) {
  std::vector<int32_t> v;
  uint32_t x = seed * 2654435761u + 7;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
  }
  return v;
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Keeps the logits of one sequence, in double.
class LogitsSink : public TapSink {
 public:
  bool wants(Tap t) const override { return t == Tap::logits; }
  void on_tap(Tap t, int, const Act& x, const SeqLayout&) override {
    if (t != Tap::logits) return;
    rows = x.rows;
    cols = x.cols;
    v.resize(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) v[size_t(r * cols + c)] = x.at(r, c);
  }
  const double* row(int64_t r) const { return v.data() + r * cols; }
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
};

struct Expected {
  double logprob = 0;
  bool is_greedy = true;
  double margin = std::numeric_limits<double>::infinity();  // smallest top-2 gap of its rows
};

// The oracle: lm-eval's _loglikelihood_tokens, one full forward per distinct input.
class Oracle {
 public:
  Oracle(const Model& m, Backend& be) : m_(m), be_(be) {}
  Expected operator()(const LLRequest& r, int64_t max_length) {
    std::vector<int32_t> whole = cat(r.context, r.continuation);
    if (int64_t(whole.size()) > max_length + 1)
      whole.erase(whole.begin(), whole.end() - (max_length + 1));
    whole.pop_back();
    const LogitsSink& s = logits(whole);
    const int64_t n = int64_t(whole.size()), c = int64_t(r.continuation.size());
    Expected e;
    for (int64_t i = 0; i < c; ++i) {
      const double* z = s.row(n - c + i);
      double mx = -std::numeric_limits<double>::infinity(), second = mx, se = 0;
      int64_t arg = 0;
      for (int64_t v = 0; v < s.cols; ++v) {
        if (z[v] > mx) {
          second = mx;
          mx = z[v];
          arg = v;
        } else if (z[v] > second) {
          second = z[v];
        }
      }
      for (int64_t v = 0; v < s.cols; ++v) se += std::exp(z[v] - mx);
      const int32_t tok = r.continuation[size_t(i)];
      e.logprob += z[tok] - mx - std::log(se);
      e.is_greedy = e.is_greedy && arg == tok;
      e.margin = std::min(e.margin, mx - second);
    }
    return e;
  }
  // Greedy continuation of `ctx` (so that some requests are greedy).
  std::vector<int32_t> greedy(std::vector<int32_t> ctx, int n) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      const LogitsSink& s = logits(ctx);
      const double* z = s.row(s.rows - 1);
      const int32_t t = int32_t(std::max_element(z, z + s.cols) - z);
      out.push_back(t);
      ctx.push_back(t);
    }
    return out;
  }

 private:
  const LogitsSink& logits(const std::vector<int32_t>& ids) {
    auto it = cache_.find(ids);
    if (it != cache_.end()) return it->second;
    LogitsSink s;
    m_.forward(be_, {ids}, s);
    return cache_[ids] = std::move(s);
  }
  const Model& m_;
  Backend& be_;
  std::map<std::vector<int32_t>, LogitsSink> cache_;
};

// An MMLU-like set: documents sharing a few-shot block (the hint), four choices each (one token,
// several tokens, the greedy ones), plus contexts matching the hint partly or not at all, one
// context longer than a step and one continuation longer than a step.
std::vector<LLRequest> request_set(const Model& m, Oracle& oracle) {
  const int64_t V = m.config().vocab_size;
  auto hint = std::make_shared<const std::vector<int32_t>>(ids_for(30, V, 100));
  std::vector<LLRequest> reqs;
  for (uint32_t d = 0; d < 5; ++d) {
    const auto ctx = cat(*hint, ids_for(6 + 5 * d, V, 200 + d));
    const auto g = oracle.greedy(ctx, 3);
    reqs.push_back({ctx, {g[0]}, hint});                          // greedy, one token
    reqs.push_back({ctx, ids_for(1, V, 300 + d), hint});          // one token
    reqs.push_back({ctx, ids_for(3 + d % 3, V, 400 + d), hint});  // several
    reqs.push_back({ctx, g, hint});                               // greedy, three tokens
    if (d == 2) reqs.push_back({ctx, ids_for(3 + d % 3, V, 400 + d), hint});  // a repeat
  }
  // Context is a prefix of the hint: its last token is computed with the continuation.
  reqs.push_back({std::vector<int32_t>(hint->begin(), hint->begin() + 20), ids_for(2, V, 9), hint});
  reqs.push_back({*hint, ids_for(1, V, 10), hint});  // context equal to the hint
  // Partial match (12 tokens), and no match.
  const auto partial =
      cat(std::vector<int32_t>(hint->begin(), hint->begin() + 12), ids_for(9, V, 11));
  reqs.push_back({partial, ids_for(2, V, 12), hint});
  reqs.push_back({partial, ids_for(1, V, 13), hint});
  reqs.push_back({ids_for(17, V, 14), ids_for(2, V, 15), hint});
  // The same context without a hint: computed on its own, equal within rounding.
  reqs.push_back({cat(*hint, ids_for(6, V, 200)), ids_for(1, V, 300), nullptr});
  // Longer than a step of 16 tokens: context and continuation.
  reqs.push_back({ids_for(45, V, 16), ids_for(20, V, 17), nullptr});
  reqs.push_back({ids_for(1, V, 18), ids_for(1, V, 19), nullptr});  // one-token context
  return reqs;
}

// Checks every request; returns the worst error relative to max(1, |logprob|).
double expect_close(const std::vector<LLResult>& got, const std::vector<Expected>& want,
                    const std::string& what, double tol) {
  EXPECT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  int greedy = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    worst = std::max(worst, std::fabs(got[i].logprob - want[i].logprob) /
                                std::max(1.0, std::fabs(want[i].logprob)));
    greedy += got[i].is_greedy;
    EXPECT_NEAR(got[i].logprob, want[i].logprob, tol * std::max(1.0, std::fabs(want[i].logprob)))
        << what << " request " << i;
    if (want[i].margin >= 1e-4) {
      EXPECT_EQ(got[i].is_greedy, want[i].is_greedy) << what << " request " << i;
    }
  }
  EXPECT_GT(greedy, 0) << what << ": no greedy continuation (the test lost its point)";
  std::printf("%-40s worst rel err %.2e, %d greedy of %zu\n", what.c_str(), worst, greedy,
              got.size());
  return worst;
}

void expect_bitwise(const std::vector<LLResult>& a, const std::vector<LLResult>& b,
                    const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(std::memcmp(&a[i].logprob, &b[i].logprob, sizeof(double)), 0)
        << what << " request " << i << ": " << a[i].logprob << " vs " << b[i].logprob;
    EXPECT_EQ(a[i].is_greedy, b[i].is_greedy) << what << " request " << i;
  }
}

std::unique_ptr<Model> with_window(const Model& base, int64_t window) {
  ModelConfig c = base.config();
  c.sliding_window = window;
  return std::make_unique<Model>(c, base.arch(), base.weights(), base.report());
}

}  // namespace

class LLOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(LLOracle, MatchesTheNaiveOracle) {
  auto base = load_model(kFix + (GetParam() == "mistral_w5" ? "mistral" : GetParam()));
  auto m = GetParam() == "mistral_w5" ? with_window(*base, 5) : std::move(base);
  auto ref = make_backend("reference", 2);
  Oracle oracle(*m, *ref);
  const auto reqs = request_set(*m, oracle);
  for (const int64_t max_length : {int64_t(1000), int64_t(24)}) {
    std::vector<Expected> want;
    for (const auto& r : reqs) want.push_back(oracle(r, max_length));
    for (const char* be_name : {"cpu", "reference"}) {
      auto be = make_backend(be_name, 2);
      LLStats stats;
      int64_t calls = 0, last = -1;
      LLOptions opt{.max_length = max_length, .batch_tokens = 16};
      opt.stats = &stats;
      opt.progress = [&](int64_t done, int64_t total) {
        EXPECT_EQ(total, int64_t(reqs.size()));
        EXPECT_GE(done, last);
        last = done;
        ++calls;
      };
      const auto got = score_loglikelihood(*m, *be, reqs, opt);
      const std::string what =
          GetParam() + " " + be_name + " max_length " + std::to_string(max_length);
      expect_close(got, want, what, 1e-5);
      EXPECT_EQ(last, int64_t(reqs.size())) << what;
      EXPECT_EQ(calls, stats.forwards) << what;
      if (max_length == 1000) {
        // Prefixes: the hint's first 30 tokens (full matches), 19 and 29 (contexts inside the
        // hint: their last token is computed), 12 (partial); no match and no hint reuse nothing.
        EXPECT_EQ(stats.prefixes, 4) << what;
        EXPECT_EQ(stats.reused_tokens, 5 * 30 + 19 + 29 + 12) << what;
        EXPECT_EQ(stats.contexts, 5 + 2 + 1 + 1 + 1 + 2) << what;
      } else {  // truncated contexts no longer start with the hint; two stay whole
        EXPECT_EQ(stats.prefixes, 2) << what;
        EXPECT_EQ(stats.reused_tokens, 19 + 12) << what;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, LLOracle,
                         ::testing::Values("llama_gqa_rope3", "gpt2", "opt_preln", "gemma3",
                                           "mistral", "mistral_w5"));

// A random Llama with weights above the cpu backend's OpenBLAS threshold (2^21 values), where
// products of more than 64 rows would otherwise sum a row depending on its tile's other rows.
std::unique_ptr<Model> big_weights_twin() {
  auto base = load_model(kFix + "llama_gqa_rope3");
  ModelConfig c = base->config();
  c.hidden = 1024;
  c.intermediate = 2304;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 128;
  c.n_layers = 1;
  return make_twin(c, base->arch(), 5);
}

TEST(Loglikelihood, BitwiseTheSameForAnyBatchAndThreads) {
  const bool sanitized = std::getenv("ERANK_SANITIZED") != nullptr;  // the big model is slow there
  for (const std::string name : {"llama_gqa_rope3", "gemma3", "big weights"}) {
    if (name == "big weights" && sanitized) continue;
    auto m = name == "big weights" ? big_weights_twin() : load_model(kFix + name);
    auto oracle_be = make_backend(name == "big weights" ? "cpu" : "reference", 2);
    Oracle oracle(*m, *oracle_be);
    const auto reqs = request_set(*m, oracle);
    std::vector<LLResult> first;
    for (const int threads : {1, 2})
      for (const int64_t bt : {int64_t(64), int64_t(512), int64_t(100000)}) {
        auto be = make_backend("cpu", threads);
        const auto got =
            score_loglikelihood(*m, *be, reqs, {.max_length = 1000, .batch_tokens = bt});
        if (first.empty())
          first = got;
        else
          expect_bitwise(
              got, first,
              name + " batch " + std::to_string(bt) + " threads " + std::to_string(threads));
      }
    // Each request alone: the same bits as in the batch.
    auto be = make_backend("cpu", 2);
    for (size_t i = 0; i < reqs.size(); i += 3) {
      const auto one =
          score_loglikelihood(*m, *be, std::span(reqs).subspan(i, 1), {.max_length = 1000});
      expect_bitwise(one, {first[i]}, name + " alone " + std::to_string(i));
    }
  }
}

TEST(Loglikelihood, SmallCacheBudgetGivesTheSameBits) {
  // Two slots only (a prefix and one context): the schedule changes, the results do not.
  auto m = load_model(kFix + "gemma3");
  auto ref = make_backend("reference", 1);
  Oracle oracle(*m, *ref);
  const auto reqs = request_set(*m, oracle);
  auto be = make_backend("cpu", 2);
  LLStats small, big;
  const auto a = score_loglikelihood(*m, *be, reqs, {.max_cache_bytes = 1, .stats = &small});
  const auto b = score_loglikelihood(*m, *be, reqs, {.stats = &big});
  EXPECT_EQ(small.slots, 2);
  EXPECT_GT(big.slots, 2);
  EXPECT_GT(small.forwards, big.forwards);
  expect_bitwise(a, b, "two slots");
}

TEST(Loglikelihood, BadRequests) {
  auto m = load_model(kFix + "llama_gqa_rope3");
  auto be = make_backend("cpu", 1);
  auto score = [&](LLRequest r, LLOptions opt = {}) {
    std::vector<LLRequest> v = {{{1, 2}, {3}, nullptr}, std::move(r)};
    return score_loglikelihood(*m, *be, v, opt);
  };
  EXPECT_THROW(score({{}, {3}, nullptr}), Error);                            // empty context
  EXPECT_THROW(score({{1}, {}, nullptr}), Error);                            // empty continuation
  EXPECT_THROW(score({{1}, {1, 2, 3}, nullptr}, {.max_length = 2}), Error);  // too long
  EXPECT_THROW(score({{1}, {int32_t(m->config().vocab_size)}, nullptr}), Error);
  EXPECT_THROW(score({{-1}, {2}, nullptr}), Error);
  EXPECT_THROW(score({{1}, {2}, nullptr}, {.batch_tokens = 0}), Error);
  EXPECT_TRUE(score_loglikelihood(*m, *be, {}, {}).empty());
}

// The embedded SmolLM2-135M (GGUF): an MMLU-like set, the cpu scorer against the naive cpu full
// forward, and the same bits for two batch sizes and thread counts.
TEST(Loglikelihood, SmolLM2MatchesTheFullForward) {
  const std::string path = kSrc + "/models/smollm2-135m.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing (bash scripts/install.sh)";
  if (std::getenv("ERANK_SANITIZED")) GTEST_SKIP() << "too slow under sanitizers";
  auto m = load_model(path);
  auto be = make_backend("cpu", 2);
  Oracle oracle(*m, *be);
  const int64_t V = m->config().vocab_size;
  auto hint = std::make_shared<const std::vector<int32_t>>(ids_for(150, V, 1));
  std::vector<LLRequest> reqs;
  for (uint32_t d = 0; d < 3; ++d) {
    const auto ctx = cat(*hint, ids_for(40, V, 10 + d));
    const auto g = oracle.greedy(ctx, 2);
    for (int32_t choice : {g[0], 330, 331, 332}) reqs.push_back({ctx, {choice}, hint});
    reqs.push_back({ctx, g, hint});
  }
  std::vector<Expected> want;
  for (const auto& r : reqs) want.push_back(oracle(r, 2048));
  LLStats stats;
  const auto got = score_loglikelihood(*m, *be, reqs, {.batch_tokens = 64, .stats = &stats});
  expect_close(got, want, "smollm2", 1e-4);
  EXPECT_TRUE(got[0].is_greedy);
  EXPECT_EQ(stats.prefixes, 1);
  auto be1 = make_backend("cpu", 1);
  expect_bitwise(score_loglikelihood(*m, *be1, reqs, {.batch_tokens = 100000}), got,
                 "smollm2 batch 100000 threads 1");
}
