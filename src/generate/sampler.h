// Picking the next token from processed logits, and the seeded generator behind sampling.
// erank's draws are its own (transformers' torch.multinomial stream is not reproduced): a run is
// reproducible from (seed, sequence index) alone, whatever the batch, order or thread count.
#pragma once
#include <cstdint>
#include <span>

namespace erank::gen {

// xoshiro256** (Blackman & Vigna 2018), its 256-bit state filled from the seed by splitmix64 as
// its authors recommend (so seed 0 is fine). Small, fast, and fully specified here, unlike
// std::uniform_real_distribution, whose output differs between standard libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();   // 64 random bits
  double uniform();  // [0, 1): the top 53 bits of next() times 2^-53

 private:
  uint64_t s_[4];
};

// argmax when !do_sample (the first index among equal maxima, as torch.argmax; NaN is never
// chosen), else one draw from softmax(logits) computed in double: one uniform() per call,
// inverse CDF over the ids in order. -inf tokens have probability 0 and are never drawn.
// Throws erank::Error when sampling from a row with no finite logit.
int32_t pick_token(std::span<const float> logits, bool do_sample, Rng& rng);

// Seed of sequence `index` of a run (splitmix64's finaliser over seed and index): decorrelated
// streams for neighbouring indices, and nothing but (run_seed, index) goes in.
uint64_t sequence_seed(uint64_t run_seed, uint64_t index);

}  // namespace erank::gen
