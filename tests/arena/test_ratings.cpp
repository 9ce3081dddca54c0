// Ratings against FastChat's and lmarena's own functions on a synthetic battle log with ties and
// unequal pair counts (tests/fixtures/arena, by tools/make_arena_refs.py): online Elo within 1e-6,
// Bradley-Terry within 1e-3, sandwich bounds within 1e-2, bootstrap bounds within 12 points for
// the same round count (our own random stream: Monte Carlo error only), identical order and
// sandwich ranks; style control; FastChat's markdown counts; bad logs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "arena/battle_log.h"
#include "arena/leaderboard.h"
#include "arena/ratings.h"
#include "arena/style.h"
#include "core/error.h"

using namespace erank;
using namespace erank::arena;
using json = nlohmann::json;

namespace {

const std::string kDir = std::string(ERANK_SOURCE_DIR) + "/tests/fixtures/arena";

const json& refs() {
  static const json j = [] {
    std::ifstream f(kDir + "/refs.json");
    return json::parse(f);
  }();
  return j;
}

const std::vector<Battle>& battles() {
  static const std::vector<Battle> b = [] {
    auto v = read_battle_log(kDir + "/battles.jsonl");
    sort_by_time(v);
    return v;
  }();
  return b;
}

// One fit of everything, shared by the tests (100 bootstrap rounds of BT and of style control).
const Leaderboard& board() {
  static const Leaderboard lb = [] {
    RateOptions o;
    o.rounds = 100;
    o.seed = 1;
    return rate(battles(), o);
  }();
  return lb;
}

const ModelRating& row(const std::string& m) {
  for (const auto& r : board().models)
    if (r.model == m) return r;
  throw std::runtime_error("no model " + m);
}

std::string tmp_file(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("erank_arena_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

std::string error_of(const std::string& path) {
  try {
    read_battle_log(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ArenaRatings, OnlineEloEqualsFastChat) {
  const auto elo = online_elo(battles());
  double worst = 0;
  for (const char* key : {"elo", "elo_fastchat_repo"})
    for (auto& [m, v] : refs()[key].items())
      worst = std::max(worst, std::abs(elo.at(m) - v.get<double>()));
  EXPECT_LT(worst, 1e-6);
  RecordProperty("elo_max_abs_diff", std::to_string(worst));
  std::printf("online Elo: max |erank - FastChat| = %.3g\n", worst);
}

TEST(ArenaRatings, BradleyTerryEqualsFastChatAndArenaRank) {
  for (const char* key : {"bt_mle_scipy", "bt_fastchat", "bt_arena_rank"}) {
    double worst = 0;
    for (auto& [m, v] : refs()[key].items())
      worst = std::max(worst, std::abs(row(m).bt - v.get<double>()));
    EXPECT_LT(worst, 1e-3) << key;
    std::printf("BT vs %s: max |diff| = %.3g\n", key, worst);
  }
  // Centred on 1000 without an anchor.
  double mean = 0;
  for (const auto& r : board().models) mean += r.bt / static_cast<double>(board().models.size());
  EXPECT_NEAR(mean, 1000.0, 1e-9);
}

TEST(ArenaRatings, AnchorAsScaleAndOffset) {
  const json& a = refs()["bt_fastchat_anchor"];
  const PairTable t = make_pair_table(battles());
  std::vector<double> theta;
  ASSERT_TRUE(fit_bt(t, t.n, theta));
  const auto r = to_elo_scale(t, theta, Anchor{a["model"], a["rating"]});
  for (size_t i = 0; i < t.models.size(); ++i)
    EXPECT_NEAR(r[i], a["ratings"][t.models[i]].get<double>(), 1e-3) << t.models[i];
  EXPECT_THROW(to_elo_scale(t, theta, Anchor{"nobody", 1000}), Error);
}

TEST(ArenaRatings, SandwichEqualsArenaRank) {
  double worst = 0;
  for (auto& [m, v] : refs()["sandwich_arena_rank"].items())
    for (int k = 0; k < 2; ++k)
      worst = std::max(worst, std::abs(row(m).sandwich_ci[k] - v[k].get<double>()));
  EXPECT_LT(worst, 1e-2);
  std::printf("sandwich bounds vs arena-rank: max |diff| = %.3g\n", worst);
  // Its ranking (ranks from sandwich intervals) is arena-rank's.
  std::vector<std::array<double, 2>> ci;
  std::vector<std::string> names;
  for (const auto& r : board().models) ci.push_back(r.sandwich_ci), names.push_back(r.model);
  const auto rank = ci_ranks(ci);
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(rank[i], refs()["rank_sandwich_arena_rank"][names[i]].get<int>()) << names[i];
}

TEST(ArenaRatings, BootstrapBoundsWithinAFewPoints) {
  // Different random streams (ours vs numpy's and jax's), same rounds: the bounds agree to the
  // Monte Carlo error of a 2.5% quantile from 100 draws.
  for (const char* key : {"bootstrap_fastchat", "bootstrap_arena_rank"}) {
    double worst = 0;
    for (auto& [m, v] : refs()[key].items())
      for (int k = 0; k < 2; ++k)
        worst = std::max(worst, std::abs(row(m).bootstrap_ci[k] - v[k].get<double>()));
    // FastChat's and arena-rank's own 100-round bounds differ by up to 6.3 points on this log.
    EXPECT_LT(worst, 12.0) << key;
    std::printf("bootstrap bounds vs %s: max |diff| = %.2f points\n", key, worst);
  }
  // The rank rule on FastChat's own bounds gives FastChat's ranks. (Ranks from our bootstrap may
  // differ where two intervals nearly touch: charlie's lower and echo's upper bound are 2 points
  // apart in FastChat's draw and overlap in arena-rank's.)
  std::vector<std::array<double, 2>> ci;
  std::vector<std::string> names;
  for (auto& [m, v] : refs()["bootstrap_fastchat"].items())
    ci.push_back({v[0].get<double>(), v[1].get<double>()}), names.push_back(m);
  const auto rank = ci_ranks(ci);
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(rank[i], refs()["rank_bootstrap_fastchat"][names[i]].get<int>()) << names[i];
  for (const auto& r : board().models)
    std::printf("  %-12s bootstrap rank %d (FastChat's draw: %d)\n", r.model.c_str(), r.rank,
                refs()["rank_bootstrap_fastchat"][r.model].get<int>());
}

TEST(ArenaRatings, Bootstrap1000RoundsWithinThreePoints) {
  // With 1000 rounds on both sides the Monte Carlo error of the bounds is about a point.
  const PairTable t = make_pair_table(battles());
  const auto ci = bootstrap_ci(t, 1000, 1, std::nullopt);
  double worst = 0;
  for (size_t i = 0; i < t.models.size(); ++i)
    for (int k = 0; k < 2; ++k)
      worst = std::max(
          worst,
          std::abs(ci[i][k] - refs()["bootstrap_fastchat_1000"][t.models[i]][k].get<double>()));
  EXPECT_LT(worst, 3.0);
  std::printf("bootstrap bounds, 1000 rounds, vs FastChat's 1000: max |diff| = %.2f points\n",
              worst);
}

TEST(ArenaRatings, BootstrapIsSeeded) {
  const PairTable t = make_pair_table(battles());
  const auto a = bootstrap_ci(t, 20, 7, std::nullopt), b = bootstrap_ci(t, 20, 7, std::nullopt);
  const auto c = bootstrap_ci(t, 20, 8, std::nullopt);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ArenaRatings, OrderEqualsFastChat) {
  std::vector<std::pair<double, std::string>> ref;
  for (auto& [m, v] : refs()["bt_fastchat"].items()) ref.push_back({-v.get<double>(), m});
  std::sort(ref.begin(), ref.end());
  ASSERT_EQ(ref.size(), board().models.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(board().models[i].model, ref[i].second);
}

TEST(ArenaRatings, StyleControlEqualsFastChat) {
  const json& s = refs()["style"];
  // FastChat's compute_style_control stops its L-BFGS-B ~1e-3 short of the optimum (100
  // iterations, gtol 1e-6 on the unnormalised loss); its loss minimised tightly is style_tight.
  double worst = 0, tight = 0;
  for (auto& [m, v] : s["ratings"].items())
    worst = std::max(worst, std::abs(*row(m).style_bt - v.get<double>()));
  for (auto& [m, v] : refs()["style_tight"]["ratings"].items())
    tight = std::max(tight, std::abs(*row(m).style_bt - v.get<double>()));
  EXPECT_LT(worst, 2e-3);
  EXPECT_LT(tight, 1e-5);  // both optimisers stop within ~1e-6
  for (int f = 0; f < 4; ++f)
    EXPECT_NEAR(board().style_coefficients[f],
                refs()["style_tight"]["coefficients"][f].get<double>(), 1e-7);
  std::printf(
      "style-controlled BT: max |diff| vs FastChat %.3g, vs its loss minimised tightly %.3g\n",
      worst, tight);
  ASSERT_EQ(board().style_coefficients.size(), 4u);
  for (int f = 0; f < 4; ++f)
    EXPECT_NEAR(board().style_coefficients[f], s["coefficients"][f].get<double>(), 1e-5) << f;
  double bworst = 0;
  for (auto& [m, v] : s["bootstrap"].items())
    for (int k = 0; k < 2; ++k)
      bworst = std::max(bworst, std::abs((*row(m).style_ci)[k] - v[k].get<double>()));
  EXPECT_LT(bworst, 12.0);
  std::printf("style bootstrap bounds vs FastChat: max |diff| = %.2f points\n", bworst);
}

TEST(ArenaRatings, ClosedForms) {
  // a beats b three times out of four: BT gives exactly 400 log10(3) between them.
  std::vector<Battle> v;
  for (int i = 0; i < 4; ++i) {
    Battle b;
    b.model_a = "a";
    b.model_b = "b";
    b.winner = i < 3 ? Winner::model_a : Winner::model_b;
    b.tstamp = i;
    v.push_back(b);
  }
  PairTable t = make_pair_table(v);
  std::vector<double> th;
  ASSERT_TRUE(fit_bt(t, t.n, th));
  const auto r = to_elo_scale(t, th, std::nullopt);
  EXPECT_NEAR(r[0] - r[1], 400 * std::log10(3.0), 1e-9);
  EXPECT_NEAR(r[0] + r[1], 2000, 1e-9);
  EXPECT_TRUE(mle_exists(t));
  // Only wins: no finite maximum, and we say so.
  for (auto& b : v) b.winner = Winner::model_a;
  EXPECT_FALSE(mle_exists(make_pair_table(v)));
  // Ties are half a win and half a loss: a tie against equal wins/losses changes nothing.
  v[0].winner = Winner::tie;
  v[1].winner = Winner::tie_bothbad;
  v[2].winner = Winner::model_b;
  v[3].winner = Winner::model_a;
  t = make_pair_table(v);
  ASSERT_TRUE(fit_bt(t, t.n, th));
  EXPECT_NEAR(th[0], 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4, 5}, 0.025), 1.1);
}

TEST(ArenaStyle, MarkdownCountsEqualFastChat) {
  std::ifstream f(kDir + "/markdown.json");
  const json cases = json::parse(f);
  for (const auto& c : cases) {
    const MarkdownCounts m = count_markdown(c["text"].get<std::string>());
    EXPECT_EQ(m.headers, c["header"].get<int64_t>()) << c["text"];
    EXPECT_EQ(m.lists, c["list"].get<int64_t>()) << c["text"];
    EXPECT_EQ(m.bold, c["bold"].get<int64_t>()) << c["text"];
  }
}

TEST(ArenaStyle, TextCountsEqualConvMetadata) {
  // The fixture's first 200 records carry both conversations and FastChat-computed conv_metadata:
  // style counts from the text alone must equal them.
  std::ifstream f(kDir + "/battles.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(f, line)) {
    json rec = json::parse(line);
    if (!rec.contains("conversation_a")) continue;
    const Battle with_meta = parse_battle(rec, "fixture");
    rec.erase("conv_metadata");
    const Battle from_text = parse_battle(rec, "fixture");
    for (auto [x, y] : {std::pair{with_meta.style_a, from_text.style_a},
                        std::pair{with_meta.style_b, from_text.style_b}}) {
      ASSERT_TRUE(x && y);
      EXPECT_EQ(x->tokens, y->tokens);
      EXPECT_EQ(x->headers, y->headers);
      EXPECT_EQ(x->lists, y->lists);
      EXPECT_EQ(x->bold, y->bold);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 200);
}

TEST(ArenaLog, BadLinesAreNamed) {
  const std::string good = R"({"model_a":"x","model_b":"y","winner":"model_a","tstamp":1})"
                           "\n";
  std::string e = error_of(tmp_file("bad1.jsonl", good + good + "{not json\n" + good));
  EXPECT_NE(e.find("bad1.jsonl:3"), std::string::npos) << e;
  EXPECT_NE(e.find("not valid JSON"), std::string::npos) << e;
  e = error_of(tmp_file("bad2.jsonl",
                        good + R"({"model_a":"x","model_b":"y","winner":"model_c","tstamp":2})"));
  EXPECT_NE(e.find("bad2.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown winner 'model_c'"), std::string::npos) << e;
  e = error_of(tmp_file("bad3.jsonl", R"({"model_a":"x","winner":"tie"})"));
  EXPECT_NE(e.find("no 'model_b'"), std::string::npos) << e;
  e = error_of(tmp_file("bad4.jsonl", R"({"model_a":"x","model_b":"x","winner":"tie"})"));
  EXPECT_NE(e.find("plays itself"), std::string::npos) << e;
  e = error_of(tmp_file("bad5.json", R"([{"model_a":"x","model_b":"y","winner":"tie"}, 3])"));
  EXPECT_NE(e.find("record 1"), std::string::npos) << e;
  e = error_of(tmp_file("bad6.jsonl",
                        good + R"({"model_a":"x","model_b":"y","winner":"tie","tstamp":"soon"})"));
  EXPECT_NE(e.find("bad6.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(error_of("/nonexistent/battles.jsonl").find("cannot open"), std::string::npos);
  // A JSON list (FastChat's dump) reads as well, blank lines in JSONL are skipped.
  EXPECT_EQ(read_battle_log(tmp_file("ok.json", "[" + good + "," + good + "]")).size(), 2u);
  EXPECT_EQ(read_battle_log(tmp_file("ok.jsonl", good + "\n\n" + good)).size(), 2u);
}

TEST(ArenaPlot, ForestSvgEscapesNames) {
  std::vector<Battle> v;
  const char* names[] = {"<script>alert(1)</script>", "b&c"};
  for (int i = 0; i < 6; ++i) {
    Battle b;
    b.model_a = names[i % 2];
    b.model_b = names[(i + 1) % 2];
    b.winner = i % 3 == 0 ? Winner::tie : Winner::model_a;
    b.tstamp = i;
    v.push_back(b);
  }
  RateOptions o;
  o.rounds = 10;
  const std::string svg = forest_svg(rate(v, o));
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("b&amp;c"), std::string::npos);
}
