// The server of the cpp-http template: a small HTTP/1.1 server (keep-alive, Content-Length
// and chunked request bodies) that hands every request to Handle() in the function folder.
// fwatchdog (mode=http) starts it once per replica and proxies requests to it on $http_port.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "handler.h"

namespace {

// Reads from a socket through a buffer.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}

  // One line without its CRLF; false at end of stream.
  bool Line(std::string& line) {
    for (;;) {
      size_t end = buffer_.find('\n', pos_);
      if (end != std::string::npos) {
        line.assign(buffer_, pos_, end - pos_);
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        }
        pos_ = end + 1;
        return true;
      }
      if (!Fill()) {
        return false;
      }
    }
  }

  bool Bytes(size_t n, std::string& out) {
    while (buffer_.size() - pos_ < n) {
      if (!Fill()) {
        return false;
      }
    }
    out.append(buffer_, pos_, n);
    pos_ += n;
    return true;
  }

 private:
  bool Fill() {
    if (pos_ > 0) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
  size_t pos_ = 0;
};

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

bool ReadRequest(Reader& reader, Request& request, bool& keep_alive) {
  std::string line;
  do {
    if (!reader.Line(line)) {
      return false;
    }
  } while (line.empty());
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) {
    return false;
  }
  request = Request{};
  request.method = line.substr(0, sp1);
  const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string version = line.substr(sp2 + 1);
  const size_t question = target.find('?');
  request.path = target.substr(0, question);
  request.query = question == std::string::npos ? "" : target.substr(question + 1);
  while (reader.Line(line) && !line.empty()) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    size_t value = colon + 1;
    while (value < line.size() && line[value] == ' ') {
      ++value;
    }
    request.headers[Lower(line.substr(0, colon))] = line.substr(value);
  }
  const std::string connection = Lower(request.headers["connection"]);
  keep_alive = version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive";
  if (Lower(request.headers["transfer-encoding"]).find("chunked") != std::string::npos) {
    for (;;) {
      if (!reader.Line(line)) {
        return false;
      }
      const size_t size = std::strtoul(line.c_str(), nullptr, 16);
      if (size == 0) {
        while (reader.Line(line) && !line.empty()) {
        }
        return true;
      }
      if (!reader.Bytes(size, request.body) || !reader.Line(line)) {
        return false;
      }
    }
  }
  const auto length = request.headers.find("content-length");
  if (length != request.headers.end()) {
    return reader.Bytes(std::strtoul(length->second.c_str(), nullptr, 10), request.body);
  }
  return true;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

bool WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

void Serve(int fd) {
  Reader reader(fd);
  Request request;
  bool keep_alive = true;
  while (keep_alive && ReadRequest(reader, request, keep_alive)) {
    Response response;
    try {
      response = Handle(request);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "handler failed: %s\n", e.what());
      response = Response{500, {{"Content-Type", "text/plain"}}, "handler failed\n"};
    }
    std::string out =
        "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) {
      out += name + ": " + value + "\r\n";
    }
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
    if (request.method != "HEAD") {
      out += response.body;
    }
    if (!WriteAll(fd, out)) {
      break;
    }
  }
  ::close(fd);
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* port_text = std::getenv("http_port");
  const int port = port_text != nullptr ? std::atoi(port_text) : 5000;
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener, 128) != 0) {
    std::perror("listen");
    return 1;
  }
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread(Serve, fd).detach();
  }
}
