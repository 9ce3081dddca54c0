// Chat templates of six model families rendered byte-identical to transformers'
// apply_chat_template (goldens.json from tools/make_template_goldens.py), where templates are
// found, the special tokens passed to them, and the checks on messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "template/chat.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

const fs::path kDir = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/template";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ordered_json goldens() {
  return ordered_json::parse(slurp(kDir / "goldens.json"));
}

TEST(ChatTemplate, GoldensByteIdentical) {
  const auto g = goldens();
  std::map<std::string, int> per_family;
  for (const auto& c : g["chats"]) {
    const std::string fam = c["template"];
    const erank::ChatTemplate t{
        slurp(fs::path(ERANK_SOURCE_DIR) / g["templates"][fam]["file"].get<std::string>()),
        fam + ".jinja"};
    SCOPED_TRACE(fam + " " + c["name"].get<std::string>() +
                 (c["add_generation_prompt"].get<bool>() ? " +gen" : ""));
    std::string got, err;
    try {
      got = erank::render_chat(t, c["messages"], c["add_generation_prompt"].get<bool>(), c["vars"]);
    } catch (const erank::Error& e) {
      err = e.what();
    }
    if (c.contains("expected")) {
      EXPECT_EQ(err, "");
      EXPECT_EQ(got, c["expected"].get<std::string>());
    } else {
      EXPECT_NE(err.find(c["expected_error"].get<std::string>()), std::string::npos) << err;
      EXPECT_EQ(err.rfind(fam + ".jinja:", 0), 0u) << err;
    }
    ++per_family[fam];
  }
  EXPECT_EQ(per_family.size(), 7u);  // SmolLM2, Gemma 3, Llama 3.1, 3.2, Qwen2.5, Mistral, Phi-3.5
  for (auto& [fam, n] : per_family) EXPECT_GE(n, 12) << fam;
}

TEST(ChatTemplate, FixturesMatchRecordedHashesAndSources) {
  const auto g = goldens();
  const auto smol = erank::find_chat_template(erank::resolve_model_source("smollm2-135m"));
  EXPECT_EQ(smol.source, slurp(kDir / "smollm2.jinja"));
  EXPECT_NE(smol.origin.find("tokenizer.chat_template"), std::string::npos);
  for (auto& [fam, meta] : g["templates"].items())
    EXPECT_TRUE(fs::exists(fs::path(ERANK_SOURCE_DIR) / meta["file"].get<std::string>())) << fam;
}

TEST(ChatTemplate, GemmaGgufHasNoTemplate) {
  try {
    erank::find_chat_template(erank::resolve_model_source("gemma3-270m"));
    FAIL() << "expected an error";
  } catch (const erank::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model gemma3-270m has no chat template"),
              std::string::npos)
        << e.what();
  }
}

TEST(ChatTemplate, SpecialTokensFromGguf) {
  const auto g = goldens();
  auto family_vars = [&](const std::string& fam) {
    for (auto& c : g["chats"])
      if (c["family"] == fam) return c["vars"];
    return ordered_json();
  };
  const auto smol = erank::special_token_vars(erank::resolve_model_source("smollm2-135m"));
  const auto smol_want = family_vars("smollm2");
  for (auto& [k, v] : smol_want.items()) EXPECT_EQ(smol.value(k, ""), v) << k;
  const auto gemma = erank::special_token_vars(erank::resolve_model_source("gemma3-270m"));
  const auto gemma_want = family_vars("gemma3");
  for (auto& [k, v] : gemma_want.items()) EXPECT_EQ(gemma.value(k, ""), v) << k;
}

class HfFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("erank_tmpl_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    src.path = dir.string();
    src.name = "testmodel";
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    fs::create_directories((dir / name).parent_path());
    std::ofstream(dir / name, std::ios::binary) << text;
  }
  fs::path dir;
  erank::ModelSource src;
};

TEST_F(HfFolder, StringListAndJinjaFile) {
  write("tokenizer_config.json",
        R"({"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>",
            "pad_token": null, "chat_template": "A{{ bos_token }}"})");
  EXPECT_EQ(erank::find_chat_template(src).source, "A{{ bos_token }}");
  const auto vars = erank::special_token_vars(src);
  EXPECT_EQ(vars, nlohmann::json::parse(R"({"bos_token": "<s>", "eos_token": "</s>"})"));
  write(
      "tokenizer_config.json",
      R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(erank::find_chat_template(src).source, "D");
  EXPECT_EQ(erank::find_chat_template(src, "tool_use").source, "T");
  EXPECT_THROW(erank::find_chat_template(src, "rag"), erank::Error);
  write("chat_template.jinja", "J");  // newer transformers: the file wins
  EXPECT_EQ(erank::find_chat_template(src).source, "J");
  write("additional_chat_templates/rag.jinja", "R");
  EXPECT_EQ(erank::find_chat_template(src, "rag").source, "R");
}

TEST_F(HfFolder, NoTemplateNamesTheModel) {
  write("tokenizer_config.json", "{}");
  try {
    erank::find_chat_template(src);
    FAIL();
  } catch (const erank::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model testmodel has no chat template"),
              std::string::npos);
  }
}

TEST(ChatTemplate, MessageChecks) {
  const erank::ChatTemplate t{"{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}",
                              "t"};
  auto err = [&](const char* msgs) {
    try {
      erank::render_chat(t, ordered_json::parse(msgs), false, ordered_json::object());
    } catch (const erank::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(err(R"({"role": "user"})").find("must be a JSON list"), std::string::npos);
  EXPECT_NE(err(R"([{"role": "user", "content": "a"}, 3])").find("message 1"), std::string::npos);
  EXPECT_NE(err(R"([{"content": "a"}])").find("message 0: \"role\" must be a string"),
            std::string::npos);
  EXPECT_NE(err(R"([{"role": "user"}])").find("message 0: missing \"content\""), std::string::npos);
  EXPECT_NE(err(R"([{"role": "user", "content": 5}])").find("message 0: \"content\" must be"),
            std::string::npos);
  EXPECT_NE(err(R"([{"role": "user", "content": [{"type": "image"}]}])").find("content part 0"),
            std::string::npos);
  EXPECT_NE(err("[]").find("empty conversation"), std::string::npos);
  // None-valued keys are dropped, as transformers does; tools/documents are None, not undefined.
  const erank::ChatTemplate t2{
      "{{ messages[0].x is defined }} {{ tools is none }} {{ documents is defined }}", "t"};
  EXPECT_EQ(
      erank::render_chat(t2, ordered_json::parse(R"([{"role": "u", "content": "", "x": null}])"),
                         false, ordered_json::object()),
      "False True True");
}

}  // namespace
