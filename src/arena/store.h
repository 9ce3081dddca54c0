// The arena's storage: one SQLite file in WAL mode with synchronous=FULL, so a vote is on disk
// (its WAL frame fsynced) before the server acknowledges it; `kill -9` or a power cut loses no
// acknowledged vote. One connection guarded by a mutex: votes are tiny, and SQLite serialises
// writers anyway.
#pragma once
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "arena/battle_log.h"

struct sqlite3;

namespace erank::arena {

struct BattleRow {
  int64_t id = 0;
  double tstamp = 0;
  std::string model_a, model_b, prompt, answer_a, answer_b;
  int64_t tokens_a = 0, tokens_b = 0;
  bool answered = false;         // both answers complete
  std::optional<Winner> winner;  // the vote, if any
  double vote_tstamp = 0;
};

enum class VoteResult { ok, no_battle, not_answered, already_voted };

class Store {
 public:
  explicit Store(const std::string& path);  // creates the schema if missing
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int64_t new_battle(const std::string& model_a, const std::string& model_b,
                     const std::string& prompt);
  void set_answers(int64_t id, const std::string& a, int64_t tokens_a, const std::string& b,
                   int64_t tokens_b);
  // Commits before returning: an `ok` is durable.
  VoteResult vote(int64_t id, Winner w);
  std::optional<BattleRow> battle(int64_t id);
  // Every voted battle, in vote order (for ratings and export).
  std::vector<BattleRow> voted();
  int64_t vote_count();

 private:
  void exec(const char* sql);
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  std::string path_;
};

// FastChat's battle record for one voted battle (conversation_a/b, conv_metadata with token counts
// and markdown counts, anony, tstamp, ...), as `erank arena export` writes it.
nlohmann::ordered_json fastchat_record(const BattleRow& r);

}  // namespace erank::arena
