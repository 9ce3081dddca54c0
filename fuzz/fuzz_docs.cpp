// libFuzzer target: the benchmark document readers (data/docs.h) on arbitrary bytes: JSONL, JSON
// (array or lines), CSV with pandas-style typing, and, when built with Arrow, Arrow IPC (stream and
// file format) and Parquet from a buffer. Malformed input must end in erank::Error, never a crash,
// hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/docs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using erank::DocFormat;
  for (DocFormat f :
       {DocFormat::jsonl, DocFormat::json, DocFormat::csv, DocFormat::arrow, DocFormat::parquet}) {
    if ((f == DocFormat::arrow || f == DocFormat::parquet) && !erank::arrow_available()) continue;
    try {
      const erank::DocTable t = erank::parse_docs(bytes, f, "fuzz");
      for (const auto& row : t.rows) (void)row.dump();
    } catch (const erank::Error&) {
    }
  }
  return 0;
}
