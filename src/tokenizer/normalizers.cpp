// Normalizers, patterns and the split helper shared by the pre-tokenizers.
#include <algorithm>

#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace erank::tok {

const json& need(const json& j, const char* key, const char* what) {
  if (!j.is_object() || !j.contains(key)) fail("{}: missing \"{}\"", what, key);
  return j.at(key);
}

Pattern::Pattern(const json& j) {
  if (j.is_string()) {
    literal_ = j.get<std::string>();
  } else if (j.is_object() && j.contains("String")) {
    literal_ = j.at("String").get<std::string>();
  } else if (j.is_object() && j.contains("Regex")) {
    regex_ = std::make_unique<Regex>(j.at("Regex").get<std::string>());
  } else {
    fail("pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}",
         j.dump().substr(0, 80));
  }
}

void Pattern::for_each_match(std::string_view s,
                             const std::function<void(size_t, size_t)>& f) const {
  if (regex_) return regex_->for_each_match(s, f);
  if (literal_.empty()) return;
  for (size_t pos = s.find(literal_); pos != std::string_view::npos;
       pos = s.find(literal_, pos + literal_.size()))
    f(pos, pos + literal_.size());
}

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  fail("unknown split behavior \"{}\"", s);
}

void split_pieces(
    std::vector<Piece>& pieces, SplitBehavior behavior, bool invert,
    const std::function<void(std::string_view, std::vector<std::pair<size_t, size_t>>&)>& find) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  std::vector<std::pair<size_t, size_t>> ms;
  struct Seg {
    size_t a, b;
    bool m;
  };
  std::vector<Seg> segs, acc;
  for (auto& p : pieces) {
    if (p.id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    ms.clear();
    find(p.text, ms);
    // The string as alternating (match / non-match) segments, as Pattern::find_matches gives.
    segs.clear();
    size_t prev = 0;
    for (auto [a, b] : ms) {
      if (a != prev) segs.push_back({prev, a, false});
      segs.push_back({a, b, true});
      prev = b;
    }
    if (prev != p.text.size() || segs.empty()) segs.push_back({prev, p.text.size(), false});
    if (invert)
      for (auto& s : segs) s.m = !s.m;
    // Apply the behavior; acc's `m` then means "remove".
    acc.clear();
    bool prev_match = false;
    switch (behavior) {
      case SplitBehavior::Isolated:
        for (auto s : segs) acc.push_back({s.a, s.b, false});
        break;
      case SplitBehavior::Removed:
        acc = segs;
        break;
      case SplitBehavior::MergedWithPrevious:
        for (auto s : segs) {
          if (s.m && !prev_match && !acc.empty())
            acc.back().b = s.b;
          else
            acc.push_back({s.a, s.b, false});
          prev_match = s.m;
        }
        break;
      case SplitBehavior::MergedWithNext:
        for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
          if (it->m && !prev_match && !acc.empty())
            acc.back().a = it->a;
          else
            acc.push_back({it->a, it->b, false});
          prev_match = it->m;
        }
        std::reverse(acc.begin(), acc.end());
        break;
      case SplitBehavior::Contiguous:
        for (auto s : segs) {
          if (s.m == prev_match && !acc.empty())
            acc.back().b = s.b;
          else
            acc.push_back({s.a, s.b, false});
          prev_match = s.m;
        }
        break;
    }
    for (auto& s : acc) {
      if (s.m || s.b == s.a) continue;
      out.push_back(Piece{p.text.substr(s.a, s.b - s.a), p.at_origin && s.a == 0, -1});
    }
  }
  pieces = std::move(out);
}

namespace {

struct Unicode : Normalizer {
  NormForm form;
  explicit Unicode(NormForm f) : form(f) {}
  void normalize(Piece& p) const override { p.text = normalize_unicode(p.text, form); }
};

struct Lowercase : Normalizer {
  void normalize(Piece& p) const override { p.text = to_lowercase(p.text); }
};

struct Replace : Normalizer {
  Pattern pat;
  std::string content;
  explicit Replace(const json& j)
      : pat(need(j, "pattern", "Replace")), content(need(j, "content", "Replace")) {}
  void normalize(Piece& p) const override {
    std::string out;
    size_t prev = 0;
    pat.for_each_match(p.text, [&](size_t a, size_t b) {
      out.append(p.text, prev, a - prev);
      out += content;
      prev = b;
    });
    if (prev == 0 && out.empty()) return;
    out.append(p.text, prev);
    p.text = std::move(out);
  }
};

struct Prepend : Normalizer {
  std::string prefix;
  explicit Prepend(const json& j) : prefix(need(j, "prepend", "Prepend")) {}
  void normalize(Piece& p) const override {
    if (!p.text.empty()) p.text.insert(0, prefix);
  }
};

struct Strip : Normalizer {
  bool left, right;
  explicit Strip(const json& j)
      : left(j.value("strip_left", true)), right(j.value("strip_right", true)) {}
  void normalize(Piece& p) const override {
    size_t a = 0, b = p.text.size();
    if (left)
      while (a < b) {
        size_t i = a;
        if (!is_whitespace(next_cp(p.text, i))) break;
        a = i;
      }
    if (right)
      while (b > a) {
        size_t s = b - 1;
        while (s > a && (static_cast<uint8_t>(p.text[s]) & 0xC0) == 0x80) --s;
        size_t i = s;
        if (!is_whitespace(next_cp(p.text, i))) break;
        b = s;
      }
    if (a > 0) p.at_origin = false;
    p.text = p.text.substr(a, b - a);
  }
};

struct StripAccents : Normalizer {
  void normalize(Piece& p) const override {
    std::string out;
    for (size_t i = 0; i < p.text.size();) {
      uint32_t c = next_cp(p.text, i);
      if (!is_combining_mark(c)) append_utf8(out, c);
    }
    p.text = std::move(out);
  }
};

bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

struct Bert : Normalizer {
  bool clean, chinese, strip_accents, lowercase;
  explicit Bert(const json& j)
      : clean(j.value("clean_text", true)),
        chinese(j.value("handle_chinese_chars", true)),
        lowercase(j.value("lowercase", true)) {
    auto sa = j.value("strip_accents", json());
    strip_accents = sa.is_boolean() ? sa.get<bool>() : lowercase;
  }
  void normalize(Piece& p) const override {
    std::string out;
    for (size_t i = 0; i < p.text.size();) {
      uint32_t c = next_cp(p.text, i);
      if (clean) {
        bool ws = c == '\t' || c == '\n' || c == '\r' || is_whitespace(c);
        bool ctrl = c != '\t' && c != '\n' && c != '\r' && is_other(c);
        if (c == 0 || c == 0xFFFD || ctrl) continue;
        if (ws) c = ' ';
      }
      if (chinese && is_chinese_char(c)) {
        out += ' ';
        append_utf8(out, c);
        out += ' ';
      } else {
        append_utf8(out, c);
      }
    }
    if (strip_accents) {
      std::string d = normalize_unicode(out, NormForm::NFD);
      out.clear();
      for (size_t i = 0; i < d.size();) {
        uint32_t c = next_cp(d, i);
        if (!is_mark_nonspacing(c)) append_utf8(out, c);
      }
    }
    if (lowercase) out = to_lowercase(out);
    p.text = std::move(out);
  }
};

struct ByteLevelNorm : Normalizer {
  void normalize(Piece& p) const override {
    std::string out;
    for (unsigned char b : p.text) append_utf8(out, byte_to_cp()[b]);
    p.text = std::move(out);
  }
};

struct Seq : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> parts;
  void normalize(Piece& p) const override {
    for (auto& n : parts) n->normalize(p);
  }
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = need(j, "type", "normalizer").get<std::string>();
  if (type == "NFC") return std::make_unique<Unicode>(NormForm::NFC);
  if (type == "NFKC") return std::make_unique<Unicode>(NormForm::NFKC);
  if (type == "NFD") return std::make_unique<Unicode>(NormForm::NFD);
  if (type == "NFKD") return std::make_unique<Unicode>(NormForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Replace") return std::make_unique<Replace>(j);
  if (type == "Prepend") return std::make_unique<Prepend>(j);
  if (type == "Strip") return std::make_unique<Strip>(j);
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "BertNormalizer") return std::make_unique<Bert>(j);
  if (type == "ByteLevel") return std::make_unique<ByteLevelNorm>();
  if (type == "Sequence") {
    auto s = std::make_unique<Seq>();
    for (auto& n : need(j, "normalizers", "Sequence normalizer"))
      if (auto p = make_normalizer(n)) s->parts.push_back(std::move(p));
    return s;
  }
  fail("unsupported normalizer type \"{}\"", type);
}

}  // namespace erank::tok
