// Tokenizer assembly from tokenizer.json, and the encode/decode driver. The order of stages is
// that of tokenizers' `encode_single_sequence`: split out non-normalized added tokens, normalize
// the rest, split out normalized added tokens, pre-tokenize, run the model per piece, post-process.
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace erank {

using tok::json;

namespace tok {
void AddedMatcher::add(std::string_view pattern, int32_t index) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (unsigned char b : pattern) {
    auto [it, inserted] = edges_.try_emplace(edge(node, b), static_cast<int32_t>(terminal_.size()));
    if (inserted) terminal_.push_back(-1);
    node = it->second;
  }
  first_[static_cast<uint8_t>(pattern[0])] = true;
  terminal_[node] = index;
}
}  // namespace tok

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A special-token entry of tokenizer_config.json: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  if (!cfg.is_object() || !cfg.contains(key)) return std::nullopt;
  const json& v = cfg.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string())
    return v.at("content").get<std::string>();
  return std::nullopt;
}

bool is_word_char(uint32_t c) {
  return c == '_' || tok::is_alphabetic(c) || tok::is_numeric(c);
}
bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  return is_word_char(tok::next_cp(s, i));
}
bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  return is_word_char(tok::next_cp(s, i));
}

}  // namespace

void Tokenizer::Impl::split_added(std::vector<tok::Piece>& pieces,
                                  const tok::AddedMatcher& m) const {
  if (m.empty()) return;
  std::vector<tok::Piece> out;
  for (auto& p : pieces) {
    if (p.id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    const std::string& s = p.text;
    size_t start_offset = 0;
    m.for_each(s, [&](size_t start, size_t stop, int32_t index) {
      const tok::AddedToken& t = added[index];
      if (t.single_word) {
        bool start_space = start == 0 || !ends_with_word(std::string_view(s).substr(0, start));
        bool stop_space = stop == s.size() || !starts_with_word(std::string_view(s).substr(stop));
        if (!start_space || !stop_space) return;
      }
      if (t.lstrip) {
        size_t ns = start;
        while (ns > 0) {
          size_t q = ns - 1;
          while (q > 0 && (static_cast<uint8_t>(s[q]) & 0xC0) == 0x80) --q;
          size_t r = q;
          if (!tok::is_whitespace(tok::next_cp(s, r))) break;
          ns = q;
        }
        start = std::max(ns, start_offset);
      }
      if (t.rstrip) {
        size_t r = stop;
        while (r < s.size()) {
          size_t q = r;
          if (!tok::is_whitespace(tok::next_cp(s, q))) break;
          r = q;
        }
        stop = r;
      }
      if (start_offset < start)
        out.push_back(tok::Piece{s.substr(start_offset, start - start_offset),
                                 p.at_origin && start_offset == 0, -1});
      out.push_back(tok::Piece{s.substr(start, stop - start), false, t.id});
      start_offset = stop;
    });
    if (start_offset == 0) {
      out.push_back(std::move(p));
    } else if (start_offset < s.size()) {
      out.push_back(tok::Piece{s.substr(start_offset), false, -1});
    }
  }
  pieces = std::move(out);
}

std::unique_ptr<Tokenizer> build_tokenizer(const json& j, const json& cfg,
                                           const std::string& origin,
                                           std::unique_ptr<tok::Model> model) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  impl->origin = origin;
  try {
    if (!j.is_object()) fail("not a JSON object");
    impl->model =
        model ? std::move(model) : tok::make_model(tok::need(j, "model", "tokenizer.json"));
    impl->normalizer = tok::make_normalizer(j.value("normalizer", json()));
    impl->pre_tokenizer = tok::make_pre_tokenizer(j.value("pre_tokenizer", json()));
    impl->post_processor = tok::make_post_processor(j.value("post_processor", json()));
    impl->decoder = tok::make_decoder(j.value("decoder", json()));
    int64_t n_ids = impl->model->vocab_size();
    for (auto& a : j.value("added_tokens", json::array())) {
      tok::AddedToken t;
      t.id = tok::need(a, "id", "added token").get<int32_t>();
      t.content = tok::need(a, "content", "added token").get<std::string>();
      t.special = a.value("special", false);
      t.single_word = a.value("single_word", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.normalized = a.value("normalized", !t.special);
      if (t.id < 0) fail("added token \"{}\" has negative id {}", t.content, t.id);
      if (!impl->model->id_to_token(t.id)) ++n_ids;
      auto [it, fresh] = impl->added_by_id.try_emplace(t.id, impl->added.size());
      if (!fresh) continue;
      impl->added.push_back(std::move(t));
    }
    impl->n_ids = n_ids;
    if (cfg.is_object() && cfg.contains("_erank_special_strings"))  // from the GGUF front end
      for (auto& s : cfg.at("_erank_special_strings"))
        impl->special_strings.insert(s.get<std::string>());
    for (size_t i = 0; i < impl->added.size(); ++i) {
      auto& t = impl->added[i];
      t.decode_form = t.content;
      if (t.special) impl->special_strings.insert(t.content);
      if (t.normalized) {
        tok::Piece p{t.content, false, -1};
        if (impl->normalizer) impl->normalizer->normalize(p);
        impl->added[i].decode_form = p.text;
        impl->norm_matcher.add(p.text, static_cast<int32_t>(i));
      } else {
        impl->raw_matcher.add(t.content, static_cast<int32_t>(i));
      }
    }
    // transformers rebuilds the post-processor from add_bos_token / add_eos_token when the
    // config states either, or when tokenizer.json has none
    // (TokenizersBackend.update_post_processor).
    auto lookup = [&](const std::string& s) -> std::optional<int32_t> {
      for (auto& t : impl->added)
        if (t.content == s) return t.id;
      return impl->model->token_to_id(s);
    };
    auto bos_tok = config_token(cfg, "bos_token"), eos_tok = config_token(cfg, "eos_token");
    if (bos_tok) impl->bos = lookup(*bos_tok);
    if (eos_tok) impl->eos = lookup(*eos_tok);
    bool explicit_flags =
        cfg.is_object() && (cfg.contains("add_bos_token") || cfg.contains("add_eos_token"));
    if (explicit_flags || (cfg.is_object() && !impl->post_processor)) {
      bool add_bos = cfg.value("add_bos_token", false) && impl->bos.has_value();
      bool add_eos = cfg.value("add_eos_token", false) && impl->eos.has_value();
      json single = json::array();
      json specials = json::object();
      auto special = [&](const std::string& name, int32_t id) {
        single.push_back({{"SpecialToken", {{"id", name}, {"type_id", 0}}}});
        specials[name] = {{"id", name}, {"ids", {id}}, {"tokens", {name}}};
      };
      if (add_bos) special(*bos_tok, *impl->bos);
      single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
      if (add_eos) special(*eos_tok, *impl->eos);
      impl->post_processor = tok::make_post_processor(
          {{"type", "TemplateProcessing"}, {"single", single}, {"special_tokens", specials}});
    }
  } catch (const json::exception& e) {
    fail("{}: malformed tokenizer: {}", origin, e.what());
  } catch (const Error& e) {
    fail("{}: {}", origin, e.what());
  }
  return std::make_unique<Tokenizer>(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_json_text(std::string_view tokenizer_json,
                                                     std::string_view config_json,
                                                     const std::string& origin) {
  json j, cfg;
  try {
    j = json::parse(tokenizer_json);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", origin, e.what());
  }
  if (!config_json.empty()) {
    try {
      cfg = json::parse(config_json);
    } catch (const json::exception& e) {
      fail("{}: tokenizer_config.json is not valid JSON: {}", origin, e.what());
    }
  }
  return build_tokenizer(j, cfg, origin);
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_folder(const std::string& dir) {
  std::string path = dir + "/tokenizer.json";
  // Apple's OpenELM checkpoints ship no tokenizer (they use Llama 2's): say where it goes.
  if (!std::ifstream(path))
    fail(
        "{}: missing; the model folder needs its tokenizer.json (OpenELM checkpoints ship none: "
        "copy the one of meta-llama/Llama-2-7b-hf there)",
        path);
  std::string text = read_file(path);
  std::string cfg;
  std::ifstream probe(dir + "/tokenizer_config.json");
  if (probe) cfg = read_file(dir + "/tokenizer_config.json");
  return from_json_text(text, cfg, path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<tok::Piece> pieces;
  pieces.push_back(tok::Piece{tok::sanitize_utf8(text), true, -1});
  m.split_added(pieces, m.raw_matcher);
  if (m.normalizer)
    for (auto& p : pieces)
      if (p.id < 0) m.normalizer->normalize(p);
  m.split_added(pieces, m.norm_matcher);
  std::erase_if(pieces, [](const tok::Piece& p) { return p.id < 0 && p.text.empty(); });
  if (m.pre_tokenizer) m.pre_tokenizer->pre_tokenize(pieces);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (auto& p : pieces) {
    if (p.id >= 0)
      ids.push_back(p.id);
    else
      m.model->tokenize(p.text, ids);
  }
  if (add_special_tokens && m.post_processor) m.post_processor->process(ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids) {
    auto it = m.added_by_id.find(id);
    const std::string* s =
        it != m.added_by_id.end() ? &m.added[it->second].decode_form : m.model->id_to_token(id);
    if (!s) continue;
    if (skip_special_tokens && m.special_strings.count(*s)) continue;
    toks.push_back(*s);
  }
  if (!m.decoder) {
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i) out += (i ? " " : "") + toks[i];
    return out;
  }
  m.decoder->decode_chain(toks);
  std::string out;
  for (auto& t : toks) out += t;
  return out;
}

std::string Tokenizer::token_string(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  if (it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  fail("{}: token id {} is not in the vocabulary", impl_->origin, id);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (auto& t : impl_->added)
    if (t.content == token) return t.id;
  return impl_->model->token_to_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}

int64_t Tokenizer::vocab_size() const {
  return impl_->n_ids;
}
std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos;
}
std::optional<int32_t> Tokenizer::eos_id() const {
  return impl_->eos;
}

}  // namespace erank
