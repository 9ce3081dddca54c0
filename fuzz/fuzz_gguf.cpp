// libFuzzer target: parse arbitrary bytes as GGUF and dequantise every tensor. Any erank::Error
// is an expected rejection; anything else (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    erank::GGUFFile f(std::span<const uint8_t>(data, size), "fuzz");
    for (const auto& t : f.tensors()) {
      const auto w = f.dequantize(t);
      if (static_cast<int64_t>(w.size()) != t.numel()) __builtin_trap();
    }
    for (const auto& [key, v] : f.metadata()) (void)f.has(key);
  } catch (const erank::Error&) {
  }
  return 0;
}
