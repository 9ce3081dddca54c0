// Block dequantisation. Each kernel mirrors the numpy code of gguf-py (gguf/quants.py) step by
// step so that results are bitwise equal in f32: every product and sum is rounded to f32 in the
// same order as numpy does (e.g. Q4_K is `(d*sc)*q - (dmin*m)`, never a fused multiply-add).
// (In the kernels that add - Q4_1, Q5_1, Q2_K..Q5_K - the products of an f16 scale and small
// integers are exact in f32, so only the final add rounds; we keep the steps separate anyway.)
#include "io/quant.h"

#include <immintrin.h>
#include <cstdint>

#include <algorithm>
#include <cstring>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/error.h"

// Keep a*b+c as two roundings like numpy (GCC's -std=c++20 already implies -ffp-contract=off).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

namespace erank {

namespace {

constexpr int QK = 32;    // elements per legacy block (Q4_0 .. Q8_0)
constexpr int QKK = 256;  // elements per K-quant super-block

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Two f32 roundings, written as separate statements so nothing can fuse them.
inline float mul_add(float a, float b, float c) {
  const float p = a * b;
  return p + c;
}
inline float mul_sub(float a, float b, float c) {
  const float p = a * b;
  return p - c;
}

// Legacy blocks store element j in the low nibble of qs[j] and element j + 16 in its high nibble.
void deq_q4_0(const uint8_t* b, float* y) {  // d(f16) qs[16]
  const float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

void deq_q4_1(const uint8_t* b, float* y) {  // d m qs[16]
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = mul_add(d, static_cast<float>(qs[j] & 0x0F), m);
    y[j + 16] = mul_add(d, static_cast<float>(qs[j] >> 4), m);
  }
}

// 5-bit values: low nibbles as above, bit i of the little-endian u32 qh as bit 4 of element i.
inline void q5_values(const uint8_t* qh4, const uint8_t* qs, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

void deq_q5_0(const uint8_t* b, float* y) {  // d qh[4] qs[16]
  const float d = f16_at(b);
  int q[QK];
  q5_values(b + 2, b + 6, q);
  for (int i = 0; i < QK; ++i) y[i] = d * static_cast<float>(q[i] - 16);
}

void deq_q5_1(const uint8_t* b, float* y) {  // d m qh[4] qs[16]
  const float d = f16_at(b), m = f16_at(b + 2);
  int q[QK];
  q5_values(b + 4, b + 8, q);
  for (int i = 0; i < QK; ++i) y[i] = mul_add(d, static_cast<float>(q[i]), m);
}

void deq_q8_0(const uint8_t* b, float* y) {  // d qs[32] (int8)
  const float d = f16_at(b);
  for (int i = 0; i < QK; ++i) y[i] = static_cast<float>(static_cast<int8_t>(b[2 + i])) * d;
}

// K-quant element i = 128 c + 32 j + l (c half, j 0..3, l 0..31) sits in byte 32 c + l of the
// 2-bit planes at shift 2 j; its 16-element scale group is i / 16 = 8 c + 2 j + l / 16.
void deq_q2_k(const uint8_t* b, float* y) {  // scales[16] qs[64] d dmin
  const uint8_t* sc = b;
  const uint8_t* qs = b + 16;
  const float d = f16_at(b + 80), dmin = f16_at(b + 82);
  float dl[16], ml[16];
  for (int g = 0; g < 16; ++g) {
    dl[g] = d * static_cast<float>(sc[g] & 0x0F);
    ml[g] = dmin * static_cast<float>(sc[g] >> 4);
  }
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int g = 8 * c + 2 * j + l / 16;
        const int q = (qs[32 * c + l] >> (2 * j)) & 3;
        y[128 * c + 32 * j + l] = mul_sub(dl[g], static_cast<float>(q), ml[g]);
      }
}

void deq_q3_k(const uint8_t* b, float* y) {  // hmask[32] qs[64] scales[12] d
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* s = b + 96;
  const float d = f16_at(b + 108);
  float dl[16];
  for (int i = 0; i < 16; ++i) {
    const int lo = (s[i % 8] >> (4 * (i / 8))) & 0x0F;
    const int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 0x03;
    dl[i] = d * static_cast<float>((lo | (hi << 4)) - 32);
  }
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int ql = (qs[32 * c + l] >> (2 * j)) & 3;
        const int h = (hmask[l] >> (4 * c + j)) & 1;  // bit i / 32 of hmask[l]
        const int q = ql - ((h ^ 1) << 2);            // the offset 4 applies when the bit is 0
        y[128 * c + 32 * j + l] = dl[8 * c + 2 * j + l / 16] * static_cast<float>(q);
      }
}

// The 8 six-bit (scale, min) pairs packed in 12 bytes, shared by Q4_K and Q5_K.
inline void k_scale_min(const uint8_t* s, int* sc, int* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[4 + j] & 0x3F;
    sc[4 + j] = (s[8 + j] & 0x0F) | ((s[j] >> 2) & 0x30);
    mn[4 + j] = (s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30);
  }
}

void deq_q4_k(const uint8_t* b, float* y) {  // d dmin scales[12] qs[128]
  const float d = f16_at(b), dmin = f16_at(b + 2);
  int sc[8], mn[8];
  k_scale_min(b + 4, sc, mn);
  const uint8_t* qs = b + 16;
  for (int g = 0; g < 8; ++g) {
    const float dg = d * static_cast<float>(sc[g]);
    const float mg = dmin * static_cast<float>(mn[g]);
    const int c = g / 2, shift = 4 * (g % 2);
    for (int l = 0; l < 32; ++l)
      y[g * 32 + l] = mul_sub(dg, static_cast<float>((qs[c * 32 + l] >> shift) & 0x0F), mg);
  }
}

void deq_q5_k(const uint8_t* b, float* y) {  // d dmin scales[12] qh[32] qs[128]
  const float d = f16_at(b), dmin = f16_at(b + 2);
  int sc[8], mn[8];
  k_scale_min(b + 4, sc, mn);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int g = 0; g < 8; ++g) {
    const float dg = d * static_cast<float>(sc[g]);
    const float mg = dmin * static_cast<float>(mn[g]);
    const int c = g / 2, shift = 4 * (g % 2);
    for (int l = 0; l < 32; ++l) {
      const int q = ((qs[c * 32 + l] >> shift) & 0x0F) | (((qh[l] >> g) & 1) << 4);
      y[g * 32 + l] = mul_sub(dg, static_cast<float>(q), mg);
    }
  }
}

void deq_q6_k(const uint8_t* b, float* y) {  // ql[128] qh[64] scales[16] (int8) d
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = f16_at(b + 208);
  float dg[16];
  for (int g = 0; g < 16; ++g) dg[g] = d * static_cast<float>(sc[g]);
  // Element 128 c + 32 j + l: low 4 bits from ql[64 c + 32 (j % 2) + l] at shift 4 (j / 2),
  // high 2 bits from qh[32 c + l] at shift 2 j.
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int lo = (ql[64 * c + 32 * (j % 2) + l] >> (4 * (j / 2))) & 0x0F;
        const int hi = (qh[32 * c + l] >> (2 * j)) & 0x03;
        y[128 * c + 32 * j + l] =
            dg[8 * c + 2 * j + l / 16] * static_cast<float>((lo | (hi << 4)) - 32);
      }
}

using BlockFn = void (*)(const uint8_t*, float*);

struct TypeInfo {
  GGMLType type;
  std::string_view name;
  int64_t block;
  size_t bytes;
  BlockFn fn;  // null: element types handled directly, or not dequantisable
};

constexpr TypeInfo kTypes[] = {
    {GGMLType::F32, "F32", 1, 4, nullptr},        {GGMLType::F16, "F16", 1, 2, nullptr},
    {GGMLType::BF16, "BF16", 1, 2, nullptr},      {GGMLType::Q4_0, "Q4_0", QK, 18, deq_q4_0},
    {GGMLType::Q4_1, "Q4_1", QK, 20, deq_q4_1},   {GGMLType::Q5_0, "Q5_0", QK, 22, deq_q5_0},
    {GGMLType::Q5_1, "Q5_1", QK, 24, deq_q5_1},   {GGMLType::Q8_0, "Q8_0", QK, 34, deq_q8_0},
    {GGMLType::Q8_1, "Q8_1", QK, 40, nullptr},    {GGMLType::Q2_K, "Q2_K", QKK, 84, deq_q2_k},
    {GGMLType::Q3_K, "Q3_K", QKK, 110, deq_q3_k}, {GGMLType::Q4_K, "Q4_K", QKK, 144, deq_q4_k},
    {GGMLType::Q5_K, "Q5_K", QKK, 176, deq_q5_k}, {GGMLType::Q6_K, "Q6_K", QKK, 210, deq_q6_k},
    {GGMLType::Q8_K, "Q8_K", QKK, 292, nullptr},
};

const TypeInfo* find_type(uint32_t t) {
  for (const auto& ti : kTypes)
    if (static_cast<uint32_t>(ti.type) == t) return &ti;
  return nullptr;
}

const TypeInfo& info(GGMLType t) {
  const TypeInfo* ti = find_type(static_cast<uint32_t>(t));
  if (!ti) fail("unknown ggml type {}", static_cast<uint32_t>(t));
  return *ti;
}

}  // namespace

// Q8_1 and Q8_K are in the enum for naming but are intermediate (activation) formats that never
// ship in model files and have no gguf-py reference, so we report them as not dequantisable.
bool ggml_type_known(uint32_t t) {
  const TypeInfo* ti = find_type(t);
  return ti && (ti->fn || ti->block == 1);
}

std::string_view ggml_type_name(GGMLType t) {
  const TypeInfo* ti = find_type(static_cast<uint32_t>(t));
  return ti ? ti->name : std::string_view("unknown");
}

int64_t ggml_block_size(GGMLType t) {
  return info(t).block;
}
size_t ggml_type_size(GGMLType t) {
  return info(t).bytes;
}

size_t ggml_row_bytes(GGMLType t, int64_t n) {
  const TypeInfo& ti = info(t);
  if (n < 0 || n % ti.block != 0)
    fail("{} elements is not a multiple of the {} block size {}", n, ti.name, ti.block);
  if (static_cast<size_t>(n / ti.block) > SIZE_MAX / ti.bytes)
    fail("{} elements of {} overflow a byte count", n, ti.name);
  return static_cast<size_t>(n / ti.block) * ti.bytes;
}

std::vector<size_t> ggml_scale_offsets(GGMLType t) {
  switch (t) {
    case GGMLType::Q4_0:
    case GGMLType::Q5_0:
    case GGMLType::Q8_0:
      return {0};
    case GGMLType::Q4_1:
    case GGMLType::Q5_1:
    case GGMLType::Q4_K:
    case GGMLType::Q5_K:
      return {0, 2};
    case GGMLType::Q2_K:
      return {80, 82};
    case GGMLType::Q3_K:
      return {108};
    case GGMLType::Q6_K:
      return {208};
    default:
      return {};
  }
}

void dequantize(GGMLType t, const uint8_t* src, float* dst, int64_t n) {
  const TypeInfo& ti = info(t);
  if (n < 0 || n % ti.block != 0)
    fail("cannot dequantize {} elements of {}: not a multiple of the block size {}", n, ti.name,
         ti.block);
  switch (t) {
    case GGMLType::F32:
      if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GGMLType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_at(src + 2 * i);
      return;
    case GGMLType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    default:
      break;
  }
  if (!ti.fn) fail("dequantization of {} tensors is not supported", ti.name);
  for (int64_t b = 0; b < n / ti.block; ++b)
    ti.fn(src + static_cast<size_t>(b) * ti.bytes, dst + b * ti.block);
}

namespace {

template <GGMLType T>
void dequantize_as(const uint8_t* src, float* dst, int64_t n) {
  const TypeInfo& ti = info(T);
  if constexpr (T == GGMLType::F32 || T == GGMLType::F16 || T == GGMLType::BF16) {
    dequantize(T, src, dst, n);
  } else {
    for (int64_t b = 0; b < n / ti.block; ++b)
      ti.fn(src + static_cast<size_t>(b) * ti.bytes, dst + b * ti.block);
  }
}

// AVX-512 expansions of the types that real files use most, the same f32 operations in the same
// order as the block kernels above (a product rounded, then an add or subtract rounded), so the
// same bits. For weights expanded panel by panel in a matrix product, where the scalar kernels
// cost more than the product itself when decoding.
// (GCC 12 warns that its own intrinsics' undefined operands may be uninitialised.)
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no -Wmaybe-uninitialized (and would warn about the pragma)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define ERANK_AVX512 __attribute__((target("avx512f,avx512bw,f16c")))

// A block's f16 scale by the conversion instruction (infinities and NaNs the scalar way). F16C
// only, so that both the AVX-512 and the AVX2 kernels inline it.
__attribute__((target("f16c"))) inline float scale_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return (h & 0x7C00) == 0x7C00 ? f16_to_f32(h) : _cvtsh_ss(h);
}

ERANK_AVX512 inline __m512i u8x16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

ERANK_AVX512 void q8_0_avx512(const uint8_t* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += QK, b += 34, y += QK) {
    const __m512 d = _mm512_set1_ps(scale_at(b));
    for (int h = 0; h < 2; ++h) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + 16 * h));
      _mm512_storeu_ps(y + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d));
    }
  }
}

// Legacy 4/5-bit blocks: element j in the low nibble of qs[j], j + 16 in its high nibble, bit j of
// qh (5-bit) as bit 4. Offset types (Q4_0, Q5_0) subtract before converting; Q4_1/Q5_1 add m.
template <int kBits, bool kMin>
ERANK_AVX512 void legacy_avx512(const uint8_t* b, float* y, int64_t n) {
  constexpr size_t kBytes = 2 + (kMin ? 2 : 0) + (kBits == 5 ? 4 : 0) + 16;
  const __m512i low4 = _mm512_set1_epi32(0x0F), bit4 = _mm512_set1_epi32(16);
  const __m512i off = _mm512_set1_epi32(kBits == 5 ? 16 : 8);
  for (int64_t i = 0; i < n; i += QK, b += kBytes, y += QK) {
    const __m512 d = _mm512_set1_ps(scale_at(b));
    const __m512 m = _mm512_set1_ps(kMin ? scale_at(b + 2) : 0.0f);
    const uint8_t* qs = b + kBytes - 16;
    const __m512i q = u8x16(qs);
    __m512i lo = _mm512_and_si512(q, low4), hi = _mm512_srli_epi32(q, 4);
    if constexpr (kBits == 5) {
      uint32_t qh;
      std::memcpy(&qh, qs - 4, 4);
      lo = _mm512_mask_or_epi32(lo, __mmask16(qh & 0xFFFF), lo, bit4);
      hi = _mm512_mask_or_epi32(hi, __mmask16(qh >> 16), hi, bit4);
    }
    if constexpr (!kMin) {
      lo = _mm512_sub_epi32(lo, off);
      hi = _mm512_sub_epi32(hi, off);
    }
    __m512 vl = _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)),
           vh = _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi));
    if constexpr (kMin) {
      vl = _mm512_add_ps(vl, m);
      vh = _mm512_add_ps(vh, m);
    }
    _mm512_storeu_ps(y, vl);
    _mm512_storeu_ps(y + 16, vh);
  }
}

ERANK_AVX512 void q4_k_avx512(const uint8_t* b, float* y, int64_t n) {
  const __m512i low4 = _mm512_set1_epi32(0x0F);
  for (int64_t i = 0; i < n; i += QKK, b += 144, y += QKK) {
    const float d = scale_at(b), dmin = scale_at(b + 2);
    int sc[8], mn[8];
    k_scale_min(b + 4, sc, mn);
    const uint8_t* qs = b + 16;
    for (int g = 0; g < 8; ++g) {
      const __m512 dg = _mm512_set1_ps(d * static_cast<float>(sc[g]));
      const __m512 mg = _mm512_set1_ps(dmin * static_cast<float>(mn[g]));
      const int c = g / 2, shift = 4 * (g % 2);
      for (int h = 0; h < 2; ++h) {
        const __m512i q =
            _mm512_and_si512(_mm512_srli_epi32(u8x16(qs + c * 32 + 16 * h), unsigned(shift)), low4);
        _mm512_storeu_ps(y + g * 32 + 16 * h,
                         _mm512_sub_ps(_mm512_mul_ps(dg, _mm512_cvtepi32_ps(q)), mg));
      }
    }
  }
}

ERANK_AVX512 void q6_k_avx512(const uint8_t* b, float* y, int64_t n) {
  const __m512i low4 = _mm512_set1_epi32(0x0F), low2 = _mm512_set1_epi32(0x03);
  const __m512i off = _mm512_set1_epi32(32);
  for (int64_t i = 0; i < n; i += QKK, b += 210, y += QKK) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = scale_at(b + 208);
    for (int c = 0; c < 2; ++c)
      for (int j = 0; j < 4; ++j)
        for (int h = 0; h < 2; ++h) {
          const int l = 16 * h;
          const __m512 dg = _mm512_set1_ps(d * static_cast<float>(sc[8 * c + 2 * j + h]));
          const __m512i lo = _mm512_and_si512(
              _mm512_srli_epi32(u8x16(ql + 64 * c + 32 * (j % 2) + l), unsigned(4 * (j / 2))),
              low4);
          const __m512i hi =
              _mm512_and_si512(_mm512_srli_epi32(u8x16(qh + 32 * c + l), unsigned(2 * j)), low2);
          const __m512i q = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), off);
          _mm512_storeu_ps(y + 128 * c + 32 * j + l, _mm512_mul_ps(dg, _mm512_cvtepi32_ps(q)));
        }
  }
}

ERANK_AVX512 void bf16_avx512(const uint8_t* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2 * i));
    _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  if (i < n) dequantize(GGMLType::BF16, b + 2 * i, y + i, n - i);
}

// The conversion instruction quiets signalling NaNs; a chunk holding any NaN goes the scalar way.
ERANK_AVX512 void f16_avx512(const uint8_t* b, float* y, int64_t n) {
  int64_t i = 0;
  const __m256i exp = _mm256_set1_epi16(0x7C00), man = _mm256_set1_epi16(0x03FF);
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2 * i));
    const __m256i all_ones_exp = _mm256_cmpeq_epi16(_mm256_and_si256(h, exp), exp);
    const __m256i nonzero_man =
        _mm256_andnot_si256(_mm256_cmpeq_epi16(_mm256_and_si256(h, man), _mm256_setzero_si256()),
                            _mm256_set1_epi16(-1));
    if (!_mm256_testz_si256(all_ones_exp, nonzero_man))
      dequantize(GGMLType::F16, b + 2 * i, y + i, 16);
    else
      _mm512_storeu_ps(y + i, _mm512_cvtph_ps(h));
  }
  if (i < n) dequantize(GGMLType::F16, b + 2 * i, y + i, n - i);
}

#pragma GCC diagnostic pop

#undef ERANK_AVX512

// The same expansions with 8-wide AVX2 registers, for CPUs without AVX-512: the same f32
// operations in the same order, so the same bits.
#define ERANK_AVX2 __attribute__((target("avx2,fma,f16c")))
// Block expanders inline into their row loops (GCC left Q6_K's a call, its sums in memory).
#define ERANK_AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline))

ERANK_AVX2 inline __m256i u8x8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// A block's f16 scale in all 8 lanes, broadcast as f16 and converted (2 instructions, where
// scale_at and a broadcast take 9). No test for infinities and NaNs: the conversion gives the same
// infinities, and a NaN scale only quiets earlier (vcvtph2ps quiets a signalling NaN, which the
// product with q then does anyway). Without the test and branch, row_dot's Q4_1 runs 1.27x faster.
ERANK_AVX2 inline __m256 scale8(const uint8_t* p) {
  int16_t h;
  std::memcpy(&h, p, 2);
  return _mm256_cvtph_ps(_mm_set1_epi16(h));
}

// The block expanders hand each group of 8 values (values 8 j .. 8 j + 7 of the block, j in
// increasing order for each parity) to a sink: a store for the row dequantizers, FMAs into a dot
// product for row_dot. One expansion, so both see the same bits.
struct StoreSink {
  float* y;
  ERANK_AVX2 void operator()(int j, __m256 v) const { _mm256_storeu_ps(y + 8 * j, v); }
};

struct Q8_0Avx2 {
  static constexpr int block = QK;
  static constexpr size_t bytes = 34;
  template <class Sink>
  ERANK_AVX2_INLINE static void run(const uint8_t* b, Sink& sink) {
    const __m256 d = scale8(b);
#pragma GCC unroll 4
    for (int h = 0; h < 4; ++h) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + 8 * h));
      sink(h, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
    }
  }
};

template <int kBits, bool kMin>
struct LegacyAvx2 {
  static constexpr int block = QK;
  static constexpr size_t bytes = 2 + (kMin ? 2 : 0) + (kBits == 5 ? 4 : 0) + 16;
  template <class Sink>
  ERANK_AVX2_INLINE static void run(const uint8_t* b, Sink& sink) {
    const __m256i low4 = _mm256_set1_epi32(0x0F), bit4 = _mm256_set1_epi32(16);
    const __m256i off = _mm256_set1_epi32(kBits == 5 ? 16 : 8);
    const __m256 d = scale8(b);
    const __m256 m = kMin ? scale8(b + 2) : _mm256_setzero_ps();
    const uint8_t* qs = b + bytes - 16;
    uint32_t qh = 0;
    if constexpr (kBits == 5) std::memcpy(&qh, qs - 4, 4);
    // Bit v of qh is bit 4 of value v: shifted there by lane (qh << 4 >> v for v < 16, and
    // qh >> 12 >> (v - 16) above).
    const __m256i hl = _mm256_set1_epi32(int(qh << 4)), hh = _mm256_set1_epi32(int(qh >> 12));
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {  // values 8 h .. 8 h + 7 (low nibbles), 16 + those (high)
      const __m256i q = u8x8(qs + 8 * h);
      __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_srli_epi32(q, 4);
      if constexpr (kBits == 5) {
        const __m256i v = _mm256_setr_epi32(8 * h, 8 * h + 1, 8 * h + 2, 8 * h + 3, 8 * h + 4,
                                            8 * h + 5, 8 * h + 6, 8 * h + 7);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_srlv_epi32(hl, v), bit4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_srlv_epi32(hh, v), bit4));
      }
      if constexpr (!kMin) {
        lo = _mm256_sub_epi32(lo, off);
        hi = _mm256_sub_epi32(hi, off);
      }
      // d * q + m: d (an f16) times q (< 32) is exact in f32, so one rounding either way and the
      // fused form is the same value as numpy's product-then-add, in one instruction.
      const __m256 ql = _mm256_cvtepi32_ps(lo), qh8 = _mm256_cvtepi32_ps(hi);
      if constexpr (kMin) {
        sink(h, _mm256_fmadd_ps(d, ql, m));
        sink(2 + h, _mm256_fmadd_ps(d, qh8, m));
      } else {
        sink(h, _mm256_mul_ps(d, ql));
        sink(2 + h, _mm256_mul_ps(d, qh8));
      }
    }
  }
};

struct Q4_KAvx2 {
  static constexpr int block = QKK;
  static constexpr size_t bytes = 144;
  template <class Sink>
  ERANK_AVX2_INLINE static void run(const uint8_t* b, Sink& sink) {
    const __m256i low4 = _mm256_set1_epi32(0x0F);
    const float d = scale_at(b), dmin = scale_at(b + 2);
    int sc[8], mn[8];
    k_scale_min(b + 4, sc, mn);
    const uint8_t* qs = b + 16;
    // Unrolled: the shifts become immediates, and the scales' arrays registers.
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
      const __m256 dg = _mm256_set1_ps(d * static_cast<float>(sc[g]));
      const __m256 mg = _mm256_set1_ps(dmin * static_cast<float>(mn[g]));
      const int c = g / 2, shift = 4 * (g % 2);
#pragma GCC unroll 4
      for (int h = 0; h < 4; ++h) {
        const __m256i q =
            _mm256_and_si256(_mm256_srli_epi32(u8x8(qs + c * 32 + 8 * h), shift), low4);
        // (d sc) q - dmin m: d sc (11 x 6 bits) and its product with q (4 bits) are exact in f32,
        // so the fused form rounds once, as the product-then-subtract does.
        sink(4 * g + h, _mm256_fmsub_ps(dg, _mm256_cvtepi32_ps(q), mg));
      }
    }
  }
};

struct Q6_KAvx2 {
  static constexpr int block = QKK;
  static constexpr size_t bytes = 210;
  template <class Sink>
  ERANK_AVX2_INLINE static void run(const uint8_t* b, Sink& sink) {
    const __m256i low4 = _mm256_set1_epi32(0x0F), low2 = _mm256_set1_epi32(0x03);
    const __m256i off = _mm256_set1_epi32(32);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = scale_at(b + 208);
    for (int c = 0; c < 2; ++c)
#pragma GCC unroll 4  // the shifts become immediates
      for (int j = 0; j < 4; ++j)
#pragma GCC unroll 4
        for (int h = 0; h < 4; ++h) {
          const int l = 8 * h;
          const __m256 dg = _mm256_set1_ps(d * static_cast<float>(sc[8 * c + 2 * j + h / 2]));
          const __m256i lo = _mm256_and_si256(
              _mm256_srli_epi32(u8x8(ql + 64 * c + 32 * (j % 2) + l), 4 * (j / 2)), low4);
          const __m256i hi =
              _mm256_and_si256(_mm256_srli_epi32(u8x8(qh + 32 * c + l), 2 * j), low2);
          const __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), off);
          sink(16 * c + 4 * j + h, _mm256_mul_ps(dg, _mm256_cvtepi32_ps(q)));
        }
  }
};

// A row of blocks expanded (the row dequantizer).
template <class E>
ERANK_AVX2 void rows_avx2(const uint8_t* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += E::block, b += E::bytes, y += E::block) {
    StoreSink s{y};
    E::run(b, s);
  }
}

ERANK_AVX2 void bf16_avx2(const uint8_t* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * i));
    _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  }
  if (i < n) dequantize(GGMLType::BF16, b + 2 * i, y + i, n - i);
}

// As f16_avx512: a chunk holding any NaN goes the scalar way.
ERANK_AVX2 void f16_avx2(const uint8_t* b, float* y, int64_t n) {
  int64_t i = 0;
  const __m128i exp = _mm_set1_epi16(0x7C00), man = _mm_set1_epi16(0x03FF);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * i));
    const __m128i all_ones_exp = _mm_cmpeq_epi16(_mm_and_si128(h, exp), exp);
    const __m128i zero_man = _mm_cmpeq_epi16(_mm_and_si128(h, man), _mm_setzero_si128());
    if (!_mm_testc_si128(zero_man, all_ones_exp))  // some lane: exponent all ones, mantissa not 0
      dequantize(GGMLType::F16, b + 2 * i, y + i, 8);
    else
      _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
  }
  if (i < n) dequantize(GGMLType::F16, b + 2 * i, y + i, n - i);
}

// Dot products of rows with x in gemv's order (16 partial sums over k % 16: values 8 j .. 8 j + 7
// of a block go to a0 for even j, a1 for odd, as a block starts at a multiple of 16), folded
// 8, 4, 2, 1 at the end. Several rows per call share x's loads and keep 2 R FMA chains going.
struct DotSink {
  const float* x;
  __m256 a0, a1;
  ERANK_AVX2 void operator()(int j, __m256 v) {
    if (j & 1)
      a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + 8 * j), a1);
    else
      a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + 8 * j), a0);
  }
};

ERANK_AVX2 inline float fold(__m256 a0, __m256 a1) {
  const __m256 t = _mm256_add_ps(a0, a1);
  __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  u = _mm_add_ps(u, _mm_movehl_ps(u, u));
  u = _mm_add_ss(u, _mm_movehdup_ps(u));
  return _mm_cvtss_f32(u);
}

// Bytes ahead of each row's block that the rows' next bytes are fetched from: 4 interleaved rows
// read from memory outrun the hardware prefetchers (2x on Gemma-3's 178 MB head; 4096 bytes ahead
// beat 2048 by 5-20% in a standalone kernel on that shape, and 2048 beat 384 by about 10%).
constexpr int64_t kPrefetchAhead = 4096;
// Every cache line of a block: a K-quant block spans 3 or 4 lines.
template <class E>
ERANK_AVX2 inline void prefetch_block(const uint8_t* b) {
#pragma GCC unroll 4
  for (size_t l = 0; l < (E::bytes + 63) / 64; ++l)
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchAhead + 64 * l), _MM_HINT_T0);
}
template <class E, int R>
ERANK_AVX2 void dot_blocks(const uint8_t* src, size_t ld, const float* x, int64_t n, float* out) {
  // One named sink per row, not an array: GCC keeps an array's sums in memory (its scalar
  // replacement runs before the row loop is unrolled), a store and a reload on every FMA chain.
  const __m256 z = _mm256_setzero_ps();
  DotSink s0{x, z, z}, s1{x, z, z}, s2{x, z, z}, s3{x, z, z};
  for (int64_t i = 0; i < n; i += E::block) {
    const uint8_t* b = src + size_t(i / E::block) * E::bytes;
    s0.x = s1.x = s2.x = s3.x = x + i;
    prefetch_block<E>(b);
    E::run(b, s0);
    if constexpr (R > 1) {
      prefetch_block<E>(b + ld);
      E::run(b + ld, s1);
    }
    if constexpr (R > 2) {
      prefetch_block<E>(b + 2 * ld);
      E::run(b + 2 * ld, s2);
    }
    if constexpr (R > 3) {
      prefetch_block<E>(b + 3 * ld);
      E::run(b + 3 * ld, s3);
    }
  }
  out[0] = fold(s0.a0, s0.a1);
  if constexpr (R > 1) out[1] = fold(s1.a0, s1.a1);
  if constexpr (R > 2) out[2] = fold(s2.a0, s2.a1);
  if constexpr (R > 3) out[3] = fold(s3.a0, s3.a1);
}

// bf16/f16 rows (no blocks, any length): 256 values of each row expanded into L1, then dotted;
// absent lanes of the last 16 add fma(0, 0, s).
ERANK_AVX2 inline __m256i first_lanes(int64_t n) {  // lanes < n (n clamped to 0..8)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::clamp<int64_t>(n, 0, 8))), idx);
}

template <RowDequantizer kRows, int R>
ERANK_AVX2 void dot_elements(const uint8_t* src, size_t ld, const float* x, int64_t n, float* out) {
  constexpr int64_t kChunk = 256;
  alignas(32) float buf[R][kChunk];
  __m256 a0[R], a1[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
  for (int64_t k0 = 0; k0 < n; k0 += kChunk) {
    const int64_t len = std::min(kChunk, n - k0);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) kRows(src + r * ld + 2 * size_t(k0), buf[r], len);
    const float* xc = x + k0;
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
      const __m256 x0 = _mm256_loadu_ps(xc + k), x1 = _mm256_loadu_ps(xc + k + 8);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm256_fmadd_ps(_mm256_load_ps(buf[r] + k), x0, a0[r]);
        a1[r] = _mm256_fmadd_ps(_mm256_load_ps(buf[r] + k + 8), x1, a1[r]);
      }
    }
    if (k < len) {
      const __m256i m0 = first_lanes(len - k), m1 = first_lanes(len - k - 8);
      const __m256 x0 = _mm256_maskload_ps(xc + k, m0), x1 = _mm256_maskload_ps(xc + k + 8, m1);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        a0[r] = _mm256_fmadd_ps(_mm256_maskload_ps(buf[r] + k, m0), x0, a0[r]);
        a1[r] = _mm256_fmadd_ps(_mm256_maskload_ps(buf[r] + k + 8, m1), x1, a1[r]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) out[r] = fold(a0[r], a1[r]);
}

template <template <int> class D>
ERANK_AVX2 void dot_rows_avx2(const uint8_t* src, size_t ld, int rows, const float* x, int64_t n,
                              float* out) {
  switch (rows) {
    case 4:
      return D<4>::run(src, ld, x, n, out);
    case 3:
      return D<3>::run(src, ld, x, n, out);
    case 2:
      return D<2>::run(src, ld, x, n, out);
    default:
      return D<1>::run(src, ld, x, n, out);
  }
}
template <class E>
struct Blocks {
  template <int R>
  struct D {
    ERANK_AVX2 static void run(const uint8_t* s, size_t ld, const float* x, int64_t n, float* o) {
      dot_blocks<E, R>(s, ld, x, n, o);
    }
  };
};
template <RowDequantizer kRows>
struct Elements {
  template <int R>
  struct D {
    ERANK_AVX2 static void run(const uint8_t* s, size_t ld, const float* x, int64_t n, float* o) {
      dot_elements<kRows, R>(s, ld, x, n, o);
    }
  };
};

#undef ERANK_AVX2
#undef ERANK_AVX2_INLINE

// The vectorised expansions of one instruction set, by type.
struct SimdKernels {
  RowDequantizer bf16, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q6_k;
};
constexpr SimdKernels kAvx512{bf16_avx512,
                              f16_avx512,
                              q8_0_avx512,
                              legacy_avx512<4, false>,
                              legacy_avx512<4, true>,
                              legacy_avx512<5, false>,
                              legacy_avx512<5, true>,
                              q4_k_avx512,
                              q6_k_avx512};
constexpr SimdKernels kAvx2{bf16_avx2,
                            f16_avx2,
                            rows_avx2<Q8_0Avx2>,
                            rows_avx2<LegacyAvx2<4, false>>,
                            rows_avx2<LegacyAvx2<4, true>>,
                            rows_avx2<LegacyAvx2<5, false>>,
                            rows_avx2<LegacyAvx2<5, true>>,
                            rows_avx2<Q4_KAvx2>,
                            rows_avx2<Q6_KAvx2>};

RowDot dot_kernel(GGMLType t) {
  switch (t) {
    case GGMLType::BF16:
      return dot_rows_avx2<Elements<bf16_avx2>::D>;
    case GGMLType::F16:
      return dot_rows_avx2<Elements<f16_avx2>::D>;
    case GGMLType::Q8_0:
      return dot_rows_avx2<Blocks<Q8_0Avx2>::D>;
    case GGMLType::Q4_0:
      return dot_rows_avx2<Blocks<LegacyAvx2<4, false>>::D>;
    case GGMLType::Q4_1:
      return dot_rows_avx2<Blocks<LegacyAvx2<4, true>>::D>;
    case GGMLType::Q5_0:
      return dot_rows_avx2<Blocks<LegacyAvx2<5, false>>::D>;
    case GGMLType::Q5_1:
      return dot_rows_avx2<Blocks<LegacyAvx2<5, true>>::D>;
    case GGMLType::Q4_K:
      return dot_rows_avx2<Blocks<Q4_KAvx2>::D>;
    case GGMLType::Q6_K:
      return dot_rows_avx2<Blocks<Q6_KAvx2>::D>;
    default:
      return nullptr;
  }
}

RowDequantizer simd_kernel(const SimdKernels& k, GGMLType t) {
  switch (t) {
    case GGMLType::BF16:
      return k.bf16;
    case GGMLType::F16:
      return k.f16;
    case GGMLType::Q8_0:
      return k.q8_0;
    case GGMLType::Q4_0:
      return k.q4_0;
    case GGMLType::Q4_1:
      return k.q4_1;
    case GGMLType::Q5_0:
      return k.q5_0;
    case GGMLType::Q5_1:
      return k.q5_1;
    case GGMLType::Q4_K:
      return k.q4_k;
    case GGMLType::Q6_K:
      return k.q6_k;
    default:
      return nullptr;
  }
}

}  // namespace

RowDot row_dot(GGMLType t) {
  return simd_level() != Simd::none ? dot_kernel(t) : nullptr;
}

RowDequantizer row_dequantizer(GGMLType t) {
  if (const Simd simd = simd_level(); simd != Simd::none)
    if (RowDequantizer f = simd_kernel(simd == Simd::avx512 ? kAvx512 : kAvx2, t)) return f;
  const TypeInfo& ti = info(t);
  if (!ti.fn && ti.block != 1) fail("dequantization of {} tensors is not supported", ti.name);
  switch (t) {
#define ERANK_CASE(T) \
  case GGMLType::T:   \
    return dequantize_as<GGMLType::T>;
    ERANK_CASE(F32)
    ERANK_CASE(F16)
    ERANK_CASE(BF16)
    ERANK_CASE(Q4_0)
    ERANK_CASE(Q4_1)
    ERANK_CASE(Q5_0)
    ERANK_CASE(Q5_1)
    ERANK_CASE(Q8_0)
    ERANK_CASE(Q2_K)
    ERANK_CASE(Q3_K)
    ERANK_CASE(Q4_K)
    ERANK_CASE(Q5_K)
    ERANK_CASE(Q6_K)
#undef ERANK_CASE
    default:
      fail("dequantization of {} tensors is not supported", ti.name);
  }
}

}  // namespace erank
