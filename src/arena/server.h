// `erank arena serve`: the local arena over HTTP (Debian's cpp-httplib). A person types a prompt;
// two randomly paired players answer side by side, streamed as server-sent events straight from
// the generation loop; the vote is stored (SQLite, committed before the reply) and only then are
// the names revealed; /leaderboard shows live ratings with intervals.
//
// Untrusted input: bodies are capped (413), prompts must be valid UTF-8 text without control
// characters and within a byte limit (400), JSON is parsed without exceptions escaping, and every
// handler catches its errors, so a bad request gets a clear error and the server stays up. Model
// and user text reaches the page only through textContent (never parsed as HTML), under a
// Content-Security-Policy that allows no inline script.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "arena/players.h"
#include "arena/store.h"

namespace erank::arena {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (see port_file)
  std::string port_file;  // written (atomically) with the bound port once listening
  size_t max_body = 16 * 1024;
  size_t max_prompt_bytes = 4000;
  size_t max_queue = 16;  // battles waiting for generation; more -> 503
  int rounds = 100;       // bootstrap rounds of the live leaderboard
  uint64_t seed = 0;      // pairing and bootstrap
};

// Why a prompt is refused ("" if it is fine): empty, too long, not UTF-8, control characters.
std::string prompt_problem(const std::string& prompt, size_t max_bytes);

// Serves until SIGINT or SIGTERM. Throws erank::Error if the address cannot be bound.
void serve(std::vector<std::unique_ptr<Player>> players, Store& store, const ServeOptions& opt);

}  // namespace erank::arena
