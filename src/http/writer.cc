#include "http/writer.h"

#include <cstdio>

namespace funcd::http {

namespace {
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
}  // namespace

void MessageWriter::FrameBody(std::span<const asio::const_buffer> body, bool last) {
  std::size_t size = 0;
  for (const auto& piece : body) {
    size += piece.size();
  }
  body_bytes_ += size;
  if (framing_ == Framing::kChunked) {
    if (size > 0) {
      int n = std::snprintf(chunk_size_line_, sizeof(chunk_size_line_), "%zx\r\n", size);
      gather_.emplace_back(chunk_size_line_, static_cast<std::size_t>(n));
      gather_.insert(gather_.end(), body.begin(), body.end());
      gather_.emplace_back(kCrlf.data(), kCrlf.size());
    }
    if (last) {
      gather_.emplace_back(kLastChunk.data(), kLastChunk.size());
    }
  } else if (framing_ != Framing::kNone) {
    gather_.insert(gather_.end(), body.begin(), body.end());
  }
  if (last) {
    finished_ = true;
  }
}

asio::awaitable<Result<void>> MessageWriter::WriteSerializedHead(
    Framing framing, std::span<const asio::const_buffer> body, bool last) {
  framing_ = framing;
  gather_.clear();
  gather_.emplace_back(head_.data(), head_.size());
  FrameBody(body, last);
  head_written_ = true;
  co_return co_await connection_.Write(gather_);
}

asio::awaitable<Result<void>> MessageWriter::WriteBody(std::span<const asio::const_buffer> body,
                                                       bool last) {
  gather_.clear();
  FrameBody(body, last);
  if (gather_.empty()) {
    co_return Ok();
  }
  co_return co_await connection_.Write(gather_);
}

asio::awaitable<Result<void>> MessageWriter::Finish() {
  if (finished_) {
    co_return Ok();
  }
  co_return co_await WriteBody({}, true);
}

}  // namespace funcd::http
