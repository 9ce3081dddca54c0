// `erank generate` through the real binary on the embedded SmolLM2: JSONL out in input order with
// every field, prompts as text / token ids / chat messages, --stop and --stats; and bad input --
// one error line, exit 1, no output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fs = std::filesystem;

namespace {

const std::string kSrc = ERANK_SOURCE_DIR;

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class GenerateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSrc + "/models/smollm2-135m.gguf"))
      GTEST_SKIP() << "models/smollm2-135m.gguf missing (bash scripts/install.sh)";
    dir = fs::temp_directory_path() /
          ("erank_gen_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  Result run(const std::string& args) {
    const std::string cmd = std::string(ERANK_BINARY) + " generate -m smollm2-135m -t 1 " + args +
                            " >" + (dir / "stdout").string() + " 2>" + (dir / "stderr").string();
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  // Exit 1, one stderr line holding `needle`, nothing on stdout, no output file.
  void expect_error(const std::string& args, const std::string& needle) {
    const Result r = run(args + " --out " + (dir / "out.jsonl").string());
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "missing '" << needle << "' in " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(dir / "out.jsonl")) << args;
  }
  fs::path dir;
};

std::vector<nlohmann::json> lines_of(const std::string& s) {
  std::vector<nlohmann::json> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

TEST_F(GenerateCli, JsonlInInputOrder) {
  write("p.jsonl",
        "{\"prompt\": \"The capital of France is\"}\n"
        "{\"prompt\": [504, 3575, 282, 4649, 314]}\n"
        "\n"
        "{\"prompt\": \"def add(a, b):\"}\n");
  const Result r = run("--data " + (dir / "p.jsonl").string() + " -n 6 --batch 2 --out " +
                       (dir / "o.jsonl").string() + " --stats " + (dir / "s.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines_of(slurp(dir / "o.jsonl"));
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i]["index"], i);
    EXPECT_LE(out[i]["tokens"].size(), 6u);
    EXPECT_TRUE(out[i]["finish_reason"] == "length" || out[i]["finish_reason"] == "eos");
    EXPECT_TRUE(out[i]["completion"].is_string());
  }
  // The ids of prompt 1 are the tokens of prompt 0: the same prompt text and completion.
  EXPECT_EQ(out[1]["prompt"], "The capital of France is");
  EXPECT_EQ(out[1]["tokens"], out[0]["tokens"]);
  EXPECT_EQ(out[0]["completion"].get<std::string>().substr(0, 6), " Paris");
  const auto stats = nlohmann::json::parse(slurp(dir / "s.json"));
  EXPECT_EQ(stats["prompts"], 3);
  EXPECT_EQ(stats["prefill_tokens"], 5 + 5 + 7);
  EXPECT_GT(stats["decode_tokens"].get<int>(), 0);
}

TEST_F(GenerateCli, StopStringIsCut) {
  const Result r = run("-p \"The capital of France is\" -n 12 --stop .");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["completion"], " Paris");
  EXPECT_EQ(out[0]["finish_reason"], "stop");
}

TEST_F(GenerateCli, ChatMessages) {
  write("c.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}\n");
  const Result r = run("--chat --data " + (dir / "c.jsonl").string() + " --field messages -n 8");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["prompt"],
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
}

TEST_F(GenerateCli, BadInput) {
  expect_error("-p hello --max-new-tokens 0", "--max-new-tokens must be at least 1");
  expect_error("-p \"\"", "prompt 0 is empty");
  expect_error("-p \"one two three four five six seven eight\" --max-context 4",
               "no room to generate");
  write("bad.jinja", "{% if messages %}{{ messages[0]['content'] }}");
  expect_error("--chat -p hi --template " + (dir / "bad.jinja").string(), "bad.jinja");
  write("m.jsonl", "{\"messages\": [{\"role\": \"user\"}]}\n");
  expect_error("--chat --field messages --data " + (dir / "m.jsonl").string(), "content");
  write("n.jsonl", "{\"messages\": [1, 2]}\n");
  expect_error("--chat --field messages --data " + (dir / "n.jsonl").string(), "message");
  write("j.jsonl", "{\"prompt\": \"ok\"}\n{\"prompt\": \n");
  expect_error("--data " + (dir / "j.jsonl").string(), "j.jsonl:2");
  expect_error("--data " + (dir / "none.jsonl").string(), "none.jsonl");
  expect_error("-p hi --stop \"\"", "stop");
}

TEST(ModelPath, MissingAbsolutePathNamesOnlyItself) {
  const std::string cmd = std::string(ERANK_BINARY) + " info -m /no/such/dir/model.gguf 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(st), 1);
  EXPECT_NE(out.find("'/no/such/dir/model.gguf' not found: no such file or folder"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("models//"), std::string::npos) << out;
}

}  // namespace
