// String -> id table with heterogeneous (string_view) lookup, shared by the models.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace erank::tok {

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  // Adds token -> id; ids may be sparse (id_to_token has holes as empty optional strings).
  void add(std::string token, int32_t id);
  std::optional<int32_t> find(std::string_view s) const {
    auto it = map_.find(s);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= by_id_.size() || !has_[id]) return nullptr;
    return &by_id_[id];
  }
  size_t size() const { return map_.size(); }
  size_t max_id_plus_one() const { return by_id_.size(); }

 private:
  std::unordered_map<std::string, int32_t, SvHash, std::equal_to<>> map_;
  std::vector<std::string> by_id_;
  std::vector<bool> has_;
};

}  // namespace erank::tok
