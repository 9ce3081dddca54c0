#include "eval/progress.h"

#include <fmt/core.h>

#include <cstdio>

namespace erank {

namespace {
std::string hms(double s) {
  const auto t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

Progress::Progress(std::string what, int64_t total, bool tty, bool quiet, std::string unit)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      tty_(tty),
      quiet_(quiet),
      start_(std::chrono::steady_clock::now()),
      last_line_(start_) {}

void Progress::update(int64_t done, int64_t tokens) {
  if (quiet_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double el = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? el / double(done) * double(total_ - done) : 0;
  // tokens < 0: the caller does not count tokens, so no rate is shown.
  const double tps = el > 0 ? double(tokens) / el : 0;
  const std::string rate = tokens >= 0 ? fmt::format("{:.0f} tok/s", tps) : "";
  if (tty_) {
    const int width = 30, fill = static_cast<int>(width * done / total_);
    fmt::print(stderr, "\r{} [{}{}] {}/{}  {}{}ETA {}  ", what_, std::string(fill, '#'),
               std::string(width - fill, '.'), done, total_, rate, rate.empty() ? "" : "  ",
               hms(eta));
    std::fflush(stderr);
    return;
  }
  const int64_t tenth = done * 10 / total_;
  if (tenth != last_logged_ || std::chrono::duration<double>(now - last_line_).count() > 30) {
    last_logged_ = tenth;
    last_line_ = now;
    fmt::print(stderr, "{}: {}/{} {}, {}{}elapsed {}, ETA {}\n", what_, done, total_, unit_, rate,
               rate.empty() ? "" : ", ", hms(el), hms(eta));
  }
}

void Progress::finish() {
  if (!quiet_ && tty_) fmt::print(stderr, "\n");
}

}  // namespace erank
