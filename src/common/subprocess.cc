#include "common/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/strings.h"
#include "common/unique_fd.h"

extern char** environ;

namespace funcd {

std::string ExitStatus::ToString() const {
  if (signal != 0) {
    const char* name = ::sigabbrev_np(signal);
    // Go prints the description in lower case: "signal: killed", "signal: terminated".
    const char* description = ::sigdescr_np(signal);
    std::string text =
        description != nullptr ? ToLower(description) : StrCat("SIG", name != nullptr ? name : "?");
    return StrCat("signal: ", text);
  }
  return StrCat("exit status ", code);
}

namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

Error SpawnError(int err, const std::string& program) {
  if (err == ENOENT) {
    return Error{ErrorCode::kNotFound,
                 StrCat("exec: \"", program, "\": executable file not found in $PATH")};
  }
  if (err == EACCES) {
    return Error{ErrorCode::kPermissionDenied,
                 StrCat("exec: \"", program, "\": permission denied")};
  }
  return Error{ErrorCode::kInternal, StrCat("exec: \"", program, "\": ", std::strerror(err))};
}

// Owns posix_spawn attribute objects for the duration of one spawn.
struct SpawnAttributes {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

ChildProcess::ChildProcess(asio::any_io_executor executor, pid_t pid)
    : executor_(std::move(executor)), pid_(pid) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : executor_(other.executor_),
      pid_(std::exchange(other.pid_, -1)),
      reaped_(std::exchange(other.reaped_, true)),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    ReapBlocking();
    executor_ = other.executor_;
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = std::exchange(other.reaped_, true);
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { ReapBlocking(); }

void ChildProcess::ReapBlocking() {
  if (pid_ <= 0 || reaped_) {
    return;
  }
  KillTree(SIGKILL);
  siginfo_t info;
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

Result<ChildProcess> ChildProcess::Spawn(const asio::any_io_executor& executor,
                                         const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Unexpected(ErrorCode::kInvalidArgument, "empty command");
  }
  if (!options.inherit_fds.empty() || !options.join_cgroups.empty() || options.die_with_parent ||
      options.run_as_uid || options.run_as_gid) {
    return SpawnForked(executor, options);
  }
  SpawnAttributes sa;
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  auto make_pipe = [](UniqueFd& r, UniqueFd& w) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return false;
    }
    r.Reset(fds[0]);
    w.Reset(fds[1]);
    return true;
  };
  if ((options.stdin_mode == Stdio::kPipe && !make_pipe(in_r, in_w)) ||
      (options.stdout_mode == Stdio::kPipe && !make_pipe(out_r, out_w)) ||
      (options.stderr_mode == Stdio::kPipe && !make_pipe(err_r, err_w))) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("pipe: ", std::strerror(errno)));
  }
  auto redirect = [&](Stdio mode, int target, const UniqueFd& pipe_end) {
    switch (mode) {
      case Stdio::kInherit:
        break;
      case Stdio::kPipe:
        posix_spawn_file_actions_adddup2(&sa.actions, pipe_end.get(), target);
        break;
      case Stdio::kNull:
        posix_spawn_file_actions_addopen(&sa.actions, target, "/dev/null", O_RDWR, 0);
        break;
      case Stdio::kStdout:
        posix_spawn_file_actions_adddup2(&sa.actions, STDOUT_FILENO, target);
        break;
    }
  };
  redirect(options.stdin_mode, STDIN_FILENO, in_r);
  redirect(options.stdout_mode, STDOUT_FILENO, out_w);
  redirect(options.stderr_mode == Stdio::kStdout ? Stdio::kStdout : options.stderr_mode,
           STDERR_FILENO, err_w);
  // Sockets opened by Asio are not close-on-exec; no descriptor of ours reaches the child.
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&sa.actions, options.working_dir.c_str());
  }
  // Own process group (so the tree can be killed), default signal dispositions (we ignore
  // SIGPIPE, which exec would otherwise pass on), and an empty signal mask.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&sa.attr, &all);
  posix_spawnattr_setsigmask(&sa.attr, &none);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                         POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);

  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const std::string& arg : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  char** env = environ;
  if (options.env) {
    envp.reserve(options.env->size() + 1);
    for (const std::string& entry : *options.env) {
      envp.push_back(const_cast<char*>(entry.c_str()));
    }
    envp.push_back(nullptr);
    env = envp.data();
  }
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &sa.actions, &sa.attr, argv.data(), env);
  if (rc != 0) {
    return SpawnError(rc, options.argv[0]);
  }
  ChildProcess child(executor, pid);
  if (in_w.valid()) {
    child.stdin_.emplace(executor, in_w.Release());
  }
  if (out_r.valid()) {
    child.stdout_.emplace(executor, out_r.Release());
  }
  if (err_r.valid()) {
    child.stderr_.emplace(executor, err_r.Release());
  }
  return child;
}

void ChildProcess::CloseStdin() {
  if (stdin_ && stdin_->is_open()) {
    error_code ignored;
    stdin_->close(ignored);
  }
}

asio::awaitable<ExitStatus> ChildProcess::Wait() {
  ExitStatus status;
  if (reaped_ || pid_ <= 0) {
    co_return status;
  }
  // A short-lived process has often exited by the time its owner waits (its output ended):
  // then no pidfd is needed. WNOWAIT leaves it a zombie, so its pid (and process group id)
  // cannot be reused before the group is killed below.
  auto exited = [pid = pid_] {
    siginfo_t probe{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &probe, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           probe.si_pid == pid;
  };
  while (!exited()) {
    int pidfd = PidfdOpen(pid_);
    if (pidfd >= 0) {
      Pipe waiter(executor_, pidfd);
      auto [ec] =
          co_await waiter.async_wait(asio::posix::descriptor_base::wait_read, kUseAwaitableNoThrow);
      (void)ec;  // readable or error: either way waitid below tells the truth
      break;
    }
    // No descriptor to spare (EMFILE): poll.
    asio::steady_timer timer(executor_, std::chrono::milliseconds(10));
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  ::kill(-pid_, SIGKILL);
  siginfo_t info{};
  int rc;
  while ((rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED)) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (rc == 0) {
    if (info.si_code == CLD_EXITED) {
      status.code = info.si_status;
    } else {
      status.signal = info.si_status;
      status.code = -1;
    }
  }
  co_return status;
}

void ChildProcess::KillTree(int signal) {
  if (pid_ <= 0 || reaped_) {
    return;
  }
  // Collect descendants first: once killed, their parent links are gone.
  std::vector<pid_t> descendants = DescendantsOf(pid_);
  ::kill(-pid_, signal);
  ::kill(pid_, signal);
  for (pid_t p : descendants) {
    ::kill(p, signal);
  }
}

std::vector<pid_t> DescendantsOf(pid_t root) {
  std::multimap<pid_t, pid_t> children;  // ppid -> pid
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return {};
  }
  while (struct dirent* entry = ::readdir(proc)) {
    auto pid = ParseInt(entry->d_name);
    if (!pid) {
      continue;
    }
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(*pid));
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      continue;
    }
    char buf[512];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
    if (n <= 0) {
      continue;
    }
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses; use the last ')'.
    const char* close = std::strrchr(buf, ')');
    if (close == nullptr) {
      continue;
    }
    int ppid = 0;
    char state = 0;
    if (std::sscanf(close + 1, " %c %d", &state, &ppid) == 2) {
      children.emplace(ppid, static_cast<pid_t>(*pid));
    }
  }
  ::closedir(proc);
  std::vector<pid_t> out;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    auto [begin, end] = children.equal_range(p);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second);
    }
  }
  return out;
}

std::vector<std::string> SplitCommand(std::string_view command) {
  std::vector<std::string> out;
  for (std::string_view part : Split(command, ' ')) {
    if (!part.empty()) {  // tolerate doubled and trailing spaces
      out.emplace_back(part);
    }
  }
  return out;
}

}  // namespace funcd
