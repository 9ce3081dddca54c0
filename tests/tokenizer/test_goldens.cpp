// Token ids, decodes and special-token handling against goldens dumped by Hugging Face
// transformers/tokenizers (tools/make_tokenizer_goldens.py). Tokenizers whose source file is not
// committed (big real vocabularies, the model GGUFs) are skipped when absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kSrc = ERANK_SOURCE_DIR;

json load_golden(const std::string& name) {
  std::ifstream f(kSrc / "tests/fixtures/tokenizer/goldens" / (name + ".json"));
  EXPECT_TRUE(f) << "missing golden " << name;
  return json::parse(f);
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::string show(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Compares every case; reports up to a few mismatches in full.
void check_cases(const erank::Tokenizer& tok, const json& cases, const std::string& what) {
  int bad = 0;
  for (const auto& c : cases) {
    bool is_hex = c.contains("hex");
    std::string text = is_hex ? unhex(c["hex"]) : c["text"].get<std::string>();
    auto want = c["ids"].get<std::vector<int32_t>>();
    auto want_plain = c["ids_plain"].get<std::vector<int32_t>>();
    auto got = tok.encode(text);
    auto got_plain = tok.encode(text, false);
    std::string dec = tok.decode(want), dec_skip = tok.decode(want, true);
    bool ok = got == want && got_plain == want_plain && dec == c["decoded"].get<std::string>() &&
              dec_skip == c["decoded_skip"].get<std::string>();
    if (!ok && ++bad <= 4) {
      ADD_FAILURE() << what << ": text "
                    << json(is_hex ? "hex:" + c["hex"].get<std::string>() : text).dump()
                    << "\n  ids want " << show(want) << "\n      got  " << show(got)
                    << "\n  plain want " << show(want_plain) << "\n        got  " << show(got_plain)
                    << "\n  decoded want " << c["decoded"].dump() << "\n          got  "
                    << json(dec).dump() << "\n  skip want " << c["decoded_skip"].dump()
                    << "\n       got  " << json(dec_skip).dump();
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << cases.size() << " cases differ";
}

class Golden : public ::testing::TestWithParam<std::string> {};
class GoldenGGUF : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, FromTokenizerJson) {
  json g = load_golden(GetParam());
  fs::path folder = kSrc / g["folder"].get<std::string>();
  if (!fs::exists(folder / "tokenizer.json"))
    GTEST_SKIP()
        << folder
        << " absent (run tools/tokenizer_fetch_vocabs.sh + tools/make_tokenizer_goldens.py)";
  auto tok = erank::Tokenizer::from_hf_folder(folder.string());
  check_cases(*tok, g.contains("folder_cases") ? g["folder_cases"] : g["cases"],
              GetParam() + " (tokenizer.json)");
}

TEST_P(GoldenGGUF, FromGGUF) {
  json g = load_golden(GetParam());
  ASSERT_EQ(g["kind"], "gguf");
  std::string src = g["source"];
  fs::path path = src.rfind("models/", 0) == 0
                      ? kSrc / src
                      : kSrc / "third_party/tokenizer-vocabs" / g["gguf"].get<std::string>();
  if (!fs::exists(path)) GTEST_SKIP() << path << " absent";
  erank::GGUFFile f(path.string());
  auto tok = erank::Tokenizer::from_gguf(f);
  check_cases(*tok, g["cases"], GetParam() + " (GGUF)");
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

// Trained with `tokenizers` (committed), then real vocabularies converted by transformers.
INSTANTIATE_TEST_SUITE_P(Tokenizers, Golden,
                         ::testing::Values("bpe-llama3", "bpe-qwen2", "bpe-gemma-like",
                                           "bpe-metaspace", "unigram", "wordpiece", "misc",
                                           "smollm2", "gemma3", "llama-spm", "gpt-2", "llama-bpe",
                                           "qwen2", "phi-3", "starcoder", "falcon",
                                           "deepseek-coder", "deepseek-llm", "aquila",
                                           "qwen-tiktoken", "whisper-gpt2"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Tokenizers, GoldenGGUF,
                         ::testing::Values("smollm2", "gemma3", "llama-spm", "gpt-2", "llama-bpe",
                                           "qwen2", "phi-3", "starcoder", "falcon",
                                           "deepseek-coder", "deepseek-llm", "aquila"),
                         param_name);

}  // namespace
