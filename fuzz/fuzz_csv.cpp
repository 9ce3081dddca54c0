// libFuzzer target: the CSV reader (RFC 4180 quoting, header lookup) on arbitrary bytes.
// Malformed input must end in erank::Error, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    erank::RecordReader r(bytes, erank::Format::csv, "text", "fuzz");
    for (int64_t i = 0; i < r.size(); ++i) (void)r.text(i);
  } catch (const erank::Error&) {
  }
  return 0;
}
