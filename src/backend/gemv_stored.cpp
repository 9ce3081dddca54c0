// One row of activations times a weight kept in its file's type (decoding one sequence), in
// dot-product order: the codec's row_dot expands each block in registers and multiplies it with
// x along k, so no block is transposed. gemm_stored_rows puts the weight's rows in the vector
// lanes to keep gemm_f32's sums bit for bit, and its transposes cost more than the FMAs; here the
// sums run in row_dot's order (io/quant.h), the same on every CPU with AVX2, and differ from
// gemm_f32's by rounding only. Then C[n] = sum, or sum + C[n] when accumulating.
#include <algorithm>
#include <cstdint>

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

}  // namespace erank
