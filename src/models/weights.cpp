#include "models/weights.h"

#include "core/error.h"

namespace erank {

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
