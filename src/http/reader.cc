#include "http/reader.h"

#include <boost/beast/http/error.hpp>

#include "common/strings.h"

namespace funcd::http {

namespace beast_http = boost::beast::http;

template <bool kIsRequest>
MessageReader<kIsRequest>::MessageReader(Connection& connection, std::uint32_t header_limit)
    : connection_(connection) {
  parser_.header_limit(header_limit);
  parser_.body_limit(boost::none);  // bodies are streamed; limits apply where they are buffered
  parser_.eager(false);
}

template <bool kIsRequest>
MessageReader<kIsRequest>::~MessageReader() {
  Release();
}

template <bool kIsRequest>
std::optional<std::uint64_t> MessageReader<kIsRequest>::content_length() const {
  auto length = parser_.content_length();
  if (!length) {
    return std::nullopt;
  }
  return *length;
}

template <bool kIsRequest>
Error MessageReader<kIsRequest>::TranslateParseError(const error_code& ec) const {
  if (ec == beast_http::error::header_limit) {
    return Error{ErrorCode::kResourceExhausted, "request header fields too large"};
  }
  if (ec == beast_http::error::body_limit) {
    return Error{ErrorCode::kResourceExhausted, "body too large"};
  }
  return Error{ErrorCode::kInvalidArgument, StrCat("malformed HTTP message: ", ec.message())};
}

template <bool kIsRequest>
void MessageReader<kIsRequest>::Release() {
  if (pending_consume_ > 0) {
    connection_.buffer().consume(pending_consume_);
    pending_consume_ = 0;
  }
  parser_.get().body().pieces.clear();
}

template <bool kIsRequest>
asio::awaitable<Result<void>> MessageReader<kIsRequest>::ReadHead() {
  auto& buffer = connection_.buffer();
  for (;;) {
    if (buffer.size() > 0) {
      received_any_ = true;
      error_code ec;
      std::size_t used = parser_.put(buffer.data(), ec);
      buffer.consume(used);
      if (!ec && parser_.is_header_done()) {
        parser_.eager(true);
        co_return Ok();
      }
      if (ec && ec != beast_http::error::need_more) {
        co_return TranslateParseError(ec);
      }
    }
    if (received_any_) {
      connection_.QuickAck();  // part of a head is in: the peer may wait for our ACK
    }
    FUNCD_CO_ASSIGN_OR_RETURN(std::size_t n, co_await connection_.ReadSome());
    if (n == 0) {
      if (!received_any_) {
        co_return Error{ErrorCode::kUnavailable, "eof"};
      }
      co_return Error{ErrorCode::kUnavailable, "connection closed in the middle of a head"};
    }
  }
}

template <bool kIsRequest>
asio::awaitable<Result<std::span<const asio::const_buffer>>> MessageReader<kIsRequest>::ReadBody() {
  Release();
  auto& pieces = parser_.get().body().pieces;
  auto& buffer = connection_.buffer();
  for (;;) {
    if (parser_.is_done()) {
      co_return std::span<const asio::const_buffer>();
    }
    if (buffer.size() > 0) {
      error_code ec;
      std::size_t used = parser_.put(buffer.data(), ec);
      if (ec && ec != beast_http::error::need_more) {
        pieces.clear();
        co_return TranslateParseError(ec);
      }
      if (!pieces.empty()) {
        pending_consume_ = used;  // the views point into these bytes
        co_return std::span<const asio::const_buffer>(pieces);
      }
      buffer.consume(used);
      if (parser_.is_done()) {
        continue;
      }
      if (used > 0 && buffer.size() > 0) {
        continue;  // e.g. a chunk header was parsed; try the rest before reading
      }
    }
    connection_.QuickAck();  // the head is in, the body is not: the peer may wait for our ACK
    FUNCD_CO_ASSIGN_OR_RETURN(std::size_t n, co_await connection_.ReadSome());
    if (n == 0) {
      if (parser_.need_eof()) {
        error_code ec;
        parser_.put_eof(ec);
        if (ec) {
          co_return TranslateParseError(ec);
        }
        continue;
      }
      co_return Error{ErrorCode::kUnavailable, "connection closed in the middle of a body"};
    }
  }
}

template <bool kIsRequest>
asio::awaitable<Result<std::string>> MessageReader<kIsRequest>::ReadAll(std::uint64_t limit) {
  std::string out;
  if (auto length = content_length(); length && *length <= limit) {
    out.reserve(*length);
  }
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
  Release();
  co_return out;
}

template <bool kIsRequest>
asio::awaitable<Result<void>> MessageReader<kIsRequest>::Discard(std::uint64_t limit) {
  std::uint64_t total = 0;
  for (;;) {
    FUNCD_CO_ASSIGN_OR_RETURN(auto pieces, co_await ReadBody());
    if (pieces.empty()) {
      break;
    }
    for (const auto& piece : pieces) {
      total += piece.size();
    }
    if (total > limit) {
      co_return Error{ErrorCode::kResourceExhausted, "unread body too large to skip"};
    }
  }
  Release();
  co_return Ok();
}

template class MessageReader<true>;
template class MessageReader<false>;

}  // namespace funcd::http
