// floor_cgi: the cheapest HTTP front for a process per request, as a floor for classic mode.
//
//   floor_cgi [--port P] [COMMAND]      (default command: cat)
//
// A thread per connection, blocking sockets. For each request it reads the head and a
// Content-Length body, spawns COMMAND exactly as exec_loop does (posix_spawnp, own process
// group, stdin and stdout pipes, stderr joined to stdout), writes the body, reads the output
// to EOF, reaps the child and answers 200 with the output. No environment, no timeouts, no
// logging, no limits: only what any watchdog must do. bench/watchdog_bench.sh runs the same
// wrk against it next to fwatchdog, so the report shows how much of the gap to exec_loop is
// the HTTP client and server rather than the watchdog. Prints "Listening on port: N" to
// stderr. Loopback only. Not a product: a malformed request closes the connection.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

extern char** environ;

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Runs the command with `input` on stdin; its output, or nullopt-like false on failure.
bool Run(char* const* argv, std::string_view input, std::string& output) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  bool ok = err == 0 && WriteAll(in[1], input);
  ::close(in[1]);
  char buffer[4096];
  for (ssize_t n; ok && (n = ::read(out[0], buffer, sizeof(buffer))) != 0;) {
    if (n < 0 && errno != EINTR) {
      ok = false;
    } else if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(out[0]);
  if (pid > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  return ok;
}

void Serve(int fd, char* const* argv) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::string in;
  char buffer[16384];
  for (;;) {
    size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) {
        ::close(fd);
        return;
      }
      in.append(buffer, static_cast<size_t>(n));
    }
    size_t length = 0;
    std::string_view head(in.data(), head_end);
    for (std::string_view name : {"Content-Length: ", "content-length: "}) {
      if (size_t at = head.find(name); at != std::string_view::npos) {
        length = std::strtoul(head.data() + at + name.size(), nullptr, 10);
      }
    }
    size_t total = head_end + 4 + length;
    while (in.size() < total) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n <= 0) {
        ::close(fd);
        return;
      }
      in.append(buffer, static_cast<size_t>(n));
    }
    std::string output;
    bool ok = Run(argv, std::string_view(in).substr(head_end + 4, length), output);
    in.erase(0, total);
    std::string response =
        std::string(ok ? "HTTP/1.1 200 OK" : "HTTP/1.1 500 Internal Server Error") +
        "\r\nContent-Length: " + std::to_string(output.size()) + "\r\n\r\n" + output;
    if (!WriteAll(fd, response)) {
      ::close(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int first = 1;
  if (argc > 2 && std::string_view(argv[1]) == "--port") {
    port = std::atoi(argv[2]);
    first = 3;
  }
  static char cat[] = "cat";
  static char* default_argv[] = {cat, nullptr};
  char* const* command = first < argc ? argv + first : default_argv;
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 128) != 0) {
    std::perror("floor_cgi: bind/listen");
    return 1;
  }
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::fprintf(stderr, "Listening on port: %d\n", ntohs(address.sin_port));
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      std::thread(Serve, fd, command).detach();
    }
  }
}
