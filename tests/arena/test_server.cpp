// The local arena: storage (a vote survives reopening; one vote per battle; no vote before the
// answers), prompt checks, players' option errors, and the server end to end over loopback with
// echo players: bad input gets clear errors and the server stays up; a battle streams, a vote
// reveals; export writes a FastChat log that `arena rate` reads. Then the browser check (headless
// chromium, tools/arena_browser_check.py) and a short kill -9 load run (bench/arena_load.py;
// ERANK_ARENA_LOAD_VOTES sets its size, 1000 for the full run).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "arena/battle_log.h"
#include "arena/players.h"
#include "arena/server.h"
#include "arena/store.h"
#include "core/error.h"

using namespace erank;
using namespace erank::arena;
using json = nlohmann::json;
namespace fs = std::filesystem;

extern char** environ;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("erank_arena_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// `erank arena serve` with echo players on a free port, stopped (SIGTERM) at scope exit.
struct Server {
  pid_t pid = 0;
  int port = 0;
  fs::path dir;
  explicit Server(const fs::path& d, const std::string& models = "a=echo,b=echo,c=echo") : dir(d) {
    pid = spawn({ERANK_BINARY, "arena", "serve", "--models", models, "--db",
                 (d / "arena.sqlite").string(), "--port", "0", "--port-file", (d / "port").string(),
                 "--max-prompt-bytes", "2000", "--bootstrap", "20"});
    for (int i = 0; i < 600 && !fs::exists(d / "port"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    port = std::stoi(slurp(d / "port"));
  }
  ~Server() {
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
  }
  bool alive() const { return kill(pid, 0) == 0; }
};

}  // namespace

TEST(ArenaStore, VotesAreDurableAndSingle) {
  const fs::path d = fresh_dir("store");
  const std::string db = (d / "s.sqlite").string();
  int64_t id = 0;
  {
    Store s(db);
    id = s.new_battle("x", "y", "hello");
    EXPECT_EQ(s.vote(id, Winner::model_a), VoteResult::not_answered);
    s.set_answers(id, "# A\n- one", 4, "b", 1);
    EXPECT_EQ(s.vote(id + 100, Winner::model_a), VoteResult::no_battle);
    EXPECT_EQ(s.vote(id, Winner::tie_bothbad), VoteResult::ok);
    EXPECT_EQ(s.vote(id, Winner::model_b), VoteResult::already_voted);
  }
  Store s(db);
  const auto rows = s.voted();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(*rows[0].winner, Winner::tie_bothbad);
  const json rec = fastchat_record(rows[0]);
  EXPECT_EQ(rec["winner"], "tie (bothbad)");
  EXPECT_EQ(rec["conversation_a"][1]["content"], "# A\n- one");
  EXPECT_EQ(rec["conv_metadata"]["header_count_a"], 1);
  EXPECT_EQ(rec["conv_metadata"]["list_count_a"], 1);
  EXPECT_EQ(rec["conv_metadata"]["sum_assistant_a_tokens"], 4);
  // What export writes reads back as a battle.
  const Battle b = parse_battle(json::parse(rec.dump()), "export");
  EXPECT_EQ(b.model_a, "x");
  EXPECT_EQ(b.style_a->tokens, 4);
}

TEST(ArenaServe, PromptChecks) {
  EXPECT_EQ(prompt_problem("Hello, world\n\tok ✓", 100), "");
  EXPECT_NE(prompt_problem("", 100).find("empty"), std::string::npos);
  EXPECT_NE(prompt_problem(" \n ", 100).find("empty"), std::string::npos);
  EXPECT_NE(prompt_problem(std::string(101, 'x'), 100).find("at most 100"), std::string::npos);
  EXPECT_NE(prompt_problem(std::string("a\0b", 3), 100).find("binary"), std::string::npos);
  EXPECT_NE(prompt_problem("\x1b[31m", 100).find("binary"), std::string::npos);
  EXPECT_NE(prompt_problem("\xff\xfe", 100).find("UTF-8"), std::string::npos);
  EXPECT_NE(prompt_problem("\xed\xa0\x80", 100).find("UTF-8"), std::string::npos);  // surrogate
  EXPECT_EQ(utf8_complete_prefix("ab\xe2\x9c"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xe2\x9c\x93"), 5u);
}

TEST(ArenaServe, PlayerErrors) {
  EXPECT_THROW(parse_players("only-one"), Error);
  EXPECT_THROW(parse_players("a=x,a=y"), Error);
  EXPECT_THROW(parse_players("=x,b"), Error);
  EXPECT_EQ(parse_players("a=smollm2-135m, b=smollm2-135m")[1].model, "smollm2-135m");
  try {
    load_players(parse_players("ok=echo,broken=/nonexistent/model.gguf"), {});
    FAIL() << "a model that does not load was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'broken'"), std::string::npos) << e.what();
  }
  // The CLI: a clear error and a non-zero exit, before anything listens.
  const fs::path d = fresh_dir("badmodel");
  EXPECT_EQ(
      run(std::string(ERANK_BINARY) + " arena serve --models a=echo,b=/nonexistent.gguf --db " +
          (d / "x.sqlite").string() + " --port 0 2> " + (d / "err").string()),
      1);
  EXPECT_NE(slurp(d / "err").find("'b' (/nonexistent.gguf) does not load"), std::string::npos)
      << slurp(d / "err");
}

TEST(ArenaServe, BadInputThenABattle) {
  const fs::path d = fresh_dir("serve");
  Server srv(d);
  httplib::Client c("127.0.0.1", srv.port);
  c.set_read_timeout(30, 0);
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = c.Post(path.c_str(), body, "application/json");
    EXPECT_TRUE(r) << path;
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  // Bad requests: each a clear error, and the server keeps serving.
  EXPECT_EQ(post("/api/battle", "{not json").first, 400);
  EXPECT_EQ(post("/api/battle", R"({"prompt": 5})").first, 400);
  auto [st, body] = post("/api/battle", json{{"prompt", std::string("bin\x01\x02")}}.dump());
  EXPECT_EQ(st, 400);
  EXPECT_NE(body.find("binary"), std::string::npos) << body;
  std::tie(st, body) = post("/api/battle", json{{"prompt", std::string(2001, 'x')}}.dump());
  EXPECT_EQ(st, 400);
  EXPECT_NE(body.find("at most 2000"), std::string::npos) << body;
  std::tie(st, body) = post("/api/battle", std::string(200000, ' '));  // past the body cap
  EXPECT_EQ(st, 413);
  EXPECT_EQ(post("/api/vote", R"({"battle": 99999, "winner": "model_a"})").first, 404);
  EXPECT_EQ(post("/api/vote", R"({"battle": 1, "winner": "model_c"})").first, 400);
  EXPECT_EQ(c.Get("/api/battle/424242/stream")->status, 404);
  EXPECT_TRUE(srv.alive());
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);

  // A battle: the stream carries both answers (a script tag stays text inside JSON), then a vote.
  std::tie(st, body) = post("/api/battle", json{{"prompt", "<script>alert(1)</script> hi"}}.dump());
  ASSERT_EQ(st, 200) << body;
  const int64_t id = json::parse(body)["battle"];
  auto s = c.Get(("/api/battle/" + std::to_string(id) + "/stream").c_str());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_NE(s->body.find("\"side\":\"a\""), std::string::npos) << s->body;
  EXPECT_NE(s->body.find("\"side\":\"b\""), std::string::npos) << s->body;
  EXPECT_NE(s->body.find("event: end"), std::string::npos) << s->body;
  std::tie(st, body) = post("/api/vote", json{{"battle", id}, {"winner", "model_b"}}.dump());
  ASSERT_EQ(st, 200) << body;
  const json reveal = json::parse(body);
  EXPECT_NE(reveal["model_a"], reveal["model_b"]);
  EXPECT_EQ(post("/api/vote", json{{"battle", id}, {"winner", "model_a"}}.dump()).first, 409);
  auto lb = c.Get("/api/ratings");
  ASSERT_TRUE(lb);
  EXPECT_EQ(json::parse(lb->body)["n_battles"], 1);
  auto svg = c.Get("/api/forest.svg");
  ASSERT_TRUE(svg);
  EXPECT_NE(svg->body.find("<svg"), std::string::npos);

  // export -> rate
  const std::string log = (d / "log.json").string();
  ASSERT_EQ(run(std::string(ERANK_BINARY) + " arena export --db " + (d / "arena.sqlite").string() +
                " --out " + log + " 2>/dev/null"),
            0);
  const json exported = json::parse(slurp(log));
  ASSERT_EQ(exported.size(), 1u);
  EXPECT_EQ(exported[0]["winner"], "model_b");
  EXPECT_EQ(exported[0]["model_a"], reveal["model_a"]);
  EXPECT_EQ(exported[0]["conversation_a"][0]["content"], "<script>alert(1)</script> hi");
  EXPECT_EQ(
      run(std::string(ERANK_BINARY) + " arena rate --battles " + log + " --bootstrap 5 --out " +
          (d / "r.json").string() + " --plot " + (d / "r.svg").string() + " > /dev/null"),
      0);
  EXPECT_EQ(json::parse(slurp(d / "r.json"))["models"].size(), 2u);
}

// The browser and load runs exercise the release binary; under the sanitizer (ERANK_SANITIZED)
// they would only time chromium and python against a slow server, so they skip there.
static bool sanitized() {
  return std::getenv("ERANK_SANITIZED") != nullptr;
}

TEST(ArenaServe, BrowserDrivesThePage) {
  if (sanitized()) GTEST_SKIP() << "release build only";
  const fs::path d = fresh_dir("browser");
  const std::string cmd = "python3 " + std::string(ERANK_SOURCE_DIR) +
                          "/tools/arena_browser_check.py --erank " + ERANK_BINARY + " --out " +
                          d.string() + " --max-new-tokens 24 > " + (d / "log").string() + " 2>&1";
  const int rc = run(cmd);
  if (rc == 77) GTEST_SKIP() << "no chromium";
  EXPECT_EQ(rc, 0) << slurp(d / "log") << slurp(d / "server.log");
  for (const char* shot : {"1-arena-empty.png", "2-arena-streaming.png", "3-arena-answered.png",
                           "4-arena-revealed.png", "5-leaderboard.png"})
    EXPECT_TRUE(fs::exists(d / shot)) << shot;
}

TEST(ArenaServe, KillDashNineLosesNoAcknowledgedVote) {
  if (sanitized()) GTEST_SKIP() << "release build only";
  const char* env = std::getenv("ERANK_ARENA_LOAD_VOTES");
  const std::string votes = env ? env : "200";
  const fs::path d = fresh_dir("load");
  const int rc = run("python3 " + std::string(ERANK_SOURCE_DIR) + "/bench/arena_load.py --erank " +
                     ERANK_BINARY + " --voters 20 --votes " + votes + " --out " + d.string() +
                     " > " + (d / "result.json").string() + " 2>&1");
  const std::string res = slurp(d / "result.json");
  ASSERT_EQ(rc, 0) << res;
  const json j = json::parse(res);
  EXPECT_EQ(j["lost_acked_votes"], 0);
  EXPECT_EQ(j["kill"]["lost_at_kill"], 0);
  EXPECT_GE(j["votes_in_db"].get<int>(), j["votes_acked"].get<int>());
  std::printf("%s\n", res.c_str());
}
