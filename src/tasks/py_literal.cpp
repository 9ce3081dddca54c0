#include "tasks/py_literal.h"

#include <utf8proc.h>

#include <string>

#include "core/error.h"

namespace erank {
namespace {

struct Parser {
  std::string_view s;
  std::string_view what;
  size_t i = 0;

  [[noreturn]] void bad(const char* why) const {
    fail("{}: not a Python literal ({} at offset {}): {}", what, why, i,
         std::string(s.substr(0, 200)));
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  static void put_utf8(std::string& out, uint32_t cp) {
    uint8_t buf[4];
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  }
  uint32_t hex(size_t n) {
    if (i + n > s.size()) bad("short escape");
    uint32_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s[i++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        bad("bad hex escape");
    }
    return v;
  }
  std::string str() {
    const char q = s[i++];
    std::string out;
    while (true) {
      if (i >= s.size()) bad("unterminated string");
      const char c = s[i++];
      if (c == q) break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) bad("unterminated string");
      const char e = s[i++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '0':
          out += '\0';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
          put_utf8(out, hex(2));
          break;
        case 'u':
          put_utf8(out, hex(4));
          break;
        case 'U':
          put_utf8(out, hex(8));
          break;
        default:
          out += '\\';
          out += e;
      }
    }
    return out;
  }
  nlohmann::ordered_json seq(char close) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    ++i;
    ws();
    while (i < s.size() && s[i] != close) {
      a.push_back(value());
      ws();
      if (i < s.size() && s[i] == ',') {
        ++i;
        ws();
      } else if (i >= s.size() || s[i] != close) {
        bad("expected ',' or closing bracket");
      }
    }
    if (i >= s.size()) bad("unterminated list");
    ++i;
    return a;
  }
  nlohmann::ordered_json value() {
    ws();
    if (i >= s.size()) bad("unexpected end");
    const char c = s[i];
    if (c == '\'' || c == '"') {
      std::string v = str();
      ws();  // adjacent literals concatenate, as in Python
      while (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
        v += str();
        ws();
      }
      return v;
    }
    if (c == '[') return seq(']');
    if (c == '(') return seq(')');
    if (c == '{') {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      ++i;
      ws();
      while (i < s.size() && s[i] != '}') {
        auto k = value();
        ws();
        if (i >= s.size() || s[i] != ':') bad("expected ':'");
        ++i;
        o[k.is_string() ? k.get<std::string>() : k.dump()] = value();
        ws();
        if (i < s.size() && s[i] == ',') ++i, ws();
      }
      if (i >= s.size()) bad("unterminated dict");
      ++i;
      return o;
    }
    for (auto [word, v] : {std::pair<const char*, nlohmann::ordered_json>{"True", true},
                           {"False", false},
                           {"None", nullptr}}) {
      const std::string_view w = word;
      if (s.substr(i, w.size()) == w) {
        i += w.size();
        return v;
      }
    }
    const size_t start = i;
    if (s[i] == '-' || s[i] == '+') ++i;
    bool is_float = false;
    while (i < s.size() &&
           (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' ||
            s[i] == 'E' || s[i] == '_' ||
            ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
      if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') is_float = true;
      ++i;
    }
    std::string num(s.substr(start, i - start));
    std::erase(num, '_');
    if (num.empty() || num == "-" || num == "+") bad("unexpected character");
    try {
      if (is_float) return std::stod(num);
      return std::stoll(num);
    } catch (const std::exception&) {
      bad("bad number");
    }
  }
};

uint32_t first_cp(std::string_view s) {
  utf8proc_int32_t cp = 0;
  utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                   static_cast<utf8proc_ssize_t>(s.size()), &cp);
  return cp < 0 ? 0 : static_cast<uint32_t>(cp);
}

bool cp_isspace(uint32_t cp) {
  // Python's str.isspace: bidi class WS/B/S or category Zs.
  if (cp == 0x1c || cp == 0x1d || cp == 0x1e || cp == 0x1f || cp == 0x85) return true;
  if (cp >= 9 && cp <= 13) return true;
  const auto* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

}  // namespace

nlohmann::ordered_json py_literal_eval(std::string_view s, std::string_view what) {
  Parser p{s, what};
  auto v = p.value();
  p.ws();
  if (p.i != s.size()) p.bad("trailing text");
  return v;
}

bool py_isdigit(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return false;
    i += static_cast<size_t>(n);
    if (utf8proc_category(cp) != UTF8PROC_CATEGORY_ND && !(cp >= 0xB2 && cp <= 0xB3) && cp != 0xB9)
      return false;
  }
  return true;
}

bool py_starts_with_space(std::string_view s) {
  return !s.empty() && cp_isspace(first_cp(s));
}

bool py_ends_with_space(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return cp_isspace(first_cp(s.substr(i)));
}

int64_t py_len(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace erank
