// Python's ast.literal_eval for what task templates render: lm-eval turns a rendered
// doc_to_choice ("['yes', 'no']") or a bracketed doc_to_target back into Python values with it.
// Supports str (single/double quotes, escapes), int, float, True/False/None, lists, tuples,
// dicts; anything else is an error.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>

namespace erank {

// Throws erank::Error "<what>: not a Python literal: ..." on malformed input.
nlohmann::ordered_json py_literal_eval(std::string_view s, std::string_view what);

// str.isdigit() for ASCII and the Unicode decimal digits Python accepts.
bool py_isdigit(std::string_view s);

// str.isspace() of the first / last code point.
bool py_starts_with_space(std::string_view s);
bool py_ends_with_space(std::string_view s);

// len(s) in code points.
int64_t py_len(std::string_view s);

}  // namespace erank
