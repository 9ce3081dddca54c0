// ggml tensor types and block dequantisation to f32, bit-exact with the `gguf` Python package.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace erank {

enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

bool ggml_type_known(uint32_t t);  // true for the values above that we can dequantise
std::string_view ggml_type_name(GGMLType t);
int64_t ggml_block_size(GGMLType t);  // elements per block (1 for F32/F16/BF16)
size_t ggml_type_size(GGMLType t);    // bytes per block
// Bytes for n elements (n must be a multiple of the block size; throws erank::Error otherwise).
size_t ggml_row_bytes(GGMLType t, int64_t n);

// Byte offsets of the f16 scales (d, and dmin or m where the type has one) inside one block of
// type t; empty for element types. For making valid blocks from random bytes (tests, benches).
std::vector<size_t> ggml_scale_offsets(GGMLType t);

// Dequantises n elements (a multiple of the block size) from src to dst.
void dequantize(GGMLType t, const uint8_t* src, float* dst, int64_t n);

// The fastest expansion of type t that gives dequantize's values bit for bit (AVX-512 or AVX2
// kernels for the common types where the CPU has them), without checks: n must be a multiple of the
// block size. For weights expanded panel by panel inside a matrix product. Throws erank::Error
// for types that cannot be dequantised.
using RowDequantizer = void (*)(const uint8_t* src, float* dst, int64_t n);
RowDequantizer row_dequantizer(GGMLType t);

// Dot products of `rows` (1 to 4) consecutive rows with x: out[r] = sum over k < n of value k of
// row r (starting at src + r * ld; n a multiple of the block size) times x[k], summed in one fixed
// order, the same on every CPU with AVX2: sixteen partial sums s[k % 16] = fma(w, x, s) in
// increasing k from +0 (absent values of a last partial 16 add fma(0, 0, s)), then folded:
// t[l] = s[l] + s[8 + l], u[l] = t[l] + t[4 + l], v[l] = u[l] + u[2 + l], v[0] + v[1]. The values
// are the row dequantizer's, expanded in registers. For one-row products (decoding a sequence),
// where gemm's order would need the blocks transposed. Null without AVX2 or for types without a
// vectorised expansion.
using RowDot = void (*)(const uint8_t* src, size_t ld, int rows, const float* x, int64_t n,
                        float* out);
RowDot row_dot(GGMLType t);

// One block of 16 consecutive rows, transposed: dst[j * ldd + r] = value j of row r's block
// (ldd >= 16; 16 packs them, 32 writes half of a gemm panel), where row r's block starts at
// src + r * ld, the same bits as the row dequantizer. Rows r >= n are not read (their lanes hold
// zeros or -0). For products of few rows (decoding), whose vector lanes are the weight's rows,
// and for packing panels. ld * 16 must fit in 31 bits. Null for types without one, or without
// AVX2 (the caller then expands rows and transposes them).
using ColumnDequantizer = void (*)(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd);
ColumnDequantizer column_dequantizer(GGMLType t);

}  // namespace erank
