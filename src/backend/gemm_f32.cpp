// Blocked GEMM in the BLIS manner, with one change: A (activations) is not packed. The
// micro-kernel broadcasts A's values straight from its rows, which are contiguous in k, and
// streams a packed panel of B ([k][32]). Packing A cost as much as OpenBLAS' whole advantage on
// the small-K shapes of SmolLM2-class models.
//
// Loops: tasks of (kRowPanels x 14 rows) x (kColPanels x 32 columns) of C, dynamically scheduled;
// inside a task, K in blocks of ~kKc (a B panel's block stays in L1 while the task's rows of A,
// in L2, sweep past it). Every element of C sums k in order 0..K-1 (block by block), so the
// result does not depend on the threads or on where the task boundaries fall.
#include "backend/gemm_f32.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "core/cpu.h"

namespace erank {

namespace {

constexpr int64_t kMr = 14, kNr = 32;  // micro-tile: 28 accumulators of 16 floats
constexpr int64_t kRowPanels = 24, kColPanels = 8, kKc = 384;

// C[0:MR, 0:32 masked] (+)= A[0:MR, 0:kc] (row stride lda) * Bp[0:kc][0:32]. One instance per
// row count, so a tail of rows (a decoding step has one to a few) costs only its own FMAs; every
// row sums the same sequence whatever MR, so results do not depend on how rows are grouped.
template <int MR>
__attribute__((target("avx512f"))) void micro_kernel(int64_t kc, const float* a, int64_t lda,
                                                     const float* bp, float* c, int64_t ldc,
                                                     __mmask16 m0, __mmask16 m1, bool acc) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + k]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    bp += kNr;
  }
#pragma GCC unroll 14
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (acc) {
      c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(m0, cr));
      c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, c0[r]);
    _mm512_mask_storeu_ps(cr + 16, m1, c1[r]);
  }
}

using Kernel = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, __mmask16,
                        __mmask16, bool);
template <int... R>
constexpr std::array<Kernel, sizeof...(R) + 1> kernel_table(std::integer_sequence<int, R...>) {
  return {nullptr, &micro_kernel<R + 1>...};
}
constexpr auto kKernels = kernel_table(std::make_integer_sequence<int, kMr>{});  // [rows]

__mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Panel p of op(B): Bp[p][k][c] = op(B)[k][p * 32 + c], zero past N. From [N, K] this is a
// transpose: each k gathers its 32 values from 32 rows (a scalar loop was ~8% of a product).
__attribute__((target("avx512f"))) void pack_panel(const GemmF32& g, int64_t p, float* dst) {
  const int64_t c0 = p * kNr, cn = std::min(kNr, g.N - c0);
  if (g.b_nk && g.ldb <= (int64_t(1) << 26)) {  // 32-bit gather offsets
    const __m512i rows =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(int(g.ldb)));
    const __mmask16 m0 = lane_mask(cn), m1 = lane_mask(cn - 16);
    const float* b0 = g.B + c0 * g.ldb;
    const float* b1 = b0 + 16 * g.ldb;
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t k = 0; k < g.K; ++k) {
      _mm512_storeu_ps(dst + k * kNr, _mm512_mask_i32gather_ps(zero, m0, rows, b0 + k, 4));
      _mm512_storeu_ps(dst + k * kNr + 16,
                       m1 ? _mm512_mask_i32gather_ps(zero, m1, rows, b1 + k, 4) : zero);
    }
    return;
  }
  if (g.b_nk) {
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t c = 0; c < cn; ++c) dst[k * kNr + c] = g.B[(c0 + c) * g.ldb + k];
  } else {
    for (int64_t k = 0; k < g.K; ++k) std::copy_n(g.B + k * g.ldb + c0, cn, dst + k * kNr);
  }
  if (cn < kNr)
    for (int64_t k = 0; k < g.K; ++k) std::fill(dst + k * kNr + cn, dst + (k + 1) * kNr, 0.0f);
}

// The same panel without AVX-512 (a plain transpose or copy).
void pack_panel_portable(const GemmF32& g, int64_t p, float* dst) {
  const int64_t c0 = p * kNr, cn = std::min(kNr, g.N - c0);
  for (int64_t k = 0; k < g.K; ++k) {
    float* d = dst + k * kNr;
    if (g.b_nk)
      for (int64_t c = 0; c < cn; ++c) d[c] = g.B[(c0 + c) * g.ldb + k];
    else
      std::copy_n(g.B + k * g.ldb + c0, cn, d);
    std::fill(d + cn, d + kNr, 0.0f);
  }
}

// CPUs without AVX-512 (AVX2 + FMA): 16 registers, so a 32-column panel is done as two halves of
// 16 columns, each for up to 6 rows (12 accumulators, 2 B vectors and a broadcast: 15
// registers; 3 rows x 32 columns spilled). A half's [kc][16] slice of the panel also stays in
// a 32 KB L1 where the whole [kc][32] block does not. Each lane is the same chain of FMAs over k
// as in the AVX-512 kernel, then the old C added, so the two kernels give the same bits.
constexpr int64_t kMr2 = 6;
template <int MR>
__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int64_t kc, const float* a, int64_t lda,
                                                           const float* bp, float* c, int64_t ldc,
                                                           int64_t cn, bool acc) {
  __m256 v[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) v[r][0] = v[r][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
      v[r][0] = _mm256_fmadd_ps(av, b0, v[r][0]);
      v[r][1] = _mm256_fmadd_ps(av, b1, v[r][1]);
    }
    bp += kNr;
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (cn >= 16) {
      for (int j = 0; j < 2; ++j) {
        __m256 x = v[r][j];
        if (acc) x = _mm256_add_ps(x, _mm256_loadu_ps(cr + 8 * j));
        _mm256_storeu_ps(cr + 8 * j, x);
      }
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, v[r][0]);
      _mm256_store_ps(tmp + 8, v[r][1]);
      for (int64_t j = 0; j < cn; ++j) cr[j] = acc ? tmp[j] + cr[j] : tmp[j];
    }
  }
}

using KernelAvx2 = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t,
                            bool);
template <int... R>
constexpr std::array<KernelAvx2, sizeof...(R) + 1> kernel_table_avx2(
    std::integer_sequence<int, R...>) {
  return {nullptr, &micro_kernel_avx2<R + 1>...};
}
constexpr auto kKernelsAvx2 = kernel_table_avx2(std::make_integer_sequence<int, kMr2>{});

bool has_avx512();
const float* pack_stored(const GemmF32& g, int64_t p, int64_t k0, int64_t kc, float* dst);
float* stored_scratch(int64_t kc_step);

bool has_avx512() {
  return simd_level() == Simd::avx512;
}

void pack_any(const GemmF32& g, int64_t p, float* dst) {
  if (has_avx512())
    pack_panel(g, p, dst);
  else
    pack_panel_portable(g, p, dst);
}

// (GCC 12 warns that its own intrinsics' undefined operands are uninitialised.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no -Wmaybe-uninitialized (and would warn about the pragma)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// dst[k * 32 + r] = src[r * lds + k] for r, k < 16: a 16 x 16 transpose in registers (4x4
// transposes within 128-bit lanes, then the lanes moved), ~4x faster than gathering columns.
__attribute__((target("avx512f"))) void transpose16(const float* src, int64_t lds, float* dst) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + j], lane L: column 4L + j of rows 4i .. 4i + 3
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 x0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
    const __m512 y0 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
    const __m512 y1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
    _mm512_storeu_ps(dst + j * kNr, _mm512_shuffle_f32x4(x0, y0, 0x88));
    _mm512_storeu_ps(dst + (4 + j) * kNr, _mm512_shuffle_f32x4(x0, y0, 0xDD));
    _mm512_storeu_ps(dst + (8 + j) * kNr, _mm512_shuffle_f32x4(x1, y1, 0x88));
    _mm512_storeu_ps(dst + (12 + j) * kNr, _mm512_shuffle_f32x4(x1, y1, 0xDD));
  }
}

// dst[k * 32 + r] = src[r * lds + k] for r < 16, k < 8, with AVX2: two 8 x 8 transposes.
__attribute__((target("avx2"))) void transpose16x8(const float* src, int64_t lds, float* dst) {
  for (int h = 0; h < 2; ++h) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (8 * h + i) * lds);
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {  // r[4i + j], lane L: column 4L + j of rows 4i .. 4i + 3
      r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(dst + j * kNr + 8 * h, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
      _mm256_storeu_ps(dst + (4 + j) * kNr + 8 * h, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
    }
  }
}

#pragma GCC diagnostic pop

// Panel p of a stored B over k in [k0, k0 + kc), packed as pack_panel would ([kc][32], zero
// past N): the blocks under the range of each of the panel's rows are expanded into a
// per-thread row buffer (a block-aligned span, which may reach past the range on either side),
// then transposed.
const float* pack_stored(const GemmF32& g, int64_t p, int64_t k0, int64_t kc, float* dst) {
  const int64_t c0 = p * kNr, cn = std::min(kNr, g.N - c0), blk = g.codec->block;
  const int64_t b0 = k0 / blk, b1 = (k0 + kc + blk - 1) / blk, span = (b1 - b0) * blk;
  const uint8_t* base = g.Bq + size_t(c0) * g.ldbq + size_t(b0) * g.codec->block_bytes;
  // Panels are packed k block after k block: fetch the rows' bytes of the next k block (or the
  // next panel's first) now, as 32 short strided runs are more than the prefetchers follow.
  {
    const bool last = k0 + kc >= g.K;
    const int64_t nk0 = last ? 0 : k0 + kc, nc0 = last ? c0 + kNr : c0;
    const int64_t nkc = std::min(kc, g.K - nk0), nrows = std::min(kNr, g.N - nc0);
    const size_t from = size_t(nk0 / blk) * g.codec->block_bytes;
    const size_t to = size_t((nk0 + nkc + blk - 1) / blk) * g.codec->block_bytes;
    for (int64_t c = 0; c < nrows; ++c)
      for (size_t off = from; off < to; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(g.Bq + size_t(nc0 + c) * g.ldbq + off),
                     _MM_HINT_T0);
  }
  const Simd simd = simd_level();
  if (simd == Simd::avx2 && g.codec->dequantize_columns && k0 % blk == 0 && kc % blk == 0) {
    // Whole blocks: the column dequantizer writes each straight into the panel (rows 0-15 into
    // columns 0-15, rows 16-31 into 16-31), with no row buffer and no transpose of floats.
    // (AVX2 only: measured there, 1.3-1.5x the packing below; AVX-512's column dequantizers
    // gather, and were not measured against its 16 x 16 transposes.)
    for (int64_t h = 0; h < 2; ++h) {
      const int64_t rows = std::clamp<int64_t>(cn - 16 * h, 0, 16);
      if (rows == 0) {  // columns past N
        for (int64_t k = 0; k < kc; ++k) std::fill_n(dst + k * kNr + 16 * h, 16, 0.0f);
        continue;
      }
      for (int64_t b = 0; b < kc / blk; ++b)
        g.codec->dequantize_columns(
            base + size_t(16 * h) * g.ldbq + size_t(b) * g.codec->block_bytes, g.ldbq, int(rows),
            dst + b * blk * kNr + 16 * h, kNr);
    }
    return dst;
  }
  if (simd == Simd::none) {
    thread_local std::vector<float> rows;
    if (rows.size() < size_t(kNr * span)) rows.resize(size_t(kNr * span));
    for (int64_t c = 0; c < cn; ++c)
      g.codec->dequantize(base + size_t(c) * g.ldbq, rows.data() + c * span, span);
    const GemmF32 t{.N = cn, .K = kc, .B = rows.data() + (k0 - b0 * blk), .ldb = span};
    pack_panel_portable(t, 0, dst);
    return dst;
  }
  // Chunks of whole blocks (>= 128 values) of 16 rows at a time, expanded into a buffer that
  // stays in L1 and transposed from there 16 x 16 (AVX2: 16 x 8).
  const int64_t step = simd == Simd::avx512 ? 16 : 8;
  const int64_t chunk = std::max<int64_t>(blk, 128 / blk * blk);
  alignas(64) thread_local float buf[16 * 256 * 2];
  for (int64_t h = 0; h < 2; ++h) {
    const int64_t rows = std::clamp<int64_t>(cn - 16 * h, 0, 16);
    for (int64_t s0 = 0; s0 < span; s0 += chunk) {
      const int64_t sn = std::min(chunk, span - s0);  // values [s0, s0 + sn) of the span
      const int64_t lo = std::max(s0, k0 - b0 * blk), hi = std::min(s0 + sn, k0 + kc - b0 * blk);
      if (lo >= hi) continue;
      for (int64_t r = 0; r < rows; ++r)
        g.codec->dequantize(
            base + size_t(16 * h + r) * g.ldbq + size_t(s0 / blk) * g.codec->block_bytes,
            buf + r * chunk, sn);
      std::fill(buf + rows * chunk, buf + 16 * chunk, 0.0f);  // columns past N
      // buf[r][j] is value s0 + j of row 16 h + r, which lands at k = b0 blk + s0 + j - k0.
      float* out = dst + (b0 * blk + s0 - k0) * kNr + 16 * h;
      int64_t j = lo - s0;
      if (step == 16)
        for (; j + 16 <= hi - s0; j += 16) transpose16(buf + j, chunk, out + j * kNr);
      else
        for (; j + 8 <= hi - s0; j += 8) transpose16x8(buf + j, chunk, out + j * kNr);
      for (; j < hi - s0; ++j)
        for (int64_t r = 0; r < 16; ++r) out[j * kNr + r] = buf[r * chunk + j];
    }
  }
  return dst;
}

// Scratch for one packed [kc][32] block of a stored B, per thread.
float* stored_scratch(int64_t kc_step) {
  thread_local std::vector<float> s;
  if (s.size() < size_t(kc_step * kNr)) s.resize(size_t(kc_step * kNr));
  return s.data();
}

// Calls block(p, k0, b) for each panel p in [p0, p1) and k block k0, b its packed [kc][32] block.
template <class Block>
void for_each_panel_block(const GemmF32& g, const float* bp, int64_t p0, int64_t p1,
                          int64_t kc_step, Block&& block) {
  if (g.codec) {
    // Stored B: panel by panel, so each of its rows is read from memory front to back (the
    // order of the k blocks of an element, hence its sum, is the same). Where k blocks would
    // cut the codec's blocks (K = 2048 in k blocks of 342, over 256-value blocks), those blocks
    // would be expanded twice: the whole panel is expanded once instead.
    const bool whole = kc_step < g.K && kc_step % g.codec->block != 0;
    float* scratch = stored_scratch(whole ? g.K : kc_step);
    for (int64_t p = p0; p < p1; ++p) {
      if (whole) pack_stored(g, p, 0, g.K, scratch);
      for (int64_t k0 = 0; k0 < g.K; k0 += kc_step)
        block(p, k0,
              whole ? scratch + k0 * kNr
                    : pack_stored(g, p, k0, std::min(kc_step, g.K - k0), scratch));
    }
    return;
  }
  for (int64_t k0 = 0; k0 < g.K; k0 += kc_step)
    for (int64_t p = p0; p < p1; ++p) block(p, k0, bp + p * kNr * g.K + k0 * kNr);
}

// One task: rows [r0, r1) x panels [p0, p1) of C.
void run_task(const GemmF32& g, const float* bp, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
              int64_t kc_step) {
  const int64_t full_end = r0 + (r1 - r0) / kMr * kMr, tail_rows = r1 - full_end;
  for_each_panel_block(g, bp, p0, p1, kc_step, [&](int64_t p, int64_t k0, const float* b) {
    const int64_t kc = std::min(kc_step, g.K - k0), cn = g.N - p * kNr;
    const bool acc = g.accumulate || k0 > 0;
    const __mmask16 m0 = lane_mask(cn), m1 = lane_mask(cn - 16);
    for (int64_t r = r0; r < full_end; r += kMr)
      micro_kernel<kMr>(kc, g.A + r * g.lda + k0, g.lda, b, g.C + r * g.ldc + p * kNr, g.ldc, m0,
                        m1, acc);
    if (tail_rows > 0)
      kKernels[size_t(tail_rows)](kc, g.A + full_end * g.lda + k0, g.lda, b,
                                  g.C + full_end * g.ldc + p * kNr, g.ldc, m0, m1, acc);
  });
}

// The same with the AVX2 kernel: each half of a panel's block, for all the task's rows.
void run_task_avx2(const GemmF32& g, const float* bp, int64_t r0, int64_t r1, int64_t p0,
                   int64_t p1, int64_t kc_step) {
  for_each_panel_block(g, bp, p0, p1, kc_step, [&](int64_t p, int64_t k0, const float* b) {
    const int64_t kc = std::min(kc_step, g.K - k0), cn = std::min(kNr, g.N - p * kNr);
    const bool acc = g.accumulate || k0 > 0;
    for (int64_t h = 0; h < 2 && 16 * h < cn; ++h)
      for (int64_t r = r0; r < r1; r += kMr2)
        kKernelsAvx2[size_t(std::min(kMr2, r1 - r))](kc, g.A + r * g.lda + k0, g.lda, b + 16 * h,
                                                     g.C + r * g.ldc + p * kNr + 16 * h, g.ldc,
                                                     std::min<int64_t>(16, cn - 16 * h), acc);
  });
}

}  // namespace

bool gemm_f32_available() {
  // ERANK_GEMM=blas forces the OpenBLAS path, to compare the two in one build.
  static const bool ok =
      simd_level() != Simd::none &&
      std::string_view(std::getenv("ERANK_GEMM") ? std::getenv("ERANK_GEMM") : "") != "blas";
  return ok;
}

int64_t gemm_f32_kc_step(int64_t K) {
  const int64_t nkb = std::max<int64_t>(1, (K + kKc - 1) / kKc);
  return std::max<int64_t>(1, (K + nkb - 1) / nkb);
}

size_t gemm_f32_packed_floats(int64_t N, int64_t K) {
  return size_t((N + kNr - 1) / kNr * kNr * std::max<int64_t>(K, 1));
}

void gemm_f32_pack(const GemmF32& g, float* dst, int threads) {
  const int64_t np = (g.N + kNr - 1) / kNr;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int64_t p = 0; p < np; ++p) pack_any(g, p, dst + p * kNr * g.K);
}

void gemm_f32(const GemmF32& g, int threads) {
  if (g.M <= 0 || g.N <= 0) return;
  const int64_t np = (g.N + kNr - 1) / kNr;
  const int64_t kc_step = gemm_f32_kc_step(g.K);
  // Tasks of about kRowPanels x kColPanels micro-tiles, evened out so that no task is a sliver,
  // and at least four per thread so that dynamic scheduling balances the cores (for products of
  // few rows, by narrower column blocks). Task boundaries never change the sums.
  const int64_t mp = (g.M + kMr - 1) / kMr;
  int64_t nrb = (mp + kRowPanels - 1) / kRowPanels, ncb = (np + kColPanels - 1) / kColPanels;
  // A stored weight's panels are expanded again by every row block: split its columns first, into
  // twice the tasks (the tasks are then short, so more of them keep the cores even). Gemma-3's
  // 64-token prefill had expanded its k/v panels 5 times and its 640-column ones 3 times.
  if (g.codec)
    while (nrb * ncb < 8 * threads && ncb < np) ++ncb;
  while (nrb * ncb < 4 * threads && nrb < mp) ++nrb;
  while (nrb * ncb < 4 * threads && ncb < np) ++ncb;
  const int64_t row_block = (mp + nrb - 1) / nrb * kMr, col_block = (np + ncb - 1) / ncb;
  nrb = (g.M + row_block - 1) / row_block;
  ncb = (np + col_block - 1) / col_block;
  if (g.K == 0) {  // empty sum
    if (!g.accumulate)
      for (int64_t r = 0; r < g.M; ++r) std::fill_n(g.C + r * g.ldc, g.N, 0.0f);
    return;
  }
  // Kept per calling thread and grown, never shrunk: a fresh block per call would be page-faulted
  // (and zeroed by the kernel) every time.
  thread_local Buffer<float> packed;
  float* dst = nullptr;  // the calling thread's buffer, taken before the team starts
  if (!g.packed && !g.codec) {
    const size_t need = gemm_f32_packed_floats(g.N, g.K);
    if (packed.size() < need) packed.resize(need);
    dst = packed.data();
  }
  const float* bp = g.packed ? g.packed : dst;
  const bool wide = has_avx512();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    if (dst) {
#pragma omp for schedule(static)
      for (int64_t p = 0; p < np; ++p) pack_any(g, p, dst + p * kNr * g.K);
    }
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < nrb * ncb; ++t) {
      const int64_t r0 = (t / ncb) * row_block, p0 = (t % ncb) * col_block;
      const int64_t r1 = std::min(g.M, r0 + row_block), p1 = std::min(np, p0 + col_block);
      if (wide)
        run_task(g, bp, r0, r1, p0, p1, kc_step);
      else
        run_task_avx2(g, bp, r0, r1, p0, p1, kc_step);
    }
  }
}

}  // namespace erank
