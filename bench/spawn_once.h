#pragma once

// One run of a command the way the classic watchdog runs a function per request: spawned
// (posix_spawnp) in its own process group with stdin and stdout as pipes and stderr joined to
// stdout (combine_output), the input written, the output read to EOF, the child reaped.
// Shared by exec_loop (the baseline of classic mode) and floor_cgi (its HTTP floor), so that
// both spawn exactly alike.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

extern char** environ;

namespace funcd::bench {

// A pipe whose ends close on destruction. Both ends are close-on-exec, so that a child
// spawned by another thread at the same time does not inherit them (an inherited write end
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

inline bool WriteAll(int fd, std::string_view data) {
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

// Reads `fd` to EOF, appending to `output` unless it is null.
inline bool ReadToEof(int fd, std::string* output) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n == 0;
    }
    if (output != nullptr) {
      output->append(buffer, static_cast<std::size_t>(n));
    }
  }
}

// Runs `argv` once with `input` (at most 4 KiB: it must fit in the pipe buffer, since it is
// written before the output is read); the output goes to `output` unless null. An error
// message, or nullopt on success (exit status 0).
inline std::optional<std::string> SpawnOnce(char* const* argv, std::string_view input,
                                            std::string* output) {
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
  const bool wrote = WriteAll(in.write_fd(), input);
  in.CloseWrite();
  const bool read = ReadToEof(out.read_fd(), output);
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

}  // namespace funcd::bench
