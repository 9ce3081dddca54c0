// Python str operations on UTF-8 text: lengths, indices and slices count code points, whitespace
// is str.isspace()'s set, case mapping is Unicode's (simple mappings, via utf8proc).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace erank::tmpl::pystr {

std::vector<char32_t> decode(std::string_view s);  // invalid bytes map to U+FFFD
std::string encode(const std::vector<char32_t>& cps);
void append_utf8(std::string& out, char32_t c);
size_t length(std::string_view s);  // code points
bool is_space(char32_t c);          // str.isspace()

// Python slice semantics (negative indices, clamping, any non-zero step) on `n` elements: the
// selected indices. Fails (Fault) on a zero step.
std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, std::optional<int64_t> step);

// chars: nullopt = whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right);
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends = false);
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string title(std::string_view s);       // str.title()
bool is_upper_cased(char32_t c);
bool is_lower_cased(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
// Code-point index of `sub` in s at or after code point `start`, or -1 (str.find).
int64_t find(std::string_view s, std::string_view sub, bool reverse = false);
int64_t count(std::string_view s, std::string_view sub);

}  // namespace erank::tmpl::pystr
