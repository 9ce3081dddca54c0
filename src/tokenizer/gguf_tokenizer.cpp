// Tokenizer::from_gguf: rebuilds, as a tokenizer.json object, the tokenizer transformers makes
// from a GGUF vocabulary (integrations/gguf/gguf_tokenizer_mapping.py in transformers 5), then
// runs the same engine as from_hf_folder. Covered: tokenizer.ggml.model "gpt2" (byte-level BPE,
// split regex chosen by tokenizer.ggml.pre) and "llama" (SentencePiece BPE with byte fallback;
// Gemma and Phi-3 variants chosen by general.architecture).
#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace erank {

using tok::json;

namespace {

constexpr const char* kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kTekkenSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char* split_for_pre(const std::string& pre) {
  static const std::pair<const char*, const char*> table[] = {
      {"llama3", kLlama3Split},       {"llama-v3", kLlama3Split},
      {"llama-bpe", kLlama3Split},    {"falcon3", kLlama3Split},
      {"falcon-h1", kLlama3Split},    {"pixtral", kLlama3Split},
      {"midm-2.0", kLlama3Split},     {"lfm2", kLlama3Split},
      {"jina-v5-nano", kLlama3Split}, {"dbrx", kLlama3Split},
      {"smaug-bpe", kLlama3Split},    {"tekken", kTekkenSplit},
      {"qwen2", kQwen2Split},         {"deepseek-r1-qwen", kQwen2Split},
      {"kormo", kQwen2Split},         {"f2llmv2", kQwen2Split},
      {"megrez", kQwen2Split},        {"gpt-4o", kGpt4oSplit},
      {"llama4", kGpt4oSplit},        {"kanana2", kGpt4oSplit},
      {"talkie", kGpt4oSplit},        {"minimax-m2", kGpt4oSplit},
  };
  for (auto& [k, v] : table)
    if (pre == k) return v;
  return nullptr;  // qwen35 has its own regex in transformers; not covered (falls back)
}

std::vector<std::string> split_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t a = i;
    i += tok::cp_len(static_cast<uint8_t>(s[a]));
    out.push_back(s.substr(a, i - a));
  }
  return out;
}

// transformers' generate_merges: every split of a token into two vocab tokens, ordered by score
// (descending when scores are given, else by vocab id ascending), then by piece lengths.
// `order` lists the distinct tokens in dict insertion order with their score.
json generate_merges(const std::unordered_map<std::string, int64_t>& vocab,
                     const std::vector<std::pair<std::string, double>>& order, bool reverse) {
  struct M {
    std::string l, r;
    double score;
    size_t ll, lr;
  };
  std::vector<M> merges;
  std::vector<M> local;
  for (auto& [tok, score] : order) {
    auto chars = split_chars(tok);
    if (chars.size() < 2) continue;
    local.clear();
    size_t off = 0;
    for (size_t k = 1; k < chars.size(); ++k) {
      off += chars[k - 1].size();
      std::string l = tok.substr(0, off), r = tok.substr(off);
      if (vocab.count(l) && vocab.count(r)) local.push_back({l, r, score, k, chars.size() - k});
    }
    std::stable_sort(local.begin(), local.end(), [&](const M& a, const M& b) {
      int64_t al = vocab.at(a.l), bl = vocab.at(b.l);
      return al != bl ? al < bl : vocab.at(a.r) < vocab.at(b.r);
    });
    for (auto& m : local) merges.push_back(std::move(m));
  }
  auto key_less = [](const M& a, const M& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.ll != b.ll) return a.ll < b.ll;
    return a.lr < b.lr;
  };
  if (reverse)
    std::stable_sort(merges.begin(), merges.end(),
                     [&](const M& a, const M& b) { return key_less(b, a); });
  else
    std::stable_sort(merges.begin(), merges.end(), key_less);
  json out = json::array();
  for (auto& m : merges) out.push_back(json::array({m.l, m.r}));
  return out;
}

}  // namespace

std::pair<json, json> gguf_tokenizer_json(const GGUFFile& f) {
  std::string type = f.get_string("tokenizer.ggml.model");
  std::string arch = f.has("general.architecture") ? f.get_string("general.architecture") : "";
  std::string pre = f.has("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "";
  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  std::vector<int64_t> types;
  if (f.has("tokenizer.ggml.token_type")) types = f.get_int_array("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() != tokens.size())
    fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(), types.size(),
         tokens.size());
  std::vector<double> scores;
  if (f.has("tokenizer.ggml.scores")) scores = f.get_float_array("tokenizer.ggml.scores");
  json merges_in;
  bool have_merges = f.has("tokenizer.ggml.merges");
  std::vector<std::string> merges_raw;
  if (have_merges) merges_raw = f.get_string_array("tokenizer.ggml.merges");

  json cfg = json::object();
  if (f.has("tokenizer.ggml.add_bos_token"))
    cfg["add_bos_token"] = f.get_bool_or("tokenizer.ggml.add_bos_token", false);
  if (f.has("tokenizer.ggml.add_eos_token"))
    cfg["add_eos_token"] = f.get_bool_or("tokenizer.ggml.add_eos_token", false);
  if (type == "llama" && !cfg.contains("add_bos_token")) cfg["add_bos_token"] = true;
  auto special_name = [&](const char* key) -> std::optional<std::string> {
    if (!f.has(key)) return std::nullopt;
    int64_t id = f.get_int(key);
    if (id < 0 || id >= static_cast<int64_t>(tokens.size()))
      fail("{}: {} = {} is outside the {} tokens", f.path(), key, id, tokens.size());
    return tokens[id];
  };
  std::pair<const char*, const char*> specials[] = {
      {"bos_token", "tokenizer.ggml.bos_token_id"},
      {"eos_token", "tokenizer.ggml.eos_token_id"},
      {"unk_token", "tokenizer.ggml.unknown_token_id"},
      {"pad_token", "tokenizer.ggml.padding_token_id"}};
  for (auto& [name, key] : specials)
    if (auto s = special_name(key)) cfg[name] = *s;

  json j = json::object();
  j["normalizer"] = nullptr;
  j["post_processor"] = nullptr;
  std::vector<std::string> spelled = tokens;  // the vocabulary as the converted tokenizer spells it
  const bool byte_level = type == "gpt2";
  json model;
  if (byte_level) {
    for (auto& t : spelled) {
      bool in_alphabet = true;
      for (size_t i = 0; i < t.size() && in_alphabet;)
        in_alphabet = tok::cp_to_byte(tok::next_cp(t, i)) >= 0;
      if (!in_alphabet) {
        std::string s;
        for (unsigned char b : t) tok::append_utf8(s, tok::byte_to_cp()[b]);
        t = std::move(s);
      }
    }
    model = {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", nullptr},
             {"continuing_subword_prefix", ""},
             {"end_of_word_suffix", ""},
             {"fuse_unk", false},
             {"byte_fallback", false},
             {"ignore_merges", false}};
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    j["decoder"] = {{"type", "ByteLevel"}};
  } else if (type == "llama") {
    bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
    if (gemma)
      for (auto& t : spelled) {
        bool has_space = t.find(' ') != std::string::npos, all_ws = !t.empty();
        size_t n = 0;
        for (size_t i = 0; i < t.size(); ++n) all_ws &= tok::is_whitespace(tok::next_cp(t, i));
        if (has_space && all_ws) {
          std::string s;
          for (size_t k = 0; k < n; ++k) s += "\xE2\x96\x81";
          t = std::move(s);
        }
      }
    json byte_fallback_model = {{"type", "BPE"},
                                {"dropout", nullptr},
                                {"fuse_unk", true},
                                {"byte_fallback", true},
                                {"ignore_merges", false},
                                {"continuing_subword_prefix", nullptr},
                                {"end_of_word_suffix", nullptr}};
    model = byte_fallback_model;
    json dec = json::array(
        {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
         {{"type", "ByteFallback"}},
         {{"type", "Fuse"}}});
    if (gemma) {
      model["unk_token"] = "<unk>";
      j["normalizer"] = {
          {"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}};
      j["pre_tokenizer"] = {{"type", "Split"},
                            {"pattern", {{"String", " "}}},
                            {"behavior", "MergedWithPrevious"},
                            {"invert", false}};
    } else {
      model["unk_token"] = nullptr;
      dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
      if (arch == "phi3") {
        j["normalizer"] = {
            {"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}};
        j["pre_tokenizer"] = nullptr;
      } else {
        j["pre_tokenizer"] = {{"type", "Metaspace"},
                              {"replacement", "\xE2\x96\x81"},
                              {"prepend_scheme", "first"},
                              {"split", false}};
      }
    }
    j["decoder"] = {{"type", "Sequence"}, {"decoders", dec}};
    if (!have_merges) {
      // Scores: Gemma's follow file order (-index), others come from tokenizer.ggml.scores.
      if (!gemma && scores.size() != tokens.size())
        fail("{}: tokenizer.ggml.scores has {} entries for {} tokens", f.path(), scores.size(),
             tokens.size());
      std::unordered_map<std::string, int64_t> vocab;
      std::unordered_map<std::string, size_t> pos;
      std::vector<std::pair<std::string, double>> order;
      for (size_t i = 0; i < spelled.size(); ++i) {
        vocab[spelled[i]] = static_cast<int64_t>(i);
        double s = gemma ? -static_cast<double>(i) : scores[i];
        auto [it, fresh] = pos.try_emplace(spelled[i], order.size());
        if (fresh)
          order.emplace_back(spelled[i], s);
        else
          order[it->second].second = s;
      }
      merges_in = generate_merges(vocab, order, true);
    }
  } else {
    fail("{}: tokenizer.ggml.model \"{}\" is not supported (supported: gpt2, llama)", f.path(),
         type);
  }
  if (have_merges) {
    merges_in = json::array();
    for (auto& m : merges_raw) merges_in.push_back(m);
  } else if (byte_level) {
    std::unordered_map<std::string, int64_t> vocab;
    std::vector<std::pair<std::string, double>> order;
    for (size_t i = 0; i < spelled.size(); ++i) vocab[spelled[i]] = static_cast<int64_t>(i);
    for (size_t i = 0; i < spelled.size(); ++i)
      if (vocab[spelled[i]] == static_cast<int64_t>(i))
        order.emplace_back(spelled[i], static_cast<double>(i));
    merges_in = generate_merges(vocab, order, false);
  }
  json vocab = json::object();
  for (size_t i = 0; i < spelled.size(); ++i) vocab[spelled[i]] = static_cast<int64_t>(i);
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges_in);
  j["model"] = std::move(model);

  // Added tokens, replaying the order in which transformers adds them (ids of tokens missing
  // from the vocabulary depend on it; AddedVocabulary::add_tokens semantics):
  //  1. the tokenizer class's default special tokens (GPT2Tokenizer: <|endoftext|>, ...),
  //  2. control tokens (type 3) as special -- in a byte-level vocabulary only those spelled in
  //     the byte alphabet -- then user-defined ones (type 4) as plain added tokens,
  //  3. the named bos/eos/unk/pad tokens of the file, as special.
  // Every string ever added as special stays "special" for decode(skip_special_tokens).
  std::unordered_map<std::string, int64_t> id_of;
  for (size_t i = 0; i < spelled.size(); ++i)
    id_of[spelled[i]] = static_cast<int64_t>(i);  // last wins
  const int64_t model_size = static_cast<int64_t>(id_of.size());
  std::map<int64_t, std::pair<std::string, bool>> added_by_id;  // id -> (content, special)
  std::unordered_map<std::string, int64_t> added_ids;
  json special_strings = json::array();
  std::unordered_map<std::string, bool> special_seen;
  auto add = [&](const std::string& content, bool special) {
    if (content.empty()) return;
    auto it = added_ids.find(content);
    if (it != added_ids.end() && added_by_id[it->second].second == special) return;
    int64_t id;
    if (it != added_ids.end())
      id = it->second;
    else if (id_of.count(content))
      id = id_of[content];
    else if (added_by_id.empty() || added_by_id.rbegin()->first < model_size)
      id = model_size;
    else
      id = added_by_id.rbegin()->first + 1;
    added_ids[content] = id;
    added_by_id[id] = {content, special};
    if (special && !special_seen[content])
      special_seen[content] = true, special_strings.push_back(content);
  };
  const bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
  if (byte_level)
    add("<|endoftext|>", true);
  else if (gemma)
    for (const char* t : {"<bos>", "<eos>", "<unk>", "<pad>", "<mask>"}) add(t, true);
  else
    for (const char* t : {"<s>", "</s>", "<unk>"}) add(t, true);
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != 3) continue;
    const std::string& t = tokens[i];
    bool ok = true;
    if (byte_level)
      for (size_t k = 0; k < t.size() && ok;) ok = tok::cp_to_byte(tok::next_cp(t, k)) >= 0;
    if (ok) add(t, true);
  }
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == 4 && (id_of.count(tokens[i]) || added_ids.count(tokens[i])))
      add(tokens[i], false);
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"})
    if (cfg.contains(name)) add(cfg[name].get<std::string>(), true);
  json added = json::array();
  for (auto& [id, e] : added_by_id)
    added.push_back({{"id", id},
                     {"content", e.first},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", e.second}});
  cfg["_erank_special_strings"] = std::move(special_strings);
  j["added_tokens"] = std::move(added);

  if (byte_level)
    if (const char* re = split_for_pre(pre))
      j["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers",
                             {{{"type", "Split"},
                               {"pattern", {{"Regex", re}}},
                               {"behavior", "Isolated"},
                               {"invert", false}},
                              {{"type", "ByteLevel"},
                               {"add_prefix_space", false},
                               {"trim_offsets", true},
                               {"use_regex", false}}}}};
  if (!cfg.contains("add_bos_token")) cfg["add_bos_token"] = false;
  if (!cfg.contains("add_eos_token")) cfg["add_eos_token"] = false;
  return {std::move(j), std::move(cfg)};
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GGUFFile& f) {
  json j, cfg;
  try {
    std::tie(j, cfg) = gguf_tokenizer_json(f);
  } catch (const json::exception& e) {
    fail("{}: bad tokenizer metadata: {}", f.path(), e.what());
  }
  return build_tokenizer(j, cfg, f.path());
}

}  // namespace erank
