// BPE exactly as the `tokenizers` crate runs it: characters (with continuing-subword prefix /
// end-of-word suffix), byte fallback or (fused) unk for unknown characters, then merges applied
// lowest rank first, leftmost on ties, with a heap over a linked list: O(n log n) per word.
#include <algorithm>
#include <mutex>
#include <queue>

#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace erank::tok {

namespace {

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

// Open-addressing map (pair key -> merge) with linear probing: merge lookups dominate BPE time
// and std::unordered_map's node chasing costs a cache miss each.
class MergeMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, MergeInfo{});
    mask_ = cap - 1;
  }
  void insert_or_assign(uint64_t k, MergeInfo v) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t i = slot(k);
    if (keys_[i] == kEmpty) keys_[i] = k, ++size_;
    vals_[i] = v;
  }
  const MergeInfo* find(uint64_t k) const {
    if (keys_.empty()) return nullptr;
    size_t i = slot(k);
    return keys_[i] == k ? &vals_[i] : nullptr;
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  size_t slot(uint64_t k) const {
    size_t i = static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
    while (keys_[i] != kEmpty && keys_[i] != k) i = (i + 1) & mask_;
    return i;
  }
  void grow() {
    auto keys = std::move(keys_);
    auto vals = std::move(vals_);
    reserve(std::max<size_t>(16, keys.size()));
    size_ = 0;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] != kEmpty) insert_or_assign(keys[i], vals[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<MergeInfo> vals_;
  size_t mask_ = 0, size_ = 0;
};

class BPE : public Model {
 public:
  explicit BPE(const json& j) {
    for (auto& [tok, id] : need(j, "vocab", "BPE model").items()) {
      if (!id.is_number_integer()) fail("BPE vocab: id of \"{}\" is not an integer", tok);
      vocab_.add(tok, id.get<int32_t>());
    }
    read_options(j);
    const json& merges = need(j, "merges", "BPE model");
    if (!merges.is_array()) fail("BPE merges must be an array");
    merges_.reserve(merges.size());
    int32_t rank = 0;
    for (auto& m : merges) {
      if (m.is_string()) {
        add_merge_text(m.get_ref<const std::string&>(), rank++);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        add_merge(m[0].get_ref<const std::string&>(), m[1].get_ref<const std::string&>(), rank++);
      } else {
        fail("BPE merge #{} is neither \"a b\" nor [a, b]", rank);
      }
    }
  }

  BPE(const json& options, BpeTables t) {
    vocab_ = std::move(t.vocab);
    read_options(options);
    merges_.reserve(t.merge_ids.size() + t.merge_texts.size());
    int32_t rank = 0;
    for (auto& m : t.merge_texts) add_merge_text(m, rank++);
    for (auto& m : t.merge_ids) {
      if (!vocab_.token(m.left) || !vocab_.token(m.right) || !vocab_.token(m.merged))
        fail("BPE merge #{} uses an id outside the vocab", rank);
      merges_.insert_or_assign(key(m.left, m.right), MergeInfo{rank++, m.merged});
    }
  }

  void read_options(const json& j) {
    auto str_or_empty = [&](const char* k) {
      return j.contains(k) && j.at(k).is_string() ? j.at(k).get<std::string>() : std::string();
    };
    prefix_ = str_or_empty("continuing_subword_prefix");
    suffix_ = str_or_empty("end_of_word_suffix");
    if (j.contains("unk_token") && j.at("unk_token").is_string()) {
      unk_name_ = j.at("unk_token").get<std::string>();
      unk_ = vocab_.find(unk_name_);
    }
    fuse_unk_ = j.value("fuse_unk", false);
    byte_fallback_ = j.value("byte_fallback", false);
    ignore_merges_ = j.value("ignore_merges", false);
    if (j.contains("dropout") && j.at("dropout").is_number() && j.at("dropout").get<double>() > 0)
      fail("BPE dropout is random; erank needs deterministic ids (set dropout to null)");
    if (byte_fallback_)
      for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.find(fmt::format("<0x{:02X}>", b));
  }

  // A merge written "a b".
  void add_merge_text(std::string_view s, int32_t rank) {
    auto sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      fail("BPE merge #{} \"{}\" is not two tokens separated by one space", rank, s);
    add_merge(s.substr(0, sp), s.substr(sp + 1), rank);
  }

  void add_merge(std::string_view a, std::string_view b, int32_t rank) {
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (!ia || !ib)
      fail("BPE merge #{} (\"{}\", \"{}\") uses a token not in the vocab", rank, a, b);
    merged_buf_.assign(a);
    merged_buf_.append(b.size() >= prefix_.size() ? b.substr(prefix_.size()) : b);
    const std::string& merged = merged_buf_;
    auto in = vocab_.find(merged);
    if (!in) fail("BPE merge #{} gives \"{}\", which is not in the vocab", rank, merged);
    merges_.insert_or_assign(key(*ia, *ib), MergeInfo{rank, *in});
  }

  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    if (w.empty()) return;
    if (ignore_merges_)
      if (auto id = vocab_.find(w)) return out.push_back(*id);
    // Words repeat (Zipf): a bounded cache of short words' ids, like tokenizers' BPE cache.
    const bool cacheable = w.size() <= kCacheMaxWord;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(w);
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    size_t mark = out.size();
    merge_word(w, out);
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      if (cache_.size() < kCacheCapacity)
        cache_.emplace(std::string(w), std::vector<int32_t>(out.begin() + mark, out.end()));
    }
  }

  void merge_word(std::string_view w, std::vector<int32_t>& out) const {
    struct Sym {
      int32_t id;
      int32_t prev, next;
      bool alive;
    };
    std::vector<Sym> syms;
    syms.reserve(w.size());
    auto push = [&](int32_t id) {
      int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back({id, n - 1, n + 1, true});
    };
    int32_t pending_unk = -1;  // an unk not yet emitted (fused runs)
    std::string buf;
    for (size_t i = 0; i < w.size();) {
      size_t a = i;
      i += cp_len(static_cast<uint8_t>(w[a]));
      std::string_view ch = w.substr(a, i - a);
      std::string_view s = ch;
      if ((a != 0 && !prefix_.empty()) || (i == w.size() && !suffix_.empty())) {
        buf.assign(a != 0 ? prefix_ : std::string());
        buf.append(ch);
        if (i == w.size()) buf.append(suffix_);
        s = buf;
      }
      if (auto id = vocab_.find(s)) {
        if (pending_unk >= 0) push(pending_unk), pending_unk = -1;
        push(*id);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char c : s) all &= byte_ids_[c].has_value();
        if (all) {
          // HF does not flush a pending unk here: it stays pending and is emitted later.
          for (unsigned char c : s) push(*byte_ids_[c]);
          continue;
        }
      }
      if (!unk_name_.empty()) {
        if (!unk_) fail("BPE: unk token \"{}\" is not in the vocab", unk_name_);
        if (pending_unk >= 0 && !fuse_unk_) push(pending_unk);
        if (pending_unk < 0 || !fuse_unk_) pending_unk = *unk_;
      }
    }
    if (pending_unk >= 0) push(pending_unk);
    if (syms.empty()) return;
    syms.back().next = -1;

    struct Cand {
      int32_t rank, pos, new_id;
      bool operator<(const Cand& o) const {  // max-heap: smallest rank, then leftmost, on top
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::vector<Cand> heap_store;
    heap_store.reserve(syms.size());
    std::priority_queue<Cand> heap(std::less<Cand>(), std::move(heap_store));
    auto lookup = [&](int32_t a, int32_t b) -> const MergeInfo* { return merges_.find(key(a, b)); };
    for (size_t k = 0; k + 1 < syms.size(); ++k)
      if (auto m = lookup(syms[k].id, syms[k + 1].id))
        heap.push({m->rank, static_cast<int32_t>(k), m->new_id});
    while (!heap.empty()) {
      Cand top = heap.top();
      heap.pop();
      Sym& cur = syms[top.pos];
      if (!cur.alive || cur.next < 0) continue;
      Sym& right = syms[cur.next];
      auto m = lookup(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      right.alive = false;
      cur.next = right.next;
      if (cur.next >= 0) syms[cur.next].prev = top.pos;
      if (cur.prev >= 0)
        if (auto mp = lookup(syms[cur.prev].id, cur.id))
          heap.push({mp->rank, cur.prev, mp->new_id});
      if (cur.next >= 0)
        if (auto mn = lookup(cur.id, syms[cur.next].id)) heap.push({mn->rank, top.pos, mn->new_id});
    }
    for (auto& s : syms)
      if (s.alive) out.push_back(s.id);
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

 private:
  static constexpr size_t kCacheMaxWord = 256, kCacheCapacity = 100000;
  Vocab vocab_;
  MergeMap merges_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, SvHash, std::equal_to<>> cache_;
  std::string prefix_, suffix_;
  std::string unk_name_;
  std::string merged_buf_;  // scratch for add_merge
  std::optional<int32_t> unk_;
  std::optional<int32_t> byte_ids_[256];
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const json& j) {
  return std::make_unique<BPE>(j);
}

std::unique_ptr<Model> make_bpe(const json& options, BpeTables tables) {
  return std::make_unique<BPE>(options, std::move(tables));
}

}  // namespace erank::tok
