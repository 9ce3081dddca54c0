// `erank template` through the real binary: the embedded models' chats equal the goldens
// byte for byte; bad input gives exit 1, one error line and nothing on stdout.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

struct Result {
  int code;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("erank_tcli_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return dir / name;
  }
  Result run(const std::string& args) {
    const std::string cmd = std::string(ERANK_BINARY) + " template " + args + " >" +
                            (dir / "out").string() + " 2>" + (dir / "err").string();
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir / "out"), slurp(dir / "err")};
  }
  void expect_error(const std::string& args, const std::string& needle) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("erank: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in: " << r.err;
  }
  fs::path dir;
};

TEST_F(Cli, EmbeddedModelsMatchGoldens) {
  const auto g = ordered_json::parse(slurp(kDir / "goldens.json"));
  int checked = 0;
  for (const auto& c : g["chats"]) {
    const std::string fam = c["family"];
    if (fam != "smollm2" && fam != "gemma3") continue;
    const fs::path msgs = write("m.json", c["messages"].dump());
    std::string args = "--model " + std::string(fam == "smollm2" ? "smollm2-135m" : "gemma3-270m") +
                       " --messages " + msgs.string();
    if (fam == "gemma3")
      args += " --template " + (kDir / "gemma3.jinja").string();  // GGUF has none
    if (c["add_generation_prompt"].get<bool>()) args += " --add-generation-prompt";
    SCOPED_TRACE(args);
    if (c.contains("expected")) {
      const Result r = run(args);
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(r.err, "");
      EXPECT_EQ(r.out, c["expected"].get<std::string>());
    } else {
      expect_error(args, c["expected_error"].get<std::string>());
    }
    ++checked;
  }
  EXPECT_GE(checked, 28);
}

TEST_F(Cli, VarsFileAndTemplateName) {
  const fs::path msgs = write("m.json", R"([{"role": "user", "content": "hi"}])");
  const fs::path t =
      write("t.jinja", "{{ bos_token }}|{{ date_string }}|{{ messages[0].content }}");
  const fs::path v = write("v.json", R"({"date_string": "1 Jan 2000"})");
  const Result r = run("--model smollm2-135m --messages " + msgs.string() + " --template " +
                       t.string() + " --vars " + v.string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>|1 Jan 2000|hi");
  expect_error("--model smollm2-135m --messages " + msgs.string() + " --template-name tool_use",
               "has no 'tokenizer.chat_template.tool_use'");
}

TEST_F(Cli, BadInput) {
  const fs::path ok = write("ok.json", R"([{"role": "user", "content": "hi"}])");
  expect_error("--model smollm2-135m --messages " + (dir / "missing.json").string(), "cannot open");
  expect_error("--model smollm2-135m --messages " + write("bad.json", "[{").string(),
               "malformed JSON");
  expect_error(
      "--model smollm2-135m --messages " + write("obj.json", R"({"role": "user"})").string(),
      "must be a JSON list");
  expect_error("--model smollm2-135m --messages " +
                   write("c.json", R"([{"role": "user", "content": 1}])").string(),
               "chat message 0");
  expect_error("--model smollm2-135m --messages " + ok.string() + " --template " +
                   write("s.jinja", "x\n{% for m in messages %}").string(),
               "s.jinja:2: syntax error");
  expect_error("--model gemma3-270m --messages " + ok.string(),
               "model gemma3-270m has no chat template");
  expect_error("--model gemma3-270m --messages " +
                   write("alt.json",
                         R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])")
                       .string() +
                   " --template " + (kDir / "gemma3.jinja").string(),
               "gemma3.jinja:15: Conversation roles must alternate");
}

}  // namespace
