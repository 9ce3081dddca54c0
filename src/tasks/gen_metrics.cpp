#include "tasks/gen_metrics.h"

#include <utf8proc.h>

#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "tasks/py_regex.h"
#include "template/pystr.h"

namespace erank::grading {
namespace {

namespace pystr = tmpl::pystr;

// The code points whose str.upper() is several (SpecialCasing.txt, Unicode 14 as Python 3.11);
// utf8proc knows only the one-to-one mappings.
const std::map<char32_t, std::u32string_view>& upper_special() {
  static const std::map<char32_t, std::u32string_view> m = {
      {0xDF, U"\u0053\u0053"},         {0x149, U"\u02BC\u004E"},
      {0x1F0, U"\u004A\u030C"},        {0x390, U"\u0399\u0308\u0301"},
      {0x3B0, U"\u03A5\u0308\u0301"},  {0x587, U"\u0535\u0552"},
      {0x1E96, U"\u0048\u0331"},       {0x1E97, U"\u0054\u0308"},
      {0x1E98, U"\u0057\u030A"},       {0x1E99, U"\u0059\u030A"},
      {0x1E9A, U"\u0041\u02BE"},       {0x1F50, U"\u03A5\u0313"},
      {0x1F52, U"\u03A5\u0313\u0300"}, {0x1F54, U"\u03A5\u0313\u0301"},
      {0x1F56, U"\u03A5\u0313\u0342"}, {0x1F80, U"\u1F08\u0399"},
      {0x1F81, U"\u1F09\u0399"},       {0x1F82, U"\u1F0A\u0399"},
      {0x1F83, U"\u1F0B\u0399"},       {0x1F84, U"\u1F0C\u0399"},
      {0x1F85, U"\u1F0D\u0399"},       {0x1F86, U"\u1F0E\u0399"},
      {0x1F87, U"\u1F0F\u0399"},       {0x1F88, U"\u1F08\u0399"},
      {0x1F89, U"\u1F09\u0399"},       {0x1F8A, U"\u1F0A\u0399"},
      {0x1F8B, U"\u1F0B\u0399"},       {0x1F8C, U"\u1F0C\u0399"},
      {0x1F8D, U"\u1F0D\u0399"},       {0x1F8E, U"\u1F0E\u0399"},
      {0x1F8F, U"\u1F0F\u0399"},       {0x1F90, U"\u1F28\u0399"},
      {0x1F91, U"\u1F29\u0399"},       {0x1F92, U"\u1F2A\u0399"},
      {0x1F93, U"\u1F2B\u0399"},       {0x1F94, U"\u1F2C\u0399"},
      {0x1F95, U"\u1F2D\u0399"},       {0x1F96, U"\u1F2E\u0399"},
      {0x1F97, U"\u1F2F\u0399"},       {0x1F98, U"\u1F28\u0399"},
      {0x1F99, U"\u1F29\u0399"},       {0x1F9A, U"\u1F2A\u0399"},
      {0x1F9B, U"\u1F2B\u0399"},       {0x1F9C, U"\u1F2C\u0399"},
      {0x1F9D, U"\u1F2D\u0399"},       {0x1F9E, U"\u1F2E\u0399"},
      {0x1F9F, U"\u1F2F\u0399"},       {0x1FA0, U"\u1F68\u0399"},
      {0x1FA1, U"\u1F69\u0399"},       {0x1FA2, U"\u1F6A\u0399"},
      {0x1FA3, U"\u1F6B\u0399"},       {0x1FA4, U"\u1F6C\u0399"},
      {0x1FA5, U"\u1F6D\u0399"},       {0x1FA6, U"\u1F6E\u0399"},
      {0x1FA7, U"\u1F6F\u0399"},       {0x1FA8, U"\u1F68\u0399"},
      {0x1FA9, U"\u1F69\u0399"},       {0x1FAA, U"\u1F6A\u0399"},
      {0x1FAB, U"\u1F6B\u0399"},       {0x1FAC, U"\u1F6C\u0399"},
      {0x1FAD, U"\u1F6D\u0399"},       {0x1FAE, U"\u1F6E\u0399"},
      {0x1FAF, U"\u1F6F\u0399"},       {0x1FB2, U"\u1FBA\u0399"},
      {0x1FB3, U"\u0391\u0399"},       {0x1FB4, U"\u0386\u0399"},
      {0x1FB6, U"\u0391\u0342"},       {0x1FB7, U"\u0391\u0342\u0399"},
      {0x1FBC, U"\u0391\u0399"},       {0x1FC2, U"\u1FCA\u0399"},
      {0x1FC3, U"\u0397\u0399"},       {0x1FC4, U"\u0389\u0399"},
      {0x1FC6, U"\u0397\u0342"},       {0x1FC7, U"\u0397\u0342\u0399"},
      {0x1FCC, U"\u0397\u0399"},       {0x1FD2, U"\u0399\u0308\u0300"},
      {0x1FD3, U"\u0399\u0308\u0301"}, {0x1FD6, U"\u0399\u0342"},
      {0x1FD7, U"\u0399\u0308\u0342"}, {0x1FE2, U"\u03A5\u0308\u0300"},
      {0x1FE3, U"\u03A5\u0308\u0301"}, {0x1FE4, U"\u03A1\u0313"},
      {0x1FE6, U"\u03A5\u0342"},       {0x1FE7, U"\u03A5\u0308\u0342"},
      {0x1FF2, U"\u1FFA\u0399"},       {0x1FF3, U"\u03A9\u0399"},
      {0x1FF4, U"\u038F\u0399"},       {0x1FF6, U"\u03A9\u0342"},
      {0x1FF7, U"\u03A9\u0342\u0399"}, {0x1FFC, U"\u03A9\u0399"},
      {0xFB00, U"\u0046\u0046"},       {0xFB01, U"\u0046\u0049"},
      {0xFB02, U"\u0046\u004C"},       {0xFB03, U"\u0046\u0046\u0049"},
      {0xFB04, U"\u0046\u0046\u004C"}, {0xFB05, U"\u0053\u0054"},
      {0xFB06, U"\u0053\u0054"},       {0xFB13, U"\u0544\u0546"},
      {0xFB14, U"\u0544\u0535"},       {0xFB15, U"\u0544\u053B"},
      {0xFB16, U"\u054E\u0546"},       {0xFB17, U"\u0544\u053D"},
  };
  return m;
}

bool cased(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT ||
         utf8proc_tolower(static_cast<utf8proc_int32_t>(c)) != static_cast<utf8proc_int32_t>(c) ||
         utf8proc_toupper(static_cast<utf8proc_int32_t>(c)) != static_cast<utf8proc_int32_t>(c);
}

bool case_ignorable(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
         cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
         cat == UTF8PROC_CATEGORY_SK || c == U'\'' || c == U'.' || c == U':' || c == 0xB7 ||
         c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0xFE52 || c == 0xFF07 || c == 0xFF0E;
}

}  // namespace

std::string py_upper(std::string_view s) {
  std::vector<char32_t> out;
  for (char32_t c : pystr::decode(s)) {
    auto it = upper_special().find(c);
    if (it != upper_special().end())
      out.insert(out.end(), it->second.begin(), it->second.end());
    else
      out.push_back(static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))));
  }
  return pystr::encode(out);
}

std::string py_lower(std::string_view s) {
  const auto in = pystr::decode(s);
  std::vector<char32_t> out;
  for (size_t i = 0; i < in.size(); ++i) {
    const char32_t c = in[i];
    if (c == 0x130) {  // İ -> i + combining dot above
      out.push_back(U'i');
      out.push_back(0x307);
    } else if (c == 0x3A3) {  // Σ: final sigma after a cased letter, before none
      size_t j = i;
      while (j > 0 && case_ignorable(in[j - 1])) --j;
      bool final = j > 0 && cased(in[j - 1]);
      if (final) {
        size_t k = i + 1;
        while (k < in.size() && case_ignorable(in[k])) ++k;
        final = k == in.size() || !cased(in[k]);
      }
      out.push_back(final ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return pystr::encode(out);
}

ExactMatchOptions ExactMatchOptions::from_json(const nlohmann::ordered_json& m) {
  ExactMatchOptions o;
  auto flag = [&](const char* k, bool& out) {
    if (!m.contains(k) || m[k].is_null()) return;
    if (!m[k].is_boolean()) fail("exact_match: '{}' must be true or false", k);
    out = m[k].get<bool>();
  };
  flag("ignore_case", o.ignore_case);
  flag("ignore_punctuation", o.ignore_punctuation);
  flag("ignore_numbers", o.ignore_numbers);
  if (m.contains("regexes_to_ignore") && !m["regexes_to_ignore"].is_null()) {
    if (!m["regexes_to_ignore"].is_array()) fail("exact_match: regexes_to_ignore must be a list");
    for (auto& r : m["regexes_to_ignore"]) {
      if (!r.is_string()) fail("exact_match: regexes_to_ignore must be strings");
      py_regex_cached(r.get<std::string>());  // a bad pattern fails before generation
      o.regexes_to_ignore.push_back(r.get<std::string>());
    }
  }
  return o;
}

std::string exact_match_normalize(std::string_view s, const ExactMatchOptions& o) {
  std::string x(s);
  for (auto& r : o.regexes_to_ignore) x = py_regex_cached(r).sub("", x);
  if (o.ignore_case) x = py_lower(x);
  // Python's string.punctuation and string.digits: ASCII only, so bytes are safe in UTF-8.
  static constexpr std::string_view punctuation = R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)";
  if (o.ignore_punctuation)
    std::erase_if(x, [](char c) { return punctuation.find(c) != std::string_view::npos; });
  if (o.ignore_numbers) std::erase_if(x, [](char c) { return c >= '0' && c <= '9'; });
  return x;
}

double exact_match(const std::vector<std::string>& predictions,
                   const std::vector<std::string>& references, const ExactMatchOptions& o) {
  if (predictions.size() != references.size())
    fail("exact_match: {} predictions for {} references", predictions.size(), references.size());
  if (predictions.empty()) return std::numeric_limits<double>::quiet_NaN();
  size_t same = 0;
  for (size_t i = 0; i < predictions.size(); ++i)
    same += exact_match_normalize(predictions[i], o) == exact_match_normalize(references[i], o);
  return double(same) / double(predictions.size());
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 0 || c < 0 || c > n || k < 1) fail("pass@k: bad n={} c={} k={}", n, c, k);
  if (n - c < k) return 1.0;
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - double(k) / double(i);
  return 1.0 - prod;
}

}  // namespace erank::grading
