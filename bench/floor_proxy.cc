// floor_proxy: the cheapest user-space proxy there is, as a floor for the gateway benchmark.
//
//   floor_proxy --upstream-port N [--port P]
//
// One thread, level-triggered epoll. Each accepted connection gets one upstream connection of
// its own (opened at accept), and bytes are copied both ways without looking at them: no HTTP
// parsing, no routing, no pooling, no timeouts. Per request that is the syscall floor of any
// proxy (a recv and a send on each side). bench/gateway_bench.sh runs wrk through it next to
// the gateway, so the report shows how far the gateway is from what the kernel allows here.
// Prints "Listening on port: N" to stderr once bound. Loopback only. Not a product: errors
// close the pair.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

void NoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;  // a full socket buffer would block: good enough for a floor measurement
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

int Usage() {
  std::fprintf(stderr, "usage: floor_proxy --upstream-port N [--port P]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int upstream_port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--upstream-port") {
      upstream_port = std::atoi(argv[i + 1]);
    } else {
      return Usage();
    }
  }
  if (upstream_port <= 0 || argc % 2 == 0) {
    return Usage();
  }
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = Loopback(port);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 1024) != 0) {
    std::perror("floor_proxy: bind/listen");
    return 1;
  }
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::fprintf(stderr, "Listening on port: %d\n", ntohs(address.sin_port));

  int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  std::vector<int> peer(1024, -1);  // descriptor -> the other end of its pair
  auto close_pair = [&](int fd) {
    int other = peer[static_cast<size_t>(fd)];
    for (int end : {fd, other}) {
      if (end >= 0) {
        ::close(end);
        peer[static_cast<size_t>(end)] = -1;
      }
    }
  };
  epoll_event events[256];
  char buffer[65536];
  for (;;) {
    int ready = ::epoll_wait(epoll, events, 256, -1);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
          continue;
        }
        int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in target = Loopback(upstream_port);
        if (::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
          ::close(client);
          ::close(upstream);
          continue;
        }
        if (static_cast<size_t>(std::max(client, upstream)) >= peer.size()) {
          peer.resize(static_cast<size_t>(std::max(client, upstream)) * 2, -1);
        }
        NoDelay(client);
        NoDelay(upstream);
        peer[static_cast<size_t>(client)] = upstream;
        peer[static_cast<size_t>(upstream)] = client;
        for (int end : {client, upstream}) {
          event.events = EPOLLIN;
          event.data.fd = end;
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, end, &event);
        }
        continue;
      }
      if (peer[static_cast<size_t>(fd)] < 0) {
        continue;  // closed earlier in this batch
      }
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      if (n <= 0 || !SendAll(peer[static_cast<size_t>(fd)], buffer, static_cast<size_t>(n))) {
        close_pair(fd);
      }
    }
  }
}
