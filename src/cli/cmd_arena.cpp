// erank arena: Chatbot-Arena ratings from battle logs (rate), a local arena where people vote in
// a browser (serve), and the arena's votes as a FastChat battle log (export).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "arena/battle_log.h"
#include "arena/leaderboard.h"
#include "arena/players.h"
#include "arena/server.h"
#include "arena/store.h"
#include "cli/command.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace erank::cli {
namespace {

struct RateArgs {
  std::string battles, out, plot, anchor, ci = "bootstrap";
  int rounds = 100;
  uint64_t seed = 0;
  bool no_style = false, quiet = false;
};

struct ServeArgs {
  std::string models, db = "arena.sqlite", host = "127.0.0.1", port_file, system;
  int port = 8080, threads = 0, rounds = 100;
  int64_t max_new_tokens = 256, max_prompt_tokens = 1024;
  size_t max_prompt_bytes = 4000;
  double temperature = 0.7, top_p = 0.95;
  int top_k = 50;
  uint64_t seed = 0;
};

struct ExportArgs {
  std::string db, out;
};

std::optional<arena::Anchor> parse_anchor(const std::string& s) {
  if (s.empty()) return std::nullopt;
  arena::Anchor a;
  const size_t eq = s.rfind('=');
  a.model = s.substr(0, eq);
  if (eq != std::string::npos) {
    try {
      size_t used = 0;
      a.rating = std::stod(s.substr(eq + 1), &used);
      if (used != s.size() - eq - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      fail("--anchor: '{}' is not MODEL=RATING", s);
    }
  }
  if (a.model.empty()) fail("--anchor: '{}' names no model", s);
  return a;
}

int run_rate(const RateArgs& o) {
  std::vector<arena::Battle> battles = arena::read_battle_log(o.battles);
  arena::RateOptions ro;
  ro.rounds = o.rounds;
  ro.seed = o.seed;
  ro.anchor = parse_anchor(o.anchor);
  ro.ci = o.ci;
  ro.style = !o.no_style;
  if (o.rounds < 0) fail("--bootstrap must not be negative");
  const arena::Leaderboard lb = arena::rate(std::move(battles), ro);
  if (!lb.finite)
    fmt::print(stderr,
               "erank arena rate: warning: some model won (or lost) every comparison that links "
               "it to the rest, so the maximum-likelihood ratings are not finite; the numbers "
               "shown are where the optimiser stopped\n");
  if (!o.quiet) fmt::print("{}", arena::to_table(lb));
  if (!lb.style_coefficients.empty() && !o.quiet)
    fmt::print("style coefficients (z-scored length, headers, lists, bold): {:.4f}\n",
               fmt::join(lb.style_coefficients, ", "));
  if (!o.out.empty()) write_file_atomic(o.out, arena::to_json(lb).dump(1) + "\n");
  if (!o.plot.empty()) write_file_atomic(o.plot, arena::forest_svg(lb));
  return 0;
}

int run_serve(const ServeArgs& o) {
  arena::AnswerSettings s;
  s.max_new_tokens = o.max_new_tokens;
  s.temperature = o.temperature;
  s.top_k = o.top_k;
  s.top_p = o.top_p;
  s.seed = o.seed;
  s.threads = o.threads;
  s.system = o.system;
  s.max_prompt_tokens = o.max_prompt_tokens;
  if (o.max_new_tokens < 1) fail("--max-new-tokens must be at least 1");
  const auto specs = arena::parse_players(o.models);
  fmt::print(stderr, "erank arena: loading {} players\n", specs.size());
  auto players = arena::load_players(specs, s);  // before the socket: a bad model fails here
  arena::Store store(o.db);
  arena::ServeOptions so;
  so.host = o.host;
  so.port = o.port;
  so.port_file = o.port_file;
  so.max_prompt_bytes = o.max_prompt_bytes;
  so.max_body = std::max<size_t>(4096, o.max_prompt_bytes * 4 + 1024);  // JSON escapes included
  so.rounds = o.rounds;
  so.seed = o.seed;
  arena::serve(std::move(players), store, so);
  return 0;
}

int run_export(const ExportArgs& o) {
  arena::Store store(o.db);
  const auto rows = store.voted();
  const bool jsonl = o.out.size() >= 6 && o.out.substr(o.out.size() - 6) == ".jsonl";
  std::string text;
  if (jsonl) {
    for (const auto& r : rows) text += arena::fastchat_record(r).dump() + "\n";
  } else {  // FastChat's clean_battle_data writes one JSON list
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& r : rows) all.push_back(arena::fastchat_record(r));
    text = all.dump(1) + "\n";
  }
  if (o.out.empty() || o.out == "-")
    fmt::print("{}", text);
  else
    write_file_atomic(o.out, text);
  fmt::print(stderr, "erank arena export: {} battles\n", rows.size());
  return 0;
}

RunFn setup(CLI::App& app) {
  app.require_subcommand(1, 1);
  auto rate = std::make_shared<RateArgs>();
  auto serve = std::make_shared<ServeArgs>();
  auto exp = std::make_shared<ExportArgs>();
  CLI::App* r = app.add_subcommand("rate", "Elo, Bradley-Terry with 95% intervals, style control");
  r->add_option("--battles", rate->battles, "FastChat battle log (JSON list or JSONL)")->required();
  r->add_option("--bootstrap", rate->rounds, "bootstrap rounds (0: sandwich intervals only)");
  r->add_option("--seed", rate->seed, "bootstrap seed");
  r->add_option("--anchor", rate->anchor,
                "MODEL=RATING: fix one model's rating (default: mean 1000)");
  r->add_option("--ci", rate->ci, "interval for bt_ci and the rank: bootstrap | sandwich");
  r->add_flag("--no-style", rate->no_style, "skip style control even if the log has answers");
  r->add_option("--out", rate->out, "ratings JSON");
  r->add_option("--plot", rate->plot, "forest plot of the ratings with intervals (SVG)");
  r->add_flag("--quiet", rate->quiet, "no table on stdout");

  CLI::App* s = app.add_subcommand("serve", "a local arena: vote in a browser");
  s->add_option("--models", serve->models, "MODEL or LABEL=MODEL, comma separated (2 or more)")
      ->required();
  s->add_option("--db", serve->db, "SQLite database of battles and votes");
  s->add_option("--host", serve->host, "address to bind (default loopback only)");
  s->add_option("--port", serve->port, "port (0: any free port)");
  s->add_option("--port-file", serve->port_file, "write the bound port here once listening");
  s->add_option("--max-new-tokens", serve->max_new_tokens, "tokens per answer");
  s->add_option("--max-prompt-bytes", serve->max_prompt_bytes, "longest prompt accepted");
  s->add_option("--max-prompt-tokens", serve->max_prompt_tokens, "longest templated prompt");
  s->add_option("--temperature", serve->temperature, "sampling temperature (0: greedy)");
  s->add_option("--top-k", serve->top_k, "top-k when sampling");
  s->add_option("--top-p", serve->top_p, "top-p when sampling");
  s->add_option("--seed", serve->seed, "sampling (player i: seed + i), pairing and bootstrap seed");
  s->add_option("--system", serve->system, "system message for every prompt");
  s->add_option("--threads", serve->threads, "threads per answer (0: all)");
  s->add_option("--bootstrap", serve->rounds, "bootstrap rounds of the live leaderboard");

  CLI::App* e = app.add_subcommand("export", "the arena's votes as a FastChat battle log");
  e->add_option("--db", exp->db, "SQLite database written by serve")->required();
  e->add_option("--out", exp->out, "FILE.json (a list) or FILE.jsonl; default stdout");

  return [r, s, e, rate, serve, exp]() -> int {
    if (r->parsed()) return run_rate(*rate);
    if (s->parsed()) return run_serve(*serve);
    if (e->parsed()) return run_export(*exp);
    return 1;
  };
}

ERANK_COMMAND("arena", "Arena ratings (Elo, Bradley-Terry, style control) and a local arena",
              setup);

}  // namespace
}  // namespace erank::cli
