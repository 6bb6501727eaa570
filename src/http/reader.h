#pragma once

// Reads one HTTP/1.1 message from a Connection: the head in one piece, then the body as
// views into the connection's read buffer (no copies), as it arrives.

#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "http/connection.h"
#include "http/span_body.h"

namespace funcd::http {

template <bool kIsRequest>
class MessageReader {
 public:
  using Parser = boost::beast::http::parser<kIsRequest, SpanBody>;
  using Message = typename Parser::value_type;

  // REQUIRES: `connection` outlives the reader.
  explicit MessageReader(Connection& connection, std::uint32_t header_limit = 1 << 20);
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;
  ~MessageReader();

  // Reads until the head is complete. Errors: kUnavailable with message "eof" when the peer
  // closed before sending anything, kUnavailable (reset, early close), kInvalidArgument
  // (malformed), kResourceExhausted (head over the limit), kDeadlineExceeded.
  asio::awaitable<Result<void>> ReadHead();

  // For responses: the request was HEAD (or the status has no body) - do not expect one.
  void SkipBody() { parser_.skip(true); }

  Message& message() { return parser_.get(); }
  const Message& message() const { return parser_.get(); }
  bool head_done() const { return parser_.is_header_done(); }
  bool done() const { return parser_.is_done(); }
  bool chunked() const { return parser_.chunked(); }
  // The body ends when the peer closes the connection (no Content-Length, not chunked).
  bool needs_eof() const { return parser_.need_eof(); }
  std::optional<std::uint64_t> content_length() const;
  // True when the message has a body that has not been read yet, or may have one.
  bool has_body() const { return !parser_.is_done(); }
  // Bytes received from the peer for this message (head included).
  bool received_anything() const { return received_any_; }

  // Returns the next body bytes as views valid until the next call (or Release()). An empty
  // span means the body is complete. Errors: kUnavailable (peer closed early),
  // kInvalidArgument (bad chunking), kDeadlineExceeded, kResourceExhausted (body limit).
  asio::awaitable<Result<std::span<const asio::const_buffer>>> ReadBody();

  // Consumes the bytes behind the last views from the read buffer.
  void Release();

  // Reads the rest of the body into a string. Errors as ReadBody; kResourceExhausted when
  // it is longer than `limit`.
  asio::awaitable<Result<std::string>> ReadAll(std::uint64_t limit);

  // Reads and drops the rest of the body if it is at most `limit` bytes.
  asio::awaitable<Result<void>> Discard(std::uint64_t limit);

 private:
  Error TranslateParseError(const error_code& ec) const;

  Connection& connection_;
  Parser parser_;
  std::size_t pending_consume_ = 0;
  bool received_any_ = false;
};

extern template class MessageReader<true>;
extern template class MessageReader<false>;

using RequestReader = MessageReader<true>;
using ResponseReader = MessageReader<false>;

}  // namespace funcd::http
