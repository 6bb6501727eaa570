// The fork + exec path of ChildProcess::Spawn, for what posix_spawn cannot do between fork
// and exec: join cgroups, place inherited descriptors at fixed numbers, set a parent-death
// signal. The child calls only async-signal-safe functions on data prepared beforehand.

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"

extern char** environ;

namespace funcd {

namespace {

// What the child reports through the error pipe before dying: the stage and errno.
struct ChildFailure {
  int stage;  // 1 exec, 2 cgroup, 3 fd setup, 4 credentials
  int error;
};

[[noreturn]] void ChildFail(int error_fd, int stage) {
  ChildFailure failure{stage, errno};
  (void)!::write(error_fd, &failure, sizeof(failure));
  ::_exit(127);
}

// Resolves argv[0] through PATH in the parent (execvp is not async-signal-safe).
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  const char* path = std::getenv("PATH");
  for (std::string_view dir : Split(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = StrCat(dir.empty() ? "." : dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return program;
}

}  // namespace

Result<ChildProcess> ChildProcess::SpawnForked(const asio::any_io_executor& executor,
                                               const SpawnOptions& options) {
  // Everything the child needs, prepared now.
  const std::string program = ResolveProgram(options.argv[0]);
  std::vector<char*> argv;
  for (const std::string& arg : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  char** env = environ;
  if (options.env) {
    for (const std::string& entry : *options.env) {
      envp.push_back(const_cast<char*>(entry.c_str()));
    }
    envp.push_back(nullptr);
    env = envp.data();
  }
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w, null_fd, error_r, error_w;
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
      (options.stderr_mode == Stdio::kPipe && !make_pipe(err_r, err_w)) ||
      !make_pipe(error_r, error_w)) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("pipe: ", std::strerror(errno)));
  }
  null_fd.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int stdio[3];
  auto source = [&](Stdio mode, const UniqueFd& pipe_end, int own) {
    switch (mode) {
      case Stdio::kPipe:
        return pipe_end.get();
      case Stdio::kNull:
        return null_fd.get();
      case Stdio::kStdout:
        return -2;  // a copy of the child's stdout
      case Stdio::kInherit:
        break;
    }
    return own;
  };
  stdio[0] = source(options.stdin_mode, in_r, STDIN_FILENO);
  stdio[1] = source(options.stdout_mode, out_w, STDOUT_FILENO);
  stdio[2] = source(options.stderr_mode, err_w, STDERR_FILENO);
  std::vector<const char*> cgroups;
  for (const std::string& file : options.join_cgroups) {
    cgroups.push_back(file.c_str());
  }
  int max_target = 2;
  for (const auto& [from, to] : options.inherit_fds) {
    max_target = std::max(max_target, to);
  }
  const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  const pid_t parent = ::getpid();
  const std::optional<uid_t> run_as_uid = options.run_as_uid;
  const std::optional<gid_t> run_as_gid = options.run_as_gid;
  const int error_fd = error_w.get();

  pid_t pid = ::fork();
  if (pid < 0) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::setpgid(0, 0);
    char pid_text[24];
    int len = 0;
    {
      char reversed[24];
      int n = 0;
      for (pid_t v = ::getpid(); v > 0; v /= 10) {
        reversed[n++] = static_cast<char>('0' + v % 10);
      }
      while (n > 0) {
        pid_text[len++] = reversed[--n];
      }
      pid_text[len++] = '\n';
    }
    for (const char* file : cgroups) {
      int fd = ::open(file, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, pid_text, static_cast<size_t>(len)) != len) {
        ChildFail(error_fd, 2);
      }
      ::close(fd);
    }
    // Credentials change after joining the cgroups (which takes root) ...
    if (run_as_gid &&
        (::setgroups(0, nullptr) != 0 || ::setresgid(*run_as_gid, *run_as_gid, *run_as_gid) != 0)) {
      ChildFail(error_fd, 4);
    }
    if (run_as_uid && ::setresuid(*run_as_uid, *run_as_uid, *run_as_uid) != 0) {
      ChildFail(error_fd, 4);
    }
    // ... and before the parent-death signal, which a credential change would clear.
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) {
        ::_exit(127);  // the parent is already gone
      }
    }
    // Move every source descriptor above the targets first, so that no dup2 clobbers a
    // source that another one still needs.
    const int high = std::max(max_target + 1, 64);
    int moved_stdio[3];
    for (int i = 0; i < 3; ++i) {
      moved_stdio[i] = stdio[i] >= 0 ? ::fcntl(stdio[i], F_DUPFD_CLOEXEC, high) : stdio[i];
    }
    int moved_inherit[64];
    size_t count = std::min<size_t>(options.inherit_fds.size(), 64);
    for (size_t i = 0; i < count; ++i) {
      moved_inherit[i] = ::fcntl(options.inherit_fds[i].first, F_DUPFD_CLOEXEC, high);
      if (moved_inherit[i] < 0) {
        ChildFail(error_fd, 3);
      }
    }
    for (int i = 0; i < 3; ++i) {
      int from = moved_stdio[i] == -2 ? STDOUT_FILENO : moved_stdio[i];
      if (from >= 0 && ::dup2(from, i) < 0) {
        ChildFail(error_fd, 3);
      }
    }
    for (size_t i = 0; i < count; ++i) {
      if (::dup2(moved_inherit[i], options.inherit_fds[i].second) < 0) {
        ChildFail(error_fd, 3);
      }
    }
    // Everything above the targets closes at exec (Asio's sockets are not close-on-exec);
    // the error pipe stays open until then to report a failed exec.
    constexpr unsigned kCloseRangeCloexec = 1U << 2;
    ::syscall(SYS_close_range, static_cast<unsigned>(max_target + 1), ~0U, kCloseRangeCloexec);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      ::sigaction(sig, &dfl, nullptr);
    }
    if (working_dir != nullptr && ::chdir(working_dir) != 0) {
      ChildFail(error_fd, 3);
    }
    ::execve(program.c_str(), argv.data(), env);
    ChildFail(error_fd, 1);
  }

  // Parent: the error pipe stays empty (EOF) when exec succeeded.
  error_w.Reset();
  ChildFailure failure{};
  ssize_t n;
  while ((n = ::read(error_r.get(), &failure, sizeof(failure))) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    ::waitpid(pid, nullptr, 0);
    if (failure.stage == 4) {
      return Unexpected(ErrorCode::kPermissionDenied,
                        StrCat("cannot switch to uid/gid: ", std::strerror(failure.error)));
    }
    if (failure.stage == 2) {
      return Unexpected(ErrorCode::kUnavailable,
                        StrCat("cannot join the cgroup: ", std::strerror(failure.error)));
    }
    if (failure.stage == 1 && failure.error == ENOENT) {
      return Unexpected(ErrorCode::kNotFound,
                        StrCat("exec: \"", options.argv[0], "\": executable file not found"));
    }
    return Unexpected(ErrorCode::kInternal,
                      StrCat("spawn \"", options.argv[0], "\": ", std::strerror(failure.error)));
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

}  // namespace funcd
