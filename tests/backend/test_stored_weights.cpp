// Weights kept in their file's encoding (bf16, f16, GGUF blocks) and expanded per panel inside
// erank's product: the same bits as the product on the expanded f32 values, for every type,
// row counts from a decoding step to a prefill, K ranges that cut 256-value blocks, 1 and 2
// threads; and the backends' linear and embed on such weights against the f32 ones. Blocks are
// random bytes with valid f16 scales (any such bytes are a valid block); the expansion is
// io/quant's, which test_quant checks against gguf-py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/gemm_f32.h"
#include "core/error.h"
#include "io/quant.h"
#include "models/weights.h"

using namespace erank;

namespace {

double rel_diff(const Buffer<float>& a, const Buffer<float>& b) {  // ||a - b|| / ||b||
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return a.size() == b.size() ? std::sqrt(num / den) : 1.0;
}

uint16_t random_half(std::mt19937& rng) {  // finite, magnitude 2^-6 .. 2^0
  return uint16_t((rng() & 0x8000u) | ((9u + rng() % 7u) << 10) | (rng() & 0x3ffu));
}

// A [rows, cols] weight of type t, stored (bytes kept alive by the weight) and its f32 expansion.
std::pair<Weight, Weight> random_weight(GGMLType t, int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  const size_t rb = ggml_row_bytes(t, cols);
  auto bytes = std::make_shared<std::vector<uint8_t>>(rb * size_t(rows));
  for (auto& b : *bytes) b = uint8_t(rng());
  const size_t bb = ggml_type_size(t);
  if (t == GGMLType::F16 || t == GGMLType::BF16) {
    for (size_t i = 0; i < bytes->size(); i += 2) {
      uint16_t h = random_half(rng);
      if (t == GGMLType::BF16)
        h = uint16_t((h & 0x8000u) | ((120u + rng() % 8u) << 7) | (rng() & 0x7fu));
      std::memcpy(bytes->data() + i, &h, 2);
    }
  } else {
    for (size_t b = 0; b < bytes->size(); b += bb)
      for (size_t off : ggml_scale_offsets(t)) {
        const uint16_t h = random_half(rng);
        std::memcpy(bytes->data() + b + off, &h, 2);
      }
  }
  Weight s;
  s.shape = {rows, cols};
  s.codec = &weight_codec(t);
  s.raw = bytes->data();
  s.row_bytes = rb;
  s.keep = bytes;
  Weight f;
  f.shape = {rows, cols};
  f.own.resize(size_t(rows * cols));
  dequantize(t, bytes->data(), f.own.data(), rows * cols);
  return {s, f};
}

const GGMLType kTypes[] = {GGMLType::BF16, GGMLType::F16,  GGMLType::Q4_0, GGMLType::Q4_1,
                           GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q2_K,
                           GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K};

struct Shape {
  int64_t M, N, K;
};

class StoredGemm : public ::testing::TestWithParam<Shape> {};

TEST_P(StoredGemm, BitwiseEqualToTheProductOnExpandedValues) {
  if (!gemm_f32_available()) GTEST_SKIP() << "no AVX2/AVX-512: the backend uses OpenBLAS";
  const auto [M, N, K] = GetParam();
  for (GGMLType t : kTypes) {
    auto [sw, fw] = random_weight(t, N, K, unsigned(M * 7 + N * 131 + K + int(t)));
    std::mt19937 rng(unsigned(K + 5));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t lda = K + 3;
    std::vector<float> A(size_t(M * lda)), C0(size_t(M * N));
    for (auto& x : A) x = nd(rng);
    for (auto& x : C0) x = nd(rng);
    for (bool acc : {false, true})
      for (int threads : {1, 2}) {
        std::vector<float> want = C0, got = C0;
        GemmF32 g{.M = M, .N = N, .K = K, .A = A.data(), .lda = lda, .C = want.data(), .ldc = N};
        g.accumulate = acc;
        GemmF32 gf = g;
        gf.B = fw.values();
        gf.ldb = K;
        gemm_f32(gf, threads);
        GemmF32 gs = g;
        gs.C = got.data();
        gs.Bq = sw.raw;
        gs.ldbq = sw.row_bytes;
        gs.codec = sw.codec;
        gemm_f32(gs, threads);
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
            << ggml_type_name(t) << " M " << M << " N " << N << " K " << K << " acc " << acc
            << " threads " << threads;
        // The few-row kernel (rows in the vector lanes, no panel): the same bits again.
        if (M <= gemm_stored_rows_max && sw.codec->dequantize_columns) {
          got = C0;
          gemm_stored_rows(gs, threads);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
              << "gemm_stored_rows " << ggml_type_name(t) << " M " << M << " N " << N << " K " << K
              << " acc " << acc << " threads " << threads;
        }
      }
  }
}

// K = 768 and 1280 are cut into K blocks of 384 and 320: ranges that split 256-value blocks.
// K = 4096 is cut at 373, 746, ...: K blocks that end inside 32-value blocks.
INSTANTIATE_TEST_SUITE_P(Shapes, StoredGemm,
                         ::testing::Values(Shape{1, 70, 512}, Shape{3, 33, 768},
                                           Shape{15, 64, 1280}, Shape{100, 40, 256},
                                           Shape{29, 96, 768}, Shape{1, 130, 4096},
                                           Shape{2, 17, 256}, Shape{5, 100, 768},
                                           Shape{8, 37, 1280}, Shape{1, 192, 768}));

// The vectorised row expansions (which row_dot shares) against the scalar ones, with scales that
// are zero, subnormal, infinite or NaN in some blocks.
TEST(StoredWeights, VectorisedRowExpansionsEqualScalar) {
  const uint16_t specials[] = {0x0000, 0x8000, 0x0001, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x3C00};
  for (GGMLType t : kTypes) {
    const int64_t blk = ggml_block_size(t), n = blk * 24;
    auto [sw, fw] = random_weight(t, 1, n, unsigned(int(t) + 77));
    auto* bytes = const_cast<uint8_t*>(sw.raw);
    std::mt19937 rng{unsigned(t)};
    if (blk > 1)
      for (int64_t b = 0; b < 24; b += 2)
        for (size_t off : ggml_scale_offsets(t)) {
          const uint16_t h = specials[rng() % 8];
          std::memcpy(bytes + size_t(b) * ggml_type_size(t) + off, &h, 2);
        }
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    dequantize(t, bytes, want.data(), n);
    row_dequantizer(t)(bytes, got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(want[size_t(i)]) && std::isnan(got[size_t(i)]))
        continue;  // payloads: see below
      ASSERT_EQ(std::memcmp(&want[size_t(i)], &got[size_t(i)], 4), 0)
          << ggml_type_name(t) << " value " << i << ": " << got[size_t(i)] << " vs "
          << want[size_t(i)];
    }
  }
}

// gemv_stored's order (gemv_stored.cpp), written out in scalar code: sixteen partial sums over
// k % 16, folded 8, 4, 2, 1; then + C when accumulating.
float dot_in_gemv_order(const float* w, const float* x, int64_t K, float c, bool accumulate) {
  float s[16] = {};
  for (int64_t k = 0; k < K; ++k) s[k % 16] = std::fma(w[k], x[k], s[k % 16]);
  for (int64_t k = K; k % 16 != 0; ++k) s[k % 16] = std::fma(0.0f, 0.0f, s[k % 16]);
  float t[8], u[4], v[2];
  for (int l = 0; l < 8; ++l) t[l] = s[l] + s[8 + l];
  for (int l = 0; l < 4; ++l) u[l] = t[l] + t[4 + l];
  for (int l = 0; l < 2; ++l) v[l] = u[l] + u[2 + l];
  const float sum = v[0] + v[1];
  return accumulate ? sum + c : sum;
}

// One row on a stored weight (decoding one sequence): every type with a vectorised row
// expansion, row counts that leave 1 to 3 rows after the groups of 4, K that is not a multiple
// of 16 (bf16/f16) or of the 256-value chunk, 1 and 2 threads. The bits of the scalar model of
// its order, and within the rounding bound of a dot product of that order (16 chains of K/16
// terms, then 4 folds) of the double-precision sum.
TEST(StoredWeights, OneRowProductSumsInItsDocumentedOrder) {
  if (!gemm_f32_available()) GTEST_SKIP() << "no AVX2/AVX-512: the backend uses OpenBLAS";
  int checked = 0;
  for (GGMLType t : kTypes) {
    if (!weight_codec(t).dot_rows) continue;
    ++checked;
    const int64_t blk = ggml_block_size(t);
    for (int64_t N : {1, 6, 35})
      for (int64_t K :
           {blk == 1 ? int64_t(37) : blk, blk == 1 ? int64_t(600) : 3 * blk, int64_t(1536)}) {
        auto [sw, fw] = random_weight(t, N, K, unsigned(N * 17 + K + int(t)));
        std::mt19937 rng(unsigned(N + K));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(K)), C0(static_cast<size_t>(N));
        for (auto& v : x) v = nd(rng);
        for (auto& v : C0) v = nd(rng);
        for (bool acc : {false, true})
          for (int threads : {1, 2}) {
            std::vector<float> got = C0;
            GemmF32 g{.M = 1, .N = N, .K = K, .A = x.data(), .lda = K, .C = got.data(), .ldc = N};
            g.accumulate = acc;
            g.Bq = sw.raw;
            g.ldbq = sw.row_bytes;
            g.codec = sw.codec;
            ASSERT_TRUE(gemv_stored_fits(g));
            gemv_stored(g, threads);
            for (int64_t n = 0; n < N; ++n) {
              const float* w = fw.values() + n * K;
              const float want = dot_in_gemv_order(w, x.data(), K, C0[size_t(n)], acc);
              ASSERT_EQ(std::memcmp(&got[size_t(n)], &want, 4), 0)
                  << ggml_type_name(t) << " N " << N << " K " << K << " row " << n << " acc " << acc
                  << " threads " << threads << ": " << got[size_t(n)] << " vs " << want;
              double exact = acc ? double(C0[size_t(n)]) : 0.0, mag = std::fabs(exact);
              for (int64_t k = 0; k < K; ++k) {
                exact += double(w[k]) * x[size_t(k)];
                mag += std::fabs(double(w[k]) * x[size_t(k)]);
              }
              const double gamma = double((K + 15) / 16 + 5) * std::ldexp(1.0, -24);
              EXPECT_LE(std::fabs(got[size_t(n)] - exact), 1.01 * gamma * mag)
                  << ggml_type_name(t) << " N " << N << " K " << K << " row " << n;
            }
          }
      }
  }
  EXPECT_GE(checked, 9) << "types with a vectorised row expansion";
}

// The same order with block scales that are zero, -0, subnormal, infinite or NaN (the one-row
// kernels convert scales without testing for infinities and NaNs): the scalar model's bits, NaN
// where it is NaN.
TEST(StoredWeights, OneRowProductsWithSpecialScalesKeepTheirOrder) {
  if (!gemm_f32_available()) GTEST_SKIP() << "no AVX2/AVX-512: the backend uses OpenBLAS";
  const uint16_t specials[] = {0x0000, 0x8000, 0x0001, 0x7C00, 0xFC00, 0x7E00, 0x3C00, 0x2E66};
  int checked = 0;
  for (GGMLType t : kTypes) {
    if (!weight_codec(t).dot_rows || ggml_scale_offsets(t).empty()) continue;
    ++checked;
    const int64_t N = 9, K = 4 * ggml_block_size(t);
    auto [sw, fw] = random_weight(t, N, K, unsigned(int(t) + 77));
    auto* bytes = const_cast<uint8_t*>(sw.raw);
    std::mt19937 rng{unsigned(int(t))};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t b = 0; b < 4; ++b)
        if ((n + b) % 2 == 0)  // half the blocks special, the rest as drawn
          for (size_t off : ggml_scale_offsets(t)) {
            const uint16_t h = specials[rng() % 8];
            std::memcpy(bytes + size_t(n) * sw.row_bytes + size_t(b) * ggml_type_size(t) + off, &h,
                        2);
          }
    std::vector<float> w(static_cast<size_t>(N * K)), x(static_cast<size_t>(K)),
        got(static_cast<size_t>(N));
    dequantize(t, bytes, w.data(), N * K);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : x) v = nd(rng);
    GemmF32 g{.M = 1, .N = N, .K = K, .A = x.data(), .lda = K, .C = got.data(), .ldc = N};
    g.Bq = bytes;
    g.ldbq = sw.row_bytes;
    g.codec = sw.codec;
    gemv_stored(g, 1);
    for (int64_t n = 0; n < N; ++n) {
      const float want = dot_in_gemv_order(w.data() + n * K, x.data(), K, 0.0f, false);
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(got[size_t(n)])) << ggml_type_name(t) << " row " << n;
      else
        EXPECT_EQ(std::memcmp(&got[size_t(n)], &want, 4), 0)
            << ggml_type_name(t) << " row " << n << ": " << got[size_t(n)] << " vs " << want;
    }
  }
  EXPECT_GE(checked, 7) << "block types with a vectorised row expansion";
  // An infinite scale over values all above the offset, times positive x: +inf (a kernel that
  // folded the offset into an FMA, inf q - 8 inf, would give NaN).
  for (GGMLType t : {GGMLType::Q4_0, GGMLType::Q5_0}) {
    const int64_t K = 2 * ggml_block_size(t);
    std::vector<uint8_t> row(ggml_row_bytes(t, K), 0xFF);
    const uint16_t inf = 0x7C00, one = 0x3C00;
    std::memcpy(row.data(), &inf, 2);
    std::memcpy(row.data() + ggml_type_size(t), &one, 2);
    std::vector<float> w(static_cast<size_t>(K)), x(static_cast<size_t>(K), 0.5f);
    dequantize(t, row.data(), w.data(), K);
    float got = 0;
    GemmF32 g{.M = 1, .N = 1, .K = K, .A = x.data(), .lda = K, .C = &got, .ldc = 1};
    g.Bq = row.data();
    g.ldbq = row.size();
    g.codec = &weight_codec(t);
    gemv_stored(g, 1);
    const float want = dot_in_gemv_order(w.data(), x.data(), K, 0.0f, false);
    EXPECT_TRUE(std::isinf(want)) << ggml_type_name(t);
    EXPECT_EQ(std::memcmp(&got, &want, 4), 0) << ggml_type_name(t) << ": " << got;
  }
}

// Each column dequantizer against the row expansion, transposed: n rows of 1 to 16 held in a
// buffer of exactly n rows (nothing read past them), every block of a row, scales that are
// zero, subnormal, infinite or NaN (NaN wherever the rows have NaN), and the output strides of
// T (16) and of a panel (32).
TEST(StoredWeights, ColumnDequantizersEqualRowsTransposed) {
  const uint16_t specials[] = {0x0000, 0x8000, 0x0001, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x3C00};
  int checked = 0;
  for (GGMLType t : kTypes) {
    const ColumnDequantizer cols = column_dequantizer(t);
    if (!cols) continue;
    ++checked;
    const int64_t blk = ggml_block_size(t), nb = 3;
    for (int n = 1; n <= 16; ++n) {
      auto [sw, fw] = random_weight(t, n, blk * nb, unsigned(n * 31 + int(t)));
      // Special scales in some blocks (the weight's bytes are ours to change).
      auto* bytes = const_cast<uint8_t*>(sw.raw);
      std::mt19937 rng{unsigned(n)};
      for (int r = 0; r < n; r += 3)
        for (size_t off : ggml_scale_offsets(t)) {
          const uint16_t h = specials[rng() % 8];
          std::memcpy(bytes + size_t(r) * sw.row_bytes + off, &h, 2);
        }
      std::vector<float> rows(size_t(n * blk * nb));
      dequantize(t, bytes, rows.data(), n * blk * nb);
      std::vector<float> got(size_t(16 * blk));
      for (int64_t b = 0; b < nb; ++b) {
        std::vector<uint8_t> exact(sw.row_bytes * size_t(n));  // exactly n rows, for ASan
        std::memcpy(exact.data(), bytes, exact.size());
        cols(exact.data() + size_t(b) * ggml_type_size(t), sw.row_bytes, n, got.data(), 16);
        // With the stride of a 32-column panel: the same values, the other 16 columns untouched.
        std::vector<float> panel(size_t(32 * blk), 7.0f);
        cols(exact.data() + size_t(b) * ggml_type_size(t), sw.row_bytes, n, panel.data(), 32);
        for (int64_t j = 0; j < blk; ++j) {
          ASSERT_EQ(std::memcmp(&panel[size_t(j * 32)], &got[size_t(j * 16)], 16 * 4), 0)
              << ggml_type_name(t) << " stride 32, value " << j;
          for (int r = 16; r < 32; ++r) ASSERT_EQ(panel[size_t(j * 32 + r)], 7.0f);
        }
        for (int r = 0; r < n; ++r)
          for (int64_t j = 0; j < blk; ++j) {
            const float want = rows[size_t(r * blk * nb + b * blk + j)];
            const float have = got[size_t(j * 16 + r)];
            // d * q + m with both d and m NaN: which NaN's payload comes out depends on the
            // order the compiler gives the commutative add's operands, on either side.
            if (std::isnan(want) && std::isnan(have)) continue;
            ASSERT_EQ(std::memcmp(&want, &have, 4), 0)
                << ggml_type_name(t) << " n " << n << " block " << b << " row " << r << " value "
                << j << ": " << have << " vs " << want;
          }
      }
    }
  }
  if (!column_dequantizer(GGMLType::Q4_0)) GTEST_SKIP() << "no column dequantizers (no AVX2)";
  EXPECT_EQ(checked, 7);
}

// Standard normal activations in the backend's precision.
Act normal_input(const Backend& be, int64_t rows, int64_t cols, unsigned seed) {
  Act x = be.alloc(rows, cols);
  std::mt19937 gen{seed};
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t i = 0; i < x.size(); ++i) {
    if (x.prec == Precision::f32)
      x.f[size_t(i)] = nd(gen);
    else
      x.d[size_t(i)] = nd(gen);
  }
  return x;
}

TEST(StoredWeights, BackendLinearAndEmbedMatchF32Weights) {
  for (const char* name : {"cpu", "reference"}) {
    auto be = make_backend(name, 2);
    for (GGMLType t : {GGMLType::BF16, GGMLType::Q4_1, GGMLType::Q4_K, GGMLType::Q6_K}) {
      auto [sw, fw] = random_weight(t, 50, 512, unsigned(int(t) + 3));
      for (int64_t rows : {1, 4, 70}) {
        const Act x = normal_input(*be, rows, 512, unsigned(rows));
        const std::vector<float> ones(50, 0.25f);
        const Weight bias({50}, ones);
        const std::vector<const Weight*> biases = {nullptr, &bias};
        for (const Weight* b : biases) {
          Act ys, yf;
          be->linear(x, sw, b, ys);
          be->linear(x, fw, b, yf);
          ASSERT_EQ(ys.f, yf.f) << name << " " << ggml_type_name(t) << " rows " << rows;
          ASSERT_EQ(ys.d, yf.d) << name << " " << ggml_type_name(t) << " rows " << rows;
          // Decoding steps: one row sums in dot-product order (gemv_stored), rounding apart.
          const bool prev = be->set_decoding(true);
          EXPECT_FALSE(prev);
          Act yd;
          be->linear(x, sw, b, yd);
          be->set_decoding(false);
          if (rows == 1 && std::string(name) == "cpu" && gemm_f32_available())
            EXPECT_LE(rel_diff(yd.f, yf.f), 1e-6) << ggml_type_name(t);
          else  // more rows, or the reference: the same kernels as before
            ASSERT_EQ(yd.f, yf.f) << name << " " << ggml_type_name(t) << " rows " << rows;
          ASSERT_EQ(yd.d, yf.d) << name << " " << ggml_type_name(t) << " rows " << rows;
        }
      }
      const std::vector<int32_t> ids = {3, 0, 49, 3, 17};
      Act es, ef;
      be->embed(sw, ids, es);
      be->embed(fw, ids, ef);
      ASSERT_EQ(es.f, ef.f) << name << " " << ggml_type_name(t);
      ASSERT_EQ(es.d, ef.d) << name << " " << ggml_type_name(t);
    }
  }
}

// linear_many (q, k, v or gate, up of one input in one call) gives each output linear's bits:
// in decoding steps (one parallel region over all the weights' rows, split by bytes), with more
// rows, with f32 weights, with and without biases, on 1 and 2 threads and on the reference.
TEST(StoredWeights, LinearManyEqualsOneLinearEach) {
  for (const char* name : {"cpu", "reference"})
    for (int threads : {1, 2}) {
      auto be = make_backend(name, threads);
      // Three weights of different types and widths over one 576-wide input (SmolLM2's width);
      // the third is f32 in the last case, which takes linear's own path for all of them.
      auto [w0, f0] = random_weight(GGMLType::Q5_0, 1024, 576, 1);
      auto [w1, f1] = random_weight(GGMLType::Q4_1, 35, 576, 2);
      auto [w2, f2] = random_weight(GGMLType::Q8_0, 257, 576, 3);
      auto [w3, f3] = random_weight(GGMLType::Q6_K, 130, 768, 4);
      (void)f0;
      (void)f1;
      (void)f3;
      const std::vector<float> quarter(1024, 0.25f);
      const Weight b0({1024}, quarter), b2({257}, std::vector<float>(257, -0.5f));
      for (bool f32_third : {false, true})
        for (int64_t rows : {1, 3})
          for (bool decoding : {true, false}) {
            const Act x = normal_input(*be, rows, 576, unsigned(rows * 7 + threads));
            const Weight& third = f32_third ? f2 : w2;
            const std::vector<const Weight*> ws = {&w0, &w1, &third}, bs = {&b0, nullptr, &b2};
            be->set_decoding(decoding);
            std::vector<Act> want(3), got(3);
            for (size_t i = 0; i < 3; ++i) be->linear(x, *ws[i], bs[i], want[i]);
            std::vector<Act*> ys = {&got[0], &got[1], &got[2]};
            be->linear_many(x, ws, bs, ys);
            be->set_decoding(false);
            for (size_t i = 0; i < 3; ++i) {
              ASSERT_EQ(got[i].rows, rows);
              ASSERT_EQ(got[i].f, want[i].f) << name << " threads " << threads << " rows " << rows
                                             << " decoding " << decoding << " weight " << i;
              ASSERT_EQ(got[i].d, want[i].d) << name << " weight " << i;
            }
          }
      // Mismatched widths are linear's error, not a wrong product.
      Act x = be->alloc(1, 576), y0, y1;
      const std::vector<const Weight*> ws = {&w0, &w3}, bs = {nullptr, nullptr};
      std::vector<Act*> ys = {&y0, &y1};
      be->set_decoding(true);
      EXPECT_THROW(be->linear_many(x, ws, bs, ys), Error);
      be->set_decoding(false);
    }
}

// The decode cache (set_decode_cache: few-row products from a packed f32 copy made once) gives
// the same bits as expanding the blocks per call, and as the f32 weight, on every call.
TEST(StoredWeights, DecodeCacheGivesTheSameProducts) {
  auto be = make_backend("cpu", 2);
  for (GGMLType t : {GGMLType::BF16, GGMLType::Q4_0, GGMLType::Q4_K, GGMLType::Q8_0}) {
    auto [sw, fw] = random_weight(t, 70, 512, unsigned(int(t) + 11));
    for (int64_t rows : {1, 3, 64}) {
      Act x = be->alloc(rows, 512);
      std::mt19937 gen{unsigned(rows + 5)};
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (int64_t i = 0; i < x.size(); ++i) x.f[size_t(i)] = nd(gen);
      Act blocks, cached, again, f32;
      be->set_decode_cache(false);
      be->linear(x, sw, nullptr, blocks);
      be->set_decode_cache(true);
      be->linear(x, sw, nullptr, cached);
      be->linear(x, sw, nullptr, again);  // from the copy packed by the call before
      be->linear(x, fw, nullptr, f32);
      ASSERT_EQ(cached.f, blocks.f) << ggml_type_name(t) << " rows " << rows;
      ASSERT_EQ(again.f, blocks.f) << ggml_type_name(t) << " rows " << rows;
      ASSERT_EQ(f32.f, blocks.f) << ggml_type_name(t) << " rows " << rows;
    }
  }
}

TEST(StoredWeights, F32AccessorRefusesStoredWeights) {
  auto [sw, fw] = random_weight(GGMLType::Q8_0, 4, 64, 1);
  EXPECT_THROW(sw.values(), Error);
  const Weight copy = sw.to_f32();
  ASSERT_FALSE(copy.stored());
  EXPECT_EQ(std::memcmp(copy.values(), fw.values(), 4 * 64 * 4), 0);
  EXPECT_EQ(sw.bytes(), size_t(4 * 2 * 34));
  Weight m = sw;
  m.mutable_values()[0] = 7.0f;  // expanded to owned f32 first
  EXPECT_FALSE(m.stored());
  EXPECT_EQ(m[0], 7.0f);
  EXPECT_EQ(m[1], fw[1]);
}

}  // namespace

namespace {

// The vectorised 16-bit expansions on every bit pattern (zeros, subnormals, infinities, NaNs):
// the scalar conversion's bits.
TEST(StoredWeights, SixteenBitExpansionsCoverEveryValue) {
  std::vector<uint8_t> bytes(65536 * 2);
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = uint16_t(i);
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  for (GGMLType t : {GGMLType::F16, GGMLType::BF16}) {
    std::vector<float> want(65536), got(65536);
    dequantize(t, bytes.data(), want.data(), 65536);
    row_dequantizer(t)(bytes.data(), got.data(), 65536);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0) << ggml_type_name(t);
  }
}

}  // namespace
