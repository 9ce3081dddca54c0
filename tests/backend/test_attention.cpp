// Causal self-attention of both backends against a direct transcription of the definition
// (softmax over the visible keys of q.k * scale, soft-capped, then the weighted values), on
// packed sequences longer than one query block, with GQA, sliding windows and soft-capping.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/backend.h"

using namespace erank;

namespace {

struct Case {
  std::vector<int64_t> lengths;
  int64_t window;
  double softcap;
};

std::vector<double> naive(const std::vector<double>& q, const std::vector<double>& k,
                          const std::vector<double>& v, const AttentionParams& p,
                          const SeqLayout& L) {
  const int64_t H = p.n_heads, Hkv = p.n_kv_heads, hd = p.head_dim, qs = H * hd, ks = Hkv * hd;
  std::vector<double> out(static_cast<size_t>(L.rows() * qs), 0.0);
  for (int64_t s = 0; s < L.n_seq(); ++s) {
    const int64_t b = L.offsets[s], n = L.offsets[s + 1] - b;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kh = h / (H / Hkv);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> w(static_cast<size_t>(n), 0.0);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          if (p.sliding_window > 0 && i - j >= p.sliding_window) continue;
          double d = 0;
          for (int64_t c = 0; c < hd; ++c)
            d += q[size_t((b + i) * qs + h * hd + c)] * k[size_t((b + j) * ks + kh * hd + c)];
          d *= p.scale;
          if (p.softcap > 0) d = p.softcap * std::tanh(d / p.softcap);
          w[size_t(j)] = d;
          mx = std::max(mx, d);
        }
        for (int64_t j = 0; j <= i; ++j) {
          if (p.sliding_window > 0 && i - j >= p.sliding_window) {
            w[size_t(j)] = 0;
            continue;
          }
          w[size_t(j)] = std::exp(w[size_t(j)] - mx);
          sum += w[size_t(j)];
        }
        for (int64_t c = 0; c < hd; ++c) {
          double acc = 0;
          for (int64_t j = 0; j <= i; ++j)
            acc += w[size_t(j)] / sum * v[size_t((b + j) * ks + kh * hd + c)];
          out[size_t((b + i) * qs + h * hd + c)] = acc;
        }
      }
    }
  }
  return out;
}

class Attention : public ::testing::TestWithParam<Case> {};

TEST_P(Attention, BothBackendsMatchTheDefinition) {
  const Case c = GetParam();
  AttentionParams p;
  p.n_heads = 4;
  p.n_kv_heads = 2;
  p.head_dim = 16;
  p.scale = 0.25;
  p.sliding_window = c.window;
  p.softcap = c.softcap;
  SeqLayout L;
  L.offsets.push_back(0);
  for (int64_t n : c.lengths) {
    for (int64_t i = 0; i < n; ++i) L.positions.push_back(int32_t(i));
    L.offsets.push_back(L.offsets.back() + n);
  }
  const int64_t R = L.rows(), qs = p.n_heads * p.head_dim, ks = p.n_kv_heads * p.head_dim;
  std::mt19937 g(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<double> q(size_t(R * qs)), k(size_t(R * ks)), v(size_t(R * ks));
  for (auto* a : {&q, &k, &v})
    for (auto& x : *a) x = nd(g);
  const std::vector<double> want = naive(q, k, v, p, L);
  double scale = 0;
  for (double x : want) scale = std::max(scale, std::fabs(x));
  for (const char* name : {"cpu", "reference"}) {
    auto be = make_backend(name, 2);
    Act aq = be->alloc(R, qs), ak = be->alloc(R, ks), av = be->alloc(R, ks), out;
    for (int64_t i = 0; i < R * qs; ++i)
      (be->precision() == Precision::f32 ? void(aq.f[size_t(i)] = float(q[size_t(i)]))
                                         : void(aq.d[size_t(i)] = q[size_t(i)]));
    for (int64_t i = 0; i < R * ks; ++i) {
      if (be->precision() == Precision::f32) {
        ak.f[size_t(i)] = float(k[size_t(i)]);
        av.f[size_t(i)] = float(v[size_t(i)]);
      } else {
        ak.d[size_t(i)] = k[size_t(i)];
        av.d[size_t(i)] = v[size_t(i)];
      }
    }
    be->attention(aq, ak, av, p, L, out);
    ASSERT_EQ(out.rows, R);
    double worst = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t col = 0; col < qs; ++col)
        worst = std::max(worst, std::fabs(out.at(r, col) - want[size_t(r * qs + col)]));
    EXPECT_LE(worst / scale, be->precision() == Precision::f32 ? 1e-5 : 1e-12) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention,
                         ::testing::Values(Case{{1}, 0, 0}, Case{{5, 1, 7}, 0, 0},
                                           Case{{128}, 0, 0}, Case{{129, 3}, 0, 0},
                                           Case{{300, 260}, 0, 0}, Case{{300}, 100, 0},
                                           Case{{257, 40}, 64, 30.0}, Case{{200}, 0, 5.0}));

}  // namespace
