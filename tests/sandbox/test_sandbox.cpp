// The sandbox against hostile programs: each must be contained, scored as not Passed, and leave
// the host as it was (canary files intact, nothing written outside, no process left behind).
// Plus the ordinary cases HumanEval needs (pass, assertion failure, syntax error, exit codes) and
// several sandboxes at once. Small wall limits keep the whole binary at a few seconds.
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "sandbox/sandbox.h"

namespace erank::sandbox {
namespace {

using Status = Result::Status;
namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream(p) << s;
}

std::string random_token() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

// Live host processes whose name (comm) is `marker`: the programs below set it first thing, and
// their children inherit it, so survivors are found whatever PID namespace or session they are in.
int processes_named(const std::string& marker) {
  int n = 0;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string comm = read_text(fs::path("/proc") / e->d_name / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    std::string state = read_text(fs::path("/proc") / e->d_name / "stat");
    if (comm == marker && state.find(") Z") == std::string::npos) ++n;
  }
  if (d) closedir(d);
  return n;
}

// Python that renames its process to `marker` (15 characters at most).
std::string named(const std::string& marker) {
  return fmt::format("import ctypes\nctypes.CDLL(None).prctl(15, b'{}', 0, 0, 0)\n", marker);
}

bool host_can_spawn() {
  pid_t pid = -1;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return false;
  int st = 0;
  return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

Limits quick(double wall = 2.0) {
  Limits l;
  l.wall_seconds = wall;
  l.cpu_seconds = 5;
  return l;
}

// Every test: skipped (with the reason) where namespaces are unavailable; canary files in the
// host's temp dir and $HOME that must be intact afterwards.
class Sandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!available(&why)) GTEST_SKIP() << "sandbox unavailable here: " << why;
    tag_ = std::to_string(getpid()) + "_" + random_token();
    canaries_.push_back(fs::temp_directory_path() / ("erank_sandbox_canary_" + tag_));
    if (const char* home = getenv("HOME"); home && fs::is_directory(home))
      canaries_.push_back(fs::path(home) / (".erank_sandbox_canary_" + tag_));
    for (const auto& c : canaries_) write_text(c, "canary " + tag_);
  }
  void TearDown() override {
    for (const auto& c : canaries_) {
      EXPECT_EQ(read_text(c), "canary " + tag_) << c;
      fs::remove(c);
    }
    EXPECT_TRUE(host_can_spawn());
  }
  // Python lines that try to destroy the canaries (by the host's paths).
  std::string attack_canaries() const {
    std::string s;
    for (const auto& c : canaries_)
      s += fmt::format(
          "for f in (lambda: open('{0}', 'w').write('x'), lambda: "
          "__import__('os').remove('{0}')):\n"
          "    try: f()\n"
          "    except OSError: pass\n",
          c.string());
    return s;
  }
  std::string tag_;
  std::vector<fs::path> canaries_;
};

// ---- ordinary programs ----

TEST_F(Sandbox, CorrectProgramPasses) {
  const Result r = run_python("print('hello')\n");
  EXPECT_EQ(r.status, Status::Passed) << r.detail << r.output;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.output, "hello\n");
  EXPECT_EQ(r.detail, "");
  EXPECT_LT(r.wall_seconds, 2.0);
}

TEST_F(Sandbox, AssertFalseFailsWithTraceback) {
  const Result r = run_python("def f():\n    assert False\nf()\n");
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("Traceback"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("AssertionError"), std::string::npos) << r.output;
}

TEST_F(Sandbox, ExitCodeIsReported) {
  const Result r = run_python("import sys\nprint('partial')\nsys.exit(3)\n");
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "partial\n");
  EXPECT_EQ(r.detail, "exit code 3");
}

TEST_F(Sandbox, SyntaxErrorFails) {
  const Result r = run_python("def f(:\n    return 1\n");
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_NE(r.output.find("SyntaxError"), std::string::npos) << r.output;
}

// lm-eval's humaneval: prompt + completion + "\n" + test + "\ncheck(entry_point)", 3 s.
std::string humaneval(const std::string& completion) {
  const std::string prompt =
      "from typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n"
      "    \"\"\" True if the running balance ever falls below zero.\n"
      "    >>> below_zero([1, 2, -4, 5])\n    True\n    \"\"\"\n";
  const std::string test =
      "\n\nMETADATA = {'author': 'jt', 'dataset': 'test'}\n\n\ndef check(candidate):\n"
      "    assert candidate([]) == False\n    assert candidate([1, 2, -3, 1, 2, -3]) == False\n"
      "    assert candidate([1, 2, -4, 5, 6]) == True\n"
      "    assert candidate([1, -1, 2, -2, 5, -5, 4, -4]) == False\n";
  return prompt + completion + "\n" + test + "\ncheck(below_zero)";
}

TEST_F(Sandbox, HumanEvalProgram) {
  const std::string good =
      "    balance = 0\n    for op in operations:\n        balance += op\n"
      "        if balance < 0:\n            return True\n    return False\n";
  const Result pass = run_python(humaneval(good), Limits{});
  EXPECT_EQ(pass.status, Status::Passed) << pass.output;
  const Result fail = run_python(humaneval("    return sum(operations) < 0\n"), Limits{});
  EXPECT_EQ(fail.status, Status::Failed);
  EXPECT_NE(fail.output.find("AssertionError"), std::string::npos) << fail.output;
}

// Minimal environment, unprivileged uid, stdin empty, a writable private working directory.
TEST_F(Sandbox, EnvironmentIsMinimal) {
  const Result r = run_python(
      "import os, sys\n"
      "assert sorted(os.environ) == ['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE'], "
      "dict(os.environ)\n"
      "assert os.environ['PATH'] == '/usr/bin:/bin' and os.environ['LANG'] == 'C.UTF-8'\n"
      "assert os.environ['HOME'] == os.getcwd(), (os.environ['HOME'], os.getcwd())\n"
      "assert os.getuid() != 0 and os.geteuid() != 0 and os.getgroups() == []\n"
      "assert sys.stdin.read() == ''\n"
      "assert sorted(os.listdir('.')) == ['main.py'], os.listdir('.')\n"
      "open('scratch.txt', 'w').write('ok')\n"
      "assert open('scratch.txt').read() == 'ok'\n"
      "assert sys.flags.dont_write_bytecode\n",
      quick());
  EXPECT_EQ(r.status, Status::Passed) << r.output;
}

// A caller ignoring SIGCHLD would have python reaped by the kernel, its status lost: refused
// with a reason rather than scored.
TEST_F(Sandbox, CallerIgnoringSigchldIsRefused) {
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGCHLD, &ign, &old), 0);
  const Result r = run_python("print('hi')\n", quick());
  sigaction(SIGCHLD, &old, nullptr);
  EXPECT_EQ(r.status, Status::SetupError);
  EXPECT_NE(r.detail.find("SIGCHLD"), std::string::npos) << r.detail;
}

TEST_F(Sandbox, InvalidLimitsThrow) {
  Limits l;
  l.wall_seconds = 0;
  EXPECT_THROW(run_python("pass\n", l), Error);
  l = Limits{};
  l.max_processes = 0;
  EXPECT_THROW(run_python("pass\n", l), Error);
}

// ---- network ----

TEST_F(Sandbox, LoopbackConnectFails) {
  // A listener on the host's loopback: the sandbox's own loopback is down and separate.
  const int srv = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(srv, 4), 0);
  ASSERT_EQ(getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  const Result r = run_python(
      fmt::format("import socket\ns = socket.create_connection(('127.0.0.1', {}), timeout=1)\n"
                  "s.sendall(b'escaped')\n",
                  port),
      quick());
  EXPECT_EQ(r.status, Status::Failed) << r.output;
  EXPECT_NE(r.output.find("OSError"), std::string::npos) << r.output;  // unreachable, refused
  EXPECT_LT(accept(srv, nullptr, nullptr), 0);                         // nothing ever connected
  close(srv);
}

TEST_F(Sandbox, PublicNetworkFails) {
  const Result r = run_python(
      "import socket\n"
      "try:\n    socket.getaddrinfo('example.com', 80)\n    print('DNS WORKED')\n"
      "except OSError as e:\n    print('no dns:', e)\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "try:\n    s.sendto(b'x', ('8.8.8.8', 53))\n    print('UDP SENT')\n"
      "except OSError as e:\n    print('no udp:', e)\n"
      "socket.create_connection(('1.1.1.1', 443), timeout=1)\n",
      quick());
  EXPECT_EQ(r.status, Status::Failed) << r.output;
  EXPECT_EQ(r.output.find("DNS WORKED"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("UDP SENT"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Network is unreachable"), std::string::npos) << r.output;
}

// ---- processes ----

TEST_F(Sandbox, ForkBombIsContained) {
  const std::string marker = "ersb" + tag_.substr(tag_.size() - 8);
  const std::string bomb = named(marker) + attack_canaries() +
                           "import os\n"
                           "while True:\n"
                           "    try:\n        os.fork()\n"
                           "    except OSError:\n        pass\n";
  // Another sandbox at the same time still runs: RLIMIT_NPROC counts per sandbox.
  Result neighbour;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    neighbour = run_python(
        "import os\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
        "        os._exit(0)\n    os.waitpid(pid, 0)\nprint('fine')\n",
        quick());
  });
  const Result r = run_python(bomb, quick(1.5));
  t.join();
  EXPECT_EQ(r.status, Status::Timeout) << r.detail << r.output;
  EXPECT_LT(r.wall_seconds, 3.0);
  EXPECT_EQ(processes_named(marker), 0);
  EXPECT_EQ(neighbour.status, Status::Passed) << neighbour.detail << neighbour.output;
}

TEST_F(Sandbox, ForkLimitReached) {
  // The limit holds: at most max_processes (python included) exist at once.
  Limits l = quick();
  l.max_processes = 6;
  const Result r = run_python(
      "import os, time\nn = 0\n"
      "try:\n    while True:\n        if os.fork() == 0:\n            time.sleep(100)\n"
      "        n += 1\nexcept OSError as e:\n    print('children', n)\n    raise\n",
      l);
  EXPECT_EQ(r.status, Status::Failed) << r.output;
  EXPECT_NE(r.output.find("children 5"), std::string::npos) << r.output;
}

// A daemonised grandchild (double fork, setsid) dies with the sandbox, which returns promptly.
TEST_F(Sandbox, DaemonDiesWithSandbox) {
  const std::string marker = "ersd" + tag_.substr(tag_.size() - 8);
  const Result r = run_python(named(marker) +
                                  "import os, time\n"
                                  "if os.fork() == 0:\n    os.setsid()\n"
                                  "    if os.fork() == 0:\n        time.sleep(100)\n"
                                  "    os._exit(0)\n"
                                  "print('parent done')\n",
                              quick(5));
  EXPECT_EQ(r.status, Status::Passed) << r.output;
  EXPECT_LT(r.wall_seconds, 2.0);
  EXPECT_EQ(processes_named(marker), 0);
}

TEST_F(Sandbox, InfiniteLoopTimesOut) {
  const std::string marker = "ersl" + tag_.substr(tag_.size() - 8);
  const Result r = run_python(named(marker) + "while True:\n    pass\n", quick(1));
  EXPECT_EQ(r.status, Status::Timeout) << r.detail;
  EXPECT_GE(r.wall_seconds, 1.0);
  EXPECT_LT(r.wall_seconds, 2.0);
  EXPECT_EQ(processes_named(marker), 0);
}

// Killed (not Timeout) is the check: 1 s of CPU ends it long before the 10 s wall limit, however
// busy the machine (no bound on wall time here, which depends on the other load).
TEST_F(Sandbox, CpuLimitKills) {
  Limits l = quick(10);
  l.cpu_seconds = 1;
  const Result r = run_python("while True:\n    pass\n", l);
  EXPECT_EQ(r.status, Status::Killed) << r.detail;
  EXPECT_EQ(r.signal, SIGKILL) << r.detail;  // python is PID 1: no SIGXCPU, the hard limit
  EXPECT_NE(r.detail.find("CPU time limit"), std::string::npos) << r.detail;
}

// A native crash still ends python, although PID 1 ignores most signals (a fault is forced).
TEST_F(Sandbox, CrashIsKilled) {
  const Result r = run_python("import ctypes\nctypes.string_at(0)\n", quick());
  EXPECT_EQ(r.status, Status::Killed) << r.detail << r.output;
  EXPECT_EQ(r.signal, SIGSEGV) << r.detail;
  EXPECT_EQ(r.detail, "killed by SIGSEGV");
}

TEST_F(Sandbox, SleepForeverTimesOut) {
  const std::string marker = "erss" + tag_.substr(tag_.size() - 8);
  // The survivor check sees the program while it runs (so its 0 afterwards means something).
  std::atomic<bool> done{false}, seen{false};
  std::thread watch([&] {
    while (!done && !seen) {
      seen = processes_named(marker) > 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const Result r = run_python(named(marker) + "import time\ntime.sleep(10**6)\n", quick(1));
  done = true;
  watch.join();
  EXPECT_TRUE(seen);
  EXPECT_EQ(r.status, Status::Timeout);
  EXPECT_LT(r.wall_seconds, 2.0);
  EXPECT_EQ(processes_named(marker), 0);
}

// Closing stdout/stderr must not make the parent wait past the deadline.
TEST_F(Sandbox, ClosedOutputStillTimesOut) {
  const Result r =
      run_python("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(100)\n", quick(1));
  EXPECT_EQ(r.status, Status::Timeout);
  EXPECT_LT(r.wall_seconds, 2.0);
}

// ---- memory and output ----

TEST_F(Sandbox, HugeAllocationFails) {
  const Result r = run_python("x = bytearray(10**11)\n", quick());
  EXPECT_EQ(r.status, Status::Failed);
  EXPECT_NE(r.output.find("MemoryError"), std::string::npos) << r.output;
}

TEST_F(Sandbox, GrowingListIsStopped) {
  Limits l = quick();
  l.address_space_bytes = 512u << 20;
  const Result r = run_python("x = []\nwhile True:\n    x.append(' ' * 10**6)\n", l);
  EXPECT_NE(r.status, Status::Passed);
  EXPECT_NE(r.status, Status::SetupError) << r.detail;
  EXPECT_LT(r.wall_seconds, 2.5);
}

TEST_F(Sandbox, OutputFloodIsBounded) {
  Limits l = quick();
  l.max_output_bytes = 64 << 10;
  const Result r = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", l);
  EXPECT_EQ(r.status, Status::Killed) << r.detail;
  EXPECT_EQ(r.output.size(), l.max_output_bytes);
  EXPECT_NE(r.detail.find("output"), std::string::npos) << r.detail;
  EXPECT_LT(r.wall_seconds, 1.5);
}

TEST_F(Sandbox, LargeOutputTruncatedButPasses) {
  Limits l = quick();
  l.max_output_bytes = 1000;
  const Result r = run_python("print('y' * 5000)\n", l);
  EXPECT_EQ(r.status, Status::Passed) << r.detail;
  EXPECT_EQ(r.output, std::string(1000, 'y'));
  EXPECT_NE(r.detail.find("truncated"), std::string::npos) << r.detail;
}

TEST_F(Sandbox, FileSizeLimit) {
  Limits l = quick();
  l.max_file_bytes = 1 << 20;
  const Result r = run_python("open('big', 'wb').write(b'0' * (4 << 20))\n", l);
  EXPECT_EQ(r.status, Status::Failed) << r.detail << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
}

// ---- filesystem ----

TEST_F(Sandbox, CannotWriteOutsideItsDirectory) {
  // A world-writable host directory outside the hidden ones (next to this binary): only the
  // read-only mount stops the sandbox's uid there, not file permissions.
  const fs::path open_dir =
      fs::read_symlink("/proc/self/exe").parent_path() / (".erank_sandbox_open_" + tag_);
  fs::create_directory(open_dir);
  fs::permissions(open_dir, fs::perms::all);
  const std::vector<fs::path> targets = {
      open_dir / "escape",
      fs::path("/tmp") / ("erank_sandbox_escape_" + tag_),
      fs::temp_directory_path() / ("erank_sandbox_escape2_" + tag_),
      fs::path(getenv("HOME") ? getenv("HOME") : "/root") / (".erank_sandbox_escape_" + tag_),
      fs::path(ERANK_SOURCE_DIR) / ("erank_sandbox_escape_" + tag_),
      fs::path("/var/tmp") / ("erank_sandbox_escape_" + tag_),
      fs::path("/dev/shm") / ("erank_sandbox_escape_" + tag_)};
  std::string program = attack_canaries() + "import os\nwritten = []\n";
  for (const auto& t : targets)
    program += fmt::format(
        "try:\n    open('{0}', 'w').write('escaped')\n    written.append('{0}')\n"
        "except OSError as e:\n    print('refused', e)\n",
        t.string());
  program +=
      "try:\n    open('../erank_sandbox_up', 'w').write('escaped')\n    written.append('..')\n"
      "except OSError as e:\n    print('refused', e)\n"
      "print('written', written)\nassert written, 'contained'\n";
  const Result r = run_python(program, quick());
  EXPECT_NE(r.status, Status::Passed) << r.output;
  EXPECT_EQ(r.status, Status::Failed) << r.detail;
  EXPECT_NE(r.output.find("written []"), std::string::npos) << r.output;
  for (const auto& t : targets) EXPECT_FALSE(fs::exists(t)) << t;
  fs::remove_all(open_dir);
}

TEST_F(Sandbox, CannotReadHome) {
  const char* home = getenv("HOME");
  if (!home || !fs::is_directory(home)) GTEST_SKIP() << "no $HOME";
  const std::string secret = "secret-" + random_token();
  const fs::path file = fs::path(home) / (".erank_sandbox_secret_" + tag_);
  write_text(file, secret);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  // Exits 0 only if it read the secret: Passed would mean an escape. Not found (hidden), rather
  // than permission denied, so this checks the hiding and not only the file modes.
  const Result r =
      run_python(fmt::format("import os\nprint(os.listdir('{0}'))\nprint(open('{1}').read())\n",
                             home, file.string()),
                 quick());
  fs::remove(file);
  EXPECT_NE(r.status, Status::Passed) << r.output;
  EXPECT_EQ(r.output.find(secret), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("FileNotFoundError"), std::string::npos) << r.output;
}

// No way back to privileges: no capabilities for mount tricks, and nested namespaces (refused,
// or locked mounts if allowed) reveal nothing. Exits 0 only if some trick worked.
TEST_F(Sandbox, CannotRegainPrivileges) {
  const Result r = run_python(
      "import ctypes, os, sys\n"
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "MS_REMOUNT, MS_BIND = 32, 4096\n"
      "worked = []\n"
      "def attempt(name, rc):\n"
      "    print(name, rc, os.strerror(ctypes.get_errno()))\n"
      "    if rc == 0: worked.append(name)\n"
      "def tricks(tag):\n"
      "    attempt(tag + 'umount /root', libc.umount2(b'/root', 2))\n"
      "    attempt(tag + 'umount /tmp', libc.umount2(b'/tmp', 2))\n"
      "    attempt(tag + 'remount / rw', libc.mount(None, b'/', None, MS_REMOUNT, None))\n"
      "    attempt(tag + 'remount /root rw', libc.mount(None, b'/root', None, MS_REMOUNT, None))\n"
      "tricks('')\n"
      "if libc.unshare(0x10000000 | 0x00020000) == 0:\n"
      "    tricks('nested ')\n"
      "else:\n"
      "    print('nested userns refused', os.strerror(ctypes.get_errno()))\n"
      "print('worked', worked)\n"
      "sys.exit(0 if worked else 1)\n",
      quick());
  EXPECT_EQ(r.status, Status::Failed) << r.output;
  EXPECT_NE(r.output.find("worked []"), std::string::npos) << r.output;
}

// The host's processes are invisible: /proc is the sandbox's own, python is its PID 1.
TEST_F(Sandbox, ProcShowsOnlyTheSandbox) {
  const Result r = run_python(
      "import os\npids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
      "print(pids)\nassert pids == [1] and os.getpid() == 1, pids\n",
      quick());
  EXPECT_EQ(r.status, Status::Passed) << r.output;
}

// The work directory goes, whatever modes the program leaves in it.
TEST_F(Sandbox, WorkDirectoryRemoved) {
  const Result r = run_python(
      "import os\nprint(os.path.basename(os.getcwd()))\n"
      "os.makedirs('a/b/c')\nopen('a/b/c/f', 'w').write('x')\nos.symlink('/etc/passwd', 'link')\n"
      "for p in ('a/b/c/f', 'a/b/c', 'a/b', 'a'):\n    os.chmod(p, 0)\n"
      "os.chmod('.', 0o500)\n",
      quick());
  ASSERT_EQ(r.status, Status::Passed) << r.output;
  std::string name = r.output;
  while (!name.empty() && name.back() == '\n') name.pop_back();
  ASSERT_EQ(name.rfind("erank_sandbox_", 0), 0u) << name;
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / name));
  EXPECT_TRUE(fs::exists("/etc/passwd"));
}

// ---- threads ----

TEST_F(Sandbox, ConcurrentRuns) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        const bool pass = (t + i) % 2 == 0;
        const std::string id = std::to_string(t * 10 + i);
        const Result r = run_python(
            pass ? "print(" + id + ")\n" : "import sys\nprint(" + id + ")\nsys.exit(2)\n", quick());
        if (r.status != (pass ? Status::Passed : Status::Failed) || r.output != id + "\n") ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace erank::sandbox
