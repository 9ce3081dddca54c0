#include "data/readers.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace erank {
namespace {

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\v\f") == std::string_view::npos;
}

std::string_view skip_bom(std::string_view s) {
  return s.substr(0, 3) == "\xEF\xBB\xBF" ? s.substr(3) : s;
}

std::string_view chomp_cr(std::string_view s) {
  return !s.empty() && s.back() == '\r' ? s.substr(0, s.size() - 1) : s;
}

// Calls f(line_without_cr, line_number) for every line; no empty final line after a trailing LF.
template <typename F>
void for_each_line(std::string_view s, F&& f) {
  int64_t line = 1;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    f(chomp_cr(s.substr(pos, nl - pos)), line);
    pos = nl + 1;
    ++line;
  }
}

}  // namespace

std::string_view format_name(Format f) {
  switch (f) {
    case Format::jsonl:
      return "jsonl";
    case Format::lines:
      return "lines";
    case Format::paragraphs:
      return "paragraphs";
    case Format::csv:
      return "csv";
  }
  return "?";
}

Format parse_format(std::string_view name) {
  if (name == "jsonl") return Format::jsonl;
  if (name == "lines" || name == "text") return Format::lines;
  if (name == "paragraphs") return Format::paragraphs;
  if (name == "csv") return Format::csv;
  fail("unknown dataset format '{}' (choose jsonl, lines, paragraphs or csv)", name);
}

Format format_from_path(std::string_view path) {
  auto ends = [&](std::string_view e) {
    return path.size() >= e.size() && path.substr(path.size() - e.size()) == e;
  };
  if (ends(".jsonl") || ends(".json") || ends(".ndjson")) return Format::jsonl;
  if (ends(".csv")) return Format::csv;
  return Format::lines;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

void parse_csv_record(std::string_view s, size_t& pos, int64_t& line,
                      std::vector<std::string>* fields, const std::string& origin) {
  const int64_t start_line = line;
  const size_t n = s.size();
  if (fields) fields->clear();
  std::string cur;
  auto push = [&] {
    if (fields) fields->push_back(cur);
    cur.clear();
  };
  while (true) {
    if (pos < n && s[pos] == '"') {  // quoted field: "" is a quote, newlines are literal
      ++pos;
      while (true) {
        if (pos >= n) fail("{}:{}: unterminated quoted CSV field", origin, start_line);
        const char c = s[pos];
        if (c == '"') {
          if (pos + 1 < n && s[pos + 1] == '"') {
            if (fields) cur += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        if (c == '\n') ++line;
        if (fields) cur += c;
        ++pos;
      }
      if (pos >= n) break;
      if (s[pos] == ',') {
        ++pos;
        push();
        continue;
      }
      if (s[pos] == '\r' && (pos + 1 == n || s[pos + 1] == '\n')) ++pos;
      if (pos < n && s[pos] == '\n') {
        ++pos;
        ++line;
        break;
      }
      if (pos >= n) break;
      fail("{}:{}: unexpected character after a closing quote in CSV", origin, line);
    }
    // unquoted field: up to the next comma or line end (a stray quote inside is literal)
    size_t end = pos;
    while (end < n && s[end] != ',' && s[end] != '\n') ++end;
    std::string_view v = s.substr(pos, end - pos);
    if (end == n || s[end] == '\n') v = chomp_cr(v);
    if (fields) cur.assign(v);
    pos = end;
    if (pos < n && s[pos] == ',') {
      ++pos;
      push();
      continue;
    }
    if (pos < n) {  // '\n'
      ++pos;
      ++line;
    }
    break;
  }
  push();
}

RecordReader::RecordReader(std::string_view bytes, Format format, std::string field,
                           std::string origin)
    : format_(format), field_(std::move(field)), origin_(std::move(origin)) {
  bytes = skip_bom(bytes);
  switch (format_) {
    case Format::jsonl:
      for_each_line(bytes, [&](std::string_view l, int64_t n) {
        if (!is_blank(l)) records_.push_back({l, n});
      });
      break;
    case Format::lines:
      for_each_line(bytes, [&](std::string_view l, int64_t n) { records_.push_back({l, n}); });
      break;
    case Format::paragraphs: {
      const char* start = nullptr;
      const char* end = nullptr;
      int64_t first = 0;
      auto flush = [&] {
        if (start) records_.push_back({std::string_view(start, end - start), first});
        start = nullptr;
      };
      for_each_line(bytes, [&](std::string_view l, int64_t n) {
        if (is_blank(l)) return flush();
        if (!start) start = l.data(), first = n;
        end = l.data() + l.size();
      });
      flush();
      break;
    }
    case Format::csv: {
      size_t pos = 0;
      int64_t line = 1;
      bool header = true;
      while (pos < bytes.size()) {
        if (bytes[pos] == '\n' || bytes.substr(pos, 2) == "\r\n") {  // blank line
          pos += bytes[pos] == '\n' ? 1 : 2;
          ++line;
          continue;
        }
        const size_t start = pos;
        const int64_t start_line = line;
        std::vector<std::string> cols;
        parse_csv_record(bytes, pos, line, header ? &cols : nullptr, origin_);
        if (header) {
          csv_columns_ = cols.size();
          size_t i = 0;
          while (i < cols.size() && cols[i] != field_) ++i;
          if (i == cols.size()) {
            std::string names;
            for (const auto& c : cols) names += (names.empty() ? "" : ", ") + c;
            fail("{}:{}: no column '{}' in the CSV header (columns: {})", origin_, start_line,
                 field_, names);
          }
          csv_column_ = i;
          header = false;
          continue;
        }
        records_.push_back({bytes.substr(start, pos - start), start_line});
      }
      if (header) fail("{}: empty CSV file (no header row)", origin_);
      break;
    }
  }
}

std::string RecordReader::text(int64_t i) const {
  const Record& r = records_.at(static_cast<size_t>(i));
  std::string out;
  switch (format_) {
    case Format::jsonl: {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(r.raw);
      } catch (const nlohmann::json::exception& e) {
        fail("{}:{}: malformed JSON: {}", origin_, r.line, e.what());
      }
      if (!j.is_object())
        fail("{}:{}: expected a JSON object, got {}", origin_, r.line, j.type_name());
      auto it = j.find(field_);
      if (it == j.end()) fail("{}:{}: no field \"{}\" in the JSON object", origin_, r.line, field_);
      if (!it->is_string())
        fail("{}:{}: field \"{}\" is {}, not a string", origin_, r.line, field_, it->type_name());
      out = it->get<std::string>();
      break;
    }
    case Format::lines:
      if (!is_blank(r.raw)) out.assign(r.raw);
      break;
    case Format::paragraphs:
      for_each_line(r.raw, [&](std::string_view l, int64_t n) {
        if (n > 1) out += '\n';
        out.append(l);
      });
      break;
    case Format::csv: {
      std::vector<std::string> cols;
      size_t pos = 0;
      int64_t line = r.line;
      parse_csv_record(r.raw, pos, line, &cols, origin_);
      if (cols.size() != csv_columns_)
        fail("{}:{}: CSV row has {} fields, the header has {}", origin_, r.line, cols.size(),
             csv_columns_);
      out = std::move(cols[csv_column_]);
      break;
    }
  }
  if (!valid_utf8(out)) fail("{}:{}: text is not valid UTF-8", origin_, r.line);
  return out;
}

}  // namespace erank
