// String -> id table with string_view lookup, shared by the models. Each string is stored once
// (keys_); the lookup table is a flat open-addressing array of key indices, so building a 262k
// vocabulary costs no node allocation per token (std::unordered_map took ~10% of GGUF start-up).
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
  // Adds token -> id (a second add of the same token moves it to the new id); ids may be sparse
  // (id_to_token has holes).
  void add(std::string token, int32_t id);
  // The dense vocabulary tokens[i] -> i in one pass. A token spelled like a later one is shadowed
  // as a dict would do it: lookups give the last id, and the earlier id has no token. Returns,
  // for each position, the id its spelling resolves to.
  std::vector<int32_t> assign_dense(std::vector<std::string> tokens);
  std::optional<int32_t> find(std::string_view s) const {
    const int32_t k = find_key(s, hash(s));
    if (k < 0) return std::nullopt;
    return ids_[k];
  }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= by_id_.size() || by_id_[id] < 0) return nullptr;
    return &keys_[by_id_[id]];
  }
  size_t size() const { return size_; }
  size_t max_id_plus_one() const { return by_id_.size(); }

 private:
  static uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  int32_t find_key(std::string_view s, uint64_t h) const;
  void insert_key(int32_t k, uint64_t h);  // k must not be in the table
  void rehash(size_t cap);

  std::vector<std::string> keys_;  // every string ever added (some shadowed after assign_dense)
  std::vector<int32_t> ids_;       // keys_[k] -> id
  std::vector<int32_t> by_id_;     // id -> key index, -1 = no token
  // slot: (hash high 32 bits << 32) | (key index + 1); 0 = empty
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

}  // namespace erank::tok
