#include "data/py_random.h"

#include <bit>
#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace erank {
namespace {

constexpr int kN = 624, kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU, kUpper = 0x80000000U, kLower = 0x7fffffffU;

}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // init_genrand(19650218) then init_by_array(key) with key = the int's 32-bit words, low first
  // (one word 0 for seed 0), exactly as random_seed() in _randommodule.c.
  std::vector<uint32_t> key = {static_cast<uint32_t>(seed)};
  if (seed >> 32) key.push_back(static_cast<uint32_t>(seed >> 32));
  mt_[0] = 19650218U;
  for (int i = 1; i < kN; ++i)
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  mti_ = kN;
  int i = 1;
  size_t j = 0;
  const size_t klen = key.size();
  for (int k = static_cast<int>(kN > static_cast<int>(klen) ? kN : klen); k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] +
             static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= klen) j = 0;
  }
  for (int k = kN - 1; k; --k) {
    mt_[i] =
        (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial array
}

uint32_t PyRandom::genrand_uint32() {
  static constexpr uint32_t mag01[2] = {0, kMatrixA};
  uint32_t y;
  if (mti_ >= kN) {
    int kk = 0;
    for (; kk < kN - kM; ++kk) {
      y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
      mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ mag01[y & 1U];
    }
    for (; kk < kN - 1; ++kk) {
      y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
      mt_[kk] = mt_[kk + (kM - kN)] ^ (y >> 1) ^ mag01[y & 1U];
    }
    y = (mt_[kN - 1] & kUpper) | (mt_[0] & kLower);
    mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ mag01[y & 1U];
    mti_ = 0;
  }
  y = mt_[mti_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

uint64_t PyRandom::getrandbits(int k) {
  ERANK_CHECK(k >= 0 && k <= 64, "getrandbits({})", k);
  if (k == 0) return 0;
  if (k <= 32) return genrand_uint32() >> (32 - k);
  uint64_t lo = genrand_uint32();
  uint64_t hi = genrand_uint32() >> (64 - k);
  return lo | (hi << 32);
}

uint64_t PyRandom::randbelow(uint64_t n) {
  ERANK_CHECK(n >= 1, "randbelow({})", n);
  const int k = std::bit_width(n);
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

double PyRandom::random() {
  const uint32_t a = genrand_uint32() >> 5, b = genrand_uint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<int64_t> python_random_sample(int64_t n, int64_t k, uint64_t seed) {
  PyRandom rng(seed);
  return random_sample(rng, n, k);
}

void random_shuffle(PyRandom& rng, std::vector<int64_t>& x) {
  // Lib/random.py shuffle: for i in reversed(range(1, len(x))): j = _randbelow(i + 1); swap.
  for (size_t i = x.size(); i-- > 1;) {
    const size_t j = static_cast<size_t>(rng.randbelow(static_cast<uint64_t>(i + 1)));
    std::swap(x[i], x[j]);
  }
}

std::vector<int64_t> random_sample(PyRandom& rng, int64_t n, int64_t k) {
  if (n < 0 || k < 0 || k > n)
    fail("cannot sample {} of {} items: sample larger than population or is negative", k, n);
  std::vector<int64_t> result(static_cast<size_t>(k));
  // Lib/random.py: setsize = 21 (+ 4 ** ceil(log(3k, 4)) when k > 5); a pool list when n <=
  // setsize.
  double setsize = 21;
  if (k > 5)
    setsize += std::pow(4.0, std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0)));
  if (static_cast<double>(n) <= setsize) {
    std::vector<int64_t> pool(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pool[i] = i;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = static_cast<int64_t>(rng.randbelow(static_cast<uint64_t>(n - i)));
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<int64_t> selected;
    selected.reserve(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = static_cast<int64_t>(rng.randbelow(static_cast<uint64_t>(n)));
      while (selected.count(j)) j = static_cast<int64_t>(rng.randbelow(static_cast<uint64_t>(n)));
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

}  // namespace erank
