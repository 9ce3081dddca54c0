#include "arena/players.h"

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "backend/backend.h"
#include "core/error.h"
#include "generate/decode.h"
#include "generate/eos.h"
#include "io/gguf.h"
#include "io/model_source.h"
#include "models/model.h"
#include "template/chat.h"
#include "tokenizer/tokenizer.h"

namespace erank::arena {
namespace {

// One loaded model, shared by every player that names it.
struct Loaded {
  ModelSource src;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::optional<ChatTemplate> tmpl;  // none: the prompt is plain text
  nlohmann::json vars;
  std::vector<int32_t> eos;
};

class ModelPlayer : public Player {
 public:
  ModelPlayer(std::string label, std::shared_ptr<const Loaded> m, AnswerSettings s, uint64_t seed)
      : label_(std::move(label)), m_(std::move(m)), s_(std::move(s)), seed_(seed) {}
  const std::string& label() const override { return label_; }

  std::vector<int32_t> ids_of(const std::string& prompt) const {
    if (!m_->tmpl) return m_->tok->encode(prompt, true);
    nlohmann::json msgs = nlohmann::json::array();
    if (!s_.system.empty()) msgs.push_back({{"role", "system"}, {"content", s_.system}});
    msgs.push_back({{"role", "user"}, {"content", prompt}});
    return m_->tok->encode(render_chat(*m_->tmpl, msgs, true, m_->vars), false);
  }

  void check_prompt(const std::string& prompt) const override {
    const auto n = static_cast<int64_t>(ids_of(prompt).size());
    if (n > s_.max_prompt_tokens)
      fail("the prompt has {} tokens for {}; at most {} are answered", n, label_,
           s_.max_prompt_tokens);
  }

  Answer answer(const std::string& prompt,
                const std::function<void(const std::string&)>& on_text) const override {
    const std::vector<int32_t> ids = ids_of(prompt);
    gen::GenOptions g;
    g.max_new_tokens = s_.max_new_tokens;
    g.batch = 1;
    g.eos = m_->eos;
    g.sampling.do_sample = s_.temperature > 0;
    g.sampling.temperature = s_.temperature > 0 ? s_.temperature : 1.0;
    g.sampling.top_k = g.sampling.do_sample ? s_.top_k : 0;
    g.sampling.top_p = s_.top_p;
    g.sampling.seed = seed_;
    // Each answer has its own sampling stream: the battle's prompt index is always 0, so vary the
    // seed per call from a counter, or the same prompt would get the same answer every time.
    g.seed_ids = {calls_.fetch_add(1)};
    auto be = make_backend("cpu", s_.threads);
    gen::Generator gen(*m_->model, *be, *m_->tok, g);
    gen.set_on_token([&](size_t, const std::vector<int32_t>& so_far) {
      std::vector<int32_t> t = so_far;
      if (!t.empty() && std::find(g.eos.begin(), g.eos.end(), t.back()) != g.eos.end())
        t.pop_back();
      std::string text = m_->tok->decode(t);
      text.resize(utf8_complete_prefix(text));
      on_text(text);
    });
    Answer a;
    gen.run({ids}, [&](size_t, gen::GenResult&& r) {
      a.text = std::move(r.completion);
      a.tokens = static_cast<int64_t>(r.tokens.size());
    });
    on_text(a.text);
    return a;
  }

 private:
  std::string label_;
  std::shared_ptr<const Loaded> m_;
  AnswerSettings s_;
  uint64_t seed_;
  mutable std::atomic<uint64_t> calls_{0};
};

class EchoPlayer : public Player {
 public:
  explicit EchoPlayer(std::string label) : label_(std::move(label)) {}
  const std::string& label() const override { return label_; }
  void check_prompt(const std::string&) const override {}
  Answer answer(const std::string& prompt,
                const std::function<void(const std::string&)>& on_text) const override {
    Answer a{label_ + " heard: " + prompt, 1};
    on_text(a.text);
    return a;
  }

 private:
  std::string label_;
};

std::string trim(std::string s) {
  const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::vector<PlayerSpec> parse_players(const std::string& list) {
  std::vector<PlayerSpec> out;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t end = std::min(list.find(',', pos), list.size());
    const std::string item = trim(list.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) continue;
    PlayerSpec p;
    const size_t eq = item.find('=');
    p.label = trim(eq == std::string::npos ? item : item.substr(0, eq));
    p.model = trim(eq == std::string::npos ? item : item.substr(eq + 1));
    if (p.label.empty() || p.model.empty())
      fail("--models: '{}' is not MODEL or LABEL=MODEL", item);
    if (!seen.insert(p.label).second)
      fail("--models: '{}' appears twice (give the same model distinct labels: a=M,b=M)", p.label);
    out.push_back(std::move(p));
  }
  if (out.size() < 2) fail("--models: an arena needs at least two entries (got {})", out.size());
  return out;
}

std::vector<std::unique_ptr<Player>> load_players(const std::vector<PlayerSpec>& specs,
                                                  const AnswerSettings& settings) {
  std::map<std::string, std::shared_ptr<const Loaded>> cache;
  std::vector<std::unique_ptr<Player>> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const PlayerSpec& p = specs[i];
    if (p.model == "echo") {
      out.push_back(std::make_unique<EchoPlayer>(p.label));
      continue;
    }
    auto it = cache.find(p.model);
    if (it == cache.end()) {
      try {
        auto m = std::make_shared<Loaded>();
        m->src = resolve_model_source(p.model);
        if (m->src.kind == ModelSource::Kind::gguf) {
          GGUFFile f(m->src.path);
          m->tok = Tokenizer::from_gguf(f);
        } else {
          m->tok = Tokenizer::from_hf_folder(m->src.path);
        }
        m->model = load_model(m->src);
        try {
          m->tmpl = find_chat_template(m->src);
          m->vars = special_token_vars(m->src);
        } catch (const Error&) {  // a base model: the prompt is continued as plain text
        }
        m->eos = gen::default_eos_ids(m->src, m->model->config(), *m->tok);
        it = cache.emplace(p.model, std::move(m)).first;
      } catch (const std::exception& e) {
        fail("--models: '{}' ({}) does not load: {}", p.label, p.model, e.what());
      }
    }
    out.push_back(std::make_unique<ModelPlayer>(p.label, it->second, settings, settings.seed + i));
  }
  return out;
}

size_t utf8_complete_prefix(const std::string& s) {
  size_t n = s.size();
  // Walk back over at most 3 continuation bytes to the lead byte of the last character.
  size_t k = 0;
  while (k < 4 && k < n && (static_cast<unsigned char>(s[n - 1 - k]) & 0xC0) == 0x80) ++k;
  if (k == n) return n;
  const auto lead = static_cast<unsigned char>(s[n - 1 - k]);
  const size_t need = lead < 0x80         ? 1
                      : (lead >> 5) == 6  ? 2
                      : (lead >> 4) == 14 ? 3
                      : (lead >> 3) == 30 ? 4
                                          : 1;
  return k + 1 < need ? n - 1 - k : n;
}

}  // namespace erank::arena
