// One row of activations times a weight kept in its file's type (decoding one sequence), in
// dot-product order: the codec's row_dot expands each block in registers and multiplies it with
// x along k, so no block is transposed. gemm_stored_rows puts the weight's rows in the vector
// lanes to keep gemm_f32's sums bit for bit, and its transposes cost more than the FMAs; here the
// sums run in row_dot's order (io/quant.h), the same on every CPU with AVX2, and differ from
// gemm_f32's by rounding only. Then C[n] = sum, or sum + C[n] when accumulating.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/gemm_f32.h"
#include "core/error.h"

namespace erank {

namespace {

constexpr int kRows = 4;  // weight rows per call: each load of x feeds 4 rows, 8 FMA chains

void group_dot(const GemmF32& g, int64_t n0) {
  const int rows = int(std::min<int64_t>(kRows, g.N - n0));
  float out[kRows];
  g.codec->dot_rows(g.Bq + size_t(n0) * g.ldbq, g.ldbq, rows, g.A, g.K, out);
  for (int r = 0; r < rows; ++r) g.C[n0 + r] = g.accumulate ? out[r] + g.C[n0 + r] : out[r];
}

}  // namespace

bool gemv_stored_fits(const GemmF32& g) {
  return g.M == 1 && g.codec && g.codec->dot_rows;
}

void gemv_stored(const GemmF32& g, int threads) {
  ERANK_CHECK(gemv_stored_fits(g), "gemv_stored: {} rows, codec {}", g.M,
              g.codec ? g.codec->name : "none");
  const int64_t groups = (g.N + kRows - 1) / kRows;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t t = 0; t < groups; ++t) group_dot(g, t * kRows);
}

void gemv_stored_many(std::span<const GemmF32> gs, int threads) {
  if (gs.empty()) return;
  // Each thread takes an equal share of the weights' bytes (a group of rows costs its bytes:
  // Gemma-3's v is Q8_0 next to a Q5_0 q and k), in whole groups, in order.
  std::vector<int64_t> end;      // groups of products 0..i
  std::vector<double> cum{0.0};  // bytes of groups 0..t-1
  for (const GemmF32& g : gs) {
    ERANK_CHECK(gemv_stored_fits(g), "gemv_stored_many: {} rows, codec {}", g.M,
                g.codec ? g.codec->name : "none");
    for (int64_t n0 = 0; n0 < g.N; n0 += kRows)
      cum.push_back(cum.back() + double(std::min<int64_t>(kRows, g.N - n0)) * double(g.ldbq));
    end.push_back(int64_t(cum.size()) - 1);
  }
  const auto first_group = [&](int t, int nt) {  // the first group past t / nt of the bytes
    return int64_t(std::lower_bound(cum.begin(), cum.end(), cum.back() * t / nt) - cum.begin());
  };
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = first_group(t, nt), hi = t + 1 == nt ? end.back() : first_group(t + 1, nt);
    for (int64_t u = lo; u < hi; ++u) {
      const size_t i = size_t(std::upper_bound(end.begin(), end.end(), u) - end.begin());
      group_dot(gs[i], (u - (i ? end[i - 1] : 0)) * kRows);
    }
  }
}

}  // namespace erank
