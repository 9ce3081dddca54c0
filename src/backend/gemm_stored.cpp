// Products of few rows (decoding) on weights kept in their file's type. gemm_f32 expands a stored
// weight row by row and transposes it into a packed panel, which costs several times the product
// itself when there are one or two rows. Here the codec's column dequantizer expands one block of
// 16 weight rows straight into vectors whose lanes are those rows (T[j][16]), and each lane runs
// the same chain of FMAs down k as gemm_f32's micro-kernel: c = 0, c = fma(a[k], w[k], c) over a
// k block of gemm_f32_kc_step(K), then c + C. So the result is gemm_f32's, bit for bit.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/gemm_f32.h"
#include "core/cpu.h"
#include "core/error.h"

namespace erank {

namespace {

#define ERANK_AVX512 __attribute__((target("avx512f")))

ERANK_AVX512 inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Block b of the ng groups of 16 weight rows from row n0 expanded into T (group q at
// T + q * block * 16); then the next block's bytes of the task's 16 kG rows fetched, as that many
// strided streams are more than the hardware prefetchers follow.
inline void expand_block(const GemmF32& g, int64_t n0, int ng, int kG, int64_t b, float* T) {
  const WeightCodec& cd = *g.codec;
  const size_t ldbq = g.ldbq, bb = cd.block_bytes;
  for (int q = 0; q < ng; ++q) {
    const int64_t r0 = n0 + 16 * q;
    cd.dequantize_columns(g.Bq + size_t(r0) * ldbq + size_t(b) * bb, ldbq,
                          int(std::min<int64_t>(16, g.N - r0)), T + q * cd.block * 16, 16);
  }
  if (b + 1 < g.K / cd.block)
    for (int64_t r = n0; r < std::min(g.N, n0 + 16 * kG); ++r)
      _mm_prefetch(reinterpret_cast<const char*>(g.Bq + size_t(r) * ldbq + size_t(b + 1) * bb + 64),
                   _MM_HINT_T0);
}

// kG groups of 16 weight rows (columns of C) starting at column n0, for MR rows of A. The loops
// over groups and rows are unrolled so that the accumulators stay in registers.
template <int MR, int kG>
ERANK_AVX512 void columns_task(const GemmF32& g, int64_t n0, int64_t kc_step, float* T) {
  const WeightCodec& cd = *g.codec;
  const int64_t blk = cd.block, nblocks = g.K / blk, N = g.N, lda = g.lda, ldc = g.ldc;
  const float* A = g.A;
  float* C = g.C;
  __mmask16 mk[kG];
  int ng = 0;  // groups that hold columns
#pragma GCC unroll 4
  for (int q = 0; q < kG; ++q) {
    mk[q] = lanes(N - (n0 + 16 * q));
    if (mk[q]) ng = q + 1;
  }
  __m512 acc[kG][MR];
#pragma GCC unroll 4
  for (int q = 0; q < kG; ++q)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[q][m] = _mm512_setzero_ps();
  int64_t seg0 = 0, seg1 = std::min(g.K, kc_step);  // the k block being summed
  for (int64_t b = 0; b < nblocks; ++b) {
    expand_block(g, n0, ng, kG, b, T);
    int64_t k = b * blk;
    const int64_t kend = k + blk;
    const float* t = T - k * 16;  // t[k * 16]: value k of the block
    while (k < kend) {
      const int64_t stop = std::min(kend, seg1);
      for (; k < stop; ++k) {
        __m512 av[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) av[m] = _mm512_set1_ps(A[m * lda + k]);
#pragma GCC unroll 4
        for (int q = 0; q < kG; ++q) {
          const __m512 w = _mm512_loadu_ps(t + k * 16 + q * blk * 16);
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) acc[q][m] = _mm512_fmadd_ps(av[m], w, acc[q][m]);
        }
      }
      if (k == seg1) {  // the end of a k block: C (+)= its sums
        const bool add = g.accumulate || seg0 > 0;
#pragma GCC unroll 4
        for (int q = 0; q < kG; ++q)
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) {
            float* c = C + m * ldc + n0 + 16 * q;
            __m512 v = acc[q][m];
            if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[q], c));
            _mm512_mask_storeu_ps(c, mk[q], v);
            acc[q][m] = _mm512_setzero_ps();
          }
        seg0 = seg1;
        seg1 = std::min(g.K, seg1 + kc_step);
      }
    }
  }
}

// The same tasks with 8-wide AVX2 registers: a group of 16 columns is two registers (the column
// dequantizers' T layout is the same), each lane the same FMA chain.
#define ERANK_AVX2 __attribute__((target("avx2,fma")))

template <int MR, int kG>
ERANK_AVX2 void columns_task_avx2(const GemmF32& g, int64_t n0, int64_t kc_step, float* T) {
  const WeightCodec& cd = *g.codec;
  const int64_t blk = cd.block, nblocks = g.K / blk, N = g.N, lda = g.lda, ldc = g.ldc;
  const float* A = g.A;
  float* C = g.C;
  constexpr int kH = 2 * kG;  // registers of 8 columns
  int64_t live[kH];           // columns held by each register (0..8)
  int nh = 0;                 // registers that hold columns
#pragma GCC unroll 8
  for (int q = 0; q < kH; ++q) {
    live[q] = std::clamp<int64_t>(N - (n0 + 8 * q), 0, 8);
    if (live[q]) nh = q + 1;
  }
  const int ng = (nh + 1) / 2;
  __m256 acc[kH][MR];
#pragma GCC unroll 8
  for (int q = 0; q < kH; ++q)
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[q][m] = _mm256_setzero_ps();
  int64_t seg0 = 0, seg1 = std::min(g.K, kc_step);
  for (int64_t b = 0; b < nblocks; ++b) {
    expand_block(g, n0, ng, kG, b, T);
    int64_t k = b * blk;
    const int64_t kend = k + blk;
    const float* t = T - k * 16;
    while (k < kend) {
      const int64_t stop = std::min(kend, seg1);
      for (; k < stop; ++k) {
        __m256 av[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) av[m] = _mm256_set1_ps(A[m * lda + k]);
#pragma GCC unroll 8
        for (int q = 0; q < kH; ++q) {
          const __m256 w = _mm256_loadu_ps(t + k * 16 + (q / 2) * blk * 16 + 8 * (q % 2));
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) acc[q][m] = _mm256_fmadd_ps(av[m], w, acc[q][m]);
        }
      }
      if (k == seg1) {
        const bool add = g.accumulate || seg0 > 0;
#pragma GCC unroll 8
        for (int q = 0; q < kH; ++q)
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) {
            float* c = C + m * ldc + n0 + 8 * q;
            if (live[q] == 8) {
              __m256 v = acc[q][m];
              if (add) v = _mm256_add_ps(v, _mm256_loadu_ps(c));
              _mm256_storeu_ps(c, v);
            } else if (live[q] > 0) {
              alignas(32) float tmp[8];
              _mm256_store_ps(tmp, acc[q][m]);
              for (int64_t j = 0; j < live[q]; ++j) c[j] = add ? tmp[j] + c[j] : tmp[j];
            }
            acc[q][m] = _mm256_setzero_ps();
          }
        seg0 = seg1;
        seg1 = std::min(g.K, seg1 + kc_step);
      }
    }
  }
}

using Task = void (*)(const GemmF32&, int64_t, int64_t, float*);
template <int MR>
constexpr int groups_for() {  // accumulators within the 32 registers, with room for loads
  return MR <= 3 ? 4 : MR <= 6 ? 3 : 2;
}
template <int MR>
constexpr int groups_for_avx2() {  // 16 registers: at most 12 accumulators (7 and 8 rows: 14, 16)
  return MR == 1 ? 4 : MR == 2 ? 3 : MR == 3 ? 2 : 1;
}
template <int... R>
constexpr std::array<Task, sizeof...(R) + 1> task_table(std::integer_sequence<int, R...>) {
  return {nullptr, &columns_task<R + 1, groups_for<R + 1>()>...};
}
template <int... R>
constexpr std::array<Task, sizeof...(R) + 1> task_table_avx2(std::integer_sequence<int, R...>) {
  return {nullptr, &columns_task_avx2<R + 1, groups_for_avx2<R + 1>()>...};
}
constexpr auto kTasks = task_table(std::make_integer_sequence<int, gemm_stored_rows_max>{});
constexpr auto kTasksAvx2 =
    task_table_avx2(std::make_integer_sequence<int, gemm_stored_rows_max>{});

template <int... R>
constexpr std::array<int, sizeof...(R) + 1> group_table(std::integer_sequence<int, R...>) {
  return {0, groups_for<R + 1>()...};
}
template <int... R>
constexpr std::array<int, sizeof...(R) + 1> group_table_avx2(std::integer_sequence<int, R...>) {
  return {0, groups_for_avx2<R + 1>()...};
}
constexpr auto kGroups = group_table(std::make_integer_sequence<int, gemm_stored_rows_max>{});
constexpr auto kGroupsAvx2 =
    group_table_avx2(std::make_integer_sequence<int, gemm_stored_rows_max>{});

// One row (decoding a single sequence): 4, 2 or 1 groups of 16 columns per task, whichever
// leaves the slowest thread the fewest columns. SmolLM2's 576 columns in tasks of 4 groups make
// 9 tasks, so one of 2 threads waited a ninth of the time; its 192 made 3.
int balanced_groups(int64_t N, int threads, int most) {
  int best = most;
  int64_t best_cols = INT64_MAX;
  for (int kg = most; kg >= 1; kg /= 2) {
    const int64_t tasks = (N + 16 * kg - 1) / (16 * kg);
    const int64_t cols = (tasks + threads - 1) / threads * 16 * kg;  // the slowest thread's
    if (cols < best_cols) {
      best_cols = cols;
      best = kg;
    }
  }
  return best;
}

Task one_row_task(bool wide, int kg) {
  if (wide)
    return kg == 4 ? &columns_task<1, 4> : kg == 2 ? &columns_task<1, 2> : &columns_task<1, 1>;
  return kg == 4   ? &columns_task_avx2<1, 4>
         : kg == 2 ? &columns_task_avx2<1, 2>
                   : &columns_task_avx2<1, 1>;
}

}  // namespace

bool gemm_stored_rows_fits(const GemmF32& g) {
  return g.M <= gemm_stored_rows_max && g.codec && g.codec->dequantize_columns &&
         g.ldbq * 16 < (size_t(1) << 31);
}

void gemm_stored_rows(const GemmF32& g, int threads) {
  if (g.M <= 0 || g.N <= 0) return;
  const int64_t kc_step = gemm_f32_kc_step(g.K);
  if (g.K == 0) {
    if (!g.accumulate)
      for (int64_t r = 0; r < g.M; ++r) std::fill_n(g.C + r * g.ldc, g.N, 0.0f);
    return;
  }
  ERANK_CHECK(gemm_stored_rows_fits(g), "gemm_stored_rows: {} rows, row stride {} bytes", g.M,
              g.ldbq);
  const int mr = int(g.M);
  const bool wide = simd_level() == Simd::avx512;
  Task task = wide ? kTasks[size_t(mr)] : kTasksAvx2[size_t(mr)];
  int kg = (wide ? kGroups : kGroupsAvx2)[size_t(mr)];
  if (mr == 1) {
    kg = balanced_groups(g.N, std::max(threads, 1), kg);
    task = one_row_task(wide, kg);
  }
  const int64_t cols = 16 * kg;
  const int64_t ntasks = (g.N + cols - 1) / cols;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    thread_local std::vector<float> T;
    const size_t need = size_t(16 * std::max(kGroups[1], kGroupsAvx2[1]) * g.codec->block);
    if (T.size() < need) T.resize(need);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < ntasks; ++t) task(g, t * cols, kc_step, T.data());
  }
}

}  // namespace erank
