#include "generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <vector>

#include "core/error.h"

namespace erank::gen {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

// The first index of the largest non-NaN logit; all NaN: the last index (torch.argmax would
// pick the first NaN; this keeps the earlier loop's answers). Two passes that vectorise: one
// comparing against logits[best] took 1 ms of each Gemma-3 decoding step (262k logits).
int32_t argmax(std::span<const float> logits) {
  constexpr size_t kLanes = 16;
  float lane[kLanes];
  std::fill(std::begin(lane), std::end(lane), -std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + kLanes <= logits.size(); i += kLanes)
    for (size_t l = 0; l < kLanes; ++l)  // NaN compares false: skipped
      lane[l] = logits[i + l] > lane[l] ? logits[i + l] : lane[l];
  float m = -std::numeric_limits<float>::infinity();
  for (; i < logits.size(); ++i) m = logits[i] > m ? logits[i] : m;
  for (float v : lane) m = v > m ? v : m;
  for (size_t j = 0; j < logits.size(); ++j)
    if (logits[j] == m) return static_cast<int32_t>(j);
  return static_cast<int32_t>(logits.size() - 1);
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

int32_t pick_token(std::span<const float> logits, bool do_sample, Rng& rng) {
  ERANK_CHECK(!logits.empty(), "empty logits row");
  if (!do_sample) return argmax(logits);
  double m = -std::numeric_limits<double>::infinity();
  for (float v : logits)
    if (v > m) m = v;
  if (!std::isfinite(m)) fail("cannot sample: no token has a finite logit (max {})", m);
  std::vector<double> w(logits.size());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    // NaN and -inf weigh 0; exp in double so a peaked row keeps its small tail exactly enough
    const double d = static_cast<double>(logits[i]) - m;
    total += w[i] = d == d ? std::exp(d) : 0.0;
  }
  const double u = rng.uniform() * total;
  double cum = 0;
  size_t last = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0) continue;
    cum += w[i];
    last = i;
    if (u < cum) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(last);  // u within rounding of total: the last drawable token
}

uint64_t sequence_seed(uint64_t run_seed, uint64_t index) {
  uint64_t x = run_seed;
  uint64_t h =
      splitmix64(x);  // mix the seed first so (seed, index) and (seed + 1, index - 1) differ
  h ^= index;
  return splitmix64(h);
}

}  // namespace erank::gen
