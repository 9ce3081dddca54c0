// Fuzzes the tokenizer.json parser and the encode/decode pipeline it builds. Input layout:
// <tokenizer.json text> NUL <text to encode>. A malformed file must give erank::Error, never a
// crash; a well-formed one must encode and decode any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t nul = all.find('\0');
  std::string_view json = all.substr(0, nul);
  std::string_view text = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
  try {
    auto tok = erank::Tokenizer::from_json_text(json, "", "fuzz");
    auto ids = tok->encode(text);
    (void)tok->decode(ids);
    (void)tok->decode(ids, true);
  } catch (const erank::Error&) {
  }
  return 0;
}
