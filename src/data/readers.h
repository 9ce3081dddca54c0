// Text-dataset file formats: JSONL (one object per line, a string field), plain text (one text per
// line, or paragraphs separated by blank lines) and CSV (RFC 4180, header row, one column).
// Reading is two-step so that huge files can be sampled before any JSON is parsed: the reader
// first splits the file image into records (cheap), then text(i) extracts one record's text.
// Errors (erank::Error) are one line: "<origin>:<line>: <problem>".
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace erank {

enum class Format { jsonl, lines, paragraphs, csv };

std::string_view format_name(Format f);  // "jsonl", "lines", "paragraphs", "csv"
// Parses a name above ("text" is accepted for "lines"); throws erank::Error listing the choices.
Format parse_format(std::string_view name);
// By extension: .jsonl/.json/.ndjson -> jsonl, .csv -> csv, anything else -> lines.
Format format_from_path(std::string_view path);

// Records of one file image. `bytes` must outlive the reader (it holds views into it).
//  jsonl:      every non-blank line is a record; blank lines are ignored.
//  lines:      every line is a record; CR before LF is dropped.
//  paragraphs: maximal runs of non-blank lines, joined with "\n".
//  csv:        the first non-blank record is the header and must contain the column `field`;
//              blank lines are ignored; quoted fields may hold commas, quotes ("") and newlines.
// A UTF-8 byte-order mark at the start is skipped. In text formats a whitespace-only line is blank.
class RecordReader {
 public:
  // Splits the image; throws for structural CSV errors (unterminated quote, text after a closing
  // quote, missing column). `field` is the JSON key or CSV column; ignored for text formats.
  RecordReader(std::string_view bytes, Format format, std::string field, std::string origin);

  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  int64_t line(int64_t i) const { return records_[i].line; }  // 1-based line where record i starts
  // The text of record i (may be empty: callers skip and count those). Throws for malformed JSON,
  // a missing or non-string field, a CSV row whose field count differs from the header's, or
  // invalid UTF-8.
  std::string text(int64_t i) const;

 private:
  struct Record {
    std::string_view raw;
    int64_t line;
  };
  std::vector<Record> records_;
  Format format_;
  std::string field_, origin_;
  size_t csv_column_ = 0, csv_columns_ = 0;
};

// True when s is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool valid_utf8(std::string_view s);

// Splits one CSV record starting at `pos` (RFC 4180, CRLF or LF line ends), advancing `pos` past
// its line end and `line` by the newlines consumed. Fields go to *fields when non-null. Throws
// erank::Error naming origin:line on an unterminated quote or text after a closing quote.
void parse_csv_record(std::string_view s, size_t& pos, int64_t& line,
                      std::vector<std::string>* fields, const std::string& origin);

}  // namespace erank
