#include "models/architecture.h"

#include "core/error.h"

namespace erank {

extern const Architecture kLlama, kOpt, kGpt2, kGptNeox, kGemma3, kOpenELM, kClipVision;

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all{&kLlama,  &kOpt,     &kGpt2,      &kGptNeox,
                                                    &kGemma3, &kOpenELM, &kClipVision};
  return all;
}

namespace {
std::string known_list(bool gguf) {
  std::string s;
  for (auto* a : architectures())
    for (auto& t : gguf ? a->gguf_archs : a->hf_model_types) s += (s.empty() ? "" : ", ") + t;
  return s;
}
}  // namespace

const Architecture& architecture_for_hf(const std::string& model_type, const std::string& origin) {
  for (auto* a : architectures())
    for (auto& t : a->hf_model_types)
      if (t == model_type) return *a;
  fail("{}: unknown model_type '{}' (supported: {})", origin, model_type, known_list(false));
}

const Architecture& architecture_for_gguf(const std::string& arch, const std::string& origin) {
  for (auto* a : architectures())
    for (auto& t : a->gguf_archs)
      if (t == arch) return *a;
  fail("{}: unsupported GGUF architecture '{}' (supported: {})", origin, arch, known_list(true));
}

const Architecture& architecture_named(const std::string& name) {
  for (auto* a : architectures())
    if (a->name == name) return *a;
  fail("unknown architecture '{}'", name);
}

}  // namespace erank
