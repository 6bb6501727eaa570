#include "http/client.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "common/strings.h"
#include "http/reader.h"
#include "http/writer.h"

namespace funcd::http {

std::string Url::HostHeader() const {
  if (scheme == "unix") {
    return "localhost";
  }
  bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? StrCat("[", host, "]") : host;
  if (port != 80) {
    StrAppend(out, ":", port);
  }
  return out;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  auto invalid = [&](std::string_view why) {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat("invalid URL \"", text, "\": ", why));
  };
  if (text.starts_with("unix://")) {
    url.scheme = "unix";
    url.host = std::string(text.substr(7));
    url.target = "/";
    if (url.host.empty() || url.host[0] != '/') {
      return invalid("a unix URL needs an absolute socket path");
    }
    return url;
  }
  if (!text.starts_with("http://")) {
    return invalid("only http:// URLs are supported");
  }
  std::string_view rest = text.substr(7);
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!url.target.empty() && url.target[0] == '?') {
    url.target.insert(url.target.begin(), '/');
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // credentials are not used
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return invalid("unterminated IPv6 address");
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return invalid("junk after IPv6 address");
      }
      port = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    return invalid("missing host");
  }
  url.scheme = "http";
  url.host = std::string(host);
  if (!port.empty()) {
    auto value = ParseUint(port);
    if (!value || *value == 0 || *value > 65535) {
      return invalid("bad port");
    }
    url.port = static_cast<std::uint16_t>(*value);
  }
  return url;
}

Result<Endpoint> ResolveBlocking(const Url& url) {
  if (url.scheme == "unix") {
    return Endpoint(asio::local::stream_protocol::endpoint(url.host));
  }
  error_code ec;
  auto address = asio::ip::make_address(url.host, ec);
  if (!ec) {
    return Endpoint(asio::ip::tcp::endpoint(address, url.port));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(url.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Unexpected(ErrorCode::kNotFound,
                      StrCat("cannot resolve \"", url.host, "\": ", ::gai_strerror(rc)));
  }
  asio::ip::tcp::endpoint endpoint;
  // Prefer IPv4: "localhost" servers in functions usually listen on 127.0.0.1 only.
  addrinfo* chosen = found;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  }
  std::memcpy(endpoint.data(), chosen->ai_addr, chosen->ai_addrlen);
  ::freeaddrinfo(found);
  endpoint.port(url.port);
  return Endpoint(endpoint);
}

ConnectionPool::ConnectionPool(asio::any_io_executor executor, Endpoint endpoint,
                               PoolOptions options)
    : executor_(std::move(executor)), endpoint_(std::move(endpoint)), options_(options) {}

asio::awaitable<Result<std::unique_ptr<Connection>>> ConnectionPool::Acquire(SteadyTime deadline) {
  const SteadyTime now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    if (now - connection->idle_since > options_.idle_timeout || !connection->is_open()) {
      continue;
    }
    connection->reused = true;
    co_return connection;
  }
  co_return co_await Connect(deadline);
}

asio::awaitable<Result<std::unique_ptr<Connection>>> ConnectionPool::Connect(SteadyTime deadline) {
  auto connection = std::make_unique<Connection>(Socket(executor_));
  const SteadyTime connect_deadline =
      std::min(deadline, std::chrono::steady_clock::now() + options_.connect_timeout);
  connection->ExpireAt(connect_deadline);
  auto [ec] = co_await connection->socket().async_connect(endpoint_, kUseAwaitableNoThrow);
  if (ec) {
    if (connection->expired()) {
      co_return Error{ErrorCode::kDeadlineExceeded, "connect timed out"};
    }
    co_return Error{ErrorCode::kUnavailable, StrCat("connect: ", ec.message())};
  }
  SetNoDelay(connection->socket());
  connection->reused = false;
  co_return connection;
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection) {
  if (!connection || !connection->is_open() || connection->buffer().size() > 0) {
    return;  // leftover bytes mean the peer broke framing; do not reuse
  }
  connection->ClearDeadline();
  connection->idle_since = std::chrono::steady_clock::now();
  if (idle_.size() >= options_.max_idle) {
    idle_.erase(idle_.begin());
  }
  idle_.push_back(std::move(connection));
}

namespace {

Framing RequestFraming(const RequestHead& head, const std::string& body) {
  const bool bodyless_method = head.method() == Verb::get || head.method() == Verb::head ||
                               head.method() == Verb::delete_ || head.method() == Verb::options;
  return body.empty() && bodyless_method ? Framing::kNone : Framing::kContentLength;
}

struct Attempt {
  Result<ClientResponse> result;
  bool retryable = false;  // a reused connection failed before any response byte
};

asio::awaitable<Attempt> FetchOnce(ConnectionPool& pool, Connection& connection,
                                   const RequestHead& head, const std::string& body,
                                   std::uint64_t body_limit, bool& reusable) {
  reusable = false;
  MessageWriter writer(connection);
  asio::const_buffer piece(body.data(), body.size());
  const Framing framing = RequestFraming(head, body);
  auto wrote = co_await writer.WriteHead(
      head, framing, body.empty() ? std::span<const asio::const_buffer>() : std::span(&piece, 1),
      true);
  if (!wrote) {
    co_return Attempt{wrote.error(), connection.reused};
  }
  std::optional<ResponseReader> informational;  // 1xx heads before the final one
  for (;;) {
    ResponseReader& probe = informational.emplace(connection);
    if (head.method() == Verb::head) {
      probe.SkipBody();
    }
    auto read = co_await probe.ReadHead();
    if (!read) {
      co_return Attempt{read.error(), connection.reused && !probe.received_anything()};
    }
    unsigned status = probe.message().result_int();
    if (status < 100 || status >= 200 || status == 101) {
      break;
    }
  }
  ResponseReader& reader = *informational;
  ClientResponse response;
  response.status = reader.message().result_int();
  const bool keep_alive = reader.message().keep_alive();
  auto body_read = co_await reader.ReadAll(body_limit);
  if (!body_read) {
    co_return Attempt{body_read.error(), false};
  }
  response.body = std::move(*body_read);
  response.headers = std::move(static_cast<Fields&>(reader.message().base()));
  reusable = keep_alive && reader.done();
  (void)pool;
  co_return Attempt{std::move(response), false};
}

}  // namespace

asio::awaitable<Result<ClientResponse>> Fetch(ConnectionPool& pool, RequestHead head,
                                              std::string body, std::chrono::nanoseconds timeout,
                                              std::uint64_t body_limit) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  head.version(11);
  if (head.find(Field::host) == head.end()) {
    head.set(Field::host, "localhost");
  }
  ApplyFraming(head, RequestFraming(head, body), body.size());
  for (int attempt = 0; attempt < 2; ++attempt) {
    // No co_await inside ?: — g++ 12 destroys the temporary twice.
    Result<std::unique_ptr<Connection>> acquired = Error{ErrorCode::kUnavailable, ""};
    if (attempt == 0) {
      acquired = co_await pool.Acquire(deadline);
    } else {
      acquired = co_await pool.Connect(deadline);
    }
    FUNCD_CO_ASSIGN_OR_RETURN(auto connection, std::move(acquired));
    connection->ExpireAt(deadline);
    bool reusable = false;
    Attempt result = co_await FetchOnce(pool, *connection, head, body, body_limit, reusable);
    if (result.result.has_value()) {
      if (reusable) {
        pool.Release(std::move(connection));
      }
      co_return std::move(result.result);
    }
    if (!result.retryable) {
      co_return std::move(result.result);
    }
  }
  co_return Error{ErrorCode::kUnavailable, "upstream closed the connection"};
}

asio::awaitable<Result<ClientResponse>> FetchUrl(std::string method, std::string url_text,
                                                 Fields headers, std::string body,
                                                 std::chrono::nanoseconds timeout) {
  FUNCD_CO_ASSIGN_OR_RETURN(Url url, ParseUrl(url_text));
  FUNCD_CO_ASSIGN_OR_RETURN(Endpoint endpoint, ResolveBlocking(url));
  auto executor = co_await asio::this_coro::executor;
  ConnectionPool pool(executor, endpoint);
  RequestHead head;
  head.method_string(method);
  head.target(url.target);
  for (const auto& field : headers) {
    head.insert(field.name_string(), field.value());
  }
  if (head.find(Field::host) == head.end()) {
    head.set(Field::host, url.HostHeader());
  }
  co_return co_await Fetch(pool, std::move(head), std::move(body), timeout);
}

}  // namespace funcd::http
