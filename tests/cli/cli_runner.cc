#include "tests/cli/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"

extern char** environ;

namespace funcd::testing {

std::string CliResult::Describe() const {
  return StrCat("exit ", exit_code, "\n--- stdout\n", out, "--- stderr\n", err);
}

CliResult RunFuncd(const std::vector<std::string>& args, const std::string& cwd,
                   const std::map<std::string, std::string>& env, const std::string& input,
                   std::chrono::milliseconds timeout, const OutputWatch& stop_when) {
  CliResult result;
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string_view::npos) {
      merged[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  merged.erase("OPENFAAS_URL");  // only what the test says
  merged.erase("FAAS_DEBUG");
  for (const auto& [k, v] : env) {
    merged[k] = v;
  }
  std::vector<std::string> env_entries;
  for (const auto& [k, v] : merged) {
    env_entries.push_back(StrCat(k, "=", v));
  }
  std::vector<char*> envp;
  for (auto& entry : env_entries) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {StrCat(BinDir(), "/funcd")};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    result.err = StrCat("cannot run ", argv_strings[0], ": ", std::strerror(rc));
    return result;
  }
  // Small inputs fit the pipe; the client reads stdin before it produces much output.
  size_t written = 0;
  ::signal(SIGPIPE, SIG_IGN);
  while (written < input.size()) {
    ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
    if (n <= 0) {
      break;
    }
    written += static_cast<size_t>(n);
  }
  ::close(in[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  bool timed_out = false;
  while (open > 0 && !result.stopped) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char buf[8192];
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
        result.stopped = i == 0 && stop_when && stop_when(result.out);
      }
    }
  }
  if (timed_out || result.stopped) {
    ::kill(-pid, SIGKILL);
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) {
      ::close(fd.fd);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out || result.stopped) {
    result.err += timed_out ? "\n(timed out; killed)" : "\n(stopped by the test)";
    return result;
  }
  result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}

void CliTest::SetUp() {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
  }
  ::chmod(state_.path().c_str(), 0755);
  funcd_ = std::make_unique<FuncdServer>(state_.path());
  ASSERT_TRUE(funcd_->ok());
  env_ = {{"OPENFAAS_URL", StrCat("http://127.0.0.1:", funcd_->port())},
          {"OPENFAAS_CONFIG", home_.File("openfaas")},
          {"FUNCD_STATE_DIR", state_.path()},
          {"HOME", home_.path()}};
}

CliResult CliTest::Funcd(const std::vector<std::string>& args, const std::string& input) {
  return RunFuncd(args, project_.path(), env_, input);
}

void CliTest::Login() {
  CliResult login = Funcd({"login", "--password-stdin"}, funcd_->password() + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.Describe();
}

void CliTest::WriteProjectFile(std::string_view name, std::string_view content) const {
  const std::string path = project_.File(name);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << content;
}

}  // namespace funcd::testing
