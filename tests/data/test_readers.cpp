// JSONL / CSV / text readers: what Python's json and csv modules read from the same small files
// (tests/fixtures/data/readers.json), and one-line errors naming file:line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/dataset.h"
#include "data/readers.h"

namespace erank {
namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/data/";

std::vector<std::string> all_records(std::string_view bytes, Format f, const std::string& field) {
  RecordReader r(bytes, f, field, "mem");
  std::vector<std::string> out;
  for (int64_t i = 0; i < r.size(); ++i) out.push_back(r.text(i));
  return out;
}

std::string error_of(std::string_view bytes, Format f, const std::string& field = "text") {
  try {
    all_records(bytes, f, field);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Readers, MatchPythonOnFixtures) {
  std::ifstream jf(kDir + "readers.json");
  const auto want = nlohmann::json::parse(jf);
  const std::pair<const char*, Format> files[] = {{"small.jsonl", Format::jsonl},
                                                  {"small.csv", Format::csv},
                                                  {"small_lines.txt", Format::lines},
                                                  {"small_paragraphs.txt", Format::paragraphs}};
  for (auto [name, fmt] : files) {
    SCOPED_TRACE(name);
    std::ifstream f(kDir + name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), {});
    EXPECT_EQ(all_records(bytes, fmt, "text"),
              want.at(name).at("records").get<std::vector<std::string>>());
    Dataset ds = load_dataset(file_spec(kDir + name, "text", fmt));
    std::vector<std::string> kept;
    for (const auto& t : ds.texts) kept.push_back(t.text);
    EXPECT_EQ(kept, want.at(name).at("kept").get<std::vector<std::string>>());
    EXPECT_EQ(ds.sha256, want.at(name).at("sha256").get<std::string>());
    EXPECT_EQ(ds.n_empty, ds.n_records - static_cast<int64_t>(kept.size()));
  }
}

TEST(Readers, LineNumbersAndIds) {
  Dataset ds = load_dataset(file_spec(kDir + "small.jsonl"));
  ASSERT_GE(ds.texts.size(), 3u);
  EXPECT_EQ(ds.texts[0].id, "small.jsonl:1");
  EXPECT_EQ(ds.texts[2].id, "small.jsonl:6");  // blank lines 3-4 and an empty text on line 5
  EXPECT_EQ(ds.n_records, 7);
  EXPECT_EQ(ds.n_empty, 1);
  Dataset csv = load_dataset(file_spec(kDir + "small.csv"));
  EXPECT_EQ(csv.texts[3].id, "small.csv:6");   // record after a blank line, spanning 3 lines
  EXPECT_EQ(csv.texts[4].id, "small.csv:10");  // line 9 holds an empty text
}

TEST(Readers, JsonlErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("{\"text\": \"a\"}\n{\"text\": \"b\"\n", Format::jsonl)
                .rfind("mem:2: malformed JSON", 0),
            0u);
  EXPECT_EQ(error_of("{\"text\": \"a\"}\n\n{\"t\": 1}\n", Format::jsonl),
            "mem:3: no field \"text\" in the JSON object");
  EXPECT_EQ(error_of("{\"text\": 5}", Format::jsonl),
            "mem:1: field \"text\" is number, not a string");
  EXPECT_EQ(error_of("{\"text\": null}", Format::jsonl),
            "mem:1: field \"text\" is null, not a string");
  EXPECT_EQ(error_of("[1, 2]", Format::jsonl), "mem:1: expected a JSON object, got array");
  EXPECT_NE(error_of("{\"text\": \"\xff\"}", Format::jsonl).find("mem:1: malformed JSON"),
            std::string::npos);
  for (const std::string& e : {error_of("{\"text\": \"a\n", Format::jsonl)})
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one-line errors";
}

TEST(Readers, CsvErrors) {
  EXPECT_EQ(error_of("a,text\n1,\"open\n2,3\n", Format::csv),
            "mem:2: unterminated quoted CSV field");
  EXPECT_EQ(error_of("a,text\n1,\"x\"y\n", Format::csv),
            "mem:2: unexpected character after a closing quote in CSV");
  EXPECT_EQ(error_of("a,b\n1,2\n", Format::csv),
            "mem:1: no column 'text' in the CSV header (columns: a, b)");
  EXPECT_EQ(error_of("a,text\n1,2,3\n", Format::csv),
            "mem:2: CSV row has 3 fields, the header has 2");
  EXPECT_EQ(error_of("", Format::csv), "mem: empty CSV file (no header row)");
  EXPECT_EQ(error_of("text\n\xc3\x28\n", Format::csv), "mem:2: text is not valid UTF-8");
  EXPECT_EQ(all_records("text\r\n\"a\"\"\"\r\n\"\"", Format::csv, "text"),
            (std::vector<std::string>{"a\"", ""}));
}

TEST(Readers, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("plain \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe4\xb8"));          // truncated
  EXPECT_EQ(error_of("ok\n\xff\n", Format::lines), "mem:2: text is not valid UTF-8");
}

TEST(Readers, FormatNames) {
  EXPECT_EQ(format_from_path("x/y.jsonl"), Format::jsonl);
  EXPECT_EQ(format_from_path("y.csv"), Format::csv);
  EXPECT_EQ(format_from_path("y.txt"), Format::lines);
  EXPECT_EQ(parse_format("text"), Format::lines);
  EXPECT_EQ(format_name(parse_format("paragraphs")), "paragraphs");
  EXPECT_THROW(parse_format("xml"), Error);
}

}  // namespace
}  // namespace erank
