// libFuzzer target: the safetensors header parser on arbitrary bytes, then conversion of every
// float tensor it accepts. Errors must be erank::Error, never a crash or an over-read.
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto ts = erank::parse_safetensors({data, size}, "fuzz", nullptr);
    for (auto& [name, v] : ts) {
      if (v.dtype != erank::DType::f32 && v.dtype != erank::DType::f16 &&
          v.dtype != erank::DType::bf16 && v.dtype != erank::DType::f64)
        continue;
      std::vector<float> out(static_cast<size_t>(v.numel()));
      erank::to_f32(v, out.data());
    }
  } catch (const erank::Error&) {
  }
  return 0;
}
