// User-facing commands end to end: `erank hidden` writes transformers' hidden states, and a
// model id resolves offline through the Hugging Face cache layout as from_pretrained finds it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/model_source.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using namespace erank;

namespace {

const fs::path kFix = fs::path(ERANK_SOURCE_DIR) / "tests/fixtures/hf";

TEST(HiddenCommand, WritesTransformersHiddenStates) {
  SafetensorsFile ref((kFix / "gpt2/ref.safetensors").string());
  const TensorView& iv = ref.tensors().at("ids.2");
  std::vector<int32_t> ids(size_t(iv.numel()));
  std::memcpy(ids.data(), iv.data.data(), iv.data.size());
  std::string list;
  for (int32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  const fs::path out =
      fs::temp_directory_path() / ("erank_hidden_" + std::to_string(::getpid()) + ".safetensors");
  const std::string cmd = std::string(ERANK_BINARY) + " hidden -m " + (kFix / "gpt2").string() +
                          " --ids " + list + " --logits --out " + out.string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  SafetensorsFile got(out.string());
  for (const char* name : {"hidden", "logits"}) {
    const TensorView& a = got.tensors().at(std::string(name) + ".0");
    const TensorView& b = ref.tensors().at(std::string(name) + ".2");
    ASSERT_EQ(a.shape, b.shape) << name;
    std::vector<float> va(size_t(a.numel())), vb(size_t(b.numel()));
    to_f32(a, va.data());
    to_f32(b, vb.data());
    double num = 0, den = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      num = std::max(num, std::fabs(double(va[i]) - vb[i]));
      den = std::max(den, std::fabs(double(vb[i])));
    }
    EXPECT_LE(num / den, 1e-4) << name;
  }
  fs::remove(out);
}

TEST(ModelSource, ResolvesHfCacheSnapshotFromRefsMain) {
  const fs::path cache = fs::temp_directory_path() / ("erank_hub_" + std::to_string(::getpid()));
  const fs::path repo = cache / "models--acme--tiny-gpt2";
  fs::create_directories(repo / "snapshots/abc123");
  fs::create_directories(repo / "snapshots/old999");
  fs::create_directories(repo / "refs");
  std::ofstream(repo / "refs/main") << "abc123";
  fs::copy_file(kFix / "gpt2/config.json", repo / "snapshots/abc123/config.json");
  ::setenv("HF_HUB_CACHE", cache.c_str(), 1);
  const ModelSource s = resolve_model_source("acme/tiny-gpt2");
  EXPECT_EQ(s.kind, ModelSource::Kind::hf_folder);
  EXPECT_EQ(fs::path(s.path), repo / "snapshots/abc123");
  EXPECT_THROW(resolve_model_source("acme/missing"), std::exception);
  ::unsetenv("HF_HUB_CACHE");
  // HF_HOME/hub is the fallback, as huggingface_hub computes it.
  fs::create_directories(cache / "home");
  fs::rename(cache / "models--acme--tiny-gpt2", cache / "home/hub");
  fs::create_directories(cache / "home/hub");
  ::setenv("HF_HOME", (cache / "home").c_str(), 1);
  fs::create_directories(cache / "home/hub/models--acme--tiny-gpt2");
  fs::rename(cache / "home/hub/snapshots", cache / "home/hub/models--acme--tiny-gpt2/snapshots");
  fs::rename(cache / "home/hub/refs", cache / "home/hub/models--acme--tiny-gpt2/refs");
  EXPECT_EQ(fs::path(resolve_model_source("acme/tiny-gpt2").path),
            cache / "home/hub/models--acme--tiny-gpt2/snapshots/abc123");
  ::unsetenv("HF_HOME");
  fs::remove_all(cache);
}

}  // namespace
