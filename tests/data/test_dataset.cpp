// Dataset specs, presets, sampling order, limit/dedupe, and the boolq preset against Python.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/dataset.h"
#include "data/py_random.h"
#include "data/sha256.h"

namespace erank {
namespace {
namespace fs = std::filesystem;

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/data/";

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("erank_data_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string error_of(const DatasetSpec& s) {
  try {
    load_dataset(s);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Dataset, WikiPresetDrawsPythonSampleInOrder) {
  TempDir t;
  std::string jsonl;
  for (int i = 0; i < 12000; ++i) jsonl += "{\"text\": \"doc " + std::to_string(i) + "\"}\n";
  const std::string path = t.file("wiki.jsonl", jsonl);
  Dataset ds = load_dataset(preset_spec("wiki", path));
  ASSERT_EQ(ds.texts.size(), 10000u);
  EXPECT_EQ(ds.n_records, 12000);
  // random.seed(123); random.sample(range(12000), 10000) from CPython, by hash (py_random.json)
  std::ifstream f(kDir + "py_random.json");
  const auto j = nlohmann::json::parse(f);
  std::string want;
  for (const auto& c : j.at("samples"))
    if (c.at("n") == 12000 && c.at("k") == 10000 && c.at("seed") == 123) want = c.at("sha256");
  ASSERT_FALSE(want.empty());
  std::string got;
  for (size_t i = 0; i < ds.texts.size(); ++i) {
    got += (i ? "," : "") + std::to_string(ds.texts[i].record);
    EXPECT_EQ(ds.texts[i].text, "doc " + std::to_string(ds.texts[i].record));
  }
  EXPECT_EQ(sha256_hex(got), want);
  EXPECT_EQ(ds.texts[0].id, "wiki.jsonl:" + std::to_string(ds.texts[0].record + 1));

  DatasetSpec lim = preset_spec("openwebtext2", path);
  lim.limit = 25;
  Dataset small = load_dataset(lim);
  ASSERT_EQ(small.texts.size(), 25u);
  for (size_t i = 0; i < 25; ++i) EXPECT_EQ(small.texts[i].record, ds.texts[i].record);

  DatasetSpec too_many = preset_spec("wiki", t.file("few.jsonl", "{\"text\": \"a\"}\n"));
  EXPECT_EQ(error_of(too_many).rfind("dataset wiki: cannot sample 10000 of 1 records", 0), 0u);
}

TEST(Dataset, DollyKeepsNonEmptyContext) {
  TempDir t;
  const std::string path =
      t.file("dolly.jsonl",
             "{\"instruction\": \"q\", \"context\": \"c1\", \"response\": \"r\"}\n"
             "{\"instruction\": \"q\", \"context\": \"\", \"response\": \"r\"}\n"
             "{\"instruction\": \"q\", \"context\": \"c1\", \"response\": \"r\"}\n");
  Dataset ds = load_dataset(preset_spec("dolly", path));
  ASSERT_EQ(ds.texts.size(), 2u);  // no dedupe: the original keeps repeated contexts
  EXPECT_EQ(ds.n_empty, 1);
  EXPECT_EQ(ds.texts[1].id, "dolly.jsonl:3");
}

TEST(Dataset, HhRlhfFolderInSubsetOrder) {
  TempDir t;
  const char* subs[] = {"helpful-online", "harmless-base", "helpful-rejection-sampled",
                        "helpful-base"};
  for (const char* s : subs)
    t.file(std::string(s) + "/test.jsonl",
           "{\"chosen\": \"" + std::string(s) + "\", \"rejected\": \"x\"}\n");
  Dataset ds = load_dataset(preset_spec("hh-rlhf", t.path()));
  ASSERT_EQ(ds.texts.size(), 4u);
  EXPECT_EQ(ds.texts[0].text, "harmless-base");
  EXPECT_EQ(ds.texts[1].text, "helpful-base");
  EXPECT_EQ(ds.texts[2].text, "helpful-online");
  EXPECT_EQ(ds.texts[3].text, "helpful-rejection-sampled");
  EXPECT_EQ(ds.texts[3].id, "helpful-rejection-sampled/test.jsonl:1");
  fs::remove(t.path() + "/helpful-base/test.jsonl");
  t.file("helpful-base/test.jsonl.gz", "x");
  try {
    preset_spec("hh-rlhf", t.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("decompress"), std::string::npos) << e.what();
  }
}

TEST(Dataset, DedupeAndSampleOnUserFile) {
  TempDir t;
  const std::string path = t.file("a.txt", "x\ny\nx\n\nz\ny\n");
  DatasetSpec s = file_spec(path);
  EXPECT_EQ(s.format, Format::lines);
  s.dedupe = true;
  Dataset ds = load_dataset(s);
  ASSERT_EQ(ds.texts.size(), 3u);
  EXPECT_EQ(ds.n_duplicates, 2);
  EXPECT_EQ(ds.n_empty, 1);
  EXPECT_EQ(ds.texts[2].id, "a.txt:5");
  s.dedupe = false;
  s.sample = 4;
  s.seed = 7;
  Dataset sm = load_dataset(s);
  const auto idx = python_random_sample(6, 4, 7);
  size_t k = 0;
  for (int64_t g : idx) {
    if (g == 3) continue;  // the blank line is drawn but skipped
    ASSERT_LT(k, sm.texts.size());
    EXPECT_EQ(sm.texts[k++].record, g);
  }
  EXPECT_EQ(k, sm.texts.size());
}

TEST(Dataset, PresetErrors) {
  EXPECT_THROW(preset_spec("nope"), Error);
  try {
    preset_spec("dolly");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a path"), std::string::npos);
  }
  EXPECT_NE(error_of(file_spec("/nonexistent/x.jsonl")).find("/nonexistent/x.jsonl"),
            std::string::npos);
  EXPECT_EQ(presets().size(), 5u);
  EXPECT_EQ(std::string(kDefaultDataset), "boolq");
}

TEST(Dataset, BoolqPresetMatchesPython) {
  std::string file;
  try {
    file = preset_spec("boolq").files.at(0);
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  std::ifstream f(kDir + "boolq.json");
  if (!f.good()) GTEST_SKIP() << "no boolq.json fixture";
  const auto want = nlohmann::json::parse(f);
  Dataset ds = load_dataset(preset_spec("boolq"));
  EXPECT_EQ(static_cast<int64_t>(ds.texts.size()), want.at("n_texts").get<int64_t>());
  EXPECT_EQ(ds.sha256, want.at("sha256").get<std::string>());
  EXPECT_EQ(ds.texts.front().id, want.at("first_ids").at(0).get<std::string>());
  EXPECT_EQ(ds.texts.back().id, want.at("last_id").get<std::string>());
  EXPECT_EQ(ds.n_records, 3270);
  EXPECT_EQ(ds.n_duplicates, 3270 - 2938);
}

}  // namespace
}  // namespace erank
