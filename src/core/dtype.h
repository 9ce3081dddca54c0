// Element types erank reads from files. Quantised GGUF types live in io/quant.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace erank {

enum class DType { f32, f16, bf16, f64, i32, i64, u8, i8, i16, u16, u32, u64, boolean };

std::string_view dtype_name(DType t);
size_t dtype_size(DType t);

// IEEE half and bfloat16 to float (exact).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);  // round to nearest even, as torch does

}  // namespace erank
