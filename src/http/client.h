#pragma once

// HTTP/1.1 client side: upstream endpoints, a keep-alive connection pool per upstream, and a
// buffered request helper for small exchanges (health checks, callbacks, tests).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "http/connection.h"
#include "http/message.h"

namespace funcd::http {

using Endpoint = asio::generic::stream_protocol::endpoint;

// A parsed http:// URL ("http://host:port/base?query"), or unix:///path/to.sock.
struct Url {
  std::string scheme;  // "http" or "unix"
  std::string host;    // host name or address (without brackets); unix: the socket path
  std::uint16_t port = 80;
  std::string target;  // path and query; "/" when empty
  // "host:port" for the Host header.
  std::string HostHeader() const;
};

// Errors: kInvalidArgument (not an http URL, bad port).
Result<Url> ParseUrl(std::string_view text);

// Resolves `url` to an endpoint. Blocking (getaddrinfo) for host names: call at start-up or
// off the I/O threads. Errors: kNotFound.
Result<Endpoint> ResolveBlocking(const Url& url);

struct PoolOptions {
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  // A pooled connection unused for longer is closed instead of reused.
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  std::size_t max_idle = 1024;
};

// Keep-alive connections to one upstream. Not thread-safe: one pool per io_context.
class ConnectionPool {
 public:
  ConnectionPool(asio::any_io_executor executor, Endpoint endpoint, PoolOptions options = {});
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle pooled connection (reused == true), or a new one. Errors: kUnavailable
  // (refused, unreachable), kDeadlineExceeded.
  asio::awaitable<Result<std::unique_ptr<Connection>>> Acquire(SteadyTime deadline);
  // Always a new connection.
  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(SteadyTime deadline);
  // Returns a connection whose last exchange completed cleanly.
  void Release(std::unique_ptr<Connection> connection);
  // Closes the idle connections.
  void Clear() { idle_.clear(); }

  const Endpoint& endpoint() const { return endpoint_; }
  std::size_t idle_count() const { return idle_.size(); }
  asio::any_io_executor executor() const { return executor_; }

 private:
  asio::any_io_executor executor_;
  const Endpoint endpoint_;
  const PoolOptions options_;
  std::vector<std::unique_ptr<Connection>> idle_;  // most recently used last
};

struct ClientResponse {
  unsigned status = 0;
  Fields headers;
  std::string body;
};

// Sends `head` with `body` (Content-Length framing) through `pool` and reads the whole
// response. Retries once on a fresh connection when a pooled one turns out to be closed.
// Errors: kUnavailable, kDeadlineExceeded, kResourceExhausted (response over body_limit),
// kInvalidArgument (malformed response).
asio::awaitable<Result<ClientResponse>> Fetch(ConnectionPool& pool, RequestHead head,
                                              std::string body, std::chrono::nanoseconds timeout,
                                              std::uint64_t body_limit = 64 << 20);

// One request to a URL on a new connection (no pooling). Sets Host when absent.
asio::awaitable<Result<ClientResponse>> FetchUrl(std::string method, std::string url,
                                                 Fields headers, std::string body,
                                                 std::chrono::nanoseconds timeout);

}  // namespace funcd::http
