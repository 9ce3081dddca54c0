// Unicode helpers the tokenizer pipeline needs, matching what Rust's `char`/`str` methods do in
// Hugging Face tokenizers (is_whitespace, is_numeric, to_lowercase per char, NFC/NFKC).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace erank::tok {

// Invalid UTF-8 becomes U+FFFD, one per maximal invalid subpart (what Python's
// bytes.decode("utf-8", errors="replace") and Rust's from_utf8_lossy do). Valid input is copied.
std::string sanitize_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

// Decodes one code point of valid UTF-8 at s[i], advancing i.
inline uint32_t next_cp(std::string_view s, size_t& i) {
  auto b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) return ++i, b;
  int n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
  uint32_t cp = b & (0x3F >> n);
  for (int k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += n + 1;
  return cp;
}
inline size_t cp_len(uint8_t lead) {
  return lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}
void append_utf8(std::string& out, uint32_t cp);

bool is_whitespace(uint32_t cp);   // Rust char::is_whitespace (White_Space property)
bool is_numeric(uint32_t cp);      // Rust char::is_numeric (Nd, Nl, No)
bool is_alphabetic(uint32_t cp);   // letters, Nl and marks: close to Rust's Alphabetic
bool is_punctuation(uint32_t cp);  // ASCII punctuation or a P* category
bool is_other(uint32_t cp);        // C* categories (Cc, Cf, Cs, Co, Cn)
bool is_mark_nonspacing(uint32_t cp);
bool is_combining_mark(uint32_t cp);  // Mn, Mc, Me

enum class NormForm { NFC, NFKC, NFD, NFKD };
std::string normalize_unicode(std::string_view s, NormForm form);
std::string to_lowercase(std::string_view s);  // per char, like HF NormalizedString::lowercase

// GPT-2's byte <-> printable char table (bytes_to_unicode).
const std::array<uint32_t, 256>& byte_to_cp();
// The byte a byte-level char stands for, or -1.
int cp_to_byte(uint32_t cp);

}  // namespace erank::tok
