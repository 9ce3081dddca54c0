// A leaderboard from battles: online Elo, Bradley-Terry with 95% intervals (bootstrap and
// sandwich), the interval rank, and style control when every battle carries its answers' style
// counts. One entry point for `erank arena rate` and the server's live leaderboard; JSON, a text
// table and a forest plot (SVG) of it.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <vector>
#include "core/markup.h"

#include "arena/battle_log.h"
#include "arena/ratings.h"

namespace erank::arena {

struct RateOptions {
  int rounds = 100;  // bootstrap rounds (0: no bootstrap; bt_ci falls back to the sandwich)
  uint64_t seed = 0;
  std::optional<Anchor> anchor;
  std::string ci = "bootstrap";  // which interval bt_ci and the rank use: bootstrap | sandwich
  bool style = true;             // style control when the battles carry style counts
};

struct ModelRating {
  std::string model;
  int64_t n_battles = 0;
  double elo = 0, bt = 0;
  std::array<double, 2> bt_ci{}, bootstrap_ci{}, sandwich_ci{};
  int rank = 1;
  std::optional<double> style_bt;
  std::optional<std::array<double, 2>> style_ci;
};

struct Leaderboard {
  std::vector<ModelRating> models;  // by bt, best first
  int64_t n_battles = 0;
  bool finite = true;  // false: some model won or lost every battle (no finite MLE)
  RateOptions opt;
  std::vector<double> style_coefficients;  // empty without style control
};

// Sorts the battles by tstamp (stably) first. Throws erank::Error for no battles.
Leaderboard rate(std::vector<Battle> battles, const RateOptions& opt);

// {"models": [{"model", "n_battles", "elo", "bt", "bt_ci", "rank", ...}], ...}
nlohmann::ordered_json to_json(const Leaderboard& lb);
std::string to_table(const Leaderboard& lb);
// Ratings with their intervals, one row per model (best on top), as a standalone SVG.
std::string forest_svg(const Leaderboard& lb, const std::string& title = "Bradley-Terry ratings");

}  // namespace erank::arena
