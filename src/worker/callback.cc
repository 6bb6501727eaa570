#include "worker/callback.h"

#include <unordered_map>

#include "common/strings.h"
#include "http/client.h"
#include "http/reader.h"
#include "http/writer.h"

namespace funcd::worker {

namespace {

using Clock = std::chrono::steady_clock;

// Pools beyond this many callback hosts per I/O thread are dropped wholesale (callers choose
// the URLs; their number must not grow memory without bound).
constexpr std::size_t kMaxPools = 256;
constexpr std::uint64_t kMaxReceiverBody = 1 << 20;

// Keep-alive pools of one io_context, one per callback host. An Asio service of that
// context, so that pools and sockets go away with it. Shared pointers: a coroutine keeps its
// pool while another one drops it from the map.
class CallbackPools final : public asio::execution_context::service {
 public:
  using key_type = CallbackPools;
  static inline asio::execution_context::id id;
  explicit CallbackPools(asio::execution_context& context)
      : asio::execution_context::service(context) {}

  std::shared_ptr<http::ConnectionPool> Find(const std::string& authority) const {
    auto it = pools_.find(authority);
    return it == pools_.end() ? nullptr : it->second;
  }
  std::shared_ptr<http::ConnectionPool> Add(const std::string& authority,
                                            asio::any_io_executor executor,
                                            http::Endpoint endpoint) {
    if (pools_.size() >= kMaxPools) {
      pools_.clear();
    }
    http::PoolOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.max_idle = 64;
    auto pool =
        std::make_shared<http::ConnectionPool>(std::move(executor), std::move(endpoint), options);
    pools_[authority] = pool;
    return pool;
  }
  void Drop(const std::string& authority) { pools_.erase(authority); }
  void shutdown() override { pools_.clear(); }

 private:
  std::unordered_map<std::string, std::shared_ptr<http::ConnectionPool>> pools_;
};

asio::awaitable<Result<http::Endpoint>> Resolve(http::Url url) {
  error_code ec;
  const auto address = asio::ip::make_address(url.host, ec);
  if (!ec) {
    co_return http::Endpoint(asio::ip::tcp::endpoint(address, url.port));
  }
  asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [error, results] =
      co_await resolver.async_resolve(url.host, std::to_string(url.port), kUseAwaitableNoThrow);
  if (error || results.empty()) {
    co_return MakeError(ErrorCode::kUnavailable,
                        StrCat("cannot resolve ", url.host, ": ", error.message()));
  }
  asio::ip::tcp::endpoint chosen = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      chosen = entry.endpoint();
      break;
    }
  }
  co_return http::Endpoint(chosen);
}

// One POST through `pool`; the receiver's status. Retries once on a fresh connection when a
// pooled one turns out to be closed before any answer.
asio::awaitable<Result<unsigned>> SendOnce(std::shared_ptr<http::ConnectionPool> pool,
                                           const http::RequestHead& head, std::string_view body,
                                           Clock::time_point deadline) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::unique_ptr<http::Connection>> acquired =
        MakeError(ErrorCode::kUnavailable, "no connection");
    if (attempt == 0) {
      acquired = co_await pool->Acquire(deadline);
    } else {
      acquired = co_await pool->Connect(deadline);
    }
    if (!acquired) {
      co_return std::move(acquired).error();
    }
    std::unique_ptr<http::Connection> connection = std::move(*acquired);
    connection->ExpireAt(deadline);
    const bool reused = connection->reused;
    http::MessageWriter writer(*connection);
    asio::const_buffer piece(body.data(), body.size());
    auto wrote =
        co_await writer.WriteHead(head, http::Framing::kContentLength, std::span(&piece, 1), true);
    if (!wrote) {
      if (reused) {
        continue;
      }
      co_return std::move(wrote).error();
    }
    std::optional<http::ResponseReader> interim;  // 1xx heads come before the final one
    for (;;) {
      http::ResponseReader& reader = interim.emplace(*connection);
      auto read = co_await reader.ReadHead();
      if (!read) {
        if (reused && !reader.received_anything()) {
          break;  // a pooled connection the receiver had closed: try a fresh one
        }
        co_return std::move(read).error();
      }
      const unsigned status = reader.message().result_int();
      if (status >= 100 && status < 200) {
        continue;
      }
      const bool keep_alive = reader.message().keep_alive();
      auto drained = co_await reader.Discard(kMaxReceiverBody);
      if (drained && keep_alive && reader.done()) {
        pool->Release(std::move(connection));
      }
      co_return status;
    }
  }
  co_return MakeError(ErrorCode::kUnavailable, "the callback receiver closed the connection");
}

bool Final(unsigned status) { return status < 500 && status != 408 && status != 429; }

}  // namespace

asio::awaitable<CallbackResult> PostCallback(std::string url_text, http::Fields headers,
                                             std::string body, CallbackOptions options) {
  CallbackResult result;
  auto url = http::ParseUrl(url_text);
  if (!url || url->scheme != "http") {
    result.error = url ? "only http:// callback URLs are supported" : url.error().message;
    co_return result;
  }
  http::RequestHead head(std::move(headers));
  head.method(http::Verb::post);
  head.target(url->target);
  head.version(11);
  head.set(http::Field::host, url->HostHeader());
  http::ApplyFraming(head, http::Framing::kContentLength, body.size());
  const std::string authority = StrCat(url->host, ":", url->port);

  auto executor = co_await asio::this_coro::executor;
  auto& pools = asio::use_service<CallbackPools>(asio::query(executor, asio::execution::context));
  asio::steady_timer timer(executor);
  std::chrono::nanoseconds backoff = options.first_backoff;
  for (int attempt = 1; attempt <= std::max(options.attempts, 1); ++attempt) {
    result.tries = attempt;
    std::shared_ptr<http::ConnectionPool> pool = pools.Find(authority);
    if (!pool) {
      auto endpoint = co_await Resolve(*url);
      if (endpoint) {
        pool = pools.Add(authority, executor, std::move(*endpoint));
      } else {
        result.error = endpoint.error().message;
      }
    }
    if (pool) {
      auto sent = co_await SendOnce(pool, head, body, Clock::now() + options.timeout);
      if (sent) {
        result.status = *sent;
        if (Final(*sent)) {
          result.delivered = *sent < 400;
          if (!result.delivered) {
            result.error = StrCat("the receiver answered ", *sent);
          }
          co_return result;
        }
        result.error = StrCat("the receiver answered ", *sent);
      } else {
        result.error = sent.error().message;
        pools.Drop(authority);  // resolve and connect afresh next time
      }
    }
    if (attempt < options.attempts) {
      timer.expires_after(backoff);
      co_await timer.async_wait(kUseAwaitableNoThrow);
      backoff *= 2;
    }
  }
  co_return result;
}

}  // namespace funcd::worker
