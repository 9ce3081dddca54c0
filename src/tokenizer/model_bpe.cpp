// BPE exactly as the `tokenizers` crate runs it: characters (with continuing-subword prefix /
// end-of-word suffix), byte fallback or (fused) unk for unknown characters, then merges applied
// lowest rank first, leftmost on ties, with a heap over a linked list: O(n log n) per word.
#include <queue>

#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace erank::tok {

void Vocab::add(std::string token, int32_t id) {
  if (id < 0 || id > (1 << 30)) fail("token id {} out of range for \"{}\"", id, token);
  if (static_cast<size_t>(id) >= by_id_.size()) {
    by_id_.resize(id + 1);
    has_.resize(id + 1);
  }
  by_id_[id] = token;
  has_[id] = true;
  map_[std::move(token)] = id;
}

namespace {

struct MergeInfo {
  int32_t rank;
  int32_t new_id;
};

class BPE : public Model {
 public:
  explicit BPE(const json& j) {
    for (auto& [tok, id] : need(j, "vocab", "BPE model").items()) {
      if (!id.is_number_integer()) fail("BPE vocab: id of \"{}\" is not an integer", tok);
      vocab_.add(tok, id.get<int32_t>());
    }
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
    const json& merges = need(j, "merges", "BPE model");
    if (!merges.is_array()) fail("BPE merges must be an array");
    merges_.reserve(merges.size());
    int32_t rank = 0;
    for (auto& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        auto s = m.get<std::string>();
        auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail("BPE merge #{} \"{}\" is not two tokens separated by one space", rank, s);
        a = s.substr(0, sp), b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>(), b = m[1].get<std::string>();
      } else {
        fail("BPE merge #{} is neither \"a b\" nor [a, b]", rank);
      }
      add_merge(a, b, rank++);
    }
  }

  void add_merge(const std::string& a, const std::string& b, int32_t rank) {
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (!ia || !ib)
      fail("BPE merge #{} (\"{}\", \"{}\") uses a token not in the vocab", rank, a, b);
    std::string merged = a + (b.size() >= prefix_.size() ? b.substr(prefix_.size()) : b);
    auto in = vocab_.find(merged);
    if (!in) fail("BPE merge #{} gives \"{}\", which is not in the vocab", rank, merged);
    merges_[key(*ia, *ib)] = MergeInfo{rank, *in};
  }

  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    if (w.empty()) return;
    if (ignore_merges_)
      if (auto id = vocab_.find(w)) return out.push_back(*id);
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
    auto lookup = [&](int32_t a, int32_t b) -> const MergeInfo* {
      auto it = merges_.find(key(a, b));
      return it == merges_.end() ? nullptr : &it->second;
    };
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
  Vocab vocab_;
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::string prefix_, suffix_;
  std::string unk_name_;
  std::optional<int32_t> unk_;
  std::optional<int32_t> byte_ids_[256];
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const json& j) {
  return std::make_unique<BPE>(j);
}

}  // namespace erank::tok
