// transformers' processors re-derived on float32 rows. Arithmetic is float32 where torch's is (a
// float tensor op a Python float runs in float32: x / float(t), x * float(penalty)); the cuts'
// softmax is float64 rounded to float32, which is more exact than torch's f32 one (see top-p).
#include "generate/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include "core/error.h"

namespace erank::gen {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// softmax(x) per element, exp and sum in double, each probability rounded to float (what torch
// stores). x - max is taken in float as torch does. An all -inf row gives all zeros.
void softmax_f32(std::span<const float> x, std::vector<float>& p) {
  p.resize(x.size());
  float m = kNegInf;
  for (float v : x) m = std::max(m, v);
  if (m == kNegInf) {
    std::fill(p.begin(), p.end(), 0.f);
    return;
  }
  std::vector<double> e(x.size());
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += e[i] = std::exp(static_cast<double>(x[i] - m));
  for (size_t i = 0; i < x.size(); ++i) p[i] = static_cast<float>(e[i] / sum);
}

class RepetitionPenalty final : public LogitsProcessor {
 public:
  explicit RepetitionPenalty(double penalty) : penalty_(static_cast<float>(penalty)) {
    if (!(penalty > 0)) fail("repetition_penalty must be > 0, got {}", penalty);
  }
  std::string name() const override { return "RepetitionPenaltyLogitsProcessor"; }
  // Once per distinct id of the whole context (prompt included). Ids >= V are dropped, as
  // transformers clamps them to a padding column it cuts off; negative ids are not token ids.
  void apply(std::span<const int32_t> ids, std::span<float> logits) const override {
    std::vector<int32_t> u;
    u.reserve(ids.size());
    const auto V = static_cast<int64_t>(logits.size());
    for (int32_t id : ids)
      if (id >= 0 && id < V) u.push_back(id);
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    for (int32_t id : u) {
      float& l = logits[static_cast<size_t>(id)];
      l = l < 0 ? l * penalty_ : l / penalty_;
    }
  }

 private:
  float penalty_;
};

class Temperature final : public LogitsProcessor {
 public:
  explicit Temperature(double t) : t_(static_cast<float>(t)) {
    if (!(t > 0))
      fail("temperature must be > 0 when sampling, got {} (for greedy decoding, do not sample)", t);
  }
  std::string name() const override { return "TemperatureLogitsWarper"; }
  void apply(std::span<const int32_t>, std::span<float> logits) const override {
    for (float& l : logits) l = l / t_;
  }

 private:
  float t_;
};

class TopK final : public LogitsProcessor {
 public:
  explicit TopK(int k) : k_(k) {
    if (k <= 0) fail("top_k must be a positive integer, got {}", k);
  }
  std::string name() const override { return "TopKLogitsWarper"; }
  // Removes values below the k-th largest: every token tied with it stays (torch.topk's value).
  void apply(std::span<const int32_t>, std::span<float> logits) const override {
    if (logits.empty()) return;
    const size_t k = std::min(static_cast<size_t>(k_), logits.size());
    std::vector<float> v(logits.begin(), logits.end());
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end(),
                     std::greater<float>());
    const float kth = v[k - 1];
    for (float& l : logits)
      if (l < kth) l = kNegInf;
  }

 private:
  int k_;
};

class TopP final : public LogitsProcessor {
 public:
  explicit TopP(double p) : top_p_(p) {
    if (!(p >= 0 && p <= 1)) fail("top_p must be in [0, 1], got {}", p);
  }
  std::string name() const override { return "TopPLogitsWarper"; }
  // transformers: ascending torch.sort, cumsum of the sorted softmax, drop cum <= 1 - top_p, keep
  // the largest. The cumsum is in double stored as float and compared with float(1 - top_p), as
  // torch's CPU cumsum and comparison with a Python scalar do.
  void apply(std::span<const int32_t>, std::span<float> logits) const override {
    const size_t V = logits.size();
    if (V < 2) return;
    // First over the finite entries only (after top-k, 50 of them): -inf adds 0 to every sum and
    // equal values add the same amounts in any order, so the cut is the same; only which members
    // of a tied group straddling the cut go is order-dependent, and then cut_in_torch_order
    // decides.
    std::vector<std::pair<float, int32_t>> s;
    s.reserve(V);
    for (size_t i = 0; i < V; ++i) {
      if (std::isnan(logits[i])) return cut_in_torch_order(logits);
      if (logits[i] > kNegInf) s.emplace_back(logits[i], static_cast<int32_t>(i));
    }
    if (s.empty()) return;
    std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const size_t k = first_kept(s);
    if (k > 0 && s[k - 1].first == s[k].first) return cut_in_torch_order(logits);
    for (size_t i = 0; i < k; ++i) logits[static_cast<size_t>(s[i].second)] = kNegInf;
  }

 private:
  // Position of the first kept entry of an ascending row (all before it go, the last always stays).
  size_t first_kept(const std::vector<std::pair<float, int32_t>>& s) const {
    std::vector<float> sorted(s.size()), p;
    for (size_t i = 0; i < s.size(); ++i) sorted[i] = s[i].first;
    softmax_f32(sorted, p);
    const auto thr = static_cast<float>(1.0 - top_p_);
    double cum = 0;
    size_t i = 0;
    for (; i + 1 < s.size(); ++i) {  // cum only grows: stop at the first kept token
      cum += p[i];
      if (!(static_cast<float>(cum) <= thr)) break;
    }
    return i;
  }

  // Ties at the cut go in torch.sort's order: its CPU sort (stable=False) is libstdc++'s std::sort
  // over (value, index) pairs in index order with a NaN-last compare, so std::sort here gives the
  // same permutation (checked on tied rows up to V = 49152). The whole row is sorted, -inf
  // included, because dropping entries would change that permutation. O(V log V).
  void cut_in_torch_order(std::span<float> logits) const {
    const size_t V = logits.size();
    std::vector<std::pair<float, int32_t>> s(V);
    for (size_t i = 0; i < V; ++i) s[i] = {logits[i], static_cast<int32_t>(i)};
    std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) {
      return (!std::isnan(a.first) && std::isnan(b.first)) || a.first < b.first;
    });
    const size_t k = first_kept(s);
    for (size_t i = 0; i < k; ++i) logits[static_cast<size_t>(s[i].second)] = kNegInf;
  }

  double top_p_;
};

class MinP final : public LogitsProcessor {
 public:
  explicit MinP(double m) : min_p_(m) {
    if (!(m >= 0 && m <= 1)) fail("min_p must be in [0, 1], got {}", m);
  }
  std::string name() const override { return "MinPLogitsWarper"; }
  // Drops p < min_p * max p (float product, as torch's), always keeping the most probable token.
  void apply(std::span<const int32_t>, std::span<float> logits) const override {
    if (logits.empty()) return;
    std::vector<float> p;
    softmax_f32(logits, p);
    const size_t top = static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const float thr = static_cast<float>(min_p_) * p[top];
    for (size_t i = 0; i < logits.size(); ++i)
      if (p[i] < thr && i != top) logits[i] = kNegInf;
  }

 private:
  double min_p_;
};

}  // namespace

void LogitsChain::add(std::unique_ptr<LogitsProcessor> p) {
  ERANK_CHECK(p != nullptr, "null logits processor");
  procs_.push_back(std::move(p));
}

void LogitsChain::apply(std::span<const int32_t> ids, std::span<float> logits) const {
  for (const auto& p : procs_) p->apply(ids, logits);
}

const LogitsProcessor& LogitsChain::at(size_t i) const {
  ERANK_CHECK(i < procs_.size(), "processor {} of {}", i, procs_.size());
  return *procs_[i];
}

std::unique_ptr<LogitsProcessor> make_repetition_penalty(double penalty) {
  return std::make_unique<RepetitionPenalty>(penalty);
}
std::unique_ptr<LogitsProcessor> make_temperature(double t) {
  return std::make_unique<Temperature>(t);
}
std::unique_ptr<LogitsProcessor> make_top_k(int k) {
  return std::make_unique<TopK>(k);
}
std::unique_ptr<LogitsProcessor> make_top_p(double p) {
  return std::make_unique<TopP>(p);
}
std::unique_ptr<LogitsProcessor> make_min_p(double m) {
  return std::make_unique<MinP>(m);
}

LogitsChain make_chain(const SamplingParams& p) {
  LogitsChain c;
  if (p.repetition_penalty != 1.0) c.add(make_repetition_penalty(p.repetition_penalty));
  if (!p.do_sample) return c;  // transformers ignores the warpers in greedy mode
  if (p.temperature != 1.0) c.add(make_temperature(p.temperature));
  if (p.top_k < 0) fail("top_k must be >= 0 (0: off), got {}", p.top_k);
  if (p.top_k != 0) c.add(make_top_k(p.top_k));
  if (p.top_p < 1.0) c.add(make_top_p(p.top_p));
  if (p.min_p != 0.0) c.add(make_min_p(p.min_p));  // min_p 0 removes nothing: skipped
  return c;
}

}  // namespace erank::gen
