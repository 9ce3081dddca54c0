#include "tasks/code_exec.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/error.h"
#include "sandbox/sandbox.h"

namespace erank {

int64_t count_passing(const std::vector<std::string>& programs, const std::string& test,
                      const CodeExecution& exec) {
  if (!exec.allowed) fail("model-written code runs only with --allow-code-execution");
  if (programs.empty()) return 0;
  std::string why;
  if (!sandbox::available(&why)) fail("the code sandbox cannot run on this machine: {}", why);
  sandbox::Limits lim;
  lim.wall_seconds = exec.timeout_s;
  lim.cpu_seconds = std::max(1, static_cast<int>(exec.timeout_s + 0.999));
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads =
      std::min(programs.size(), size_t(exec.threads > 0 ? unsigned(exec.threads) : hw));
  std::vector<sandbox::Result> res(programs.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    // HF evaluate's code_eval: the candidate, a newline, then the test (which calls check()).
    for (size_t i; (i = next++) < programs.size();)
      res[i] = sandbox::run_python(programs[i] + "\n" + test, lim);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  int64_t passed = 0;
  for (auto& r : res) {
    if (r.status == sandbox::Result::Status::SetupError)
      fail("the code sandbox failed to start a program: {}", r.detail);
    passed += r.status == sandbox::Result::Status::Passed;
  }
  return passed;
}

}  // namespace erank
