// JSONL/JSON and CSV documents, typed as `datasets.load_dataset("json"|"csv")` types them: the json
// loader unions the keys and widens int+float columns to float; the csv loader is pandas'
// read_csv with its defaults (NA strings, int/float/bool inference, "Unnamed: i", ".1" dedup).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "data/docs_internal.h"
#include "data/readers.h"

namespace erank::docs_detail {
namespace {

using Json = nlohmann::ordered_json;

std::string_view skip_bom(std::string_view s) {
  return s.substr(0, 3) == "\xEF\xBB\xBF" ? s.substr(3) : s;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Fails naming the first line that is not UTF-8 (a multi-byte character never spans a newline).
void check_utf8(std::string_view s, const std::string& origin) {
  if (valid_utf8(s)) return;
  int64_t line = 1;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    if (!valid_utf8(s.substr(pos, nl - pos))) fail("{}:{}: text is not valid UTF-8", origin, line);
    pos = nl + 1;
    ++line;
  }
}

// ---- JSON ------------------------------------------------------------------------------------

// Deepest [ / { nesting in a JSON text (strings skipped); bounds the recursion of everything that
// walks a value afterwards (nlohmann's parser itself does not recurse).
constexpr int kMaxJsonDepth = 256;

int json_depth(std::string_view s) {
  int depth = 0, deepest = 0;
  bool in_str = false;
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[k];
    if (in_str) {
      if (c == '\\')
        ++k;
      else if (c == '"')
        in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// nlohmann reads non-negative integers as unsigned: make them int64 as Arrow's are, and those
// past int64 floats, as pyarrow's JSON reader does.
void normalise_numbers(Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      v = static_cast<int64_t>(u);
    else
      v = static_cast<double>(u);
  } else if (v.is_structured()) {
    for (auto& e : v) normalise_numbers(e);
  }
}

// A column of numbers (or of lists of numbers) with a float in it is all floats.
void widen_int_float(std::vector<Json>& rows, const std::string& key) {
  bool any_float = false, all_num = true, all_num_lists = true;
  for (const Json& r : rows) {
    const Json& v = r[key];
    if (v.is_null()) continue;
    if (v.is_number()) {
      all_num_lists = false;
      any_float |= v.is_number_float();
    } else if (v.is_array()) {
      all_num = false;
      for (const Json& e : v) {
        if (e.is_number_float()) any_float = true;
        if (!e.is_number() && !e.is_null()) all_num_lists = false;
      }
    } else {
      return;
    }
  }
  if (!any_float || !(all_num || all_num_lists)) return;
  for (Json& r : rows) {
    Json& v = r[key];
    if (v.is_number_integer()) v = v.get<double>();
    if (v.is_array())
      for (Json& e : v)
        if (e.is_number_integer()) e = e.get<double>();
  }
}

DocTable objects_to_table(std::vector<Json> objs, const std::string& origin) {
  DocTable t;
  t.origin = origin;
  std::set<std::string> seen;
  for (const Json& o : objs)
    for (const auto& [k, v] : o.items())
      if (seen.insert(k).second) t.features.push_back(k);
  t.rows.reserve(objs.size());
  for (Json& o : objs) {
    Json r = Json::object();
    for (const std::string& f : t.features) {
      auto it = o.find(f);
      r[f] = it == o.end() ? Json(nullptr) : std::move(*it);
    }
    t.rows.push_back(std::move(r));
  }
  for (const std::string& f : t.features) widen_int_float(t.rows, f);
  return t;
}

// ---- CSV -------------------------------------------------------------------------------------

enum class Kind { null, integer, uinteger, number, boolean, string };

// pandas' default na_values (pandas._libs.parsers.STR_NA_VALUES); matched exactly, unstripped.
bool is_na(std::string_view s) {
  static const std::set<std::string_view> na = {"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                                "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                                "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                                "None",     "n/a",  "nan",      "null"};
  return na.count(s) != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// An integer as pandas' tokenizer reads one: surrounding blanks, optional sign, decimal digits.
// Returns integer (int64), uinteger (past int64, fits uint64) or string.
Kind integer_kind(std::string_view s, int64_t* i, uint64_t* u) {
  s = trim(s);
  const bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (!all_digits(s)) return Kind::string;
  uint64_t v = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) return Kind::number;
  const uint64_t lim = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (neg) {
    if (v > lim + 1) return Kind::number;
    *i = v == lim + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
    return Kind::integer;
  }
  if (v > lim) {
    *u = v;
    return Kind::uinteger;
  }
  *i = static_cast<int64_t>(v);
  return Kind::integer;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if ((a[k] | 0x20) != b[k]) return false;
  return true;
}

// A decimal float as pandas reads one: [+-](digits[.digits]|.digits)[e[+-]digits], or inf /
// infinity in any case. No hex, no nan (the NA strings cover pandas' nan spellings).
bool parse_float(std::string_view s, double* out) {
  s = trim(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (iequals(s, "inf") || iequals(s, "infinity")) {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  size_t k = 0, int_digits = 0, frac_digits = 0;
  while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k, ++int_digits;
  if (k < s.size() && s[k] == '.') {
    ++k;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9') ++k, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    ++k;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (!all_digits(s.substr(k))) return false;
    k = s.size();
  }
  if (k != s.size()) return false;
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range) {  // from_chars leaves v unset: overflow or underflow
    const size_t e = s.find_first_of("eE");
    const bool tiny = e != std::string_view::npos && s.substr(e + 1, 1) == "-";
    v = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    return false;
  }
  *out = neg ? -v : v;
  return true;
}

int bool_value(std::string_view s) {  // 1, 0, or -1 when not one of pandas' true/false values
  if (s == "True" || s == "TRUE" || s == "true") return 1;
  if (s == "False" || s == "FALSE" || s == "false") return 0;
  return -1;
}

// Types one column in place: cells[r] -> rows[r][name].
void type_column(const std::vector<std::vector<std::string>>& cells, size_t c,
                 const std::string& name, std::vector<Json>& rows) {
  bool ints = true, uints = false, negs = false, floats = true, bools = true, any_na = false;
  bool any_value = false;
  for (const auto& row : cells) {
    const std::string& s = row[c];
    if (is_na(s)) {
      any_na = true;
      continue;
    }
    any_value = true;
    int64_t i;
    uint64_t u;
    double d;
    const Kind k = integer_kind(s, &i, &u);
    if (k == Kind::integer) negs |= i < 0;
    if (k == Kind::uinteger) uints = true;
    if (k != Kind::integer && k != Kind::uinteger) ints = false;
    if (!ints && !parse_float(s, &d)) floats = false;
    if (bool_value(s) < 0) bools = false;
    if (!ints && !floats && !bools) break;
  }
  if (uints && negs) ints = false;  // pandas: object column; read as floats
  const bool as_int = any_value && ints && !any_na;
  const bool as_float = !as_int && (!any_value || floats);
  const bool as_bool = !as_int && !as_float && bools;
  for (size_t r = 0; r < cells.size(); ++r) {
    const std::string& s = cells[r][c];
    Json v;
    if (is_na(s)) {
      v = nullptr;
    } else if (as_int) {
      int64_t i = 0;
      uint64_t u = 0;
      if (integer_kind(s, &i, &u) == Kind::uinteger)
        v = u;
      else
        v = i;
    } else if (as_float) {
      double d = 0;
      parse_float(s, &d);
      v = d;
    } else if (as_bool) {
      v = bool_value(s) == 1;
    } else {
      v = s;
    }
    rows[r][name] = std::move(v);
  }
}

// pandas' header names: empty -> "Unnamed: <i>", then a repeat of `a` becomes the first free
// `a.<k>` (k counting up; names already in the header are skipped, as pandas 2 does).
std::vector<std::string> header_names(std::vector<std::string> names) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i].empty()) names[i] = "Unnamed: " + std::to_string(i);
  const std::set<std::string> in_header(names.begin(), names.end());
  std::map<std::string, int64_t> counts;
  for (std::string& col : names) {
    const std::string old = col;
    int64_t cur = counts.count(col) ? counts[col] : 0;
    while (cur > 0) {
      counts[old] = cur + 1;
      col = old + "." + std::to_string(cur);
      if (in_header.count(col))
        ++cur;
      else
        cur = counts.count(col) ? counts[col] : 0;
    }
    counts[col] = cur + 1;
  }
  return names;
}

// A line of blanks only (pandas' skip_blank_lines drops it); `pos` at its start.
bool blank_line(std::string_view s, size_t pos, size_t* next) {
  size_t k = pos;
  while (k < s.size() && s[k] != '\n' && is_space(s[k])) ++k;
  if (k < s.size() && s[k] != '\n') return false;
  *next = k < s.size() ? k + 1 : k;
  return true;
}

}  // namespace

DocTable parse_json_docs(std::string_view bytes, bool allow_array, const std::string& origin) {
  bytes = skip_bom(bytes);
  check_utf8(bytes, origin);
  if (json_depth(bytes) > kMaxJsonDepth)
    fail("{}: JSON nested deeper than {} levels", origin, kMaxJsonDepth);
  std::vector<Json> objs;
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (allow_array && first != std::string_view::npos && bytes[first] == '[') {
    Json all;
    try {
      all = Json::parse(bytes);
    } catch (const Json::exception& e) {
      fail("{}: malformed JSON: {}", origin, e.what());
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if (!all[i].is_object())
        fail("{}: element {} of the array is {}, not an object", origin, i, all[i].type_name());
      objs.push_back(std::move(all[i]));
    }
  } else {
    int64_t line = 1;
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t nl = bytes.find('\n', pos);
      if (nl == std::string_view::npos) nl = bytes.size();
      const std::string_view l = bytes.substr(pos, nl - pos);
      if (l.find_first_not_of(" \t\r\v\f") != std::string_view::npos) {
        Json j;
        try {
          j = Json::parse(l);
        } catch (const Json::exception& e) {
          fail("{}:{}: malformed JSON: {}", origin, line, e.what());
        }
        if (!j.is_object())
          fail("{}:{}: expected a JSON object, got {}", origin, line, j.type_name());
        objs.push_back(std::move(j));
      }
      pos = nl + 1;
      ++line;
    }
  }
  for (Json& o : objs) normalise_numbers(o);
  return objects_to_table(std::move(objs), origin);
}

DocTable parse_csv_docs(std::string_view bytes, const std::string& origin) {
  bytes = skip_bom(bytes);
  check_utf8(bytes, origin);
  DocTable t;
  t.origin = origin;
  std::vector<std::vector<std::string>> cells;
  bool header = true;
  size_t pos = 0;
  int64_t line = 1;
  while (pos < bytes.size()) {
    size_t next;
    if (blank_line(bytes, pos, &next)) {
      pos = next;
      ++line;
      continue;
    }
    const int64_t start_line = line;
    std::vector<std::string> fields;
    parse_csv_record(bytes, pos, line, &fields, origin);
    if (header) {
      t.features = header_names(std::move(fields));
      header = false;
      continue;
    }
    if (fields.size() != t.features.size())
      fail("{}:{}: CSV row has {} fields, the header has {}", origin, start_line, fields.size(),
           t.features.size());
    cells.push_back(std::move(fields));
  }
  if (header) fail("{}: empty CSV file (no header row)", origin);
  t.rows.assign(cells.size(), Json::object());
  for (size_t c = 0; c < t.features.size(); ++c) type_column(cells, c, t.features[c], t.rows);
  return t;
}

}  // namespace erank::docs_detail
