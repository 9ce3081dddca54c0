// The real models from scripts/install.sh (skipped when absent): header facts and the first rows
// of a few tensors of every type they hold, against gguf-py (tests/fixtures/gguf/real_models.*).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace erank {
namespace {

const std::string kSrc = std::string(ERANK_SOURCE_DIR) + "/";
const std::string kDir = kSrc + "tests/fixtures/gguf/";

nlohmann::json facts(const std::string& model) {
  std::ifstream in(kDir + "real_models.json");
  EXPECT_TRUE(in);
  return nlohmann::json::parse(in).at(model);
}

// Skips unless the model the facts were dumped from is installed (same size).
std::string model_path(const nlohmann::json& j) {
  const std::string p = kSrc + j["file"].get<std::string>();
  if (!std::filesystem::exists(p)) return "";
  if (std::filesystem::file_size(p) != j["size"].get<uint64_t>()) return "";
  return p;
}

void check_model(const std::string& model) {
  const auto j = facts(model);
  const std::string path = model_path(j);
  if (path.empty()) GTEST_SKIP() << model << " not installed (or a different file)";
  GGUFFile f(path);
  EXPECT_EQ(f.version(), j["version"].get<uint32_t>());
  EXPECT_EQ(f.tensors().size(), j["tensor_count"].get<size_t>());
  EXPECT_EQ(f.metadata().size(), j["kv_count"].get<size_t>());
  EXPECT_EQ(f.alignment(), j["alignment"].get<size_t>());
  const std::string arch = f.get_string("general.architecture");
  EXPECT_EQ(arch, j["architecture"].get<std::string>());
  EXPECT_EQ(f.get_int(arch + ".block_count"), j["block_count"].get<int64_t>());

  SafetensorsFile ref(kDir + "real_models_ref.safetensors");
  for (const auto& tj : j["tensors"]) {
    const std::string name = tj["name"].get<std::string>();
    SCOPED_TRACE(name);
    const GGUFTensorInfo* t = f.find_tensor(name);
    ASSERT_TRUE(t);
    EXPECT_EQ(ggml_type_name(t->type), tj["type"].get<std::string>());
    EXPECT_EQ(t->ne, tj["ne"].get<std::vector<int64_t>>());
    const int64_t n = tj["rows"].get<int64_t>() * t->ne[0];
    std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
    dequantize(t->type, t->data.data(), got.data(), n);
    const TensorView& v = ref.tensors().at(tj["ref"].get<std::string>());
    ASSERT_EQ(v.numel(), n);
    to_f32(v, want.data());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << "not bit-exact";
  }
}

TEST(GGUFReal, SmolLM2) {
  check_model("smollm2");
}
TEST(GGUFReal, Gemma3) {
  check_model("gemma3");
}

// Every tensor of SmolLM2 dequantises to finite values (a smoke test of whole-tensor paths).
TEST(GGUFReal, SmolLM2AllTensorsFinite) {
  const std::string path = model_path(facts("smollm2"));
  if (path.empty()) GTEST_SKIP() << "smollm2 not installed";
  GGUFFile f(path);
  for (const auto& t : f.tensors()) {
    const auto w = f.dequantize(t);
    ASSERT_EQ(static_cast<int64_t>(w.size()), t.numel());
    for (float x : w) ASSERT_TRUE(std::isfinite(x)) << t.name;
  }
}

}  // namespace
}  // namespace erank
