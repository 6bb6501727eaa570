#pragma once

// Writes one HTTP/1.1 message to a Connection: a serialized head, then body pieces framed as
// the head says (Content-Length, chunked, or until close). Each call is one gather write, so
// a streamed response reaches the peer piece by piece (SSE, NDJSON) without buffering.

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "http/connection.h"
#include "http/message.h"

namespace funcd::http {

class MessageWriter {
 public:
  // REQUIRES: `connection` outlives the writer.
  explicit MessageWriter(Connection& connection) : connection_(connection) {}

  // Writes `head` (serialized as is; ApplyFraming first) followed by `body`. With
  // `last`, the message is complete after this write.
  template <typename Head>
  asio::awaitable<Result<void>> WriteHead(const Head& head, Framing framing,
                                          std::span<const asio::const_buffer> body = {},
                                          bool last = false) {
    head_.clear();
    head_.reserve(kHeadReserve);  // one allocation for a typical head, not one per doubling
    AppendHead(head_, head);
    return WriteSerializedHead(framing, body, last);
  }

  // Writes more body bytes; with `last`, also the end of the message.
  asio::awaitable<Result<void>> WriteBody(std::span<const asio::const_buffer> body,
                                          bool last = false);
  // Ends the message (the last chunk for chunked framing).
  asio::awaitable<Result<void>> Finish();

  bool head_written() const { return head_written_; }
  bool finished() const { return finished_; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  Framing framing() const { return framing_; }

 private:
  asio::awaitable<Result<void>> WriteSerializedHead(Framing framing,
                                                    std::span<const asio::const_buffer> body,
                                                    bool last);
  // Appends the framed body (and the terminator with `last`) to gather_.
  void FrameBody(std::span<const asio::const_buffer> body, bool last);

  static constexpr std::size_t kHeadReserve = 512;

  Connection& connection_;
  std::string head_;
  // Head, chunk framing and body pieces of one write: on the stack (in the writer) for the
  // usual few.
  boost::container::small_vector<asio::const_buffer, 8> gather_;
  char chunk_size_line_[24];
  Framing framing_ = Framing::kNone;
  bool head_written_ = false;
  bool finished_ = false;
  std::uint64_t body_bytes_ = 0;
};

}  // namespace funcd::http
