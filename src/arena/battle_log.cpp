#include "arena/battle_log.h"

#include <algorithm>
#include <fstream>

#include "arena/style.h"
#include "core/error.h"

namespace erank::arena {
namespace {

using json = nlohmann::json;

// conv_metadata's count for one side: an int, or a dict of counts (FastChat's
// extract_style_feature sums the dict's values).
std::optional<double> meta_count(const json& meta, const std::string& key,
                                 const std::string& where) {
  auto it = meta.find(key);
  if (it == meta.end()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_object()) {
    double s = 0;
    for (auto& [k, v] : it->items()) {
      if (!v.is_number()) fail("{}: conv_metadata.{}.{} is not a number", where, key, k);
      s += v.get<double>();
    }
    return s;
  }
  fail("{}: conv_metadata.{} is neither a number nor a dict of numbers", where, key);
}

std::optional<StyleCounts> style_of(const json& rec, const char* side, const std::string& where) {
  const std::string s(side);
  if (auto m = rec.find("conv_metadata"); m != rec.end() && m->is_object()) {
    auto tok = meta_count(*m, "sum_assistant_" + s + "_tokens", where);
    auto hd = meta_count(*m, "header_count_" + s, where);
    auto ls = meta_count(*m, "list_count_" + s, where);
    auto bd = meta_count(*m, "bold_count_" + s, where);
    if (tok && hd && ls && bd) return StyleCounts{*tok, *hd, *ls, *bd};
  }
  auto c = rec.find("conversation_" + s);
  if (c == rec.end() || !c->is_array()) return std::nullopt;
  std::string text;  // assistant turns joined by "\n", as FastChat's add_markdown_info
  bool first = true;
  for (const json& turn : *c) {
    if (!turn.is_object() || turn.value("role", "") != "assistant") continue;
    auto content = turn.find("content");
    if (content == turn.end() || !content->is_string()) continue;
    if (!first) text += '\n';
    text += content->get<std::string>();
    first = false;
  }
  return style_from_text(text);
}

std::string model_field(const json& rec, const char* key, const std::string& where) {
  auto it = rec.find(key);
  if (it == rec.end()) fail("{}: no '{}'", where, key);
  if (!it->is_string() || it->get<std::string>().empty())
    fail("{}: '{}' must be a non-empty string", where, key);
  return it->get<std::string>();
}

}  // namespace

std::optional<Winner> parse_winner(std::string_view s) {
  if (s == "model_a") return Winner::model_a;
  if (s == "model_b") return Winner::model_b;
  if (s == "tie") return Winner::tie;
  if (s == "tie (bothbad)") return Winner::tie_bothbad;
  return std::nullopt;
}

const char* winner_name(Winner w) {
  switch (w) {
    case Winner::model_a:
      return "model_a";
    case Winner::model_b:
      return "model_b";
    case Winner::tie:
      return "tie";
    case Winner::tie_bothbad:
      return "tie (bothbad)";
  }
  return "tie";
}

Battle parse_battle(const json& rec, const std::string& where) {
  if (!rec.is_object()) fail("{}: a battle record must be a JSON object", where);
  Battle b;
  b.where = where;
  b.model_a = model_field(rec, "model_a", where);
  b.model_b = model_field(rec, "model_b", where);
  if (b.model_a == b.model_b) fail("{}: '{}' plays itself", where, b.model_a);
  auto w = rec.find("winner");
  if (w == rec.end() || !w->is_string()) fail("{}: no 'winner' string", where);
  auto win = parse_winner(w->get<std::string>());
  if (!win)
    fail("{}: unknown winner '{}' (model_a, model_b, tie or tie (bothbad))", where,
         w->get<std::string>());
  b.winner = *win;
  if (auto t = rec.find("tstamp"); t != rec.end()) {
    if (!t->is_number()) fail("{}: 'tstamp' must be a number", where);
    b.tstamp = t->get<double>();
  }
  b.style_a = style_of(rec, "a", where);
  b.style_b = style_of(rec, "b", where);
  return b;
}

std::vector<Battle> read_battle_log(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open the battle log", path);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<Battle> out;
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && bytes[first] == '[') {  // one JSON list (FastChat's dump)
    json all = json::parse(bytes, nullptr, false);
    if (all.is_discarded() || !all.is_array()) fail("{}: not a valid JSON list of battles", path);
    for (size_t i = 0; i < all.size(); ++i)
      out.push_back(parse_battle(all[i], fmt::format("{}: record {}", path, i)));
    return out;
  }
  size_t pos = 0;
  for (int64_t line = 1; pos < bytes.size(); ++line) {
    const size_t end = std::min(bytes.find('\n', pos), bytes.size());
    const std::string_view raw(bytes.data() + pos, end - pos);
    pos = end + 1;
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("{}:{}", path, line);
    json rec = json::parse(raw, nullptr, false);
    if (rec.is_discarded()) fail("{}: not valid JSON", where);
    out.push_back(parse_battle(rec, where));
  }
  return out;
}

void sort_by_time(std::vector<Battle>& battles) {
  std::stable_sort(battles.begin(), battles.end(),
                   [](const Battle& x, const Battle& y) { return x.tstamp < y.tstamp; });
}

}  // namespace erank::arena
