// Properties that need no golden: decode round-trips for byte-level tokenizers, linear-time
// behaviour on long inputs, clear errors for malformed tokenizer.json, the CLI's output.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kFix = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/tokenizer";

std::vector<std::string> corpus_texts() {
  std::ifstream f(kFix / "goldens/smollm2.json");
  std::vector<std::string> out;
  const json doc = json::parse(f);  // kept alive: a range-for over a temporary's member dangles
  for (auto& c : doc["cases"])
    if (c.contains("text")) out.push_back(c["text"]);
  return out;
}

TEST(TokenizerRoundTrip, ByteLevelDecodeGivesTheTextBack) {
  for (const char* name : {"smollm2", "bpe-llama3", "bpe-qwen2"}) {
    auto tok = erank::Tokenizer::from_hf_folder((kFix / name).string());
    for (const auto& text : corpus_texts()) {
      auto ids = tok->encode(text, false);
      std::string back = tok->decode(ids);
      // bpe-qwen2 normalises NFC first, so compare against the NFC form there.
      std::string want = std::string(name) == "bpe-qwen2"
                             ? erank::tok::normalize_unicode(text, erank::tok::NormForm::NFC)
                             : text;
      EXPECT_EQ(back, want) << name << ": " << json(text).dump();
    }
  }
}

TEST(TokenizerRoundTrip, InvalidUtf8IsReplacedLikePython) {
  // Python: b"a\xffb\xe4\xbd".decode("utf-8", errors="replace") == "a\ufffdb\ufffd"
  EXPECT_EQ(erank::tok::sanitize_utf8("a\xff"
                                      "b\xe4\xbd"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  auto tok = erank::Tokenizer::from_hf_folder((kFix / "smollm2").string());
  EXPECT_EQ(tok->encode("x\xc0\xafy"), tok->encode("x\xEF\xBF\xBD\xEF\xBF\xBDy"));
}

TEST(TokenizerScaling, LongInputsStayLinear) {
  // Llama-SPM has no pre-tokenizer split: a whole line is one BPE word, so this exercises the
  // heap merge on 200k symbols; quadratic merging would take minutes.
  auto tok = erank::Tokenizer::from_hf_folder((kFix / "llama-spm").string());
  std::string text = "Plain prose, 中文文本, 日本語, emoji 👍🏽 and digits 12345. ";
  while (text.size() < 200000) text += text;
  auto t0 = std::chrono::steady_clock::now();
  auto ids = tok->encode(text, false);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(ids.size(), text.size() / 8);
  EXPECT_LT(s, 20.0);
  EXPECT_TRUE(tok->decode(ids) == text);  // (EXPECT_EQ would diff 200 kB strings on failure)
  auto spaces = tok->encode(std::string(100000, ' '), false);
  EXPECT_FALSE(spaces.empty());
}

TEST(TokenizerErrors, MalformedJsonGivesOneClearError) {
  const std::string bpe_ok =
      R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}})";
  EXPECT_NO_THROW(erank::Tokenizer::from_json_text(bpe_ok, "", "ok.json"));
  const std::array<std::pair<const char*, const char*>, 10> bad = {{
      {"{\"model\": ", "not valid JSON"},
      {"[]", "not a JSON object"},
      {"{}", "missing \"model\""},
      {R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}})", "not in the vocab"},
      {R"({"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}})", "not in the vocab"},
      {R"({"model":{"type":"BPE","vocab":{"a":"x"},"merges":[]}})", "not an integer"},
      {R"({"model":{"type":"Nope","vocab":{}}})", "unsupported model type"},
      {R"({"model":{"type":"BPE","vocab":{},"merges":[]},"normalizer":{"type":"Weird"}})",
       "unsupported normalizer"},
      {R"({"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(("},"behavior":"Isolated"}})",
       "bad regex"},
      {R"({"model":{"type":"Unigram","vocab":[["a"]]}})", "not [piece, score]"},
  }};
  for (auto& [text, what] : bad) {
    try {
      erank::Tokenizer::from_json_text(text, "", "bad.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const erank::Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("bad.json"), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(erank::Tokenizer::from_hf_folder("/nonexistent/folder"), erank::Error);
}

TEST(TokenizerApi, SpecialIdsAndStrings) {
  auto tok = erank::Tokenizer::from_hf_folder((kFix / "llama-spm").string());
  ASSERT_TRUE(tok->bos_id().has_value());
  EXPECT_EQ(tok->token_string(*tok->bos_id()), "<s>");
  EXPECT_TRUE(tok->is_special(*tok->bos_id()));
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_THROW(tok->token_string(1 << 28), erank::Error);
}

std::string run(const std::string& cmd) {
  std::array<char, 4096> buf;
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  while (p && fgets(buf.data(), buf.size(), p.get())) out += buf.data();
  return out;
}

TEST(TokenizeCli, JsonlMatchesGoldens) {
  fs::path gguf = fs::path(ERANK_SOURCE_DIR) / "models/smollm2-135m.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << gguf << " absent";
  std::ifstream f(kFix / "goldens/smollm2.json");
  json g = json::parse(f);
  std::string want;
  for (auto& c : g["cases"])
    if (c.value("text", "") == "Hello world" || c.value("text", "") == "1234567890")
      want += c["ids"].dump() + "\n";
  fs::path in = fs::temp_directory_path() / "erank_tokenize_cli_test.txt";
  std::ofstream(in) << "Hello world\n1234567890\n";
  std::string got = run(std::string(ERANK_BINARY) + " tokenize --model " + gguf.string() +
                        " --text-file " + in.string());
  EXPECT_EQ(got, want);
  std::string human = run(std::string(ERANK_BINARY) + " tokenize --model " + gguf.string() +
                          " --text 'Hello world' --format human");
  EXPECT_NE(human.find("\"Hello\""), std::string::npos) << human;
}

}  // namespace
