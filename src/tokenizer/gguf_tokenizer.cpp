// Tokenizer::from_gguf: rebuilds the tokenizer transformers makes from a GGUF vocabulary
// (integrations/gguf/gguf_tokenizer_mapping.py in transformers 5) and runs the same engine as
// from_hf_folder: the pipeline as a tokenizer.json object, the BPE vocabulary and merges as
// tables (ids, views into the file's metadata) since those are 262k tokens and ~1M merges. Covered:
// tokenizer.ggml.model "gpt2" (byte-level BPE, split regex chosen by tokenizer.ggml.pre) and
// "llama" (SentencePiece BPE with byte fallback; Gemma and Phi-3 variants chosen by
// general.architecture).
#include <algorithm>
#include <map>
#include <string_view>
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

// transformers' generate_merges: every split of a token into two vocab tokens, ordered by score
// (descending when `reverse`, for scores; ascending for vocab ids), then by piece lengths, ties
// in generation order (Python's stable sort). `order` lists the distinct tokens in dict insertion
// order as (vocab id, score). Works on ids and string_views: no string is built per split.
// Instead of one stable sort of all (~1M for Gemma) merges, tokens are stably sorted by score and
// each run of equal scores by lengths, which is the same order.
std::vector<tok::BpeMerge> generate_merges(const tok::Vocab& vocab,
                                           const std::vector<std::pair<int32_t, double>>& order,
                                           bool reverse) {
  struct M {
    tok::BpeMerge m;
    uint32_t ll, lr;  // lengths of the two pieces in characters
  };
  std::vector<uint32_t> idx(order.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint32_t>(i);
  auto score_before = [&](uint32_t a, uint32_t b) {
    return reverse ? order[a].second > order[b].second : order[a].second < order[b].second;
  };
  if (!std::is_sorted(idx.begin(), idx.end(), score_before))
    std::stable_sort(idx.begin(), idx.end(), score_before);
  auto len_before = [&](const M& a, const M& b) {
    if (a.ll != b.ll) return reverse ? a.ll > b.ll : a.ll < b.ll;
    return reverse ? a.lr > b.lr : a.lr < b.lr;
  };
  std::vector<tok::BpeMerge> out;
  out.reserve(order.size() * 4);
  std::vector<M> group, local;
  std::vector<size_t> cuts;
  for (size_t g = 0; g < idx.size();) {
    size_t g_end = g + 1;
    while (g_end < idx.size() && order[idx[g_end]].second == order[idx[g]].second) ++g_end;
    group.clear();
    for (size_t t = g; t < g_end; ++t) {
      const int32_t id = order[idx[t]].first;
      const std::string_view tok = *vocab.token(id);
      cuts.clear();
      for (size_t i = 0; i < tok.size();) {
        i = std::min(tok.size(), i + tok::cp_len(static_cast<uint8_t>(tok[i])));
        cuts.push_back(i);
      }
      const auto n = static_cast<uint32_t>(cuts.size());
      local.clear();
      for (uint32_t k = 1; k < n; ++k) {
        auto l = vocab.find(tok.substr(0, cuts[k - 1]));
        if (!l) continue;
        if (auto r = vocab.find(tok.substr(cuts[k - 1]))) local.push_back({{*l, *r, id}, k, n - k});
      }
      std::stable_sort(local.begin(), local.end(), [](const M& a, const M& b) {
        return a.m.left != b.m.left ? a.m.left < b.m.left : a.m.right < b.m.right;
      });
      group.insert(group.end(), local.begin(), local.end());
    }
    std::stable_sort(group.begin(), group.end(), len_before);
    for (auto& m : group) out.push_back(m.m);
    g = g_end;
  }
  return out;
}

}  // namespace

namespace {

// The tokenizer as transformers converts it: tokenizer.json `j` (its model without "vocab" and
// "merges", which are in `tables`) and tokenizer_config.json `cfg`.
struct Converted {
  json j, cfg;
  tok::BpeTables tables;
};

Converted convert(const GGUFFile& f) {
  std::string type = f.get_string("tokenizer.ggml.model");
  std::string arch = f.has("general.architecture") ? f.get_string("general.architecture") : "";
  std::string pre = f.has("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "";
  const bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
  const std::vector<std::string_view> tokens = f.get_string_array_views("tokenizer.ggml.tokens");
  std::vector<int64_t> types;
  if (f.has("tokenizer.ggml.token_type")) types = f.get_int_array("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() != tokens.size())
    fail("{}: tokenizer.ggml.token_type has {} entries for {} tokens", f.path(), types.size(),
         tokens.size());
  std::vector<double> scores;
  if (f.has("tokenizer.ggml.scores")) scores = f.get_float_array("tokenizer.ggml.scores");
  Converted out;
  tok::BpeTables& tables = out.tables;
  bool have_merges = f.has("tokenizer.ggml.merges");
  if (have_merges) tables.merge_texts = f.get_string_array_views("tokenizer.ggml.merges");

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
    return std::string(tokens[id]);
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
  // The vocabulary as the converted tokenizer spells it.
  std::vector<std::string> spelled(tokens.begin(), tokens.end());
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
    // Scores: Gemma's follow file order (-index), others come from tokenizer.ggml.scores.
    if (!have_merges && !gemma && scores.size() != tokens.size())
      fail("{}: tokenizer.ggml.scores has {} entries for {} tokens", f.path(), scores.size(),
           tokens.size());
  } else {
    fail("{}: tokenizer.ggml.model \"{}\" is not supported (supported: gpt2, llama)", f.path(),
         type);
  }
  const std::vector<int32_t> id_at = tables.vocab.assign_dense(std::move(spelled));
  if (!have_merges) {
    // Distinct tokens in dict insertion (first-occurrence) order, with the score of the last
    // occurrence; byte-level vocabularies score by id and keep only the last of equal spellings.
    std::vector<std::pair<int32_t, double>> order;
    order.reserve(tokens.size());
    if (byte_level) {
      for (size_t i = 0; i < tokens.size(); ++i)
        if (id_at[i] == static_cast<int32_t>(i))
          order.emplace_back(static_cast<int32_t>(i), static_cast<double>(i));
    } else {
      std::vector<int32_t> pos(tokens.size(), -1);  // by id
      for (size_t i = 0; i < tokens.size(); ++i) {
        const double sc = gemma ? -static_cast<double>(i) : scores[i];
        const int32_t id = id_at[i];
        if (pos[id] < 0) {
          pos[id] = static_cast<int32_t>(order.size());
          order.emplace_back(id, sc);
        } else {
          order[pos[id]].second = sc;
        }
      }
    }
    tables.merge_ids = generate_merges(tables.vocab, order, !byte_level);
  }
  j["model"] = std::move(model);

  // Added tokens, replaying the order in which transformers adds them (ids of tokens missing
  // from the vocabulary depend on it; AddedVocabulary::add_tokens semantics):
  //  1. the tokenizer class's default special tokens (GPT2Tokenizer: <|endoftext|>, ...),
  //  2. control tokens (type 3) as special -- in a byte-level vocabulary only those spelled in
  //     the byte alphabet -- then user-defined ones (type 4) as plain added tokens,
  //  3. the named bos/eos/unk/pad tokens of the file, as special.
  // Every string ever added as special stays "special" for decode(skip_special_tokens).
  const tok::Vocab& id_of = tables.vocab;  // the last of equal spellings wins
  const auto model_size = static_cast<int64_t>(id_of.size());
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
    else if (auto v = id_of.find(content))
      id = *v;
    else if (added_by_id.empty() || added_by_id.rbegin()->first < model_size)
      id = model_size;
    else
      id = added_by_id.rbegin()->first + 1;
    added_ids[content] = id;
    added_by_id[id] = {content, special};
    if (special && !special_seen[content])
      special_seen[content] = true, special_strings.push_back(content);
  };
  if (byte_level)
    add("<|endoftext|>", true);
  else if (gemma)
    for (const char* t : {"<bos>", "<eos>", "<unk>", "<pad>", "<mask>"}) add(t, true);
  else
    for (const char* t : {"<s>", "</s>", "<unk>"}) add(t, true);
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != 3) continue;
    const std::string_view t = tokens[i];
    bool ok = true;
    if (byte_level)
      for (size_t k = 0; k < t.size() && ok;) ok = tok::cp_to_byte(tok::next_cp(t, k)) >= 0;
    if (ok) add(std::string(t), true);
  }
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == 4) {
      std::string t(tokens[i]);
      if (id_of.find(t) || added_ids.count(t)) add(t, false);
    }
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
  out.j = std::move(j);
  out.cfg = std::move(cfg);
  return out;
}

}  // namespace

std::pair<json, json> gguf_tokenizer_json(const GGUFFile& f) {
  Converted c = convert(f);
  const tok::Vocab& v = c.tables.vocab;
  json vocab = json::object();
  for (size_t i = 0; i < v.max_id_plus_one(); ++i)
    if (const std::string* t = v.token(static_cast<int32_t>(i)))
      vocab[*t] = static_cast<int64_t>(i);
  json merges = json::array();
  for (auto m : c.tables.merge_texts) merges.push_back(std::string(m));
  for (auto& m : c.tables.merge_ids)
    merges.push_back(json::array({*v.token(m.left), *v.token(m.right)}));
  c.j["model"]["vocab"] = std::move(vocab);
  c.j["model"]["merges"] = std::move(merges);
  return {std::move(c.j), std::move(c.cfg)};
}

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GGUFFile& f) {
  Converted c;
  std::unique_ptr<tok::Model> model;
  try {
    c = convert(f);
    model = tok::make_bpe(c.j.at("model"), std::move(c.tables));
  } catch (const json::exception& e) {
    fail("{}: bad tokenizer metadata: {}", f.path(), e.what());
  } catch (const Error& e) {
    if (std::string_view(e.what()).starts_with(f.path())) throw;
    fail("{}: {}", f.path(), e.what());
  }
  return build_tokenizer(c.j, c.cfg, f.path(), std::move(model));
}

}  // namespace erank
