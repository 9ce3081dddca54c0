// Bit-exact replica of CPython 3.11's `random` module for what dataset sampling needs, so that
// `random.seed(seed); random.sample(range(n), k)` (the Diff-eRank data code, REFERENCE §1) picks
// the same texts here. Sources followed: Modules/_randommodule.c (MT19937, init_by_array seeding
// from the integer's 32-bit words, getrandbits) and Lib/random.py (_randbelow_with_getrandbits,
// sample's pool-vs-set choice).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace erank {

class PyRandom {
 public:
  // random.seed(seed) for a non-negative int (CPython uses abs() of negative ints).
  explicit PyRandom(uint64_t seed);
  uint32_t genrand_uint32();
  // random.getrandbits(k), 0 <= k <= 64 (words drawn least significant first, as CPython).
  uint64_t getrandbits(int k);
  // random._randbelow(n) for n >= 1: getrandbits(n.bit_length()) with rejection.
  uint64_t randbelow(uint64_t n);
  // random.random(): 53-bit float from two draws.
  double random();

 private:
  std::array<uint32_t, 624> mt_{};
  int mti_ = 625;
};

// random.seed(seed); random.sample(range(n), k): k distinct indices in draw order.
// Throws erank::Error when k < 0 or k > n (Python raises ValueError).
std::vector<int64_t> python_random_sample(int64_t n, int64_t k, uint64_t seed);
// rng.sample(range(n), k) continuing rng's stream (lm-eval's few-shot sampler draws from one
// Random(1234) per task, document after document).
std::vector<int64_t> random_sample(PyRandom& rng, int64_t n, int64_t k);
// rng.shuffle(x) in place.
void random_shuffle(PyRandom& rng, std::vector<int64_t>& x);

}  // namespace erank
