#include "cli/run_command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/strings.h"

extern char** environ;

namespace funcd::cli {

Result<int> RunCommand(const CommandSpec& spec,
                       const std::function<void(std::string_view line)>& on_line) {
  if (spec.argv.empty()) {
    return Error{ErrorCode::kInvalidArgument, "empty command"};
  }
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq != std::string_view::npos) {
      env[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
    }
  }
  for (const auto& [k, v] : spec.extra_env) {
    env[k] = v;
  }
  std::vector<std::string> env_entries;
  for (const auto& [k, v] : env) {
    env_entries.push_back(StrCat(k, "=", v));
  }
  std::vector<char*> envp;
  for (std::string& entry : env_entries) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error{ErrorCode::kInternal, StrCat("pipe: ", std::strerror(errno))};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  if (!spec.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, spec.working_dir.c_str());
  }
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return Error{rc == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                 StrCat("cannot run ", spec.argv[0], ": ", std::strerror(rc))};
  }
  std::string pending;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    pending.append(buf, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      if (on_line) {
        on_line(std::string_view(pending).substr(0, newline));
      }
      pending.erase(0, newline + 1);
    }
  }
  if (!pending.empty() && on_line) {
    on_line(pending);
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

Result<std::string> CaptureCommand(const CommandSpec& spec) {
  std::string output;
  FUNCD_ASSIGN_OR_RETURN(int code, RunCommand(spec, [&](std::string_view line) {
                           StrAppend(output, output.empty() ? "" : "\n", line);
                         }));
  if (code != 0) {
    return Error{ErrorCode::kInternal,
                 StrCat(spec.argv[0], " exited with ", code, ": ", TrimSpace(output))};
  }
  return std::string(TrimSpace(output));
}

}  // namespace funcd::cli
