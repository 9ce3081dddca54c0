// Column dequantizers: one block of 16 rows expanded with the rows in the vector lanes, for
// products of few rows (decoding), whose sums run down k with one lane per output column. Each
// row's bytes are gathered 4 at a time (lane r = 4 bytes of row r), so no transposition of
// floats is needed; the values are the same f32 operations, in the same order, as the row
// kernels of quant.cpp (a product rounded, then an add or subtract rounded): the same bits.
// 4-bit values become floats by a table lookup (vpermps reads the low 4 bits of each lane).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/cpu.h"
#include "core/dtype.h"
#include "io/quant.h"

namespace erank {

namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // GCC 12 warns that its intrinsics' undefined operands are uninitialised
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define ERANK_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,f16c")))

struct Rows {
  const uint8_t* src;
  __m512i offs;    // r * ld
  __mmask16 live;  // rows < n
};

ERANK_AVX512 inline Rows rows_of(const uint8_t* src, size_t ld, int n) {
  const __m512i r = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return {src, _mm512_mullo_epi32(r, _mm512_set1_epi32(int(ld))),
          __mmask16(n >= 16 ? 0xFFFF : (1u << n) - 1)};
}

// Lane r: the 4 bytes at src + r * ld + off (0 for rows past n).
ERANK_AVX512 inline __m512i gather4(const Rows& g, size_t off) {
  return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), g.live, g.offs, g.src + off, 1);
}

// The f16 in bits [shift, shift + 16) of each lane as f32, infinities and NaNs the scalar way
// (the conversion instruction would quiet a signalling NaN).
ERANK_AVX512 inline __m512 f16_lanes(__m512i v, int shift) {
  const __m512i h =
      _mm512_and_si512(_mm512_srli_epi32(v, unsigned(shift)), _mm512_set1_epi32(0xFFFF));
  const __m512i e = _mm512_set1_epi32(0x7C00);
  if (_mm512_cmpeq_epi32_mask(_mm512_and_si512(h, e), e)) {
    alignas(64) uint32_t hs[16];
    alignas(64) float out[16];
    _mm512_store_si512(hs, h);
    for (int i = 0; i < 16; ++i) out[i] = f16_to_f32(uint16_t(hs[i]));
    return _mm512_load_ps(out);
  }
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h));
}

// The low 4 bits of each lane of v >> s, as float(q + base) through a 16-entry table.
ERANK_AVX512 inline __m512 nibble(__m512i v, unsigned s, __m512 table) {
  return _mm512_permutexvar_ps(_mm512_srli_epi32(v, s), table);
}

ERANK_AVX512 inline __m512 table_from(float base) {
  return _mm512_add_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                       _mm512_set1_ps(base));
}

// Value j of a legacy block for the 16 rows: float(q + 16 bit4) for 5 bits (small integers, exact
// in either order), times d, plus m for the types with a min. (A function, not a lambda: clang
// compiles lambdas without their enclosing function's target.)
template <int kBits, bool kMin>
ERANK_AVX512 inline void legacy_put(int j, __m512 q, __m512 d, __m512 m, __m512i qh, float* dst,
                                    int64_t ldd) {
  if constexpr (kBits == 5)
    q = _mm512_mask_add_ps(q, _mm512_test_epi32_mask(qh, _mm512_set1_epi32(int(1u << j))), q,
                           _mm512_set1_ps(16.0f));
  __m512 y = _mm512_mul_ps(d, q);
  if constexpr (kMin) y = _mm512_add_ps(y, m);
  _mm512_storeu_ps(dst + j * ldd, y);
}

// Legacy blocks (32 values): element j in the low nibble of qs[j], j + 16 in its high nibble, bit
// j of qh (5-bit) as bit 4. Q4_0/Q5_0: d * float(q - offset); Q4_1/Q5_1: d * float(q) + m.
template <int kBits, bool kMin>
ERANK_AVX512 void legacy_columns(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  constexpr size_t kQs = 2 + (kMin ? 2 : 0) + (kBits == 5 ? 4 : 0);
  const Rows g = rows_of(src, ld, n);
  const __m512i hdr = gather4(g, 0);
  const __m512 d = f16_lanes(hdr, 0);
  const __m512 m = kMin ? f16_lanes(hdr, 16) : _mm512_setzero_ps();
  const __m512i qh = kBits == 5 ? gather4(g, kQs - 4) : _mm512_setzero_si512();
  const __m512 table = table_from(kMin ? 0.0f : kBits == 5 ? -16.0f : -8.0f);

  __m512i ws[4];  // all gathers first, so that their latencies overlap
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) ws[c] = gather4(g, kQs + 4 * size_t(c));
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512i w = ws[c];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      legacy_put<kBits, kMin>(4 * c + t, nibble(w, unsigned(8 * t), table), d, m, qh, dst, ldd);
      legacy_put<kBits, kMin>(16 + 4 * c + t, nibble(w, unsigned(8 * t + 4), table), d, m, qh, dst,
                              ldd);
    }
  }
}

ERANK_AVX512 void q8_0_columns(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  const Rows g = rows_of(src, ld, n);
  const __m512 d = f16_lanes(gather4(g, 0), 0);
  __m512i ws[8];
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) ws[c] = gather4(g, 2 + 4 * size_t(c));
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    const __m512i w = ws[c];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const __m512i q = _mm512_srai_epi32(_mm512_slli_epi32(w, unsigned(24 - 8 * t)), 24);
      _mm512_storeu_ps(dst + (4 * c + t) * ldd, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
    }
  }
}

// Byte b (0..3) of each lane.
ERANK_AVX512 inline __m512i byte_of(__m512i v, int b) {
  return _mm512_and_si512(_mm512_srli_epi32(v, unsigned(8 * b)), _mm512_set1_epi32(0xFF));
}

// Q4_K (256 values): d dmin scales[12] qs[128]; group g of 32 values has scale d * sc[g] and min
// dmin * mn[g] (6-bit pairs packed as quant.cpp's k_scale_min reads them); value l of group g is
// the nibble (qs[32 (g / 2) + l] >> 4 (g % 2)) & 15, and y = (dg * q) - mg.
ERANK_AVX512 void q4_k_columns(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  const Rows g = rows_of(src, ld, n);
  const __m512i hdr = gather4(g, 0);
  const __m512 d = f16_lanes(hdr, 0), dmin = f16_lanes(hdr, 16);
  const __m512i s0 = gather4(g, 4), s1 = gather4(g, 8), s2 = gather4(g, 12);
  const __m512i m6 = _mm512_set1_epi32(0x3F), m4 = _mm512_set1_epi32(0x0F),
                m30 = _mm512_set1_epi32(0x30);
  __m512 dg[8], mg[8];
  for (int j = 0; j < 4; ++j) {
    const __m512i a = byte_of(s0, j), b = byte_of(s1, j), c = byte_of(s2, j);
    const __m512i sc_lo = _mm512_and_si512(a, m6), mn_lo = _mm512_and_si512(b, m6);
    const __m512i sc_hi =
        _mm512_or_si512(_mm512_and_si512(c, m4), _mm512_and_si512(_mm512_srli_epi32(a, 2), m30));
    const __m512i mn_hi =
        _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_and_si512(_mm512_srli_epi32(b, 2), m30));
    dg[j] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc_lo));
    mg[j] = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mn_lo));
    dg[4 + j] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc_hi));
    mg[4 + j] = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mn_hi));
  }
  const __m512 table = table_from(0.0f);
  for (int c = 0; c < 4; ++c)
#pragma GCC unroll 8
    for (int u = 0; u < 8; ++u) {
      const __m512i w = gather4(g, 16 + 32 * size_t(c) + 4 * size_t(u));
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t) {
        const int l = 4 * u + t;
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          const int grp = 2 * c + h;
          const __m512 q = nibble(w, unsigned(8 * t + 4 * h), table);
          _mm512_storeu_ps(dst + (grp * 32 + l) * ldd,
                           _mm512_sub_ps(_mm512_mul_ps(dg[grp], q), mg[grp]));
        }
      }
    }
}

// Q6_K (256 values): ql[128] qh[64] scales[16] (int8) d. Element 128 c + 32 j + l: low 4 bits from
// ql[64 c + 32 (j % 2) + l] at shift 4 (j / 2), high 2 bits from qh[32 c + l] at shift 2 j, scale
// group 8 c + 2 j + l / 16; y = (d * sc) * float(q - 32).
ERANK_AVX512 void q6_k_columns(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  const Rows g = rows_of(src, ld, n);
  const __m512 d = f16_lanes(gather4(g, 206), 16);  // the 4 bytes ending at the block's end
  __m512 dg[16];
  for (int i = 0; i < 4; ++i) {
    const __m512i s = gather4(g, 192 + 4 * size_t(i));
    for (int b = 0; b < 4; ++b) {
      const __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(s, unsigned(24 - 8 * b)), 24);
      dg[4 * i + b] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc));
    }
  }
  const __m512i m4 = _mm512_set1_epi32(0x0F), m30 = _mm512_set1_epi32(0x30),
                off = _mm512_set1_epi32(32);
  for (int c = 0; c < 2; ++c)
    for (int u = 0; u < 8; ++u) {
      const __m512i qh = gather4(g, 128 + 32 * size_t(c) + 4 * size_t(u));
#pragma GCC unroll 2
      for (int jj = 0; jj < 2; ++jj) {
        const __m512i ql = gather4(g, 64 * size_t(c) + 32 * size_t(jj) + 4 * size_t(u));
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          const int l = 4 * u + t;
#pragma GCC unroll 2
          for (int jh = 0; jh < 2; ++jh) {
            const int j = jj + 2 * jh;
            const __m512i lo =
                _mm512_and_si512(_mm512_srli_epi32(ql, unsigned(8 * t + 4 * jh)), m4);
            // bits 2 j, 2 j + 1 of qh byte t, moved to bits 4, 5
            const int s = 8 * t + 2 * j - 4;
            const __m512i hs =
                s >= 0 ? _mm512_srli_epi32(qh, unsigned(s)) : _mm512_slli_epi32(qh, unsigned(-s));
            const __m512i q = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_and_si512(hs, m30)), off);
            _mm512_storeu_ps(dst + (128 * c + 32 * j + l) * ldd,
                             _mm512_mul_ps(dg[8 * c + 2 * j + l / 16], _mm512_cvtepi32_ps(q)));
          }
        }
      }
    }
}

// AVX2 (no AVX-512): the same contract, 16 rows in two halves of 8 lanes. Gathers are slow on
// the CPUs that lack AVX-512, so each half loads 16 bytes of each of its 8 rows and transposes
// them as 32-bit words (U[c] lane r = bytes 4c .. 4c + 3 of row r), which costs 8 shuffles. The
// values are the row kernels' f32 operations in the same order again.
#define ERANK_AVX2 __attribute__((target("avx2,fma,f16c")))

// The 16 bytes at src + r * ld + off for rows r < n (zeros for the others), as 4 x 8 words.
ERANK_AVX2 inline void words16(const uint8_t* src, size_t ld, int n, size_t off, __m256i U[4]) {
  __m128i x[8];
  if (n == 8) {  // the common case, without a branch per row
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
      x[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + size_t(r) * ld + off));
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
      x[r] = r < n ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + size_t(r) * ld + off))
                   : _mm_setzero_si128();
  }
  __m256i y[4];  // y[i]: row i in the low 128 bits, row i + 4 in the high
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
    y[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(x[i]), x[i + 4], 1);
  const __m256i t0 = _mm256_unpacklo_epi32(y[0], y[1]), t1 = _mm256_unpackhi_epi32(y[0], y[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(y[2], y[3]), t3 = _mm256_unpackhi_epi32(y[2], y[3]);
  U[0] = _mm256_unpacklo_epi64(t0, t2);
  U[1] = _mm256_unpackhi_epi64(t0, t2);
  U[2] = _mm256_unpacklo_epi64(t1, t3);
  U[3] = _mm256_unpackhi_epi64(t1, t3);
}

ERANK_AVX2 inline int load32(const uint8_t* p) {
  int v;
  std::memcpy(&v, p, 4);
  return v;
}

// The 4 bytes at src + r * ld + off in lane r (0 past n), inserted lane by lane: 8 scalar
// stores read back as one vector stall on store forwarding.
ERANK_AVX2 inline __m256i word4(const uint8_t* src, size_t ld, int n, size_t off) {
  if (n == 8) {
    const uint8_t* p = src + off;
    return _mm256_setr_epi32(load32(p), load32(p + ld), load32(p + 2 * ld), load32(p + 3 * ld),
                             load32(p + 4 * ld), load32(p + 5 * ld), load32(p + 6 * ld),
                             load32(p + 7 * ld));
  }
  int w[8] = {};
  for (int r = 0; r < n; ++r) w[r] = load32(src + size_t(r) * ld + off);
  return _mm256_setr_epi32(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
}

// The f16 in bits [shift, shift + 16) of each lane as f32 (infinities and NaNs the scalar way).
ERANK_AVX2 inline __m256 f16_lanes8(__m256i v, int shift) {
  const __m256i h = _mm256_and_si256(_mm256_srli_epi32(v, shift), _mm256_set1_epi32(0xFFFF));
  const __m256i e = _mm256_set1_epi32(0x7C00);
  if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_and_si256(h, e), e))) {
    alignas(32) uint32_t hs[8];
    alignas(32) float out[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(hs), h);
    for (int i = 0; i < 8; ++i) out[i] = f16_to_f32(uint16_t(hs[i]));
    return _mm256_load_ps(out);
  }
  return _mm256_cvtph_ps(
      _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
}

ERANK_AVX2 inline __m256i bits8(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srli_epi32(v, shift), _mm256_set1_epi32(mask));
}

ERANK_AVX2 inline void zero_half(float* out, int64_t values, int64_t ldd) {
  for (int64_t j = 0; j < values; ++j) _mm256_storeu_ps(out + j * ldd, _mm256_setzero_ps());
}

template <int kBits, bool kMin>
ERANK_AVX2 void legacy_columns_avx2(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  constexpr size_t kQs = 2 + (kMin ? 2 : 0) + (kBits == 5 ? 4 : 0);
  const __m256i off = _mm256_set1_epi32(kBits == 5 ? 16 : 8), one = _mm256_set1_epi32(1);
  for (int half = 0; half < 2; ++half) {
    const int nh = std::clamp(n - 8 * half, 0, 8);
    const uint8_t* s = src + size_t(8 * half) * ld;
    float* out = dst + 8 * half;
    if (nh == 0) {
      zero_half(out, 32, ldd);
      continue;
    }
    const __m256i hdr = word4(s, ld, nh, 0);
    const __m256 d = f16_lanes8(hdr, 0);
    const __m256 m = kMin ? f16_lanes8(hdr, 16) : _mm256_setzero_ps();
    const __m256i qh = kBits == 5 ? word4(s, ld, nh, kQs - 4) : _mm256_setzero_si256();
    __m256i U[4];
    words16(s, ld, nh, kQs, U);
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t)
#pragma GCC unroll 2
        for (int hi = 0; hi < 2; ++hi) {
          const int j = 16 * hi + 4 * c + t;  // value j: byte 4 c + t, low or high nibble
          __m256i q = bits8(U[c], 8 * t + 4 * hi, 0x0F);
          if constexpr (kBits == 5)
            q = _mm256_or_si256(
                q, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(qh, j), one), 4));
          if constexpr (!kMin) q = _mm256_sub_epi32(q, off);
          __m256 y = _mm256_mul_ps(d, _mm256_cvtepi32_ps(q));
          if constexpr (kMin) y = _mm256_add_ps(y, m);
          _mm256_storeu_ps(out + j * ldd, y);
        }
  }
}

ERANK_AVX2 void q8_0_columns_avx2(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  for (int half = 0; half < 2; ++half) {
    const int nh = std::clamp(n - 8 * half, 0, 8);
    const uint8_t* s = src + size_t(8 * half) * ld;
    float* out = dst + 8 * half;
    if (nh == 0) {
      zero_half(out, 32, ldd);
      continue;
    }
    const __m256 d = f16_lanes8(word4(s, ld, nh, 0), 0);
    for (int p = 0; p < 2; ++p) {
      __m256i U[4];
      words16(s, ld, nh, 2 + 16 * size_t(p), U);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c)
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          const __m256i q = _mm256_srai_epi32(_mm256_slli_epi32(U[c], 24 - 8 * t), 24);
          _mm256_storeu_ps(out + (16 * p + 4 * c + t) * ldd,
                           _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
  }
}

// Q4_K, laid out as in q4_k_columns; the 16 header bytes (d, dmin, 12 scale bytes) transposed
// like the values.
ERANK_AVX2 void q4_k_columns_avx2(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  for (int half = 0; half < 2; ++half) {
    const int nh = std::clamp(n - 8 * half, 0, 8);
    const uint8_t* s = src + size_t(8 * half) * ld;
    float* out = dst + 8 * half;
    if (nh == 0) {
      zero_half(out, 256, ldd);
      continue;
    }
    __m256i H[4];
    words16(s, ld, nh, 0, H);
    const __m256 d = f16_lanes8(H[0], 0), dmin = f16_lanes8(H[0], 16);
    __m256 dg[8], mg[8];
    for (int j = 0; j < 4; ++j) {
      const __m256i a = bits8(H[1], 8 * j, 0xFF), b = bits8(H[2], 8 * j, 0xFF),
                    c = bits8(H[3], 8 * j, 0xFF);
      const __m256i sc_lo = bits8(a, 0, 0x3F), mn_lo = bits8(b, 0, 0x3F);
      const __m256i sc_hi = _mm256_or_si256(bits8(c, 0, 0x0F), bits8(a, 2, 0x30));
      const __m256i mn_hi = _mm256_or_si256(_mm256_srli_epi32(c, 4), bits8(b, 2, 0x30));
      dg[j] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sc_lo));
      mg[j] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(mn_lo));
      dg[4 + j] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(sc_hi));
      mg[4 + j] = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(mn_hi));
    }
    for (int c = 0; c < 4; ++c)
      for (int p = 0; p < 2; ++p) {
        __m256i U[4];
        words16(s, ld, nh, 16 + 32 * size_t(c) + 16 * size_t(p), U);
#pragma GCC unroll 4
        for (int u = 0; u < 4; ++u)
#pragma GCC unroll 4
          for (int t = 0; t < 4; ++t)
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
              const int grp = 2 * c + h, l = 16 * p + 4 * u + t;
              const __m256 q = _mm256_cvtepi32_ps(bits8(U[u], 8 * t + 4 * h, 0x0F));
              _mm256_storeu_ps(out + (grp * 32 + l) * ldd,
                               _mm256_sub_ps(_mm256_mul_ps(dg[grp], q), mg[grp]));
            }
      }
  }
}

// Q6_K, laid out as in q6_k_columns.
ERANK_AVX2 void q6_k_columns_avx2(const uint8_t* src, size_t ld, int n, float* dst, int64_t ldd) {
  for (int half = 0; half < 2; ++half) {
    const int nh = std::clamp(n - 8 * half, 0, 8);
    const uint8_t* s = src + size_t(8 * half) * ld;
    float* out = dst + 8 * half;
    if (nh == 0) {
      zero_half(out, 256, ldd);
      continue;
    }
    const __m256 d = f16_lanes8(word4(s, ld, nh, 206), 16);  // the 4 bytes ending the block
    alignas(32) float dg[16][8];
    __m256i S[4];
    words16(s, ld, nh, 192, S);
    for (int i = 0; i < 4; ++i)
      for (int b = 0; b < 4; ++b) {
        const __m256i sc = _mm256_srai_epi32(_mm256_slli_epi32(S[i], 24 - 8 * b), 24);
        _mm256_store_ps(dg[4 * i + b], _mm256_mul_ps(d, _mm256_cvtepi32_ps(sc)));
      }
    const __m256i off = _mm256_set1_epi32(32);
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 2; ++p) {
        __m256i QL[2][4], QH[4];
        words16(s, ld, nh, 64 * size_t(c) + 16 * size_t(p), QL[0]);
        words16(s, ld, nh, 64 * size_t(c) + 32 + 16 * size_t(p), QL[1]);
        words16(s, ld, nh, 128 + 32 * size_t(c) + 16 * size_t(p), QH);
        for (int u = 0; u < 4; ++u)
#pragma GCC unroll 4
          for (int t = 0; t < 4; ++t)
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
              const int l = 16 * p + 4 * u + t;
              const __m256i lo = bits8(QL[j % 2][u], 8 * t + 4 * (j / 2), 0x0F);
              const int sh = 8 * t + 2 * j - 4;  // bits 2 j, 2 j + 1 of qh byte t to bits 4, 5
              const __m256i hs =
                  sh >= 0 ? _mm256_srli_epi32(QH[u], sh) : _mm256_slli_epi32(QH[u], -sh);
              const __m256i q = _mm256_sub_epi32(
                  _mm256_or_si256(lo, _mm256_and_si256(hs, _mm256_set1_epi32(0x30))), off);
              _mm256_storeu_ps(
                  out + (128 * c + 32 * j + l) * ldd,
                  _mm256_mul_ps(_mm256_load_ps(dg[8 * c + 2 * j + l / 16]), _mm256_cvtepi32_ps(q)));
            }
      }
  }
}

#undef ERANK_AVX2

#pragma GCC diagnostic pop

// The column dequantizers of one instruction set, by type.
struct ColumnKernels {
  ColumnDequantizer q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q6_k;
};
constexpr ColumnKernels kAvx512{legacy_columns<4, false>,
                                legacy_columns<4, true>,
                                legacy_columns<5, false>,
                                legacy_columns<5, true>,
                                q8_0_columns,
                                q4_k_columns,
                                q6_k_columns};
constexpr ColumnKernels kAvx2{legacy_columns_avx2<4, false>,
                              legacy_columns_avx2<4, true>,
                              legacy_columns_avx2<5, false>,
                              legacy_columns_avx2<5, true>,
                              q8_0_columns_avx2,
                              q4_k_columns_avx2,
                              q6_k_columns_avx2};

}  // namespace

ColumnDequantizer column_dequantizer(GGMLType t) {
  const Simd simd = simd_level();
  if (simd == Simd::none) return nullptr;
  const ColumnKernels& k = simd == Simd::avx512 ? kAvx512 : kAvx2;
  switch (t) {
    case GGMLType::Q4_0:
      return k.q4_0;
    case GGMLType::Q4_1:
      return k.q4_1;
    case GGMLType::Q5_0:
      return k.q5_0;
    case GGMLType::Q5_1:
      return k.q5_1;
    case GGMLType::Q8_0:
      return k.q8_0;
    case GGMLType::Q4_K:
      return k.q4_k;
    case GGMLType::Q6_K:
      return k.q6_k;
    default:
      return nullptr;
  }
}

}  // namespace erank
