#pragma once

// A streaming reverse proxy for one exchange: the request (head as the caller left it, body
// streamed) goes to an upstream connection, the response comes back piece by piece.
// Bodies are relayed as views of the read buffers (no copies, no whole-body buffering);
// request and response bodies flow at the same time, so an upstream that echoes while it
// reads cannot deadlock. Upgrades (101, WebSocket) become a two-way byte tunnel.

#include <chrono>
#include <functional>

#include "common/asio.h"
#include "common/result.h"
#include "http/client.h"
#include "http/server.h"

namespace funcd::http {

// Picks another upstream when no connection to the current one can be made: nothing of the
// request was sent, so it can go elsewhere. The gateway uses it to pass over a replica that
// refuses connections (it died, or stopped listening) rather than answer 502.
class Rerouter {
 public:
  virtual ~Rerouter() = default;
  // The pool to try next, or nullptr to give up with `error`.
  virtual asio::awaitable<ConnectionPool*> Next(const Error& error) = 0;
};

struct ProxyOptions {
  // The whole exchange must finish by then; until the response head arrives, missing it is
  // a kDeadlineExceeded error (the caller answers 504), after that the response is cut.
  SteadyTime deadline = SteadyTime::max();
  // Read the whole request body first and send it with Content-Length (for upstreams that
  // cannot take chunked requests).
  bool buffer_request_body = false;
  std::uint64_t buffer_limit = 64 << 20;
  // Called with the upstream response head (hop-by-hop fields removed) before it is sent.
  std::function<void(ResponseHead&)> on_response_head;
  // A tunnel with no traffic either way for this long is closed.
  std::chrono::nanoseconds tunnel_idle_timeout = std::chrono::minutes(5);
  // Asked for another upstream (at most 3 times) when a connection cannot be made.
  Rerouter* reroute = nullptr;
};

struct ProxyResult {
  // Ok, or: kUnavailable (no connection, or the upstream failed before a response),
  // kDeadlineExceeded (no response head by the deadline), kResourceExhausted (buffered
  // body over the limit), kCancelled (the client went away).
  Result<void> outcome;
  unsigned status = 0;  // the upstream status relayed to the client, 0 if none
  // Something was written to the client: an error can no longer be reported with a status.
  bool response_started = false;
};

// REQUIRES: the caller has set the upstream target and fields on exchange.head().
asio::awaitable<ProxyResult> Proxy(ServerExchange& exchange, ConnectionPool& pool,
                                   ProxyOptions options);

// Copies bytes both ways between two connections until both sides are done.
asio::awaitable<void> Tunnel(Connection& a, Connection& b, std::chrono::nanoseconds idle_timeout);

}  // namespace funcd::http
