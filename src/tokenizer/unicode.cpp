#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace erank::tok {

namespace {
// Length of the valid sequence at s[i], or 0 and the length of the maximal invalid subpart in
// `bad` (Unicode 3.9 "U+FFFD substitution of maximal subparts", Table 3-7 ranges).
size_t valid_seq(std::string_view s, size_t i, size_t& bad) {
  auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return 1;
  int n;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF)
    n = 1;
  else if (b0 == 0xE0)
    n = 2, lo = 0xA0;
  else if (b0 >= 0xE1 && b0 <= 0xEC)
    n = 2;
  else if (b0 == 0xED)
    n = 2, hi = 0x9F;
  else if (b0 >= 0xEE && b0 <= 0xEF)
    n = 2;
  else if (b0 == 0xF0)
    n = 3, lo = 0x90;
  else if (b0 >= 0xF1 && b0 <= 0xF3)
    n = 3;
  else if (b0 == 0xF4)
    n = 3, hi = 0x8F;
  else
    return bad = 1, 0;
  for (int k = 1; k <= n; ++k) {
    if (i + k >= s.size()) return bad = k, 0;
    auto b = static_cast<uint8_t>(s[i + k]);
    uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return bad = k, 0;
  }
  return n + 1;
}
}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0, bad = 0; i < s.size();) {
    size_t n = valid_seq(s, i, bad);
    if (!n) return false;
    i += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0, bad = 0; i < s.size();) {
    size_t n = valid_seq(s, i, bad);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += bad;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_whitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

static int cat(uint32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_numeric(uint32_t c) {
  int k = cat(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
bool is_alphabetic(uint32_t c) {
  int k = cat(c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || k == UTF8PROC_CATEGORY_NL ||
         k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC;
}
bool is_punctuation(uint32_t c) {
  if (c < 0x80)
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  int k = cat(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
bool is_other(uint32_t c) {
  int k = cat(c);
  return k == UTF8PROC_CATEGORY_CN || (k >= UTF8PROC_CATEGORY_CC && k <= UTF8PROC_CATEGORY_CO);
}
bool is_mark_nonspacing(uint32_t c) {
  return cat(c) == UTF8PROC_CATEGORY_MN;
}
bool is_combining_mark(uint32_t c) {
  int k = cat(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

std::string normalize_unicode(std::string_view s, NormForm form) {
  bool ascii = true;
  for (char ch : s) ascii &= static_cast<uint8_t>(ch) < 0x80;
  if (ascii) return std::string(s);  // every normal form is the identity on ASCII
  int opts = UTF8PROC_STABLE;
  switch (form) {
    case NormForm::NFC:
      opts |= UTF8PROC_COMPOSE;
      break;
    case NormForm::NFKC:
      opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormForm::NFD:
      opts |= UTF8PROC_DECOMPOSE;
      break;
    case NormForm::NFKD:
      opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                        static_cast<utf8proc_ssize_t>(s.size()), &out,
                        static_cast<utf8proc_option_t>(opts));
  if (n < 0) fail("unicode normalization failed: {}", utf8proc_errmsg(n));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> hold(out, &std::free);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

std::string to_lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t c = next_cp(s, i);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    } else if (c == 0x130) {  // the one code point whose full lowercase is two chars
      out.append("i\xCC\x87");
    } else {
      append_utf8(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

const std::array<uint32_t, 256>& byte_to_cp() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t[b] = printable ? b : 256 + n++;
    }
    return t;
  }();
  return table;
}

int cp_to_byte(uint32_t cp) {
  static const std::array<int16_t, 512> inv = [] {
    std::array<int16_t, 512> t{};
    t.fill(-1);
    for (int b = 0; b < 256; ++b) t[byte_to_cp()[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return cp < 512 ? inv[cp] : -1;
}

}  // namespace erank::tok
