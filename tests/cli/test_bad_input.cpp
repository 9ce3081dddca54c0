// Corrupt inputs through the real binary: one clear error line naming the file and the problem,
// exit code 1, no crash (the sanitizer build runs this too).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

const fs::path kFix = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/hf/llama_gqa_rope3";

struct Result {
  int code;
  std::string err;
};

Result run(const std::string& args) {
  const fs::path errf = fs::temp_directory_path() / ("erank_err_" + std::to_string(::getpid()));
  const std::string cmd = std::string(ERANK_BINARY) + " " + args + " >/dev/null 2>" + errf.string();
  const int st = std::system(cmd.c_str());
  std::ifstream f(errf);
  std::stringstream ss;
  ss << f.rdbuf();
  fs::remove(errf);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ss.str()};
}

// ERANK_SIMD names a cap on the kernels' instruction set; a value it does not know is an error
// naming the variable, not a silent fall back. (The bf16 fixture keeps its matrices stored, so
// loading it picks the kernels.)
TEST(BadEnv, UnknownSimdCapIsAnError) {
  ::setenv("ERANK_SIMD", "sse", 1);
  const Result r = run("info --model " + (kFix.string() + "-bf16"));
  ::unsetenv("ERANK_SIMD");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("ERANK_SIMD=sse"), std::string::npos) << r.err;
  EXPECT_EQ(run("info --model " + (kFix.string() + "-bf16")).code, 0);
}

class BadModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("erank_bad_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(kFix / "config.json", dir / "config.json");
    fs::copy_file(kFix / "model.safetensors", dir / "model.safetensors");
  }
  void TearDown() override { fs::remove_all(dir); }

  // Expects exit 1 and exactly one stderr line containing each of `needles`.
  void expect_error(const std::vector<std::string>& needles) {
    const Result r = run("info --model " + dir.string());
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (auto& n : needles)
      EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
  }

  // Rewrites model.safetensors keeping all tensors but transforming the list first.
  void rewrite(const std::function<void(std::vector<TensorToWrite>&)>& edit) {
    std::vector<TensorToWrite> ts;
    {
      SafetensorsFile f((dir / "model.safetensors").string());
      for (auto& [name, v] : f.tensors())
        ts.push_back({name, v.dtype, v.shape, std::vector<uint8_t>(v.data.begin(), v.data.end())});
    }
    edit(ts);
    write_safetensors((dir / "model.safetensors").string(), ts);
  }

  fs::path dir;
};

TEST_F(BadModel, TruncatedSafetensors) {
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") / 2);
  expect_error({"model.safetensors", "truncated"});
}

TEST_F(BadModel, HeaderLengthBeyondFile) {
  fs::resize_file(dir / "model.safetensors", 100);
  expect_error({"model.safetensors", "header length"});
}

TEST_F(BadModel, OffsetsThatLie) {
  // Grow one tensor's declared size: its data_offsets no longer match shape x dtype.
  rewrite([](auto& ts) { ts[0].shape[0] += 1; });
  expect_error({"model.safetensors", "occupies"});
}

TEST_F(BadModel, MissingTensor) {
  rewrite([](auto& ts) {
    ts.erase(
        std::remove_if(ts.begin(), ts.end(), [](auto& t) { return t.name == "model.norm.weight"; }),
        ts.end());
  });
  expect_error({"model.norm.weight", "missing"});
}

TEST_F(BadModel, WrongShape) {
  rewrite([](auto& ts) {
    for (auto& t : ts)
      if (t.name == "model.norm.weight") {
        t.shape = {32};
        t.bytes.resize(32 * 4);
      }
  });
  expect_error({"model.norm.weight", "shape [32]", "expected [64]"});
}

TEST_F(BadModel, WrongDtype) {
  rewrite([](auto& ts) {
    for (auto& t : ts)
      if (t.name == "model.norm.weight") t.dtype = DType::i32;
  });
  expect_error({"model.norm.weight", "dtype I32"});
}

TEST_F(BadModel, UnknownModelType) {
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "vocab_size": 10})";
  expect_error({"config.json", "unknown model_type 'bert'"});
}

TEST_F(BadModel, MalformedConfig) {
  std::ofstream(dir / "config.json") << R"({"model_type": "llama", )";
  expect_error({"config.json", "malformed JSON"});
}

TEST_F(BadModel, NotJsonHeader) {
  std::ofstream f(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
  const uint64_t n = 16;
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << "this is not json";
  f.close();
  expect_error({"model.safetensors", "not valid JSON"});
}

TEST(BadInput, TruncatedGGUF) {
  const fs::path src = fs::path(ERANK_SOURCE_DIR) / "models/smollm2-135m.gguf";
  if (!fs::exists(src)) GTEST_SKIP() << "embedded model not installed";
  const fs::path p =
      fs::temp_directory_path() / ("erank_trunc_" + std::to_string(::getpid()) + ".gguf");
  {
    std::ifstream in(src, std::ios::binary);
    std::vector<char> buf(1 << 20);
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::ofstream(p, std::ios::binary).write(buf.data(), in.gcount());
  }
  const Result r = run("info --model " + p.string());
  fs::remove(p);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(p.filename().string()), std::string::npos) << r.err;
}

TEST(BadInput, UnknownModelName) {
  const Result r = run("info --model no-such-model-xyz");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model 'no-such-model-xyz' not found"), std::string::npos) << r.err;
}

TEST(BadInput, HiddenOutputNotWrittenOnError) {
  const fs::path out =
      fs::temp_directory_path() / ("erank_h_" + std::to_string(::getpid()) + ".safetensors");
  const Result r = run("hidden --model " + kFix.string() + " --ids 1,2,999 --out " + out.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("token id 999 is outside the vocabulary"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
