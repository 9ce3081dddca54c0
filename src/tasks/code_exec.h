// Model-written programs run in the sandbox (src/sandbox): HumanEval's check as HF evaluate's
// code_eval does it, `program + "\n" + test` passing when it exits 0 within the timeout.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/gen_scoring.h"

namespace erank {

// How many of the programs pass the test (run in parallel, exec.threads at a time). Throws
// erank::Error when code execution is not allowed or the sandbox cannot be set up.
int64_t count_passing(const std::vector<std::string>& programs, const std::string& test,
                      const CodeExecution& exec);

}  // namespace erank
