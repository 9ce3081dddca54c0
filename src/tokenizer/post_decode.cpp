// Post-processors (TemplateProcessing, Roberta, Bert, ByteLevel, Sequence) and decoders
// (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, Sequence).
#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace erank::tok {

namespace {

struct Template : PostProcessor {
  std::vector<int32_t> before, after;  // special ids around the single sequence $A
  explicit Template(const json& j) {
    const json& single = need(j, "single", "TemplateProcessing");
    const json& specials = j.value("special_tokens", json::object());
    bool seen_a = false;
    for (auto& piece : single) {
      if (piece.contains("Sequence")) {
        seen_a = true;
        continue;
      }
      if (!piece.contains("SpecialToken"))
        fail("TemplateProcessing: piece is neither Sequence nor SpecialToken: {}", piece.dump());
      auto name = need(piece.at("SpecialToken"), "id", "TemplateProcessing SpecialToken")
                      .get<std::string>();
      if (!specials.contains(name))
        fail("TemplateProcessing: special token \"{}\" is not in special_tokens", name);
      auto& dst = seen_a ? after : before;
      for (auto& id : need(specials.at(name), "ids", "TemplateProcessing special token"))
        dst.push_back(id.get<int32_t>());
    }
  }
  void process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), before.begin(), before.end());
    ids.insert(ids.end(), after.begin(), after.end());
  }
};

struct ClsSep : PostProcessor {
  int32_t cls, sep;
  ClsSep(const json& j, const char* what) {
    auto get = [&](const char* k) {
      const json& p = need(j, k, what);
      if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer())
        fail("{}: \"{}\" must be [token, id]", what, k);
      return p[1].get<int32_t>();
    };
    cls = get("cls"), sep = get("sep");
  }
  void process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), cls);
    ids.push_back(sep);
  }
};

struct NoOp : PostProcessor {
  void process(std::vector<int32_t>&) const override {}
};

struct SeqProc : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> parts;
  void process(std::vector<int32_t>& ids) const override {
    for (auto& p : parts) p->process(ids);
  }
};

// --- decoders ---

struct ByteLevelDec : Decoder {
  void decode_chain(std::vector<std::string>& toks) const override {
    std::string bytes;
    for (auto& t : toks) {
      size_t mark = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        int b = cp_to_byte(next_cp(t, i));
        if (b < 0)
          ok = false;
        else
          bytes.push_back(static_cast<char>(b));
      }
      if (!ok) bytes.resize(mark), bytes.append(t);  // not byte-level text (an added token)
    }
    toks.assign(1, sanitize_utf8(bytes));
  }
};

struct MetaspaceDec : Decoder {
  std::string rep;
  bool prepend;
  explicit MetaspaceDec(const json& j) {
    rep = j.value("replacement", std::string("\xE2\x96\x81"));
    if (j.contains("prepend_scheme"))
      prepend = j.at("prepend_scheme").get<std::string>() != "never";
    else
      prepend = j.value("add_prefix_space", true);
  }
  void decode_chain(std::vector<std::string>& toks) const override {
    for (size_t i = 0; i < toks.size(); ++i) {
      std::string out;
      const std::string& t = toks[i];
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, rep.size(), rep) == 0) {
          if (!(i == 0 && prepend)) out += ' ';
          p += rep.size();
        } else {
          out += t[p++];
        }
      }
      toks[i] = std::move(out);
    }
  }
};

struct ByteFallbackDec : Decoder {
  void decode_chain(std::vector<std::string>& toks) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (is_valid_utf8(pending))
        out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      pending.clear();
    };
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    for (auto& t : toks) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex(t[3]) >= 0 &&
          hex(t[4]) >= 0) {
        pending.push_back(static_cast<char>(hex(t[3]) * 16 + hex(t[4])));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    toks = std::move(out);
  }
};

struct FuseDec : Decoder {
  void decode_chain(std::vector<std::string>& toks) const override {
    std::string all;
    for (auto& t : toks) all += t;
    toks.assign(1, std::move(all));
  }
};

struct StripDec : Decoder {
  std::string content;
  size_t start, stop;
  explicit StripDec(const json& j)
      : content(need(j, "content", "Strip decoder").get<std::string>()),
        start(j.value("start", size_t{0})),
        stop(j.value("stop", size_t{0})) {}
  void decode_chain(std::vector<std::string>& toks) const override {
    for (auto& t : toks) {
      // Count in chars, like Rust's chars(); content is one char.
      size_t a = 0, b = t.size();
      for (size_t k = 0; k < start && t.compare(a, content.size(), content) == 0; ++k)
        a += content.size();
      for (size_t k = 0; k < stop && b >= a + content.size() &&
                         t.compare(b - content.size(), content.size(), content) == 0;
           ++k)
        b -= content.size();
      t = t.substr(a, b - a);
    }
  }
};

struct ReplaceDec : Decoder {
  Pattern pat;
  std::string content;
  explicit ReplaceDec(const json& j)
      : pat(need(j, "pattern", "Replace decoder")),
        content(need(j, "content", "Replace decoder")) {}
  void decode_chain(std::vector<std::string>& toks) const override {
    for (auto& t : toks) {
      std::string out;
      size_t prev = 0;
      pat.for_each_match(t, [&](size_t a, size_t b) {
        out.append(t, prev, a - prev);
        out += content;
        prev = b;
      });
      out.append(t, prev);
      t = std::move(out);
    }
  }
};

struct WordPieceDec : Decoder {
  std::string prefix;
  bool cleanup;
  explicit WordPieceDec(const json& j)
      : prefix(j.value("prefix", std::string("##"))), cleanup(j.value("cleanup", true)) {}
  static void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
      s.replace(p, from.size(), to);
  }
  void decode_chain(std::vector<std::string>& toks) const override {
    for (size_t i = 0; i < toks.size(); ++i) {
      auto& t = toks[i];
      if (i != 0) {
        if (t.compare(0, prefix.size(), prefix) == 0)
          t.erase(0, prefix.size());
        else
          t.insert(0, " ");
      }
      if (cleanup) {
        replace_all(t, " .", ".");
        replace_all(t, " ?", "?");
        replace_all(t, " !", "!");
        replace_all(t, " ,", ",");
        replace_all(t, " ' ", "'");
        replace_all(t, " n't", "n't");
        replace_all(t, " 'm", "'m");
        replace_all(t, " do not", " don't");
        replace_all(t, " 's", "'s");
        replace_all(t, " 've", "'ve");
        replace_all(t, " 're", "'re");
      }
    }
  }
};

struct BPEDec : Decoder {
  std::string suffix;
  explicit BPEDec(const json& j) : suffix(j.value("suffix", std::string("</w>"))) {}
  void decode_chain(std::vector<std::string>& toks) const override {
    for (size_t i = 0; i < toks.size(); ++i) {
      auto& t = toks[i];
      std::string rep = i + 1 == toks.size() ? "" : " ";
      if (suffix.empty()) continue;
      for (size_t p = t.find(suffix); p != std::string::npos; p = t.find(suffix, p + rep.size()))
        t.replace(p, suffix.size(), rep);
    }
  }
};

struct SeqDec : Decoder {
  std::vector<std::unique_ptr<Decoder>> parts;
  void decode_chain(std::vector<std::string>& toks) const override {
    for (auto& d : parts) d->decode_chain(toks);
  }
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = need(j, "type", "post_processor").get<std::string>();
  if (type == "TemplateProcessing") return std::make_unique<Template>(j);
  if (type == "RobertaProcessing") return std::make_unique<ClsSep>(j, "RobertaProcessing");
  if (type == "BertProcessing") return std::make_unique<ClsSep>(j, "BertProcessing");
  if (type == "ByteLevel") return std::make_unique<NoOp>();
  if (type == "Sequence") {
    auto s = std::make_unique<SeqProc>();
    for (auto& p : need(j, "processors", "Sequence post_processor"))
      if (auto q = make_post_processor(p)) s->parts.push_back(std::move(q));
    return s;
  }
  fail("unsupported post_processor type \"{}\"", type);
}

std::unique_ptr<Decoder> make_decoder(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = need(j, "type", "decoder").get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Metaspace") return std::make_unique<MetaspaceDec>(j);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip") return std::make_unique<StripDec>(j);
  if (type == "Replace") return std::make_unique<ReplaceDec>(j);
  if (type == "WordPiece") return std::make_unique<WordPieceDec>(j);
  if (type == "BPEDecoder") return std::make_unique<BPEDec>(j);
  if (type == "Sequence") {
    auto s = std::make_unique<SeqDec>();
    for (auto& d : need(j, "decoders", "Sequence decoder"))
      if (auto q = make_decoder(d)) s->parts.push_back(std::move(q));
    return s;
  }
  fail("unsupported decoder type \"{}\"", type);
}

}  // namespace erank::tok
