// The sandbox (design in sandbox.h). The parent prepares everything (paths, argv, envp, pipes)
// before clone(); the child only makes system calls until exec, since the caller may be
// multithreaded (another thread can hold malloc's or ASan's locks at clone time). clone() and the
// id changes go through syscall() directly: glibc's fork/setresuid would run atfork handlers or
// signal the parent's other threads, which do not exist in the child.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "core/error.h"

namespace erank::sandbox {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr unsigned kInsideId = 1000;  // python's uid and gid inside the user namespace
constexpr unsigned kNobody = 65534;   // what they map to when the caller is root
// Directories replaced by an empty read-only tmpfs (/tmp first: it stays writable until the work
// directory is mounted in it). Missing ones are skipped.
constexpr const char* kHidden[] = {"/tmp", "/var/tmp", "/dev/shm", "/run", "/home", "/root"};
constexpr const char* kTmpfsOptions = "size=64k,nr_inodes=64,mode=755";

// Setup steps, reported by the child as (step, errno) so the parent can say what failed.
enum Step : int {
  kStepSignals,
  kStepSession,
  kStepPrivate,
  kStepReadOnly,
  kStepChdir,
  kStepHide,
  kStepMkdir,
  kStepBind,
  kStepWritable,
  kStepTmpReadOnly,
  kStepProc,
  kStepStdio,
  kStepRlimit,
  kStepNoNewPrivs,
  kStepIds,
  kStepParent,
  kStepExec,
  kNumSteps
};
constexpr const char* kStepNames[kNumSteps] = {
    "resetting signals",
    "setsid",
    "making mounts private",
    "remounting / read-only (mount_setattr)",
    "entering the work directory",
    "hiding a directory with tmpfs",
    "creating the work directory's mount point",
    "bind-mounting the work directory",
    "making the work directory writable",
    "making /tmp read-only",
    "mounting /proc",
    "redirecting stdin/stdout/stderr",
    "setting rlimits",
    "PR_SET_NO_NEW_PRIVS",
    "dropping to the sandbox uid/gid",
    "PR_SET_PDEATHSIG",
    "exec /usr/bin/python3",
};

// Fixed-size records on the status pipe (atomic: far below PIPE_BUF).
struct Message {
  int step;
  int err;
};

// Everything the child uses, built before clone().
struct Plan {
  int sync_r = -1, out_w = -1, status_w = -1, devnull = -1;
  const char* host_dir = nullptr;    // work directory as the host sees it
  const char* inside_dir = nullptr;  // where it is mounted in the sandbox: /tmp/<name>
  const char* home_hide = nullptr;   // the caller's $HOME when not among kHidden, else null
  bool drop_groups = false;          // root caller: clear the inherited supplementary groups
  bool probe = false;                // available(): stop before exec
  Limits limits;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// ---- child: system calls only ----

[[noreturn]] void report(const Plan& p, Step step) noexcept {
  Message m{step, errno};
  [[maybe_unused]] ssize_t n = write(p.status_w, &m, sizeof m);
  _exit(127);
}

// Closes every descriptor except the (up to 5) kept ones: another thread's pipes may have been
// inherited at clone time, and holding their write ends would delay that sandbox's EOF.
void close_all_except(int a, int b, int c, int d, int e = -1) noexcept {
  int keep[5] = {a, b, c, d, e};
  std::sort(keep, keep + 5);
  unsigned lo = 0;
  for (int k : keep) {
    if (k < 0 || static_cast<unsigned>(k) < lo) continue;
    if (static_cast<unsigned>(k) > lo) close_range(lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  close_range(lo, ~0u, 0);
}

bool set_limit(int resource, rlim_t soft, rlim_t hard) noexcept {
  rlimit r{soft, hard};
  return setrlimit(resource, &r) == 0;
}

int set_mount_attr(const char* path, unsigned flags, uint64_t set, uint64_t clear) noexcept {
  mount_attr attr{};
  attr.attr_set = set;
  attr.attr_clr = clear;
  return static_cast<int>(syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr));
}

// The child: PID 1 of the new namespaces. Builds the mounts, drops to the unprivileged uid and
// becomes python3, whose exit makes the kernel kill whatever is left in the namespace. Being
// python itself (no init process in between), nothing of the caller's memory (argv,
// environment) stays readable through /proc/1.
[[noreturn]] void sandbox_child(const Plan& p) noexcept {
  close_all_except(p.sync_r, p.out_w, p.status_w, p.devnull);
  // The caller's ignored signals and mask survive exec (SIGCHLD ignored would break waitpid).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s : {SIGCHLD, SIGPIPE, SIGXCPU, SIGXFSZ, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM,
                SIGUSR1, SIGUSR2})
    if (sigaction(s, &dfl, nullptr) != 0) report(p, kStepSignals);
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) report(p, kStepSignals);
  if (setsid() < 0) report(p, kStepSession);
  char go = 0;  // the parent writes our uid/gid maps, then one byte; EOF means it gave up
  if (read(p.sync_r, &go, 1) != 1) _exit(126);

  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) report(p, kStepPrivate);
  if (set_mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) != 0)
    report(p, kStepReadOnly);
  // Enter the work directory before /tmp and $HOME are covered: the bind below reads it as ".".
  if (chdir(p.host_dir) != 0) report(p, kStepChdir);
  auto hide = [&](const char* dir, bool writable) {
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (writable ? 0 : MS_RDONLY);
    if (mount("tmpfs", dir, "tmpfs", flags, kTmpfsOptions) != 0 && errno != ENOENT &&
        errno != ENOTDIR)
      report(p, kStepHide);
  };
  for (const char* dir : kHidden) hide(dir, dir == kHidden[0]);
  if (p.home_hide) hide(p.home_hide, false);
  if (mkdir(p.inside_dir, 0755) != 0) report(p, kStepMkdir);
  if (mount(".", p.inside_dir, nullptr, MS_BIND, nullptr) != 0) report(p, kStepBind);
  if (set_mount_attr(p.inside_dir, 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY) != 0)
    report(p, kStepWritable);
  if (set_mount_attr("/tmp", 0, MOUNT_ATTR_RDONLY, 0) != 0) report(p, kStepTmpReadOnly);
  // A /proc of this PID namespace only; where the kernel refuses (a container's masked /proc),
  // an empty one rather than the host's, whose command lines may hold secrets.
  const unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("proc", "/proc", "proc", proc_flags, nullptr) == 0) {
    // Defence in depth: no nested user namespaces (the kernel's usual attack surface); best effort.
    const int fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t n = write(fd, "0", 1);
      close(fd);
    }
  } else if (mount("tmpfs", "/proc", "tmpfs", proc_flags, kTmpfsOptions) != 0) {
    report(p, kStepProc);
  }
  if (set_mount_attr("/proc", 0, MOUNT_ATTR_RDONLY, 0) != 0) report(p, kStepProc);
  if (chdir(p.inside_dir) != 0) report(p, kStepChdir);

  if (dup2(p.devnull, 0) < 0 || dup2(p.out_w, 1) < 0 || dup2(p.out_w, 2) < 0) report(p, kStepStdio);
  close_all_except(0, 1, 2, p.status_w, p.sync_r);  // both O_CLOEXEC: exec closes them
  const Limits& l = p.limits;
  const rlim_t nproc = static_cast<rlim_t>(l.max_processes);
  // Soft = hard: as PID 1, python never gets SIGXCPU (the kernel drops it), only the SIGKILL.
  const rlim_t cpu = static_cast<rlim_t>(l.cpu_seconds);
  if (!set_limit(RLIMIT_CPU, cpu, cpu) || !set_limit(RLIMIT_NPROC, nproc, nproc) ||
      !set_limit(RLIMIT_FSIZE, l.max_file_bytes, l.max_file_bytes) || !set_limit(RLIMIT_CORE, 0, 0))
    report(p, kStepRlimit);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report(p, kStepNoNewPrivs);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  // Leaving uid 0 of the namespace clears every capability; exec as a non-root uid keeps none.
  if ((p.drop_groups && syscall(SYS_setgroups, 0, nullptr) != 0) ||
      syscall(SYS_setresgid, kInsideId, kInsideId, kInsideId) != 0 ||
      syscall(SYS_setresuid, kInsideId, kInsideId, kInsideId) != 0)
    report(p, kStepIds);
  // Dies with the calling thread (set after the id change, which clears it); the parent holds
  // the sync pipe open for the whole run, so a hang-up here means it is gone already.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) report(p, kStepParent);
  pollfd lifeline{p.sync_r, POLLIN, 0};
  if (poll(&lifeline, 1, 0) != 0 && (lifeline.revents & (POLLHUP | POLLERR))) _exit(126);
  if (p.probe) _exit(0);
  // Last: the caller (ASan) may have reserved far more address space than the limit.
  if (!set_limit(RLIMIT_AS, l.address_space_bytes, l.address_space_bytes)) report(p, kStepRlimit);
  execve(kPython, p.argv, p.envp);
  report(p, kStepExec);
}

// ---- parent ----

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A pipe whose ends are O_CLOEXEC and above 2 (so that dup2 onto 0-2 in the child never clobbers).
bool make_pipe(Fd& r, Fd& w) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  for (int& fd : fds) {
    if (fd > 2) continue;
    const int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = high;
  }
  r.reset(fds[0]);
  w.reset(fds[1]);
  return r.get() >= 0 && w.get() >= 0;
}

// Removes the work directory whatever the program did to the modes inside; never follows links.
void remove_tree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path.c_str(), 0700);
    std::error_code ec;
    std::vector<std::string> entries;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) entries.push_back(e.path());
    for (const auto& e : entries) remove_tree(e);
    rmdir(path.c_str());
  } else {
    unlink(path.c_str());
  }
}

struct WorkDir {
  std::string path;
  ~WorkDir() {
    if (!path.empty()) remove_tree(path);
  }
};

// Kills and reaps the sandbox unless it was reaped already (also on exceptions).
struct Child {
  pid_t pid = -1;
  bool reaped = false;
  void kill_all() const {
    kill(-pid, SIGKILL);  // its process group (setsid); may not exist yet
    kill(pid, SIGKILL);   // PID 1 of the namespace: the kernel kills everything inside
  }
  int reap(int* status, rusage* usage) {  // errno of the wait, 0 when it collected a status
    pid_t w;
    while ((w = wait4(pid, status, 0, usage)) < 0 && errno == EINTR) {
    }
    reaped = true;
    return w == pid ? 0 : errno;
  }
  ~Child() {
    if (pid > 0 && !reaped) {
      kill_all();
      int st;
      rusage ru;
      reap(&st, &ru);
    }
  }
};

std::string errno_text(int err) {
  return std::system_category().message(err);
}

bool write_file(const std::string& path, const std::string& text, int* err) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) {
    *err = errno;
    return false;
  }
  return true;
}

// Maps python's uid/gid (kInsideId): to nobody when we are root (and root to root, so that the
// child keeps a mapped identity to mount with), else to our own ids, the only ones we may map.
std::string write_id_maps(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/";
  const bool root = geteuid() == 0;
  const std::string uid_map = root ? fmt::format("0 0 1\n{} {} 1\n", kInsideId, kNobody)
                                   : fmt::format("{} {} 1\n", kInsideId, geteuid());
  const std::string gid_map = root ? fmt::format("0 0 1\n{} {} 1\n", kInsideId, kNobody)
                                   : fmt::format("{} {} 1\n", kInsideId, getegid());
  int err = 0;
  if (!root && !write_file(dir + "setgroups", "deny", &err))
    return "writing setgroups: " + errno_text(err);
  if (!write_file(dir + "uid_map", uid_map, &err)) return "writing uid_map: " + errno_text(err);
  if (!write_file(dir + "gid_map", gid_map, &err)) return "writing gid_map: " + errno_text(err);
  return "";
}

Result setup_error(std::string detail) {
  Result r;
  r.status = Result::Status::SetupError;
  r.detail = "sandbox: " + std::move(detail);
  return r;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// Runs main.py; probe stops before exec (available()).
Result run(const std::string& program, const Limits& limits, bool probe) {
  if (!(limits.wall_seconds > 0) || limits.cpu_seconds <= 0 || limits.max_processes <= 0 ||
      limits.address_space_bytes == 0)
    fail("sandbox: limits must be positive (wall {} s, cpu {} s, {} processes, {} bytes)",
         limits.wall_seconds, limits.cpu_seconds, limits.max_processes, limits.address_space_bytes);
  if (access(kPython, X_OK) != 0) return setup_error(fmt::format("no executable {}", kPython));
  // The kernel would reap python behind our back and its exit status would be lost.
  struct sigaction chld {};
  if (sigaction(SIGCHLD, nullptr, &chld) == 0 &&
      (chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT)))
    return setup_error("this process ignores SIGCHLD (SIG_IGN or SA_NOCLDWAIT): exit codes lost");
  const auto start = std::chrono::steady_clock::now();

  std::error_code ec;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  if (ec) return setup_error("no temporary directory: " + ec.message());
  WorkDir work;
  std::string templ = (tmp / "erank_sandbox_XXXXXX").string();
  if (!mkdtemp(templ.data()))
    return setup_error("mkdtemp in " + tmp.string() + ": " + errno_text(errno));
  work.path = templ;
  const std::string name = std::filesystem::path(work.path).filename().string();
  const std::string inside = "/tmp/" + name;
  {
    const std::string main_py = work.path + "/main.py";
    Fd fd(open(main_py.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0 || write(fd.get(), program.data(), program.size()) != ssize_t(program.size()))
      return setup_error("writing " + main_py + ": " + errno_text(errno));
  }
  const bool root = geteuid() == 0;
  if (root && chown(work.path.c_str(), kNobody, kNobody) != 0)
    return setup_error("chown " + work.path + ": " + errno_text(errno));

  // $HOME is hidden too, unless kHidden covers it or hiding it would hide the system (HOME=/).
  const char* home_env = getenv("HOME");
  std::string home = home_env ? home_env : "";
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  bool hide_home =
      home.size() > 1 && home[0] == '/' && std::string(kPython).rfind(home + "/", 0) != 0;
  for (const char* h : kHidden)
    if (home == h || home.rfind(std::string(h) + "/", 0) == 0) hide_home = false;

  std::vector<std::string> args = {kPython, "main.py"};
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "HOME=" + inside, "LANG=C.UTF-8",
                                  "PYTHONDONTWRITEBYTECODE=1"};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  Fd sync_r, sync_w, out_r, out_w, status_r, status_w;
  if (!make_pipe(sync_r, sync_w) || !make_pipe(out_r, out_w) || !make_pipe(status_r, status_w))
    return setup_error("pipe: " + errno_text(errno));
  Fd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) return setup_error("/dev/null: " + errno_text(errno));

  Plan plan;
  plan.sync_r = sync_r.get();
  plan.out_w = out_w.get();
  plan.status_w = status_w.get();
  plan.devnull = devnull.get();
  plan.host_dir = work.path.c_str();
  plan.inside_dir = inside.c_str();
  plan.home_hide = hide_home ? home.c_str() : nullptr;
  plan.drop_groups = root;
  plan.probe = probe;
  plan.limits = limits;
  plan.argv = argv.data();
  plan.envp = envp.data();

  Child child;
  const long pid = syscall(
      SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | SIGCHLD,
      0, 0, 0, 0);
  if (pid < 0)
    return setup_error(fmt::format(
        "cannot create user/mount/network/PID namespaces (clone: {}); needs user namespaces "
        "(kernel.unprivileged_userns_clone, user.max_user_namespaces, no seccomp filter)",
        errno_text(errno)));
  if (pid == 0) sandbox_child(plan);
  child.pid = static_cast<pid_t>(pid);
  sync_r.reset();
  out_w.reset();
  status_w.reset();
  devnull.reset();

  if (std::string err = write_id_maps(child.pid); !err.empty()) return setup_error(err);
  const char go = 1;  // sync_w stays open: the child's lifeline check reads it
  if (write(sync_w.get(), &go, 1) != 1) return setup_error("sync pipe: " + errno_text(errno));
  // Readable when the child exits (we have not reaped it, so the pid cannot be reused).
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, child.pid, 0)));
  if (pidfd.get() < 0) return setup_error("pidfd_open: " + errno_text(errno));

  // Drain the output until python has exited and every writer is gone, or the deadline.
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  fcntl(status_r.get(), F_SETFL, O_NONBLOCK);
  const auto deadline = start + std::chrono::duration<double>(limits.wall_seconds);
  const size_t cap = limits.max_output_bytes;
  const size_t flood = std::max<size_t>(10 * cap, 1u << 16);
  Result r;
  size_t total = 0;
  bool out_open = true, exited = false, timed_out = false, flooded = false;
  std::vector<char> buf(1 << 16);
  while ((out_open || !exited) && !flooded) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {out_r.get(), POLLIN, 0}};
    const int wait_ms = int(std::min<int64_t>(left.count(), 1000)) + 1;
    const int ready = poll(exited ? fds + 1 : fds, exited ? 1 : 2, wait_ms);
    if (ready < 0 && errno != EINTR) return setup_error("poll: " + errno_text(errno));
    if (ready <= 0) continue;
    if (!exited && fds[0].revents) exited = true;
    while (out_open && fds[1].revents && !flooded) {
      const ssize_t n = read(out_r.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;  // EAGAIN: drained for now
      if (n == 0) out_open = false;
      total += size_t(n);
      r.output.append(buf.data(), std::min(size_t(n), cap - std::min(cap, r.output.size())));
      flooded = total > flood;
    }
  }
  if (timed_out || flooded) child.kill_all();
  int wait_status = 0;
  rusage usage{};
  const int wait_err = child.reap(&wait_status, &usage);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Message m{};  // a setup error, if the child reported one before exec
  if (read(status_r.get(), &m, sizeof m) == ssize_t(sizeof m)) {
    const char* step = m.step >= 0 && m.step < kNumSteps ? kStepNames[m.step] : "?";
    Result e = setup_error(fmt::format("setup failed while {}: {}", step, errno_text(m.err)));
    e.output = std::move(r.output);
    e.wall_seconds = r.wall_seconds;
    return e;
  }
  const double cpu = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (timed_out) {
    r.status = Result::Status::Timeout;
    r.detail = fmt::format("wall-clock limit of {} s exceeded", limits.wall_seconds);
  } else if (flooded) {
    r.status = Result::Status::Killed;
    r.signal = SIGKILL;
    r.detail = fmt::format("killed after more than {} bytes of output", flood);
  } else if (wait_err != 0) {
    return setup_error("no exit status for python: " + errno_text(wait_err));
  } else if (WIFEXITED(wait_status)) {
    r.exit_code = WEXITSTATUS(wait_status);
    r.status = r.exit_code == 0 ? Result::Status::Passed : Result::Status::Failed;
    if (r.exit_code != 0) r.detail = fmt::format("exit code {}", r.exit_code);
  } else {
    r.status = Result::Status::Killed;
    r.signal = WTERMSIG(wait_status);
    r.detail = "killed by " + signal_text(r.signal);
    // erank sent no signal here, so a SIGKILL came from RLIMIT_CPU or the kernel's OOM killer.
    // rusage can undercount the CPU time (tick sampling; some container kernels by far more),
    // so a low reading only makes the attribution hedged, not absent.
    if (r.signal == SIGKILL && cpu >= 0.9 * limits.cpu_seconds)
      r.detail += fmt::format(" (CPU time limit of {} s)", limits.cpu_seconds);
    else if (r.signal == SIGKILL)
      r.detail += fmt::format(
          " (not by erank: the CPU time limit of {} s, {:.2f} s measured, "
          "or the kernel's OOM killer)",
          limits.cpu_seconds, cpu);
  }
  if (total > cap) {
    if (!r.detail.empty()) r.detail += "; ";
    r.detail += fmt::format("output truncated to {} of {} bytes", cap, total);
  }
  return r;
}

}  // namespace

const char* to_string(Result::Status s) {
  switch (s) {
    case Result::Status::Passed:
      return "passed";
    case Result::Status::Failed:
      return "failed";
    case Result::Status::Timeout:
      return "timeout";
    case Result::Status::Killed:
      return "killed";
    case Result::Status::SetupError:
      return "setup error";
  }
  return "?";
}

Result run_python(const std::string& program, const Limits& limits) {
  return run(program, limits, false);
}

bool available(std::string* why) {
  const Result r = run("", Limits{}, true);
  if (r.status == Result::Status::Passed) return true;
  if (why) *why = r.detail;
  return false;
}

}  // namespace erank::sandbox
