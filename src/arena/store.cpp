#include "arena/store.h"

#include <sqlite3.h>

#include <chrono>
#include <memory>

#include "arena/style.h"
#include "core/error.h"

namespace erank::arena {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK)
      fail("sqlite: {}: {}", sql, sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  bool step() {  // true: a row
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("sqlite: {}", sqlite3_errmsg(db_));
  }
  int step_rc() { return sqlite3_step(s_); }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double f64(int c) { return sqlite3_column_double(s_, c); }
  std::string text(int c) {
    const auto* p = sqlite3_column_text(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, c)) : "";
  }
  bool null(int c) { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) fail("sqlite bind: {}", sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

const char* kSelect =
    "SELECT b.id, b.tstamp, b.model_a, b.model_b, b.prompt, b.answer_a, b.answer_b, b.tokens_a, "
    "b.tokens_b, b.answered, v.winner, v.tstamp FROM battles b LEFT JOIN votes v ON v.battle = "
    "b.id";

BattleRow read_row(Stmt& s) {
  BattleRow r;
  r.id = s.i64(0);
  r.tstamp = s.f64(1);
  r.model_a = s.text(2);
  r.model_b = s.text(3);
  r.prompt = s.text(4);
  r.answer_a = s.text(5);
  r.answer_b = s.text(6);
  r.tokens_a = s.i64(7);
  r.tokens_b = s.i64(8);
  r.answered = s.i64(9) != 0;
  if (!s.null(10)) {
    r.winner = parse_winner(s.text(10));
    r.vote_tstamp = s.f64(11);
  }
  return r;
}

}  // namespace

Store::Store(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    fail("{}: cannot open the arena database: {}", path, msg);
  }
  sqlite3_busy_timeout(db_, 5000);  // `export` may read while a server writes
  // WAL: readers do not block the writer; FULL: the WAL is fsynced at every commit, so a commit
  // that returned survives a crash of the process and of the machine.
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON");
  exec(
      "CREATE TABLE IF NOT EXISTS battles (id INTEGER PRIMARY KEY, tstamp REAL NOT NULL, "
      "model_a TEXT NOT NULL, model_b TEXT NOT NULL, prompt TEXT NOT NULL, answer_a TEXT NOT NULL "
      "DEFAULT '', answer_b TEXT NOT NULL DEFAULT '', tokens_a INTEGER NOT NULL DEFAULT 0, "
      "tokens_b INTEGER NOT NULL DEFAULT 0, answered INTEGER NOT NULL DEFAULT 0)");
  exec(
      "CREATE TABLE IF NOT EXISTS votes (battle INTEGER PRIMARY KEY REFERENCES battles(id), "
      "winner TEXT NOT NULL, tstamp REAL NOT NULL)");
}

Store::~Store() {
  sqlite3_close(db_);
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    fail("{}: {}: {}", path_, sql, msg);
  }
}

int64_t Store::new_battle(const std::string& model_a, const std::string& model_b,
                          const std::string& prompt) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO battles (tstamp, model_a, model_b, prompt) VALUES (?, ?, ?, ?)");
  s.bind(1, now_s()).bind(2, model_a).bind(3, model_b).bind(4, prompt).step();
  return sqlite3_last_insert_rowid(db_);
}

void Store::set_answers(int64_t id, const std::string& a, int64_t tokens_a, const std::string& b,
                        int64_t tokens_b) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE battles SET answer_a = ?, tokens_a = ?, answer_b = ?, tokens_b = ?, answered = 1 "
         "WHERE id = ?");
  s.bind(1, a).bind(2, tokens_a).bind(3, b).bind(4, tokens_b).bind(5, id).step();
}

VoteResult Store::vote(int64_t id, Winner w) {
  std::lock_guard lock(mu_);
  {
    Stmt q(db_, "SELECT answered FROM battles WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) return VoteResult::no_battle;
    if (q.i64(0) == 0) return VoteResult::not_answered;
  }
  // Autocommit: the INSERT is its own transaction, committed (WAL fsynced) when step returns.
  Stmt s(db_, "INSERT INTO votes (battle, winner, tstamp) VALUES (?, ?, ?)");
  s.bind(1, id).bind(2, std::string(winner_name(w))).bind(3, now_s());
  const int rc = s.step_rc();
  if (rc == SQLITE_CONSTRAINT) return VoteResult::already_voted;
  if (rc != SQLITE_DONE) fail("sqlite vote: {}", sqlite3_errmsg(db_));
  return VoteResult::ok;
}

std::optional<BattleRow> Store::battle(int64_t id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string(kSelect) + " WHERE b.id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<BattleRow> Store::voted() {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         (std::string(kSelect) + " WHERE v.winner IS NOT NULL ORDER BY v.tstamp, b.id").c_str());
  std::vector<BattleRow> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

int64_t Store::vote_count() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM votes");
  s.step();
  return s.i64(0);
}

nlohmann::ordered_json fastchat_record(const BattleRow& r) {
  using oj = nlohmann::ordered_json;
  auto conv = [&](const std::string& answer) {
    return oj::array({oj{{"role", "user"}, {"content", r.prompt}},
                      oj{{"role", "assistant"}, {"content", answer}}});
  };
  oj meta{{"sum_user_tokens", 0},
          {"sum_assistant_a_tokens", r.tokens_a},
          {"sum_assistant_b_tokens", r.tokens_b}};
  for (auto [side, text] : {std::pair{"a", &r.answer_a}, std::pair{"b", &r.answer_b}}) {
    const MarkdownCounts m = count_markdown(*text);
    meta[std::string("header_count_") + side] = m.headers;
    meta[std::string("list_count_") + side] = m.lists;
    meta[std::string("bold_count_") + side] = m.bold;
  }
  return oj{{"question_id", fmt::format("erank-{}", r.id)},
            {"model_a", r.model_a},
            {"model_b", r.model_b},
            {"winner", r.winner ? winner_name(*r.winner) : "tie"},
            {"judge", "arena"},
            {"conversation_a", conv(r.answer_a)},
            {"conversation_b", conv(r.answer_b)},
            {"turn", 1},
            {"anony", true},
            {"tstamp", r.vote_tstamp},
            {"conv_metadata", meta}};
}

}  // namespace erank::arena
