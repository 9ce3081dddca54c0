// erank's own f32 matrix product for the cpu backend, C = A op(B), made for the shapes of a
// forward: A is activations read in place, B (weights, keys or values) is packed per call.
// Each element of C is summed in the same order whatever the thread count or tiling, so results
// are bitwise reproducible. AVX-512 kernel, and an AVX2+FMA one with the same sums for CPUs
// without it; gemm_f32_available() says whether this CPU runs either (elsewhere the backend falls
// back to OpenBLAS).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace erank {

struct WeightCodec;

struct GemmF32 {
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;  // [M, K], row stride lda
  int64_t lda = 0;
  const float* B = nullptr;  // b_nk: [N, K] (C = A B^T: weights, keys); else [K, N] (values)
  int64_t ldb = 0;
  bool b_nk = true;
  float* C = nullptr;  // [M, N], row stride ldc
  int64_t ldc = 0;
  bool accumulate = false;        // C += A op(B) (a bias written into C first); else C = A op(B)
  const float* packed = nullptr;  // op(B) already packed by gemm_f32_pack (B is then unused)
  // B [N, K] in a stored encoding instead (b_nk; B and packed unused): row n at Bq + n * ldbq.
  // Each task expands the whole blocks under its K range of a panel into per-thread scratch as
  // it goes (no packed copy of B), then runs the same kernel: the same sums, bit for bit, as
  // the product on B's f32 values.
  const uint8_t* Bq = nullptr;
  size_t ldbq = 0;
  const WeightCodec* codec = nullptr;
};

bool gemm_f32_available();
// The k blocks every element of C is summed in (block by block, each from zero, then added to
// C): a function of K alone, so that kernels of other shapes give the same bits.
int64_t gemm_f32_kc_step(int64_t K);
// The product for a stored B and few rows (M <= gemm_stored_rows_max), with the weight's rows in
// the vector lanes and no packed panel: the same sums as gemm_f32, bit for bit. AVX-512 or AVX2.
constexpr int64_t gemm_stored_rows_max = 8;
// Whether gemm_stored_rows takes g: at most that many rows, a codec with a column dequantizer
// (AVX-512 or AVX2), and rows close enough for 32-bit gather offsets.
bool gemm_stored_rows_fits(const GemmF32& g);
void gemm_stored_rows(const GemmF32& g, int threads);
// One row (M == 1) on a stored B in dot-product order (io/quant.h's row_dot gives the order): no
// transposes, so decoding reads quantised weights at 1.5-2x gemm_stored_rows' speed. Its sums
// differ from gemm_f32's by rounding (not bitwise), the same on every AVX2 or AVX-512 CPU; the
// cpu backend runs it for decoding steps only (Backend::set_decoding).
bool gemv_stored_fits(const GemmF32& g);
void gemv_stored(const GemmF32& g, int threads);
// Several such products (each fitting gemv_stored) in one parallel region: each C as gemv_stored's.
void gemv_stored_many(std::span<const GemmF32> gs, int threads);
// threads > 1: runs an OpenMP team of that many; 1: runs on the calling thread (inside a task).
void gemm_f32(const GemmF32& g, int threads);
// Packing op(B) once for many products (weights in decoding, where a product has few rows and
// packing per call would read and write the weight twice more). Same results as packing per call.
size_t gemm_f32_packed_floats(int64_t N, int64_t K);
void gemm_f32_pack(const GemmF32& g, float* dst, int threads);

}  // namespace erank
