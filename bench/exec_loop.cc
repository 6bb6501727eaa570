// exec_loop: runs a command N times the way the classic watchdog runs a function per request,
// and reports how many it managed per second. It is the baseline that `fwatchdog` with
// fprocess=cat is compared against: the cost of the process itself, without HTTP.
//
// Usage: exec_loop [--count N] [--workers W] [--input TEXT] [command args...]
// Defaults: 1000 runs, 1 worker, input "hi\n", command `cat`. Each run spawns the command
// (posix_spawnp) in its own process group with stdin and stdout as pipes and stderr joined
// to stdout (the watchdog's combine_output), writes the input, reads the output to EOF and
// reaps the child. W workers (threads) share the N runs, like W concurrent HTTP clients.
// Prints one line: "execs=N seconds=S execs_per_sec=R". Exits 1 if a run fails.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/strings.h"

extern char** environ;

namespace {

constexpr const char* kUsage =
    "Usage: exec_loop [--count N] [--workers W] [--input TEXT] [command args...]\n";

struct Options {
  std::uint64_t count = 1000;
  std::uint64_t workers = 1;
  std::string input = "hi\n";
  std::vector<std::string> command = {"cat"};
};

// A pipe whose ends close on destruction. Both ends are close-on-exec, so that a child
// spawned by another worker at the same time does not inherit them (an inherited write end
// would keep our read from ever seeing EOF); dup2 in the child clears the flag on the copies.
class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      fds_[0] = fds_[1] = -1;
    }
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  bool ok() const { return fds_[0] >= 0; }
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void CloseRead() { Close(fds_[0]); }
  void CloseWrite() { Close(fds_[1]); }

 private:
  static void Close(int& fd) {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  int fds_[2];
};

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool DrainToEof(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n == 0;
    }
  }
}

// Runs the command once; an error message, or nullopt on success (exit status 0).
std::optional<std::string> RunOnce(const Options& options, char* const* argv) {
  Pipe in;
  Pipe out;
  if (!in.ok() || !out.ok()) {
    return std::string("pipe2: ") + std::strerror(errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read_fd(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write_fd(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write_fd(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return std::string("posix_spawnp ") + argv[0] + ": " + std::strerror(err);
  }
  in.CloseRead();
  out.CloseWrite();
  // The input fits in the pipe buffer, so writing it all before reading cannot deadlock.
  const bool wrote = WriteAll(in.write_fd(), options.input);
  in.CloseWrite();
  const bool read = DrainToEof(out.read_fd());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!wrote || !read) {
    return std::string("pipe I/O failed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return std::string(argv[0]) + " failed, wait status " + std::to_string(status);
  }
  return std::nullopt;
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  int i = 1;
  for (; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--count" || flag == "--workers") {
      std::optional<std::uint64_t> value = funcd::ParseUint(argv[i + 1]);
      if (!value || *value == 0) {
        return std::nullopt;
      }
      (flag == "--count" ? options.count : options.workers) = *value;
    } else if (flag == "--input") {
      options.input = argv[i + 1];
    } else {
      break;
    }
  }
  if (i < argc) {
    if (std::string_view(argv[i]).starts_with("--")) {
      return std::nullopt;
    }
    options.command.assign(argv + i, argv + argc);
  }
  if (options.input.size() > 4096) {
    return std::nullopt;  // see RunOnce: the input must fit in the pipe buffer
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // A command that exits without reading its input must not kill us with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<char*> command_argv;
  for (std::string& arg : options->command) {
    command_argv.push_back(arg.data());
  }
  command_argv.push_back(nullptr);

  // Workers claim runs from a shared counter, so the total is exactly `count`.
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    while (!failed.load() && next.fetch_add(1) < options->count) {
      if (std::optional<std::string> error = RunOnce(*options, command_argv.data())) {
        if (!failed.exchange(true)) {
          std::fprintf(stderr, "exec_loop: %s\n", error->c_str());
        }
      }
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (std::uint64_t i = 0; i < options->workers; ++i) {
    workers.emplace_back(work);
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed.load()) {
    return 1;
  }
  std::printf("execs=%llu seconds=%.3f execs_per_sec=%.1f\n",
              static_cast<unsigned long long>(options->count), seconds,
              static_cast<double>(options->count) / seconds);
  return 0;
}
