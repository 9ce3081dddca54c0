// Python's re.sub for the `regex_replace` filter lm-eval adds to its Jinja environment (task
// prompts use it). Patterns go to PCRE2 in UTF mode, whose syntax is Python's for what task files
// use; the replacement follows Python: \1..\99, \g<n>, \g<0>, \n \t \\ escapes.
#pragma once
#include <string>

namespace erank::tmpl {

// re.sub(pattern, repl, s, count): count 0 = all. Throws tmpl::Fault on a bad pattern.
std::string py_re_sub(const std::string& pattern, const std::string& repl, const std::string& s,
                      int64_t count);

}  // namespace erank::tmpl
