// Progress on stderr: a bar with ETA on a terminal, a plain line every ~10% (or 30 s) otherwise.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace erank {

class Progress {
 public:
  // `unit` names what `total` counts in the plain-line form.
  Progress(std::string what, int64_t total, bool tty, bool quiet = false,
           std::string unit = "text x model runs");
  void update(int64_t done, int64_t tokens);
  void finish();

 private:
  std::string what_, unit_;
  int64_t total_, last_logged_ = -1;
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point start_, last_line_;
};

}  // namespace erank
