#include "models/weights.h"

#include <cstdlib>
#include <string_view>

#include "core/error.h"

namespace erank {

const WeightCodec& weight_codec(GGMLType t) {
  static const auto table = [] {
    std::map<GGMLType, WeightCodec> m;
    for (GGMLType g : {GGMLType::F16, GGMLType::BF16, GGMLType::Q4_0, GGMLType::Q4_1,
                       GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0, GGMLType::Q2_K,
                       GGMLType::Q3_K, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K})
      m[g] = WeightCodec{ggml_type_name(g).data(), ggml_block_size(g),    ggml_type_size(g),
                         row_dequantizer(g),       column_dequantizer(g), row_dot(g)};
    return m;
  }();
  auto it = table.find(t);
  if (it == table.end()) fail("weights of type {} cannot be kept in their type", ggml_type_name(t));
  return it->second;
}

bool keep_stored_weights() {
  const char* e = std::getenv("ERANK_WEIGHTS");
  const std::string_view v = e ? e : "";
  if (v.empty() || v == "stored") return true;
  if (v == "f32") return false;
  fail("ERANK_WEIGHTS={}: expected 'f32' (expand weights at load) or 'stored' (the default)", v);
}

const Weight& Weights::get(const std::string& name) const {
  const Weight* w = find(name);
  if (!w) fail("tensor '{}' is not loaded", name);
  return *w;
}

const Weight* Weights::find(const std::string& name) const {
  auto a = aliases_.find(name);
  auto it = map_.find(a == aliases_.end() ? name : a->second);
  return it == map_.end() ? nullptr : &it->second;
}

std::string layer_name(const std::string& pattern, int64_t i) {
  std::string s = pattern;
  const auto p = s.find("{i}");
  if (p != std::string::npos) s.replace(p, 3, std::to_string(i));
  return s;
}

}  // namespace erank
