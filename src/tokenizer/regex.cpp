#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "core/error.h"

namespace erank::tok {

namespace {
// One JIT stack and match-data block per thread: patterns like \s+(?!\S) on long runs of spaces
// need more than PCRE2's 32 KiB default stack.
struct ThreadState {
  pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_match_data* md = pcre2_match_data_create(16, nullptr);
  ThreadState() {
    if (stack) pcre2_jit_stack_assign(mctx, nullptr, stack);
  }
  ~ThreadState() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    if (stack) pcre2_jit_stack_free(stack);
  }
};
ThreadState& state() {
  thread_local ThreadState s;
  return s;
}
}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE off = 0;
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    fail("bad regex /{}/ at offset {}: {}", pattern, off, reinterpret_cast<const char*>(buf));
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const {
  auto* code = static_cast<pcre2_code*>(code_);
  ThreadState& ts = state();
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos,
                         PCRE2_NO_UTF_CHECK, ts.md, ts.mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof buf);
      fail("regex /{}/ failed: {}", pattern_, reinterpret_cast<const char*>(buf));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.md);
    size_t a = ov[0], b = ov[1];
    if (b > a) {
      f(a, b);
      pos = b;
    } else {  // empty match: step over one code point
      if (a >= s.size()) return;
      size_t n = 1;
      while (a + n < s.size() && (static_cast<uint8_t>(s[a + n]) & 0xC0) == 0x80) ++n;
      pos = a + n;
    }
  }
}

bool Regex::search(std::string_view s) const {
  ThreadState& ts = state();
  int rc = pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(s.data()),
                       s.size(), 0, PCRE2_NO_UTF_CHECK, ts.md, ts.mctx);
  return rc >= 0;
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/#&~ ").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace erank::tok
