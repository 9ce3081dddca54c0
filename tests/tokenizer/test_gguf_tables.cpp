// The GGUF front end builds its BPE model from tables (ids, views into the file) instead of a
// tokenizer.json object. Checks that it equals the tokenizer built from the JSON it would dump
// (gguf_tokenizer_json, the documented conversion), and the Vocab's dict semantics for repeated
// spellings. Real vocabularies are skipped when absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kSrc = ERANK_SOURCE_DIR;

TEST(Vocab, DenseRepeatedSpellingBehavesAsADict) {
  erank::tok::Vocab v;
  auto id_at = v.assign_dense({"a", "b", "a", "c", "b"});
  EXPECT_EQ(id_at, (std::vector<int32_t>{2, 4, 2, 3, 4}));
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.max_id_plus_one(), 5u);
  EXPECT_EQ(v.find("a"), 2);
  EXPECT_EQ(v.find("b"), 4);
  EXPECT_EQ(v.find("c"), 3);
  EXPECT_FALSE(v.find("d"));
  EXPECT_EQ(v.token(0), nullptr);  // shadowed by id 2
  EXPECT_EQ(v.token(1), nullptr);
  EXPECT_EQ(*v.token(2), "a");
}

TEST(Vocab, AddKeepsMapAndIdTableSemantics) {
  erank::tok::Vocab v;
  for (int i = 0; i < 1000; ++i) v.add("t" + std::to_string(i), i);  // forces rehashes
  v.add("t5", 2000);  // moved: lookups give the new id, the old id keeps its spelling
  v.add("x", 7);      // a second token on id 7: id 7 now spells "x", "t7" still finds 7
  EXPECT_EQ(v.size(), 1001u);
  EXPECT_EQ(v.find("t5"), 2000);
  EXPECT_EQ(*v.token(5), "t5");
  EXPECT_EQ(*v.token(7), "x");
  EXPECT_EQ(v.find("t7"), 7);
  EXPECT_EQ(v.token(1500), nullptr);
  EXPECT_EQ(v.max_id_plus_one(), 2001u);
}

std::vector<std::string> golden_texts() {
  std::vector<std::string> out = {"",
                                  " ",
                                  "hi",
                                  "Hello world",
                                  "  two  spaces\n\ttab",
                                  "naïve café — 東京 🤗",
                                  "<bos>x<eos>",
                                  "<start_of_turn>user"};
  std::ifstream f(kSrc / "tests/fixtures/tokenizer/goldens/gemma3.json");
  if (f) {
    const json doc = json::parse(f);  // named: a temporary would die before the loop's body
    for (auto& c : doc["cases"])
      if (c.contains("text")) out.push_back(c["text"].get<std::string>());
  }
  return out;
}

class TablesVsJson : public ::testing::TestWithParam<std::string> {};

TEST_P(TablesVsJson, SameIdsDecodesAndVocabulary) {
  const fs::path path = kSrc / GetParam();
  if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
  erank::GGUFFile f(path.string());
  auto direct = erank::Tokenizer::from_gguf(f);
  auto [j, cfg] = erank::gguf_tokenizer_json(f);
  auto via_json = erank::Tokenizer::from_json_text(j.dump(), cfg.dump(), path.string());
  ASSERT_EQ(direct->vocab_size(), via_json->vocab_size());
  EXPECT_EQ(direct->bos_id(), via_json->bos_id());
  EXPECT_EQ(direct->eos_id(), via_json->eos_id());
  int bad = 0;
  for (int32_t id = 0; id < direct->vocab_size() && bad < 5; ++id)
    if (direct->token_string(id) != via_json->token_string(id)) ++bad, ADD_FAILURE() << "id " << id;
  for (const auto& t : golden_texts()) {
    auto ids = direct->encode(t);
    EXPECT_EQ(ids, via_json->encode(t)) << t;
    EXPECT_EQ(direct->encode(t, false), via_json->encode(t, false)) << t;
    EXPECT_EQ(direct->decode(ids, true), via_json->decode(ids, true)) << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Files, TablesVsJson,
                         ::testing::Values("models/gemma3-270m.gguf", "models/smollm2-135m.gguf",
                                           "third_party/tokenizer-vocabs/ggml-vocab-llama-spm.gguf",
                                           "third_party/tokenizer-vocabs/ggml-vocab-phi-3.gguf"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = fs::path(info.param).stem().string();
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
