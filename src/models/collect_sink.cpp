#include "models/collect_sink.h"

namespace erank {

Matrix rows_of(const Act& x, int64_t begin, int64_t end) {
  Matrix m{end - begin, x.cols, {}};
  m.v.resize(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < x.cols; ++c)
      m.v[static_cast<size_t>((r - begin) * x.cols + c)] = static_cast<float>(x.at(r, c));
  return m;
}

void CollectSink::on_tap(Tap t, int index, const Act& x, const SeqLayout& seqs) {
  if (t == Tap::hidden && (layers_.empty() || layers_.count(index))) {
    auto& per_seq = hidden[index];
    per_seq.clear();
    for (int64_t s = 0; s < seqs.n_seq(); ++s)
      per_seq.push_back(rows_of(x, seqs.offsets[s], seqs.offsets[s + 1]));
  } else if (t == Tap::logits && logits_) {
    logits.clear();
    for (int64_t s = 0; s < seqs.n_seq(); ++s)
      logits.push_back(rows_of(x, seqs.offsets[s], seqs.offsets[s + 1]));
  }
}

}  // namespace erank
