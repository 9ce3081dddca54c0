// Battle logs in FastChat's format: a JSON list or JSONL of records with model_a, model_b,
// winner (model_a | model_b | tie | tie (bothbad)), tstamp, and optionally conversation_a/b and
// conv_metadata (what style control reads). Errors name the file and the line (JSONL) or the
// record index (a JSON list).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace erank::arena {

enum class Winner { model_a, model_b, tie, tie_bothbad };

// "model_a" -> Winner::model_a, ...; nullopt for anything else.
std::optional<Winner> parse_winner(std::string_view s);
const char* winner_name(Winner w);
// Model a's score: 1, 0 or 0.5 (both kinds of tie).
inline double outcome_a(Winner w) {
  return w == Winner::model_a ? 1.0 : w == Winner::model_b ? 0.0 : 0.5;
}

// The four style elements FastChat's style control uses, per answer: assistant tokens, markdown
// headers, list items, bold spans (conv_metadata's sum_assistant_*_tokens, header_count_*,
// list_count_*, bold_count_*, each dict summed).
struct StyleCounts {
  double tokens = 0, headers = 0, lists = 0, bold = 0;
};

struct Battle {
  std::string model_a, model_b;
  Winner winner = Winner::tie;
  double tstamp = 0;
  std::optional<StyleCounts> style_a, style_b;  // present when the record carries them
  std::string where;                            // "FILE:LINE" for messages
};

// Reads FILE (JSON list or JSONL, chosen by the first non-blank character). Throws erank::Error
// naming the line for malformed JSON, a missing or non-string model, an unknown winner, a model
// playing itself or a non-numeric tstamp.
std::vector<Battle> read_battle_log(const std::string& path);
// One record (exposed for the server, which builds the same records from its database).
Battle parse_battle(const nlohmann::json& rec, const std::string& where);

// Stable sort by tstamp: the order online Elo is computed in (FastChat sorts before rating).
void sort_by_time(std::vector<Battle>& battles);

}  // namespace erank::arena
