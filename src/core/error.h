// One exception type for user and input errors (bad files, bad options), caught once in main,
// and an always-on CHECK for invariants. Messages name the file/tensor and expected vs actual.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace erank {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Throws erank::Error with a formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace erank

// Invariant check, always on. Throws erank::Error so that a bad input never aborts mid-write.
#define ERANK_CHECK(cond, ...)                                                                     \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      throw ::erank::Error(::fmt::format("{}:{}: check failed: {}: {}", __FILE__, __LINE__, #cond, \
                                         ::fmt::format(__VA_ARGS__)));                             \
  } while (0)
