// floor_cgi: the cheapest HTTP front for a process per request, as a floor for classic mode.
//
//   floor_cgi [--port P] [COMMAND]      (default command: cat)
//
// A thread per connection, blocking sockets. For each request it reads the head and a
// Content-Length body (at most 4 KiB), runs COMMAND with it through the same SpawnOnce as
// exec_loop (spawn_once.h) and answers 200 with the output. No environment, no timeouts, no
// logging, no limits: only what any watchdog must do. bench/watchdog_bench.sh runs the same
// wrk against it next to fwatchdog, so the report shows how much of the gap to exec_loop is
// the HTTP client and server rather than the watchdog. Prints "Listening on port: N" to
// stderr. Loopback only. Not a product: a malformed request closes the connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "spawn_once.h"

namespace {

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
    if (length > 4096) {  // SpawnOnce writes the input before reading: it must fit a pipe
      ::close(fd);
      return;
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
    bool ok =
        !funcd::bench::SpawnOnce(argv, std::string_view(in).substr(head_end + 4, length), &output);
    in.erase(0, total);
    std::string response =
        std::string(ok ? "HTTP/1.1 200 OK" : "HTTP/1.1 500 Internal Server Error") +
        "\r\nContent-Length: " + std::to_string(output.size()) + "\r\n\r\n" + output;
    if (!funcd::bench::WriteAll(fd, response)) {
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
