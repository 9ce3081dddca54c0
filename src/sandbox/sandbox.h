// Runs untrusted, model-written Python (HumanEval completions) in a throwaway Linux sandbox.
//
// Containment (Linux >= 5.12; all of it or nothing: a setup failure is SetupError, never an
// unsandboxed run). One clone() makes a child in new user, mount, network, PID and IPC namespaces;
// it prepares the mounts, drops to an unprivileged uid and execs python3, which is thus PID 1 of
// its namespace (no helper process whose memory, a copy of the caller's, could be read or
// ptraced from inside; as for any init, the signals it sends itself with a default action are
// ignored, while faults, the CPU limit's SIGKILL and the parent's SIGKILL end it):
// - user namespace: python runs as uid/gid 1000 inside, mapped to nobody/nogroup (65534) when the
//   caller is root, else to the caller's own ids; supplementary groups dropped (root), no
//   capabilities after exec, PR_SET_NO_NEW_PRIVS. RLIMIT_NPROC is counted per (namespace, uid), so
//   a fork bomb in one sandbox cannot starve another one running at the same time.
// - mounts: the whole tree read-only and nosuid (recursive mount_setattr); empty read-only tmpfs
//   over /tmp, /var/tmp, /dev/shm, /run, /home, /root and $HOME; a fresh /proc for the new PID
//   namespace (an empty tmpfs where the kernel refuses one); the private work directory (mkdtemp
//   under the host's temp dir, removed afterwards whatever the program chmods) bind-mounted
//   writable at /tmp/<its name>, which is also $HOME and the working directory.
// - network: a new namespace with only a loopback that is down, so every connect fails.
// - lifetime: when python (PID 1) exits or the parent SIGKILLs it (wall-clock deadline, output
//   flood), the kernel kills every process left in the namespace, even those that called
//   setsid(); python also leads its own process group, killed too; PR_SET_PDEATHSIG ties it to
//   the calling thread.
// - rlimits on CPU time, address space (set just before exec), processes, file size, no core
//   files; stdin is /dev/null; environment PATH, HOME, LANG=C.UTF-8, PYTHONDONTWRITEBYTECODE=1.
// Not contained: CPU and memory bandwidth (no cgroup); reads of host files outside the hidden
// directories that the mapped uid may read (world-readable ones for a root caller, the caller's
// own otherwise: the system's Python needs /usr, /etc, /lib); connecting to Unix sockets there.
#pragma once
#include <cstddef>
#include <string>

namespace erank::sandbox {

struct Limits {
  double wall_seconds = 3.0;                // wall clock; then the whole sandbox is SIGKILLed
  int cpu_seconds = 3;                      // RLIMIT_CPU: SIGKILL (PID 1 never sees SIGXCPU)
  size_t address_space_bytes = 2ull << 30;  // RLIMIT_AS of python3
  int max_processes = 16;                   // RLIMIT_NPROC, counted in the sandbox's namespace
  size_t max_file_bytes = 16u << 20;        // RLIMIT_FSIZE
  size_t max_output_bytes = 1u << 20;       // stdout+stderr kept; 10x that kills the sandbox
};

struct Result {
  enum class Status {
    Passed,     // exit code 0 within the limits
    Failed,     // non-zero exit code
    Timeout,    // wall-clock deadline passed
    Killed,     // ended by a signal (CPU limit, crash) or killed for flooding its output
    SetupError  // the sandbox could not be built (or the host ran out of resources): not scored
  };
  Status status = Status::SetupError;
  int exit_code = -1;  // -1 unless python exited
  int signal = 0;      // signal that ended python, 0 if none
  double wall_seconds = 0;
  std::string output;  // stdout and stderr interleaved, first max_output_bytes
  std::string detail;  // why it is not Passed, and whether output was truncated, in words
};

const char* to_string(Result::Status s);

// Writes `program` to main.py in a fresh private directory and runs /usr/bin/python3 main.py
// there with the limits. Passed iff it exits 0 within them. Thread-safe: each call has its own
// processes, pipes and directory (the process must not ignore SIGCHLD nor reap others' children
// with waitpid(-1)). Throws erank::Error only for invalid limits.
Result run_python(const std::string& program, const Limits& limits = {});

// Whether this machine can build the sandbox (namespaces, mounts, /usr/bin/python3); if not, why.
bool available(std::string* why = nullptr);

}  // namespace erank::sandbox
