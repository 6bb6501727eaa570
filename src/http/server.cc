#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strings.h"

namespace funcd::http {

namespace {

using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;
using GenericEndpoint = asio::generic::stream_protocol::endpoint;

std::string FormatPeer(Socket& socket) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (::getpeername(socket.native_handle(), reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return "";
  }
  char host[INET6_ADDRSTRLEN] = {0};
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return StrCat(host, ":", ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return StrCat("[", host, "]:", ntohs(in6->sin6_port));
  }
  return "@";  // unix socket peers have no address; "@" keeps X-Forwarded-For non-empty
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

// ---------------------------------------------------------------------------------------
// ServerExchange

ServerExchange::ServerExchange(Connection& connection, RequestReader& reader,
                               const ServerOptions& options, const std::string& remote_address)
    : connection_(connection),
      reader_(reader),
      options_(options),
      remote_address_(remote_address),
      writer_(connection),
      start_time_(std::chrono::steady_clock::now()),
      client_version_(reader.message().version()),
      client_keep_alive_(reader.message().keep_alive()),
      client_expects_continue_(EqualsIgnoreCase(
          TrimSpace(std::string_view(reader.message()[Field::expect])), "100-continue")) {
  response_.version(11);
  response_.result(200);
}

asio::awaitable<Result<std::span<const asio::const_buffer>>> ServerExchange::ReadBody() {
  if (!continue_sent_ && !reader_.done() && !writer_.head_written()) {
    continue_sent_ = true;
    if (client_expects_continue_ && connection_.buffer().size() == 0) {
      connection_.ExpireAfter(options_.write_timeout);
      FUNCD_CO_RETURN_IF_ERROR(
          co_await connection_.Write(asio::const_buffer(kContinue.data(), kContinue.size())));
    }
  }
  connection_.ExpireAfter(options_.read_timeout);
  co_return co_await reader_.ReadBody();
}

asio::awaitable<Result<std::string>> ServerExchange::ReadAll(std::uint64_t limit) {
  if (auto length = reader_.content_length(); length && *length > limit) {
    co_return Error{ErrorCode::kResourceExhausted,
                    StrCat("body larger than the limit of ", limit, " bytes")};
  }
  std::string out;
  for (;;) {
    FUNCD_CO_ASSIGN_OR_RETURN(auto pieces, co_await ReadBody());
    if (pieces.empty()) {
      break;
    }
    for (const auto& piece : pieces) {
      if (out.size() + piece.size() > limit) {
        co_return Error{ErrorCode::kResourceExhausted,
                        StrCat("body larger than the limit of ", limit, " bytes")};
      }
      out.append(static_cast<const char*>(piece.data()), piece.size());
    }
  }
  reader_.Release();
  co_return out;
}

Framing ServerExchange::PrepareHead(std::optional<std::uint64_t> content_length) {
  const auto& req = reader_.message();
  const unsigned status = response_.result_int();
  Framing framing;
  if (ResponseHasNoBody(status, req.method())) {
    framing = Framing::kNone;
    if (content_length && req.method() != Verb::head && status != 304) {
      response_.erase(Field::content_length);
    } else if (content_length && req.method() == Verb::head) {
      response_.set(Field::content_length, std::to_string(*content_length));
    }
    response_.erase(Field::transfer_encoding);
  } else if (content_length) {
    framing = Framing::kContentLength;
    ApplyFraming(response_, framing, *content_length);
  } else if (client_version_ >= 11) {
    framing = Framing::kChunked;
    ApplyFraming(response_, framing, 0);
  } else {
    framing = Framing::kUntilClose;
    ApplyFraming(response_, framing, 0);
    close_after_ = true;
  }
  if (close_after_ || !client_keep_alive_) {
    close_after_ = true;
    response_.set(Field::connection, "close");
  } else if (client_version_ == 10) {
    response_.set(Field::connection, "keep-alive");
  }
  if (response_.find(Field::date) == response_.end()) {
    response_.set(Field::date, HttpDate());
  }
  return framing;
}

asio::awaitable<Result<void>> ServerExchange::Send(std::string_view body) {
  Framing framing = PrepareHead(body.size());
  asio::const_buffer piece(body.data(), body.size());
  connection_.ExpireAfter(options_.write_timeout);
  co_return co_await writer_.WriteHead(
      response_, framing,
      body.empty() ? std::span<const asio::const_buffer>() : std::span(&piece, 1), true);
}

asio::awaitable<Result<void>> ServerExchange::Respond(unsigned status, std::string_view body,
                                                      std::string_view content_type) {
  response_.result(status);
  if (!content_type.empty()) {
    response_.set(Field::content_type, content_type);
  }
  co_return co_await Send(body);
}

asio::awaitable<Result<void>> ServerExchange::StartStream(
    std::optional<std::uint64_t> content_length, std::span<const asio::const_buffer> first,
    bool last) {
  Framing framing = PrepareHead(content_length);
  connection_.ExpireAfter(options_.write_timeout);
  co_return co_await writer_.WriteHead(response_, framing, first, last);
}

asio::awaitable<Result<void>> ServerExchange::WriteStream(std::span<const asio::const_buffer> body,
                                                          bool last) {
  connection_.ExpireAfter(options_.write_timeout);
  co_return co_await writer_.WriteBody(body, last);
}

asio::awaitable<Result<void>> ServerExchange::FinishStream() {
  connection_.ExpireAfter(options_.write_timeout);
  co_return co_await writer_.Finish();
}

// ---------------------------------------------------------------------------------------
// Server

struct Server::Session {
  explicit Session(Socket socket) : connection(std::move(socket)) {}
  Connection connection;
  bool idle = true;
  Session* prev = nullptr;
  Session* next = nullptr;
};

struct Server::Worker {
  explicit Worker(asio::io_context& c) : context(c) {}
  asio::io_context& context;
  std::vector<Acceptor> acceptors;
  Session* sessions = nullptr;  // intrusive list of live connections on this thread
  bool stopping = false;

  void Link(Session* s) {
    s->next = sessions;
    if (sessions != nullptr) {
      sessions->prev = s;
    }
    sessions = s;
  }
  void Unlink(Session* s) {
    if (s->prev != nullptr) {
      s->prev->next = s->next;
    } else {
      sessions = s->next;
    }
    if (s->next != nullptr) {
      s->next->prev = s->prev;
    }
  }
};

Server::Server(std::vector<asio::io_context*> contexts, Handler& handler, ServerOptions options)
    : handler_(handler), options_(options) {
  FUNCD_CHECK(!contexts.empty());
  for (asio::io_context* context : contexts) {
    workers_.push_back(std::make_unique<Worker>(*context));
  }
}

Server::~Server() = default;

Result<void> Server::AddListener(const GenericEndpoint& endpoint, bool reuse_port) {
  for (auto& worker : workers_) {
    Acceptor acceptor(worker->context);
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec && reuse_port) {
      int one = 1;
      if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
          0) {
        ec = error_code(errno, boost::system::system_category());
      }
    }
    if (!ec) {
      acceptor.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor.listen(4096, ec);
    }
    if (ec) {
      return Unexpected(ErrorCode::kUnavailable, StrCat("listen: ", ec.message()));
    }
    worker->acceptors.push_back(std::move(acceptor));
    if (!reuse_port) {
      break;  // a unix socket path can be bound once; the first thread accepts for all
    }
  }
  return Ok();
}

Result<std::uint16_t> Server::Listen(const std::string& address, std::uint16_t port) {
  error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat("bad listen address \"", address, "\""));
  }
  asio::ip::tcp::endpoint tcp_endpoint(ip, port);
  if (port == 0) {
    // Bind the first acceptor to learn the port, then bind the others to the same one.
    Acceptor probe(workers_.front()->context);
    GenericEndpoint endpoint(tcp_endpoint);
    probe.open(endpoint.protocol(), ec);
    int one = 1;
    if (!ec) {
      ::setsockopt(probe.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      probe.bind(endpoint, ec);
    }
    if (!ec) {
      probe.listen(4096, ec);
    }
    if (ec) {
      return Unexpected(ErrorCode::kUnavailable, StrCat("listen: ", ec.message()));
    }
    sockaddr_storage storage{};
    socklen_t len = sizeof(storage);
    ::getsockname(probe.native_handle(), reinterpret_cast<sockaddr*>(&storage), &len);
    port =
        ntohs(storage.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    workers_.front()->acceptors.push_back(std::move(probe));
    tcp_endpoint.port(port);
    for (size_t i = 1; i < workers_.size(); ++i) {
      Acceptor acceptor(workers_[i]->context);
      acceptor.open(endpoint.protocol(), ec);
      ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      acceptor.bind(GenericEndpoint(tcp_endpoint), ec);
      if (!ec) {
        acceptor.listen(4096, ec);
      }
      if (ec) {
        return Unexpected(ErrorCode::kUnavailable, StrCat("listen: ", ec.message()));
      }
      workers_[i]->acceptors.push_back(std::move(acceptor));
    }
    return port;
  }
  FUNCD_RETURN_IF_ERROR(AddListener(GenericEndpoint(tcp_endpoint), workers_.size() > 1));
  return port;
}

Result<void> Server::ListenUnix(const std::string& path) {
  ::unlink(path.c_str());
  return AddListener(GenericEndpoint(asio::local::stream_protocol::endpoint(path)), false);
}

Result<void> Server::Adopt(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return Unexpected(ErrorCode::kInvalidArgument, "adopted descriptor is not a socket");
  }
  int protocol = storage.ss_family == AF_UNIX ? 0 : IPPROTO_TCP;
  Acceptor acceptor(workers_.front()->context);
  error_code ec;
  acceptor.assign(asio::generic::stream_protocol(storage.ss_family, protocol), fd, ec);
  if (ec) {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat("adopt listener: ", ec.message()));
  }
  workers_.front()->acceptors.push_back(std::move(acceptor));
  return Ok();
}

void Server::Start() {
  for (auto& worker : workers_) {
    for (size_t i = 0; i < worker->acceptors.size(); ++i) {
      asio::co_spawn(worker->context, AcceptLoop(*worker, i), LogExceptions{"accept"});
    }
  }
}

asio::awaitable<void> Server::AcceptLoop(Worker& worker, std::size_t acceptor_index) {
  for (;;) {
    if (worker.stopping || acceptor_index >= worker.acceptors.size()) {
      co_return;
    }
    auto [ec, socket] =
        co_await worker.acceptors[acceptor_index].async_accept(kUseAwaitableNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || worker.stopping) {
        co_return;
      }
      // Out of descriptors or memory: back off instead of spinning.
      Logf("accept: %s", ec.message().c_str());
      asio::steady_timer pause(worker.context, std::chrono::milliseconds(20));
      co_await pause.async_wait(kUseAwaitableNoThrow);
      continue;
    }
    // Connections go to the I/O threads in turn. Each thread's acceptor takes what the
    // kernel gives it (SO_REUSEPORT spreads connections by a hash of their addresses), so two
    // connections would share one thread half of the time: a waste when each request
    // blocks its thread for a while (fwatchdog's spawns).
    Worker& target =
        *workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
    if (&target == &worker) {
      asio::co_spawn(worker.context, ServeConnection(worker, Socket(std::move(socket))),
                     LogExceptions{"connection"});
      continue;
    }
    const asio::generic::stream_protocol protocol = socket.local_endpoint().protocol();
    error_code release_ec;
    const int fd = socket.release(release_ec);
    if (release_ec) {
      continue;  // the socket is closed with it
    }
    asio::post(target.context, [this, &target, protocol, fd] {
      Socket moved(target.context);
      error_code assign_ec;
      moved.assign(protocol, fd, assign_ec);
      if (assign_ec) {
        ::close(fd);
        return;
      }
      asio::co_spawn(target.context, ServeConnection(target, std::move(moved)),
                     LogExceptions{"connection"});
    });
  }
}

asio::awaitable<void> Server::ServeConnection(Worker& worker, Socket socket) {
  SetNoDelay(socket);
  const std::string remote = FormatPeer(socket);
  Session session(std::move(socket));
  Connection& connection = session.connection;
  worker.Link(&session);
  connections_.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    if (worker.stopping) {
      break;
    }
    session.idle = true;
    connection.ExpireAfter(connection.buffer().size() > 0 ? options_.read_timeout
                                                          : options_.idle_timeout);
    RequestReader reader(connection, options_.header_limit);
    auto head = co_await reader.ReadHead();
    if (!head) {
      const Error& error = head.error();
      if (error.code == ErrorCode::kInvalidArgument ||
          error.code == ErrorCode::kResourceExhausted) {
        std::string_view status_line = error.code == ErrorCode::kInvalidArgument
                                           ? "HTTP/1.1 400 Bad Request\r\n"
                                           : "HTTP/1.1 431 Request Header Fields Too Large\r\n";
        std::string reply = StrCat(status_line,
                                   "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Connection: close\r\nContent-Length: ",
                                   error.message.size(), "\r\n\r\n", error.message);
        connection.ExpireAfter(options_.write_timeout);
        (void)co_await connection.Write(asio::const_buffer(reply.data(), reply.size()));
      }
      break;
    }
    session.idle = false;
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    ServerExchange exchange(connection, reader, options_, remote);
    try {
      co_await handler_.Serve(exchange);
    } catch (const std::exception& e) {
      Logf("handler failed: %s", e.what());
      exchange.CloseAfterResponse();
    }
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (exchange.upgraded()) {
      break;
    }
    if (!exchange.response_started() && connection.is_open() && !connection.expired()) {
      exchange.CloseAfterResponse();
      (void)co_await exchange.Respond(500, "internal error: no response\n");
    }
    if (!exchange.response_finished() || exchange.close_after()) {
      break;
    }
    if (!reader.done()) {
      connection.ExpireAfter(options_.read_timeout);
      if (!co_await reader.Discard(options_.discard_limit)) {
        break;
      }
    }
  }
  connection.Close();
  worker.Unlink(&session);
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

asio::awaitable<void> Server::Shutdown(std::chrono::nanoseconds drain) {
  // Stop accepting and close idle connections, on each worker's own thread.
  for (auto& worker_ptr : workers_) {
    Worker* worker = worker_ptr.get();
    asio::post(worker->context, [worker] {
      worker->stopping = true;
      for (Acceptor& acceptor : worker->acceptors) {
        error_code ignored;
        acceptor.close(ignored);
      }
      for (Session* s = worker->sessions; s != nullptr; s = s->next) {
        if (s->idle) {
          s->connection.Close();
        }
      }
    });
  }
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  for (auto& worker_ptr : workers_) {
    Worker* worker = worker_ptr.get();
    asio::post(worker->context, [worker] {
      for (Session* s = worker->sessions; s != nullptr; s = s->next) {
        s->connection.Close();
      }
    });
  }
  const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (connections() > 0 && std::chrono::steady_clock::now() < hard_deadline) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
}

}  // namespace funcd::http
