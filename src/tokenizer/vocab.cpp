// Vocab: linear probing over key indices, the high hash bits kept in the slot so that most
// probes reject a key without touching its string.
#include "tokenizer/vocab.h"

#include "core/error.h"

namespace erank::tok {

namespace {
constexpr int32_t kMaxId = 1 << 30;
uint64_t tag(uint64_t h) {
  return h & 0xFFFFFFFF00000000ull;
}
}  // namespace

int32_t Vocab::find_key(std::string_view s, uint64_t h) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t e = slots_[i];
    if (e == 0) return -1;
    if (tag(e) == tag(h)) {
      const auto k = static_cast<int32_t>((e & 0xFFFFFFFFu) - 1);
      if (keys_[k] == s) return k;
    }
  }
}

void Vocab::insert_key(int32_t k, uint64_t h) {
  if ((size_ + 1) * 4 > slots_.size() * 3) rehash(std::max<size_t>(64, slots_.size() * 2));
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = tag(h) | static_cast<uint64_t>(k + 1);
  ++size_;
}

void Vocab::rehash(size_t cap) {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(cap, 0);
  size_ = 0;
  for (uint64_t e : old)
    if (e != 0) {
      const auto k = static_cast<int32_t>((e & 0xFFFFFFFFu) - 1);
      insert_key(k, hash(keys_[k]));
    }
}

void Vocab::add(std::string token, int32_t id) {
  if (id < 0 || id > kMaxId) fail("token id {} out of range for \"{}\"", id, token);
  if (static_cast<size_t>(id) >= by_id_.size()) by_id_.resize(id + 1, -1);
  const uint64_t h = hash(token);
  int32_t k = find_key(token, h);
  if (k < 0) {
    k = static_cast<int32_t>(keys_.size());
    keys_.push_back(std::move(token));
    ids_.push_back(id);
    insert_key(k, h);
  } else {
    ids_[k] = id;  // the old id keeps its spelling, as with a map + id table
  }
  by_id_[id] = k;
}

std::vector<int32_t> Vocab::assign_dense(std::vector<std::string> tokens) {
  if (tokens.size() > static_cast<size_t>(kMaxId)) fail("vocabulary of {} tokens", tokens.size());
  keys_ = std::move(tokens);
  const auto n = static_cast<int32_t>(keys_.size());
  ids_.resize(n);
  by_id_.resize(n);
  size_ = 0;
  size_t cap = 64;
  while (cap * 3 < static_cast<size_t>(n) * 4 + 4) cap <<= 1;
  slots_.assign(cap, 0);
  const size_t mask = cap - 1;
  for (int32_t k = 0; k < n; ++k) {
    ids_[k] = k;
    by_id_[k] = k;
    const uint64_t h = hash(keys_[k]);
    size_t i = h & mask;
    for (; slots_[i] != 0; i = (i + 1) & mask) {
      const uint64_t e = slots_[i];
      const auto j = static_cast<int32_t>((e & 0xFFFFFFFFu) - 1);
      if (tag(e) == tag(h) && keys_[j] == keys_[k]) break;
    }
    if (slots_[i] != 0) {  // a repeated spelling: the later id wins, the earlier one has no token
      by_id_[(slots_[i] & 0xFFFFFFFFu) - 1] = -1;
    } else {
      ++size_;
    }
    slots_[i] = tag(h) | static_cast<uint64_t>(k + 1);
  }
  std::vector<int32_t> id_at(n);
  for (int32_t k = 0; k < n; ++k) id_at[k] = by_id_[k] >= 0 ? k : *find(keys_[k]);
  return id_at;
}

}  // namespace erank::tok
