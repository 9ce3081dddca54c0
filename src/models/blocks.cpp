#include "models/blocks.h"

#include <algorithm>
#include <span>

#include "core/error.h"
#include "models/kv_cache.h"

namespace erank {

Linear linear_of(const Weights& ws, const std::string& weight, const std::string& bias) {
  return {&ws.get(weight), bias.empty() ? nullptr : ws.find(bias)};
}

Act project(Backend& be, const Act& x, const Linear& l) {
  Act y;
  be.linear(x, *l.w, l.b, y);
  return y;
}

std::vector<Act> project_many(Backend& be, const Act& x, std::initializer_list<Linear> ls) {
  std::vector<Act> ys(ls.size());
  std::vector<const Weight*> w, b;
  std::vector<Act*> y;
  for (const Linear& l : ls) {
    w.push_back(l.w);
    b.push_back(l.b);
    y.push_back(&ys[y.size()]);
  }
  be.linear_many(x, w, b, y);
  return ys;
}

Act attend(Backend& be, Act& q, Act& k, const Act& v, const AttentionParams& p, const Rope* rope,
           const ForwardInput& in, int64_t layer) {
  if (rope && rope->rotary_dim > 0) {
    be.rope(q, rope->head_dim, rope->rotary_dim, rope->inv_freq, in.seqs.positions);
    be.rope(k, rope->head_dim, rope->rotary_dim, rope->inv_freq, in.seqs.positions);
  }
  Act out;
  if (in.cache)
    be.attention_cached(q, k, v, p, in.seqs, in.refs, in.cache->layer(layer), out);
  else
    be.attention(q, k, v, p, in.seqs, out);
  return out;
}

Act gated_mlp(Backend& be, const Act& x, const Linear& gate, const Linear& up, const Linear& down,
              Activation act) {
  std::vector<Act> gu = project_many(be, x, {gate, up});
  be.activation(gu[0], act);
  be.mul(gu[0], gu[1]);
  return project(be, gu[0], down);
}

Act plain_mlp(Backend& be, const Act& x, const Linear& fc1, const Linear& fc2, Activation act) {
  Act h = project(be, x, fc1);
  be.activation(h, act);
  return project(be, h, fc2);
}

void dropout(Backend& be, Act& x, double p, const ForwardInput& in) {
  if (in.drop.on && p > 0) be.dropout(x, p, in.drop.next_seed());
}

AttentionParams with_attn_dropout(AttentionParams p, double prob, const ForwardInput& in) {
  if (in.drop.on && prob > 0) {
    p.dropout = prob;
    p.dropout_seed = in.drop.next_seed();
  }
  return p;
}

void output_taps(Backend& be, const Act& y, const Weight& head, double softcap, int n_layers,
                 const ForwardInput& in, TapSink& sink) {
  sink.on_tap(Tap::hidden, n_layers, y, in.seqs);
  if (!sink.wants(Tap::logits)) return;
  const int64_t q = TapSink::logit_block_quantum;
  const int64_t block = (sink.logit_block_rows() + q - 1) / q * q;
  if (in.logit_rows.empty() && block > 0 && y.rows > block) {
    // Blocks of whole row tiles; a last block of at most 64 rows (which the cpu backend would
    // multiply on another kernel) joins the one before it.
    std::vector<int64_t> rows;
    Act logits;  // one buffer for every block (the backend writes into its storage)
    for (int64_t r0 = 0; r0 < y.rows;) {
      int64_t r1 = std::min(y.rows, r0 + block);
      if (y.rows - r1 <= 64) r1 = y.rows;
      rows.resize(size_t(r1 - r0));
      for (int64_t r = r0; r < r1; ++r) rows[size_t(r - r0)] = r;
      Act part;
      be.gather_rows(y, rows, part);
      be.linear(part, head, nullptr, logits);
      if (softcap > 0) be.softcap(logits, softcap);
      sink.on_logit_rows(logits, r0, in.seqs);
      r0 = r1;
    }
    return;
  }
  if (in.logit_rows.empty()) {
    Act logits = project(be, y, {&head, nullptr});
    if (softcap > 0) be.softcap(logits, softcap);
    sink.on_tap(Tap::logits, -1, logits, in.seqs);
    return;
  }
  // Chunks of at most 64 rows: the cpu backend multiplies those on its own kernel (beyond, a big
  // head goes to OpenBLAS tiles), so a row's logits do not depend on how many rows are selected.
  constexpr size_t kChunk = 64;
  const size_t n = in.logit_rows.size();
  Act logits;
  for (size_t r0 = 0; r0 < n; r0 += kChunk) {
    Act rows;
    be.gather_rows(y, std::span(in.logit_rows).subspan(r0, std::min(kChunk, n - r0)), rows);
    Act part = project(be, rows, {&head, nullptr});
    if (softcap > 0) be.softcap(part, softcap);
    if (n <= kChunk) {
      logits = std::move(part);
      break;
    }
    if (r0 == 0) logits = be.alloc_uninit(int64_t(n), part.cols);
    const int64_t at = int64_t(r0) * part.cols;
    if (part.prec == Precision::f32)
      std::copy(part.f.begin(), part.f.end(), logits.f.begin() + at);
    else
      std::copy(part.d.begin(), part.d.end(), logits.d.begin() + at);
  }
  SeqLayout one_each;
  for (size_t r = 0; r <= in.logit_rows.size(); ++r) one_each.offsets.push_back(int64_t(r));
  for (int64_t r : in.logit_rows) one_each.positions.push_back(in.seqs.positions[size_t(r)]);
  sink.on_tap(Tap::logits, -1, logits, one_each);
}

Act embed_input(Backend& be, const Weight& table, const ForwardInput& in) {
  Act x;
  if (in.input_rows) {
    ERANK_CHECK(in.input_rows->rows == in.seqs.rows() && in.input_rows->cols == table.dim(1),
                "input rows [{}, {}] for {} positions of width {}", in.input_rows->rows,
                in.input_rows->cols, in.seqs.rows(), table.dim(1));
    x = *in.input_rows;
  } else {
    be.embed(table, in.ids, x);
  }
  return x;
}

ForwardInput make_input(const std::vector<std::vector<int32_t>>& seqs,
                        const std::vector<int64_t>& past) {
  ForwardInput in;
  in.seqs.offsets.push_back(0);
  for (size_t si = 0; si < seqs.size(); ++si) {
    const auto& s = seqs[si];
    const int64_t start = past.empty() ? 0 : past[si];
    for (size_t i = 0; i < s.size(); ++i) {
      in.ids.push_back(s[i]);
      in.seqs.positions.push_back(static_cast<int32_t>(start + int64_t(i)));
    }
    in.seqs.offsets.push_back(static_cast<int64_t>(in.ids.size()));
  }
  return in;
}

}  // namespace erank
