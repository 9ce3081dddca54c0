// A TapSink that keeps chosen hidden states (and optionally logits) per sequence, in f32.
// Used by `erank hidden`, the metrics and the tests.
#pragma once
#include <map>
#include <set>
#include <vector>

#include "models/taps.h"

namespace erank {

struct Matrix {  // row-major [rows, cols]
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
  float at(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

class CollectSink : public TapSink {
 public:
  // layers: HF hidden_states indices to keep (empty = all).
  explicit CollectSink(std::set<int> layers = {}, bool logits = false)
      : layers_(std::move(layers)), logits_(logits) {}
  bool wants(Tap t) const override { return t == Tap::hidden || (t == Tap::logits && logits_); }
  void on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) override;

  // hidden[index][seq] and logits[seq]
  std::map<int, std::vector<Matrix>> hidden;
  std::vector<Matrix> logits;

 private:
  std::set<int> layers_;
  bool logits_;
};

// Rows [begin, end) of an activation as an f32 matrix.
Matrix rows_of(const Act& x, int64_t begin, int64_t end);

}  // namespace erank
