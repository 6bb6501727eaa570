#pragma once

// A byte stream (TCP or unix socket) with its read buffer and a coarse deadline.
//
// Deadlines are checked by one timer per io_context (DeadlineService) rather than one timer
// per operation: arming a deadline is a store, and a connection past its deadline has its
// pending operations cancelled within ~kDeadlineResolution. Operations then report
// kDeadlineExceeded.
//
// Not thread-safe: a Connection lives on the thread of its executor. Not movable (the
// deadline service holds its address).

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <span>

#include "common/asio.h"
#include "common/result.h"

namespace funcd::http {

using Socket = asio::generic::stream_protocol::socket;
using SteadyTime = std::chrono::steady_clock::time_point;

inline constexpr std::chrono::milliseconds kDeadlineResolution{50};

class Connection {
 public:
  explicit Connection(Socket socket);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  asio::any_io_executor executor() { return socket_.get_executor(); }

  // Any operation pending at, or started after, `at` fails with kDeadlineExceeded.
  void ExpireAt(SteadyTime at);
  void ExpireAfter(std::chrono::nanoseconds d) { ExpireAt(std::chrono::steady_clock::now() + d); }
  void ClearDeadline();
  bool expired() const { return expired_; }
  SteadyTime deadline() const { return deadline_; }

  // Reads what is available (at least one byte) into buffer(). Returns 0 at end of stream.
  // Errors: kDeadlineExceeded, kUnavailable (reset, closed).
  asio::awaitable<Result<std::size_t>> ReadSome(std::size_t max_bytes = 64 * 1024);

  // Writes every byte of `buffers`. Errors: kDeadlineExceeded, kUnavailable.
  asio::awaitable<Result<void>> Write(std::span<const asio::const_buffer> buffers);
  // REQUIRES: the bytes behind `buffer` outlive the operation.
  asio::awaitable<Result<void>> Write(asio::const_buffer buffer);

  // True when the peer has closed its side (or reset) — checked without blocking and without
  // consuming data. For long-lived responses that read nothing more from the client.
  bool PeerClosed();

  // Acknowledges what was received at once instead of after the delayed-ACK timeout (up to
  // 40 ms). For a message that is half in: a peer that writes head and body separately with
  // Nagle's algorithm on (Python's http.server, for one) holds the rest until our ACK.
  void QuickAck();

  // Shuts down the sending side (the peer sees end of stream).
  void ShutdownSend();
  // Closes the socket; pending operations complete with an error.
  void Close();
  bool is_open() const { return socket_.is_open(); }

  // True while the connection sits unused in a client pool; used to tell a stale pooled
  // connection from a fresh one.
  bool reused = false;
  SteadyTime idle_since{};

 private:
  friend class DeadlineService;
  void OnDeadline();
  Error TranslateError(const error_code& ec) const;

  Socket socket_;
  boost::beast::flat_buffer buffer_;
  SteadyTime deadline_ = SteadyTime::max();
  bool expired_ = false;
  // Intrusive links in the DeadlineService of our io_context.
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  class DeadlineService* service_ = nullptr;
};

// Disables Nagle's algorithm on TCP sockets (no-op on unix sockets).
void SetNoDelay(Socket& socket);

}  // namespace funcd::http
