// WordPiece, WordLevel and Unigram models, and the model factory.
#include <algorithm>
#include <limits>

#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace erank::tok {

std::unique_ptr<Model> make_bpe(const json& j);

namespace {

Vocab vocab_from_map(const json& v, const char* what) {
  if (!v.is_object()) fail("{}: vocab must be an object of token -> id", what);
  Vocab out;
  for (auto& [tok, id] : v.items()) {
    if (!id.is_number_integer()) fail("{}: id of \"{}\" is not an integer", what, tok);
    out.add(tok, id.get<int32_t>());
  }
  return out;
}

class WordPiece : public Model {
 public:
  explicit WordPiece(const json& j)
      : vocab_(vocab_from_map(need(j, "vocab", "WordPiece"), "WordPiece")) {
    auto unk = j.value("unk_token", std::string("[UNK]"));
    unk_ = vocab_.find(unk);
    if (!unk_) fail("WordPiece: unk token \"{}\" is not in the vocab", unk);
    prefix_ = j.value("continuing_subword_prefix", std::string("##"));
    max_chars_ = j.value("max_input_chars_per_word", size_t{100});
  }
  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    size_t nchars = 0;
    for (size_t i = 0; i < w.size(); i += cp_len(static_cast<uint8_t>(w[i]))) ++nchars;
    if (nchars > max_chars_) return out.push_back(*unk_);
    size_t mark = out.size(), start = 0;
    std::string buf;
    while (start < w.size()) {
      size_t end = w.size();
      std::optional<int32_t> found;
      while (start < end) {
        std::string_view sub = w.substr(start, end - start);
        if (start > 0) buf = prefix_ + std::string(sub), sub = buf;
        if ((found = vocab_.find(sub))) break;
        do --end;
        while (end > start && (static_cast<uint8_t>(w[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(mark);
        return out.push_back(*unk_);
      }
      out.push_back(*found);
      start = end;
    }
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

 private:
  Vocab vocab_;
  std::optional<int32_t> unk_;
  std::string prefix_;
  size_t max_chars_;
};

class WordLevel : public Model {
 public:
  explicit WordLevel(const json& j)
      : vocab_(vocab_from_map(need(j, "vocab", "WordLevel"), "WordLevel")) {
    unk_name_ = j.value("unk_token", std::string());
    unk_ = vocab_.find(unk_name_);
  }
  void tokenize(std::string_view w, std::vector<int32_t>& out) const override {
    if (auto id = vocab_.find(w)) return out.push_back(*id);
    if (!unk_)
      fail("WordLevel: \"{}\" is not in the vocab and unk token \"{}\" is missing", w, unk_name_);
    out.push_back(*unk_);
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

 private:
  Vocab vocab_;
  std::string unk_name_;
  std::optional<int32_t> unk_;
};

// Unigram (SentencePiece) Viterbi, as tokenizers' `encode_optimized`: best total score, an unknown
// character scored min_score - 10, consecutive unknowns fused.
class Unigram : public Model {
 public:
  explicit Unigram(const json& j) {
    const json& v = need(j, "vocab", "Unigram");
    if (!v.is_array()) fail("Unigram: vocab must be an array of [piece, score]");
    scores_.reserve(v.size());
    double min_score = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < v.size(); ++i) {
      const json& e = v[i];
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        fail("Unigram: vocab entry #{} is not [piece, score]", i);
      auto piece = e[0].get<std::string>();
      if (vocab_.find(piece)) fail("Unigram: duplicate piece \"{}\"", piece);
      vocab_.add(piece, static_cast<int32_t>(i));
      max_len_ = std::max(max_len_, piece.size());
      double s = e[1].get<double>();
      scores_.push_back(s);
      min_score = std::min(min_score, s);
    }
    if (j.contains("unk_id") && j.at("unk_id").is_number_integer()) {
      auto u = j.at("unk_id").get<int64_t>();
      if (u < 0 || u >= static_cast<int64_t>(v.size())) fail("Unigram: unk_id {} out of range", u);
      unk_ = static_cast<int32_t>(u);
    }
    byte_fallback_ = j.value("byte_fallback", false);
    unk_score_ = min_score - 10.0;
  }

  void tokenize(std::string_view s, std::vector<int32_t>& out) const override {
    if (s.empty()) return;
    struct Node {
      int32_t id = -1;
      double score = 0;
      int64_t start = -1;
    };
    std::vector<Node> best(s.size() + 1);
    for (size_t at = 0; at < s.size();) {
      double base = best[at].score;
      size_t mblen = cp_len(static_cast<uint8_t>(s[at]));
      bool single = false;
      size_t lim = std::min(max_len_, s.size() - at);
      for (size_t len = 1; len <= lim; ++len) {
        size_t e = at + len;
        if (e < s.size() && (static_cast<uint8_t>(s[e]) & 0xC0) == 0x80) continue;
        auto id = vocab_.find(s.substr(at, len));
        if (!id) continue;
        double cand = base + scores_[*id];
        Node& t = best[e];
        if (t.start < 0 || cand > t.score) t = {*id, cand, static_cast<int64_t>(at)};
        if (len == mblen) single = true;
      }
      if (!single) {
        if (!unk_)
          fail("Unigram: no piece covers \"{}\" and the model has no unk_id", s.substr(at, mblen));
        Node& t = best[at + mblen];
        double cand = base + unk_score_;
        if (t.start < 0 || cand > t.score) t = {*unk_, cand, static_cast<int64_t>(at)};
      }
      at += mblen;
    }
    // Walk back; runs of unk are fused into one piece.
    std::vector<std::pair<size_t, size_t>> pieces;
    size_t end = s.size();
    size_t unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& n = best[end];
      size_t st = static_cast<size_t>(n.start);
      if (unk_ && n.id == *unk_) {
        if (!in_unk) unk_end = end, in_unk = true;
      } else {
        if (in_unk) pieces.emplace_back(end, unk_end), in_unk = false;
        pieces.emplace_back(st, end);
      }
      end = st;
    }
    if (in_unk) pieces.emplace_back(0, unk_end);
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      std::string_view p = s.substr(it->first, it->second - it->first);
      if (auto id = vocab_.find(p)) {
        out.push_back(*id);
        continue;
      }
      if (byte_fallback_) {
        std::vector<int32_t> bytes;
        for (unsigned char c : p)
          if (auto b = vocab_.find(fmt::format("<0x{:02X}>", c))) bytes.push_back(*b);
        if (bytes.size() == p.size()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (!unk_) fail("Unigram: missing unk_id");
      out.push_back(*unk_);
    }
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.size()); }

 private:
  Vocab vocab_;
  std::vector<double> scores_;
  size_t max_len_ = 0;
  std::optional<int32_t> unk_;
  bool byte_fallback_ = false;
  double unk_score_ = 0;
};

}  // namespace

std::unique_ptr<Model> make_model(const json& j) {
  if (!j.is_object()) fail("\"model\" must be an object");
  std::string type;
  if (j.contains("type")) {
    type = j.at("type").get<std::string>();
  } else if (j.contains("merges")) {  // old files omit the type
    type = "BPE";
  } else if (j.contains("vocab") && j.at("vocab").is_array()) {
    type = "Unigram";
  } else {
    fail("model has no \"type\"");
  }
  if (type == "BPE") return make_bpe(j);
  if (type == "WordPiece") return std::make_unique<WordPiece>(j);
  if (type == "WordLevel") return std::make_unique<WordLevel>(j);
  if (type == "Unigram") return std::make_unique<Unigram>(j);
  fail("unsupported model type \"{}\"", type);
}

}  // namespace erank::tok
