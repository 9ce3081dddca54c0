#include "template/lexer.h"

#include <cstring>

#include "core/error.h"
#include "template/pystr.h"

namespace erank::tmpl {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

class Lexer {
 public:
  Lexer(std::string src, const std::string& origin, LexOptions opt)
      : s_(std::move(src)), origin_(origin), opt_(opt) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) root();
    out_.push_back({Tok::eof, "", line_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void error(const std::string& msg) const { fail("{}:{}: {}", origin_, line_, msg); }
  bool at(size_t p, std::string_view lit) const { return s_.compare(p, lit.size(), lit) == 0; }
  size_t skip_ws(size_t p) const {
    while (p < s_.size() && is_ws(s_[p])) ++p;
    return p;
  }
  void count_lines(size_t a, size_t b) {
    for (size_t k = a; k < b; ++k) line_ += s_[k] == '\n';
  }
  void emit(Tok k, std::string text, int line) { out_.push_back({k, std::move(text), line}); }

  // `{%-` strips all whitespace before the tag; otherwise lstrip_blocks removes the indentation of
  // a block or comment tag that starts its line (`{%+` keeps it).
  void strip_before(std::string& text, char sign, bool lstrip_applies) const {
    if (sign == '-') {
      text = pystr::strip(text, std::nullopt, false, true);
    } else if (sign != '+' && opt_.lstrip_blocks && lstrip_applies) {
      const size_t nl = text.rfind('\n');
      const size_t l = nl == std::string::npos ? 0 : nl + 1;
      if ((l > 0 || line_starting_) && l < text.size()) {
        bool ws = true;
        for (char32_t c : pystr::decode(std::string_view(text).substr(l)))
          ws = ws && pystr::is_space(c);
        if (ws) text.resize(l);
      }
    }
  }

  // Text up to the next tag; applies `-` / lstrip_blocks to the text before it.
  void root() {
    size_t k = pos_;
    char kind = 0;
    while ((k = s_.find('{', k)) != std::string::npos) {
      if (k + 1 < s_.size() && (s_[k + 1] == '%' || s_[k + 1] == '{' || s_[k + 1] == '#')) {
        kind = s_[k + 1];
        break;
      }
      ++k;
    }
    if (kind == 0) {
      emit(Tok::data, s_.substr(pos_), line_);
      count_lines(pos_, s_.size());
      pos_ = s_.size();
      return;
    }
    std::string text = s_.substr(pos_, k - pos_);
    const char sign = (k + 2 < s_.size() && (s_[k + 2] == '-' || s_[k + 2] == '+')) ? s_[k + 2] : 0;
    strip_before(text, sign, kind != '{');
    if (!text.empty()) emit(Tok::data, text, line_);
    count_lines(pos_, k);
    pos_ = k + 2 + (sign ? 1 : 0);
    line_starting_ = false;
    if (kind == '#') return comment();
    if (kind == '%' && raw_begin()) return;
    emit(kind == '%' ? Tok::block_begin : Tok::var_begin, "", line_);
    tag(kind == '%');
  }

  // `-}`-style end of a tag at p: returns the end position (after trimming) or npos.
  size_t tag_end(size_t p, bool block) const {
    const std::string end = block ? "%}" : "}}";
    if (block && at(p, "+%}")) return p + 3;
    if (at(p, "-" + end)) return skip_ws(p + 3);
    if (at(p, end)) {
      size_t q = p + 2;
      if (block && opt_.trim_blocks && q < s_.size() && s_[q] == '\n') ++q;
      return q;
    }
    return std::string::npos;
  }

  void comment() {
    for (size_t p = pos_; p < s_.size(); ++p) {
      size_t e = std::string::npos;
      if (at(p, "+#}")) {
        e = p + 3;
      } else if (at(p, "-#}")) {
        e = skip_ws(p + 3);
      } else if (at(p, "#}")) {
        e = p + 2;
        if (opt_.trim_blocks && e < s_.size() && s_[e] == '\n') ++e;
      }
      if (e != std::string::npos) {
        count_lines(pos_, e);
        line_starting_ = s_[e - 1] == '\n';
        pos_ = e;
        return;
      }
    }
    error("Missing end of comment tag");
  }

  // `{% raw %}...{% endraw %}`: the body is data, verbatim.
  bool raw_begin() {
    size_t p = skip_ws(pos_);
    if (!at(p, "raw") || (p + 3 < s_.size() && is_name_char(s_[p + 3]))) return false;
    p = skip_ws(p + 3);
    size_t e;
    if (at(p, "-%}")) {
      e = skip_ws(p + 3);
    } else if (at(p, "%}")) {
      e = p + 2;
    } else {
      return false;
    }
    count_lines(pos_, e);
    pos_ = e;
    line_starting_ = s_[e - 1] == '\n';
    for (size_t q = s_.find("{%", pos_); q != std::string::npos; q = s_.find("{%", q + 1)) {
      const char sign =
          (q + 2 < s_.size() && (s_[q + 2] == '-' || s_[q + 2] == '+')) ? s_[q + 2] : 0;
      size_t r = skip_ws(q + 2 + (sign ? 1 : 0));
      if (!at(r, "endraw")) continue;
      r = skip_ws(r + 6);
      const size_t end = tag_end(r, true);
      if (end == std::string::npos) continue;
      std::string text = s_.substr(pos_, q - pos_);
      strip_before(text, sign, true);
      if (!text.empty()) emit(Tok::data, text, line_);
      count_lines(pos_, end);
      line_starting_ = s_[end - 1] == '\n';
      pos_ = end;
      return true;
    }
    error("Missing end of raw directive");
  }

  void tag(bool block) {
    std::vector<char> balance;
    while (true) {
      if (pos_ >= s_.size()) return;  // the parser reports the unterminated tag
      if (balance.empty()) {
        const size_t e = tag_end(pos_, block);
        if (e != std::string::npos) {
          emit(block ? Tok::block_end : Tok::var_end, "", line_);
          count_lines(pos_, e);
          line_starting_ = s_[e - 1] == '\n';
          pos_ = e;
          return;
        }
      }
      const char c = s_[pos_];
      if (is_ws(c)) {
        const size_t e = skip_ws(pos_);
        count_lines(pos_, e);
        pos_ = e;
      } else if (is_digit(c)) {
        number();
      } else if (is_name_start(c)) {
        size_t e = pos_;
        while (e < s_.size() && is_name_char(s_[e])) ++e;
        emit(Tok::name, s_.substr(pos_, e - pos_), line_);
        pos_ = e;
      } else if (c == '\'' || c == '"') {
        string_literal(c);
      } else {
        op(balance);
      }
    }
  }

  size_t digits(size_t p) const {  // (\d+_)*\d+
    if (p >= s_.size() || !is_digit(s_[p])) return std::string::npos;
    while (true) {
      while (p < s_.size() && is_digit(s_[p])) ++p;
      if (p + 1 < s_.size() && s_[p] == '_' && is_digit(s_[p + 1])) {
        ++p;
        continue;
      }
      return p;
    }
  }

  void number() {
    const int line = line_;
    const bool after_dot = pos_ > 0 && s_[pos_ - 1] == '.';
    // float: digits ((. digits)? e[+-]? digits | . digits), never right after a '.' (`x.0.1`)
    size_t p = digits(pos_), end = std::string::npos;
    if (!after_dot) {
      size_t q = p;
      if (q < s_.size() && s_[q] == '.' && digits(q + 1) != std::string::npos) q = digits(q + 1);
      const bool frac = q != p;
      size_t e = std::string::npos;
      if (q < s_.size() && (s_[q] == 'e' || s_[q] == 'E')) {
        size_t r = q + 1;
        if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
        e = digits(r);
      }
      if (e != std::string::npos) {
        end = e;
      } else if (frac) {
        end = q;
      }
    }
    if (end != std::string::npos) {
      std::string t;
      for (size_t k = pos_; k < end; ++k)
        if (s_[k] != '_') t += s_[k];
      Token tok{Tok::real, s_.substr(pos_, end - pos_), line};
      tok.f = std::strtod(t.c_str(), nullptr);
      out_.push_back(std::move(tok));
      pos_ = end;
      return;
    }
    // integer: 0b/0o/0x, [1-9](_?\d)*, 0(_?0)*
    int base = 10;
    size_t q = pos_;
    std::string t;
    auto take = [&](auto ok) {
      while (q < s_.size()) {
        if (ok(s_[q])) {
          t += s_[q++];
        } else if (s_[q] == '_' && q + 1 < s_.size() && ok(s_[q + 1])) {
          ++q;
        } else {
          break;
        }
      }
    };
    const char n1 = pos_ + 1 < s_.size() ? static_cast<char>(s_[pos_ + 1] | 0x20) : 0;
    if (s_[pos_] == '0' && (n1 == 'b' || n1 == 'o' || n1 == 'x')) {
      base = n1 == 'b' ? 2 : (n1 == 'o' ? 8 : 16);
      q = pos_ + 2;
      if (q < s_.size() && s_[q] == '_') ++q;
      take([base](char c) {
        if (base == 2) return c == '0' || c == '1';
        if (base == 8) return c >= '0' && c <= '7';
        return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
      });
      if (t.empty()) {  // "0x" alone: the integer 0 followed by a name
        base = 10;
        q = pos_ + 1;
        t.push_back('0');
      }
    } else if (s_[pos_] == '0') {
      take([](char c) { return c == '0'; });
    } else {
      take([](char c) { return is_digit(c); });
    }
    Token tok{Tok::integer, s_.substr(pos_, q - pos_), line};
    errno = 0;
    const unsigned long long u = std::strtoull(t.c_str(), nullptr, base);
    if (errno == ERANGE || u > static_cast<unsigned long long>(INT64_MAX))
      error("integer literal too large: " + tok.text);
    tok.i = static_cast<int64_t>(u);
    out_.push_back(std::move(tok));
    pos_ = q;
  }

  void string_literal(char q) {
    const int line = line_;
    size_t p = pos_ + 1;
    std::string raw;
    while (true) {
      if (p >= s_.size()) error("unterminated string literal");
      if (s_[p] == '\\' && p + 1 < s_.size()) {
        raw += s_[p];
        raw += s_[p + 1];
        p += 2;
        continue;
      }
      if (s_[p] == q) break;
      raw += s_[p++];
    }
    count_lines(pos_, p + 1);
    pos_ = p + 1;
    out_.push_back({Tok::string, unescape(raw, line), line});
  }

  // Python's unicode-escape decoding, as jinja2 applies it to string literals.
  std::string unescape(const std::string& r, int line) const {
    std::string out;
    auto hex = [&](size_t p, int n) -> long {
      if (p + static_cast<size_t>(n) > r.size()) return -1;
      long v = 0;
      for (int k = 0; k < n; ++k) {
        const char c = r[p + static_cast<size_t>(k)];
        int d = is_digit(c) ? c - '0'
                            : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1);
        if (d < 0) return -1;
        v = v * 16 + d;
      }
      return v;
    };
    for (size_t p = 0; p < r.size(); ++p) {
      if (r[p] != '\\' || p + 1 >= r.size()) {
        out += r[p];
        continue;
      }
      const char c = r[++p];
      switch (c) {
        case '\n':
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
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = c == 'x' ? 2 : (c == 'u' ? 4 : 8);
          const long v = hex(p + 1, n);
          if (v < 0) fail("{}:{}: truncated \\{} escape in a string literal", origin_, line, c);
          if (v > 0x10FFFF)
            fail("{}:{}: illegal Unicode character in a string literal", origin_, line);
          pystr::append_utf8(out, (v >= 0xD800 && v <= 0xDFFF) ? 0xFFFD : static_cast<char32_t>(v));
          p += static_cast<size_t>(n);
          break;
        }
        case 'N':
          fail("{}:{}: \\N{{...}} escapes are not supported", origin_, line);
        default:
          if (c >= '0' && c <= '7') {
            int v = 0, n = 0;
            while (n < 3 && p < r.size() && r[p] >= '0' && r[p] <= '7')
              v = v * 8 + (r[p++] - '0'), ++n;
            --p;
            pystr::append_utf8(out, static_cast<char32_t>(v));
          } else {
            out += '\\';
            out += c;
          }
      }
    }
    return out;
  }

  void op(std::vector<char>& balance) {
    static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* t : two)
      if (at(pos_, t)) {
        emit(Tok::op, t, line_);
        pos_ += 2;
        return;
      }
    const char c = s_[pos_];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0)
      error(fmt::format("unexpected char '{}' at {}", c, pos_));
    if (c == '(' || c == '[' || c == '{')
      balance.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error(fmt::format("unexpected '{}'", c));
      if (balance.back() != c)
        error(fmt::format("unexpected '{}', expected '{}'", c, balance.back()));
      balance.pop_back();
    }
    emit(Tok::op, std::string(1, c), line_);
    ++pos_;
  }

  std::string s_;
  const std::string& origin_;
  LexOptions opt_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

// "\r\n" and "\r" become "\n"; one trailing newline is dropped unless keep_trailing_newline.
std::string normalise(std::string_view src, bool keep_trailing_newline) {
  std::string s;
  s.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      s += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      s += src[i];
    }
  }
  if (!keep_trailing_newline && !s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& origin, LexOptions opt) {
  return Lexer(normalise(source, opt.keep_trailing_newline), origin, opt).run();
}

}  // namespace erank::tmpl
