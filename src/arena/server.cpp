#include "arena/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "arena/leaderboard.h"
#include "arena/page.h"
#include "arena/style.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace erank::arena {
namespace {

using json = nlohmann::json;

// A battle while it is answered: both texts so far, for the event streams that follow it.
struct Live {
  std::mutex mu;
  std::condition_variable cv;
  std::string text[2];
  bool done[2] = {false, false};
  uint64_t version = 0;
};

struct Job {
  int64_t id;
  const Player *a, *b;
  std::string prompt;
  std::shared_ptr<Live> live;
};

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}
void error(httplib::Response& res, int status, const std::string& msg) {
  reply(res, status, {{"error", msg}});
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

class Arena {
 public:
  Arena(std::vector<std::unique_ptr<Player>> players, Store& store, const ServeOptions& opt)
      : players_(std::move(players)), store_(store), opt_(opt), rng_(opt.seed) {
    worker_ = std::thread([this] { work(); });
  }
  ~Arena() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  void routes(httplib::Server& svr) {
    auto page = [](const char* body, const char* type) {
      return [body, type](const httplib::Request&, httplib::Response& res) {
        res.set_content(body, type);
      };
    };
    svr.Get("/", page(kIndexHtml, "text/html; charset=utf-8"));
    svr.Get("/leaderboard", page(kLeaderboardHtml, "text/html; charset=utf-8"));
    svr.Get("/app.js", page(kAppJs, "text/javascript; charset=utf-8"));
    svr.Get("/style.css", page(kStyleCss, "text/css; charset=utf-8"));
    svr.Post("/api/battle", [this](const auto& req, auto& res) { new_battle(req, res); });
    svr.Get(R"(/api/battle/(\d{1,15})/stream)",
            [this](const auto& req, auto& res) { stream(req, res); });
    svr.Post("/api/vote", [this](const auto& req, auto& res) { vote(req, res); });
    svr.Get("/api/ratings", [this](const auto&, auto& res) {
      auto [j, svg] = ratings();
      reply(res, 200, j);
    });
    svr.Get("/api/forest.svg", [this](const auto&, auto& res) {
      auto [j, svg] = ratings();
      res.set_content(svg, "image/svg+xml");
    });
  }

 private:
  void new_battle(const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("prompt") ||
        !body["prompt"].is_string())
      return error(res, 400, "expected a JSON object {\"prompt\": \"...\"}");
    const std::string prompt = body["prompt"].get<std::string>();
    if (auto p = prompt_problem(prompt, opt_.max_prompt_bytes); !p.empty())
      return error(res, 400, p);
    const Player *a, *b;
    {
      std::lock_guard lk(mu_);  // a random pair, in random order: the sides stay anonymous
      std::uniform_int_distribution<size_t> pick(0, players_.size() - 1);
      const size_t i = pick(rng_);
      size_t j = pick(rng_);
      while (j == i) j = pick(rng_);
      a = players_[i].get();
      b = players_[j].get();
      if (queue_.size() >= opt_.max_queue)
        return error(res, 503, "the arena is busy: try again in a moment");
    }
    try {
      a->check_prompt(prompt);
      b->check_prompt(prompt);
    } catch (const Error& e) {
      return error(res, 400, e.what());
    }
    const int64_t id = store_.new_battle(a->label(), b->label(), prompt);
    auto live = std::make_shared<Live>();
    {
      std::lock_guard lk(mu_);
      live_[id] = live;
      queue_.push_back({id, a, b, prompt, live});
    }
    cv_.notify_all();
    reply(res, 200, {{"battle", id}});
  }

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Answer ans[2];
      auto side = [&](int s) {
        const Player* p = s == 0 ? job.a : job.b;
        try {
          ans[s] = p->answer(job.prompt, [&](const std::string& text) {
            std::lock_guard lk(job.live->mu);
            job.live->text[s] = text;
            ++job.live->version;
            job.live->cv.notify_all();
          });
        } catch (const std::exception& e) {
          ans[s] = {fmt::format("[{} failed: {}]", p->label(), e.what()), 0};
        }
      };
      std::thread other(side, 1);  // the two answers are generated at the same time
      side(0);
      other.join();
      try {
        store_.set_answers(job.id, ans[0].text, ans[0].tokens, ans[1].text, ans[1].tokens);
      } catch (const std::exception& e) {
        fmt::print(stderr, "erank arena: battle {}: {}\n", job.id, e.what());
      }
      {
        std::lock_guard lk(job.live->mu);
        for (int s = 0; s < 2; ++s) job.live->text[s] = ans[s].text, job.live->done[s] = true;
        ++job.live->version;
      }
      job.live->cv.notify_all();
      std::lock_guard lk(mu_);  // keep the most recent battles' live state only
      while (live_.size() > 256) live_.erase(live_.begin());
    }
  }

  void stream(const httplib::Request& req, httplib::Response& res) {
    const int64_t id = std::stoll(req.matches[1]);
    std::shared_ptr<Live> live;
    {
      std::lock_guard lk(mu_);
      if (auto it = live_.find(id); it != live_.end()) live = it->second;
    }
    if (!live) {  // finished long ago (or before a restart): its stored answers, at once
      auto row = store_.battle(id);
      if (!row) return error(res, 404, "no such battle");
      if (!row->answered)  // its generation died with an earlier server process
        return error(res, 410, "this battle was interrupted: ask again");
      live = std::make_shared<Live>();
      live->text[0] = row->answer_a;
      live->text[1] = row->answer_b;
      live->done[0] = live->done[1] = row->answered;
      live->version = 1;
    }
    res.set_header("Cache-Control", "no-store");
    struct State {
      uint64_t seen = 0;
      std::string sent[2];
    };
    auto st = std::make_shared<State>();
    res.set_chunked_content_provider("text/event-stream", [live, st](size_t,
                                                                     httplib::DataSink& sink) {
      std::string text[2];
      bool done[2];
      {
        std::unique_lock lk(live->mu);
        live->cv.wait_for(lk, std::chrono::seconds(15), [&] { return live->version != st->seen; });
        st->seen = live->version;
        for (int s = 0; s < 2; ++s) text[s] = live->text[s], done[s] = live->done[s];
      }
      std::string out;
      for (int s = 0; s < 2; ++s) {
        if (text[s] == st->sent[s] && !done[s]) continue;
        json ev{{"side", s == 0 ? "a" : "b"}, {"text", text[s]}, {"done", done[s]}};
        out += "data: " + ev.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
        st->sent[s] = text[s];
      }
      if (out.empty()) out = ": keep-alive\n\n";  // also notices a closed connection
      if (!sink.write(out.data(), out.size())) return false;
      if (done[0] && done[1]) {
        const std::string end = "event: end\ndata: {}\n\n";
        sink.write(end.data(), end.size());
        sink.done();
      }
      return true;
    });
  }

  void vote(const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("battle") ||
        !body["battle"].is_number_integer() || !body.contains("winner") ||
        !body["winner"].is_string())
      return error(res, 400, "expected {\"battle\": ID, \"winner\": \"model_a\"|...}");
    const auto w = parse_winner(body["winner"].get<std::string>());
    if (!w) return error(res, 400, "winner must be model_a, model_b, tie or tie (bothbad)");
    const int64_t id = body["battle"].get<int64_t>();
    switch (store_.vote(id, *w)) {
      case VoteResult::no_battle:
        return error(res, 404, "no such battle");
      case VoteResult::not_answered:
        return error(res, 409, "the answers are not finished yet");
      case VoteResult::already_voted:
        return error(res, 409, "this battle has its vote already");
      case VoteResult::ok:
        break;
    }
    // Committed: now, and only now, the names are shown.
    const auto row = store_.battle(id);
    reply(res, 200,
          {{"ok", true},
           {"battle", id},
           {"model_a", row->model_a},
           {"model_b", row->model_b},
           {"winner", winner_name(*w)}});
  }

  // The leaderboard of every vote so far, recomputed only when the vote count has changed.
  std::pair<json, std::string> ratings() {
    std::lock_guard lk(ratings_mu_);
    const int64_t n = store_.vote_count();
    if (n == ratings_votes_ && !ratings_json_.is_null()) return {ratings_json_, ratings_svg_};
    std::vector<Battle> battles;
    for (const BattleRow& r : store_.voted()) {
      Battle b;
      b.model_a = r.model_a;
      b.model_b = r.model_b;
      b.winner = *r.winner;
      b.tstamp = r.vote_tstamp;
      b.style_a = style_from_text_tokens(r.answer_a, r.tokens_a);
      b.style_b = style_from_text_tokens(r.answer_b, r.tokens_b);
      b.where = fmt::format("battle {}", r.id);
      battles.push_back(std::move(b));
    }
    json j;
    std::string svg;
    if (battles.empty()) {
      j = {{"models", json::array()}, {"n_battles", 0}};
      for (const auto& p : players_)
        j["models"].push_back({{"model", p->label()}, {"n_battles", 0}});
    } else {
      RateOptions ro;
      ro.rounds = opt_.rounds;
      ro.seed = opt_.seed;
      const Leaderboard lb = rate(battles, ro);
      j = json::parse(to_json(lb).dump());
      if (lb.finite) svg = forest_svg(lb, "Arena ratings");
    }
    if (svg.empty())
      svg =
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"40\" "
          "font-family=\"sans-serif\" font-size=\"13\"><text x=\"10\" y=\"25\">No finite ratings "
          "yet: every model needs a win and a loss</text></svg>";
    ratings_votes_ = n;
    ratings_json_ = j;
    ratings_svg_ = svg;
    return {j, svg};
  }

  static StyleCounts style_from_text_tokens(const std::string& text, int64_t tokens) {
    StyleCounts s = style_from_text(text);
    s.tokens = static_cast<double>(tokens);  // generated tokens, as FastChat's token counts
    return s;
  }

  std::vector<std::unique_ptr<Player>> players_;
  Store& store_;
  ServeOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::map<int64_t, std::shared_ptr<Live>> live_;
  std::mt19937_64 rng_;
  bool stop_ = false;
  std::thread worker_;
  std::mutex ratings_mu_;
  int64_t ratings_votes_ = -1;
  json ratings_json_;
  std::string ratings_svg_;
};

}  // namespace

std::string prompt_problem(const std::string& prompt, size_t max_bytes) {
  if (prompt.size() > max_bytes)
    return fmt::format("the prompt is {} bytes; at most {} are accepted", prompt.size(), max_bytes);
  if (!valid_utf8(prompt)) return "the prompt is not UTF-8 text";
  for (unsigned char c : prompt)
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7F)
      return "the prompt contains binary (control) characters";
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) return "the prompt is empty";
  return "";
}

void serve(std::vector<std::unique_ptr<Player>> players, Store& store, const ServeOptions& opt) {
  // Signals go to one waiting thread, which stops the server; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a browser closing a stream must not end the server

  std::vector<std::string> labels;
  for (const auto& p : players) labels.push_back(p->label());
  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
  svr.set_payload_max_length(opt.max_body);
  svr.set_read_timeout(10, 0);
  svr.set_default_headers({{"Content-Security-Policy",
                            "default-src 'self'; img-src 'self'; style-src 'self'; "
                            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"},
                           {"X-Content-Type-Options", "nosniff"},
                           {"Referrer-Policy", "no-referrer"}});
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string msg = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          msg = e.what();
        } catch (...) {
        }
        error(res, 500, msg);
      });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const std::string msg = res.status == 413   ? "request too large"
                              : res.status == 404 ? "not found"
                                                  : "bad request";
      error(res, res.status, msg);
    }
  });
  Arena arena(std::move(players), store, opt);
  arena.routes(svr);
  const int port = opt.port == 0 ? svr.bind_to_any_port(opt.host)
                                 : (svr.bind_to_port(opt.host, opt.port) ? opt.port : -1);
  if (port < 0) fail("cannot listen on {}:{}", opt.host, opt.port);
  if (!opt.port_file.empty()) write_file_atomic(opt.port_file, std::to_string(port) + "\n");
  fmt::print(stderr,
             "erank arena: {} ({} votes so far) on http://{}:{}/  (leaderboard: /leaderboard)\n",
             fmt::join(labels, ", "), store.vote_count(), opt.host, port);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    svr.stop();
  });
  svr.listen_after_bind();
  pthread_kill(waiter.native_handle(), SIGTERM);  // if listening ended by itself
  waiter.join();
  fmt::print(stderr, "erank arena: stopped ({} votes stored)\n", store.vote_count());
}

}  // namespace erank::arena
