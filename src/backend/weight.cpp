// Weight's two forms: f32 values, or rows kept in the file's encoding and expanded on demand.
#include <fmt/ranges.h>

#include <algorithm>

#include "backend/backend.h"
#include "core/error.h"

namespace erank {

namespace {
// Rows as dequantize_rows counts them: a matrix's first dimension, one row for anything else.
int64_t n_rows(const Weight& w) {
  return w.shape.size() > 1 ? w.shape[0] : 1;
}
}  // namespace

void Weight::stored_not_f32() const {
  fail("weight of shape [{}] is held as {} blocks, not f32 (expand it with to_f32())",
       fmt::join(shape, ", "), codec->name);
}

void Weight::dequantize_rows(int64_t r0, int64_t n, float* dst) const {
  const int64_t cols = numel() / std::max<int64_t>(1, n_rows(*this));
  ERANK_CHECK(r0 >= 0 && n >= 0 && r0 + n <= n_rows(*this), "dequantize_rows: rows [{}, {}) of {}",
              r0, r0 + n, n_rows(*this));
  if (!codec) {
    std::copy_n(values() + r0 * cols, n * cols, dst);
    return;
  }
  for (int64_t r = r0; r < r0 + n; ++r)
    codec->dequantize(raw + size_t(r) * row_bytes, dst + (r - r0) * cols, cols);
}

Weight Weight::to_f32() const {
  Weight w;
  w.shape = shape;
  w.own.resize(size_t(numel()));
  if (numel() > 0) dequantize_rows(0, n_rows(*this), w.own.data());
  return w;
}

size_t Weight::bytes() const {
  if (codec) return row_bytes * size_t(shape.at(0));
  return size_t(numel()) * sizeof(float);
}

}  // namespace erank
