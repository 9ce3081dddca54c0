// Pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace(Split), Bert,
// Sequence. Each splits the pieces not yet resolved to added tokens.
#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace erank::tok {

namespace {

using Matches = std::vector<std::pair<size_t, size_t>>;

// Each code point for which pred holds is its own match (HF's `impl Pattern for Fn(char)`).
template <typename Pred>
auto char_matcher(Pred pred) {
  return [pred](std::string_view s, Matches& ms) {
    for (size_t i = 0; i < s.size();) {
      size_t a = i;
      if (pred(next_cp(s, i))) ms.emplace_back(a, i);
    }
  };
}

auto regex_matcher(const Regex& re) {
  return [&re](std::string_view s, Matches& ms) {
    re.for_each_match(s, [&](size_t a, size_t b) { ms.emplace_back(a, b); });
  };
}

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteLevel : PreTokenizer {
  bool add_prefix_space, use_regex;
  Regex re{kGpt2Pattern};
  explicit ByteLevel(const json& j)
      : add_prefix_space(j.value("add_prefix_space", true)),
        use_regex(j.value("use_regex", true)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space)
      for (auto& p : pieces)
        if (p.id < 0 && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, " ");
    if (use_regex) split_pieces(pieces, SplitBehavior::Isolated, false, regex_matcher(re));
    const auto& table = byte_to_cp();
    for (auto& p : pieces) {
      if (p.id >= 0) continue;
      std::string out;
      out.reserve(p.text.size() * 2);
      for (unsigned char b : p.text) append_utf8(out, table[b]);
      p.text = std::move(out);
    }
  }
};

struct Split : PreTokenizer {
  Pattern pat;
  SplitBehavior behavior;
  bool invert;
  explicit Split(const json& j)
      : pat(need(j, "pattern", "Split")),
        behavior(parse_behavior(need(j, "behavior", "Split").get<std::string>())),
        invert(j.value("invert", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, behavior, invert, [this](std::string_view s, Matches& ms) {
      pat.for_each_match(s, [&](size_t a, size_t b) { ms.emplace_back(a, b); });
    });
  }
};

struct Metaspace : PreTokenizer {
  std::string rep;
  enum { Always, First, Never } scheme = Always;
  bool split = true;
  explicit Metaspace(const json& j) {
    rep = j.value("replacement", std::string("\xE2\x96\x81"));
    if (rep.empty()) fail("Metaspace: empty replacement");
    split = j.value("split", true);
    if (j.contains("prepend_scheme")) {
      auto s = j.at("prepend_scheme").get<std::string>();
      scheme = s == "always" ? Always : s == "first" ? First : s == "never" ? Never : Always;
      if (s != "always" && s != "first" && s != "never")
        fail("Metaspace: bad prepend_scheme {}", s);
    } else {
      scheme = j.value("add_prefix_space", true) ? Always : Never;
    }
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (auto& p : pieces) {
      if (p.id >= 0) continue;
      std::string out;
      for (char c : p.text) {
        if (c == ' ')
          out += rep;
        else
          out += c;
      }
      bool starts = out.compare(0, rep.size(), rep) == 0;
      if (!starts && (scheme == Always || (scheme == First && p.at_origin))) out.insert(0, rep);
      p.text = std::move(out);
    }
    if (split)
      split_pieces(pieces, SplitBehavior::MergedWithNext, false,
                   [this](std::string_view s, Matches& ms) {
                     for (size_t pos = s.find(rep); pos != std::string_view::npos;
                          pos = s.find(rep, pos + rep.size()))
                       ms.emplace_back(pos, pos + rep.size());
                   });
  }
};

struct CharSplit : PreTokenizer {
  std::function<void(std::string_view, Matches&)> find;
  SplitBehavior behavior;
  bool invert = false;
  CharSplit(std::function<void(std::string_view, Matches&)> f, SplitBehavior b, bool inv = false)
      : find(std::move(f)), behavior(b), invert(inv) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, behavior, invert, find);
  }
};

struct RegexSplit : PreTokenizer {
  Regex re;
  SplitBehavior behavior;
  bool invert;
  RegexSplit(const char* pattern, SplitBehavior b, bool inv)
      : re(pattern), behavior(b), invert(inv) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(pieces, behavior, invert, regex_matcher(re));
  }
};

struct Seq : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> parts;
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (auto& p : parts) p->pre_tokenize(pieces);
  }
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = need(j, "type", "pre_tokenizer").get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(j);
  if (type == "Split") return std::make_unique<Split>(j);
  if (type == "Metaspace") return std::make_unique<Metaspace>(j);
  if (type == "Digits") {
    bool individual = j.value("individual_digits", false);
    return std::make_unique<CharSplit>(
        char_matcher(is_numeric), individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  }
  if (type == "Punctuation") {
    auto b = parse_behavior(j.value("behavior", std::string("Isolated")));
    return std::make_unique<CharSplit>(char_matcher(is_punctuation), b);
  }
  if (type == "WhitespaceSplit")
    return std::make_unique<CharSplit>(char_matcher(is_whitespace), SplitBehavior::Removed);
  if (type == "Whitespace")
    return std::make_unique<RegexSplit>(R"(\w+|[^\w\s]+)", SplitBehavior::Removed, true);
  if (type == "BertPreTokenizer") {
    auto s = std::make_unique<Seq>();
    s->parts.push_back(
        std::make_unique<CharSplit>(char_matcher(is_whitespace), SplitBehavior::Removed));
    s->parts.push_back(
        std::make_unique<CharSplit>(char_matcher(is_punctuation), SplitBehavior::Isolated));
    return s;
  }
  if (type == "Sequence") {
    auto s = std::make_unique<Seq>();
    for (auto& p : need(j, "pretokenizers", "Sequence pre_tokenizer"))
      if (auto q = make_pre_tokenizer(p)) s->parts.push_back(std::move(q));
    return s;
  }
  fail("unsupported pre_tokenizer type \"{}\"", type);
}

}  // namespace erank::tok
