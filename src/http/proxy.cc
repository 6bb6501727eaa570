#include "http/proxy.h"

#include <optional>
#include <vector>

#include "common/log.h"
#include "common/strings.h"
#include "http/reader.h"
#include "http/writer.h"

namespace funcd::http {

namespace {

using namespace asio::experimental::awaitable_operators;
using Pieces = std::span<const asio::const_buffer>;

// Streams the rest of the client's request body to the upstream.
asio::awaitable<Result<void>> Upload(ServerExchange& exchange, MessageWriter& writer,
                                     Connection& upstream) {
  for (;;) {
    auto pieces = co_await exchange.ReadBody();
    if (!pieces) {
      upstream.Close();  // the upstream must not take a truncated body for a whole one
      co_return Error{ErrorCode::kCancelled, StrCat("client: ", pieces.error().message)};
    }
    const bool last = exchange.body_done();
    if (pieces->empty() && !last) {
      continue;
    }
    auto wrote = co_await writer.WriteBody(*pieces, last);
    if (!wrote) {
      co_return wrote;
    }
    if (last) {
      co_return Ok();
    }
  }
}

asio::awaitable<void> Pump(Connection& from, Connection& to, std::chrono::nanoseconds idle) {
  for (;;) {
    auto& buffer = from.buffer();
    if (buffer.size() > 0) {
      to.ExpireAfter(idle);
      auto wrote = co_await to.Write(buffer.data());
      if (!wrote) {
        from.Close();
        to.Close();
        co_return;
      }
      buffer.consume(buffer.size());
    }
    from.ExpireAfter(idle);
    auto n = co_await from.ReadSome(64 * 1024);
    if (!n || *n == 0) {
      if (n) {
        to.ShutdownSend();  // half-close: let the other direction finish
      } else {
        to.Close();
      }
      co_return;
    }
  }
}

struct Relay {
  ServerExchange& exchange;
  const ProxyOptions& options;
  ProxyResult result;
};

// Reads the upstream response and streams it to the client. Returns whether the upstream
// connection can be reused.
asio::awaitable<Result<bool>> RelayResponse(Relay& relay, Connection& upstream,
                                            bool* no_response_bytes, bool upgrade) {
  ServerExchange& exchange = relay.exchange;
  std::optional<ResponseReader> reader;
  for (;;) {
    ResponseReader& r = reader.emplace(upstream);
    if (exchange.head().method() == Verb::head) {
      r.SkipBody();
    }
    auto head = co_await r.ReadHead();
    if (!head) {
      *no_response_bytes = !r.received_anything();
      co_return head.error();
    }
    unsigned status = r.message().result_int();
    if (status == 101 || status < 100 || status >= 200) {
      break;
    }
  }
  ResponseReader& r = *reader;
  const unsigned status = r.message().result_int();
  relay.result.status = status;
  const bool keep_alive = r.message().keep_alive() && !r.needs_eof();
  if (status == 101 && upgrade) {
    ResponseHead& head = exchange.response();
    head = std::move(r.message().base());
    StripHopByHop(head, /*keep_upgrade=*/true);
    if (relay.options.on_response_head) {
      relay.options.on_response_head(head);
    }
    relay.result.response_started = true;
    FUNCD_CO_RETURN_IF_ERROR(co_await exchange.StartStream(std::nullopt, {}, true));
    exchange.MarkUpgraded();
    upstream.ClearDeadline();
    co_await Tunnel(exchange.connection(), upstream, relay.options.tunnel_idle_timeout);
    co_return false;
  }
  std::optional<std::uint64_t> length = r.content_length();
  ResponseHead& head = exchange.response();
  head = std::move(r.message().base());
  StripHopByHop(head);
  if (relay.options.on_response_head) {
    relay.options.on_response_head(head);
  }
  // Send what already arrived of the body together with the head.
  Pieces first;
  if (!r.done() && upstream.buffer().size() > 0) {
    FUNCD_CO_ASSIGN_OR_RETURN(first, co_await r.ReadBody());
  }
  relay.result.response_started = true;
  if (ResponseHasNoBody(status, exchange.head().method())) {
    length = std::nullopt;
    if (exchange.head().method() == Verb::head) {
      length = r.content_length();
    }
  } else if (!length && r.done()) {
    length = 0;
  }
  auto started = co_await exchange.StartStream(length, first, r.done());
  if (!started) {
    co_return Error{ErrorCode::kCancelled, StrCat("client: ", started.error().message)};
  }
  while (!r.done()) {
    auto pieces = co_await r.ReadBody();
    if (!pieces) {
      co_return pieces.error();  // cut short: the caller closes the client connection
    }
    auto wrote = co_await exchange.WriteStream(*pieces, r.done());
    if (!wrote) {
      co_return Error{ErrorCode::kCancelled, StrCat("client: ", wrote.error().message)};
    }
  }
  r.Release();
  if (!exchange.response_finished()) {
    auto finished = co_await exchange.FinishStream();
    if (!finished) {
      co_return Error{ErrorCode::kCancelled, StrCat("client: ", finished.error().message)};
    }
  }
  co_return keep_alive;
}

}  // namespace

asio::awaitable<ProxyResult> Proxy(ServerExchange& exchange, ConnectionPool& pool,
                                   ProxyOptions options) {
  Relay relay{exchange, options, {}};
  RequestHead& head = exchange.head();
  const bool upgrade = IsUpgradeRequest(head);
  RequestReader& reader = exchange.reader();
  const std::optional<std::uint64_t> length = reader.content_length();
  const bool chunked = reader.chunked();
  StripHopByHop(head, upgrade);
  head.erase(Field::expect);  // we answer "100 Continue" ourselves
  head.version(11);

  // Body bytes to send with the head: everything when buffering, else what already arrived.
  std::string buffered;
  Pieces first;
  asio::const_buffer buffered_piece;
  Framing framing = Framing::kNone;
  std::uint64_t framing_length = 0;
  if (options.buffer_request_body && !reader.done()) {
    auto all = co_await exchange.ReadAll(options.buffer_limit);
    if (!all) {
      relay.result.outcome = all.error();
      co_return relay.result;
    }
    buffered = std::move(*all);
    buffered_piece = asio::const_buffer(buffered.data(), buffered.size());
    if (!buffered.empty()) {
      first = Pieces(&buffered_piece, 1);
    }
    framing = Framing::kContentLength;
    framing_length = buffered.size();
  } else {
    if (length) {
      framing = Framing::kContentLength;
      framing_length = *length;
    } else if (chunked) {
      framing = Framing::kChunked;
    }
    if (!reader.done() && exchange.connection().buffer().size() > 0) {
      auto pieces = co_await exchange.ReadBody();
      if (!pieces) {
        relay.result.outcome = Error{ErrorCode::kCancelled, pieces.error().message};
        co_return relay.result;
      }
      first = *pieces;
    }
  }
  ApplyFraming(head, framing, framing_length);
  const bool body_complete = reader.done() || options.buffer_request_body;

  ConnectionPool* upstream_pool = &pool;
  int reroutes = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // No co_await inside ?: — g++ 12 destroys the temporary twice.
    Result<std::unique_ptr<Connection>> acquired = Error{ErrorCode::kUnavailable, ""};
    if (attempt == 0) {
      acquired = co_await upstream_pool->Acquire(options.deadline);
    } else {
      acquired = co_await upstream_pool->Connect(options.deadline);
    }
    if (!acquired) {
      // Nothing was sent: another upstream may take the request.
      constexpr int kMaxReroutes = 3;
      if (options.reroute != nullptr && acquired.error().code == ErrorCode::kUnavailable &&
          reroutes < kMaxReroutes) {
        ++reroutes;
        if (ConnectionPool* next = co_await options.reroute->Next(acquired.error())) {
          upstream_pool = next;
          attempt = -1;  // a pooled connection of the next upstream first
          continue;
        }
      }
      relay.result.outcome = acquired.error();
      co_return relay.result;
    }
    std::unique_ptr<Connection> upstream = std::move(*acquired);
    if (options.deadline == SteadyTime::max()) {
      upstream->ClearDeadline();
    } else {
      upstream->ExpireAt(options.deadline);
    }
    MessageWriter writer(*upstream);
    auto wrote = co_await writer.WriteHead(head, framing, first, body_complete);
    bool no_response_bytes = true;
    Result<bool> relayed = Error{ErrorCode::kUnavailable, ""};
    if (!wrote) {
      relayed = wrote.error();
    } else if (body_complete) {
      relayed = co_await RelayResponse(relay, *upstream, &no_response_bytes, upgrade);
    } else {
      auto [uploaded, downloaded] =
          co_await (Upload(exchange, writer, *upstream) &&
                    RelayResponse(relay, *upstream, &no_response_bytes, upgrade));
      relayed = std::move(downloaded);
      if (relayed && !uploaded) {
        relayed = false;  // response done but the request body broke: do not reuse
      }
    }
    if (relayed) {
      if (*relayed && writer.finished()) {
        upstream_pool->Release(std::move(upstream));
      }
      relay.result.outcome = Ok();
      co_return relay.result;
    }
    // A pooled connection the upstream had already closed: replay on a fresh one if the
    // request can be sent again and nothing of a response arrived.
    const bool stale = upstream->reused && no_response_bytes && body_complete &&
                       !relay.result.response_started &&
                       relayed.error().code == ErrorCode::kUnavailable;
    if (!stale) {
      relay.result.outcome = std::move(relayed).error();
      co_return relay.result;
    }
  }
  relay.result.outcome = Error{ErrorCode::kUnavailable, "upstream closed the connection"};
  co_return relay.result;
}

asio::awaitable<void> Tunnel(Connection& a, Connection& b, std::chrono::nanoseconds idle_timeout) {
  co_await (Pump(a, b, idle_timeout) && Pump(b, a, idle_timeout));
  a.Close();
  b.Close();
}

}  // namespace funcd::http
