#pragma once

// An HTTP/1.1 server on Asio coroutines: keep-alive, pipelining, streamed request and
// response bodies, inactivity timeouts, graceful shutdown, and one acceptor per io_context
// (SO_REUSEPORT) so that each connection stays on one thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "http/connection.h"
#include "http/message.h"
#include "http/reader.h"
#include "http/writer.h"

namespace funcd::http {

struct ServerOptions {
  // Longest silence while a request head or body is being read.
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(30);
  // Longest stall while a response is being written.
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(30);
  // How long a keep-alive connection may wait for its next request.
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(120);
  std::uint32_t header_limit = 1 << 20;
  // An unread request body up to this size is skipped to keep the connection alive.
  std::uint64_t discard_limit = 256 * 1024;
};

// One request and its response on a server connection. Handed to Handler::Serve; valid
// until Serve returns. Not thread-safe (lives on its connection's thread).
class ServerExchange {
 public:
  using Request = RequestReader::Message;

  ServerExchange(Connection& connection, RequestReader& reader, const ServerOptions& options,
                 const std::string& remote_address);

  Request& request() { return reader_.message(); }
  RequestHead& head() { return reader_.message().base(); }
  // The peer as "ip:port".
  const std::string& remote_address() const { return remote_address_; }
  SteadyTime start_time() const { return start_time_; }

  // Request body, as views valid until the next call; empty at the end. Sends
  // "100 Continue" first when the client asked for it.
  asio::awaitable<Result<std::span<const asio::const_buffer>>> ReadBody();
  asio::awaitable<Result<std::string>> ReadAll(std::uint64_t limit);
  bool body_done() const { return reader_.done(); }
  RequestReader& reader() { return reader_; }

  // The response head to fill in before responding (status defaults to 200).
  ResponseHead& response() { return response_; }

  // Sends response() with `body` and Content-Length.
  asio::awaitable<Result<void>> Send(std::string_view body);
  // Sets status (and Content-Type when given) on response() and sends `body`.
  asio::awaitable<Result<void>> Respond(
      unsigned status, std::string_view body,
      std::string_view content_type = "text/plain; charset=utf-8");

  // Starts a streamed response: Content-Length when known, else chunked (or until close for
  // an HTTP/1.0 client). `first` is sent along with the head.
  asio::awaitable<Result<void>> StartStream(std::optional<std::uint64_t> content_length,
                                            std::span<const asio::const_buffer> first = {},
                                            bool last = false);
  asio::awaitable<Result<void>> WriteStream(std::span<const asio::const_buffer> body,
                                            bool last = false);
  asio::awaitable<Result<void>> FinishStream();

  bool response_started() const { return writer_.head_written(); }
  bool response_finished() const { return writer_.finished(); }
  unsigned response_status() const { return response_.result_int(); }
  std::uint64_t response_body_bytes() const { return writer_.body_bytes(); }

  // Closes the connection after this response.
  void CloseAfterResponse() { close_after_ = true; }
  bool close_after() const { return close_after_; }

  // The raw connection, for a handler that switches protocols (101). After MarkUpgraded the
  // server closes the connection when Serve returns instead of reading another request.
  Connection& connection() { return connection_; }
  void MarkUpgraded() { upgraded_ = true; }
  bool upgraded() const { return upgraded_; }

 private:
  Framing PrepareHead(std::optional<std::uint64_t> content_length);

  Connection& connection_;
  RequestReader& reader_;
  const ServerOptions& options_;
  const std::string& remote_address_;
  MessageWriter writer_;
  ResponseHead response_;
  SteadyTime start_time_;
  // The client's own request facts, taken before a handler (the proxy) rewrites the head
  // for its upstream.
  const unsigned client_version_;
  const bool client_keep_alive_;
  const bool client_expects_continue_;
  bool continue_sent_ = false;
  bool close_after_ = false;
  bool upgraded_ = false;
};

// Serves requests. Implementations must be safe to call from every server thread at once.
class Handler {
 public:
  virtual ~Handler() = default;
  // Serves one exchange: responds through it, or takes the connection (MarkUpgraded).
  // Exceptions are logged and close the connection.
  virtual asio::awaitable<void> Serve(ServerExchange& exchange) = 0;
};

class Server {
 public:
  // REQUIRES: `contexts` is non-empty; the contexts and `handler` outlive the server.
  Server(std::vector<asio::io_context*> contexts, Handler& handler, ServerOptions options = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Listens on address:port (port 0: the system picks one); returns the bound port.
  // Errors: kUnavailable (address in use, bad address).
  Result<std::uint16_t> Listen(const std::string& address, std::uint16_t port);
  // Listens on a unix socket at `path` (replacing a stale socket file).
  Result<void> ListenUnix(const std::string& path);
  // Serves on an already listening socket (socket activation). Takes ownership of `fd`.
  Result<void> Adopt(int fd);

  // Starts the accept loops. Call once, after Listen.
  void Start();

  // Stops accepting, closes idle connections, lets in-flight requests finish for up to
  // `drain`, then closes what is left. Completes when every connection is gone.
  asio::awaitable<void> Shutdown(std::chrono::nanoseconds drain);

  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  const ServerOptions& options() const { return options_; }

 private:
  struct Worker;
  struct Session;

  asio::awaitable<void> AcceptLoop(Worker& worker, std::size_t acceptor_index);
  asio::awaitable<void> ServeConnection(Worker& worker, Socket socket);
  Result<void> AddListener(const asio::generic::stream_protocol::endpoint& endpoint,
                           bool reuse_port);

  Handler& handler_;
  const ServerOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::size_t> next_worker_{0};  // round-robin hand-out of accepted connections
};

}  // namespace funcd::http
