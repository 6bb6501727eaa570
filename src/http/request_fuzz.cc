// libFuzzer target: HTTP/1.1 request parsing with funcd's limits and zero-copy body views,
// fed in arbitrary fragments, then everything derived from a parsed head (CGI environment,
// target split, percent decoding, hop-by-hop stripping, Go durations from X-Timeout).
//
// Mirrors MessageReader: head parse (not eager) under the header limit, then eager body
// parsing whose views must stay inside the bytes handed to the parser.

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/config.h"
#include "http/message.h"
#include "http/span_body.h"
#include "watchdog/cgi.h"

namespace {

using funcd::http::SpanBody;
namespace beast_http = boost::beast::http;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;

void Exercise(const funcd::http::RequestHead& head) {
  std::vector<std::string> env = funcd::watchdog::BuildCgiEnvironment(
      {"PATH=/bin"}, head, -1, funcd::watchdog::CgiFlavor::kClassic);
  (void)env;
  auto target = funcd::http::SplitTarget(std::string_view(head.target()));
  (void)funcd::http::PercentDecode(target.path);
  (void)funcd::http::IsUpgradeRequest(head);
  (void)funcd::watchdog::MarshalRequest(head, "body");
  (void)funcd::ParseGoDuration(funcd::http::FieldValue(head, "X-Timeout"));
  funcd::http::Fields copy = head;
  funcd::http::StripHopByHop(copy, /*keep_upgrade=*/true);
  funcd::http::StripHopByHop(copy);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  // The first byte picks the fragment size, so the parser sees every split point.
  const std::size_t step = 1 + data[0] % 64;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  beast_http::parser<true, SpanBody> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);
  parser.eager(false);

  std::string buffer;  // received, not yet consumed
  std::size_t offset = 0;
  std::size_t body_bytes = 0;
  while (!parser.is_done()) {
    if (offset < input.size()) {
      std::size_t n = std::min(step, input.size() - offset);
      buffer.append(input, offset, n);
      offset += n;
    } else if (buffer.empty() || parser.is_header_done()) {
      break;
    }
    boost::system::error_code ec;
    parser.get().body().pieces.clear();
    std::size_t used = parser.put(boost::asio::const_buffer(buffer.data(), buffer.size()), ec);
    if (ec && ec != beast_http::error::need_more) {
      break;  // malformed or over a limit: rejected, which is the point
    }
    if (used > buffer.size()) {
      std::abort();
    }
    for (const auto& piece : parser.get().body().pieces) {
      const char* begin = static_cast<const char*>(piece.data());
      // Views must point into the bytes just handed over, never elsewhere.
      if (begin < buffer.data() || begin + piece.size() > buffer.data() + used) {
        std::abort();
      }
      body_bytes += piece.size();
    }
    buffer.erase(0, used);
    if (parser.is_header_done() && !parser.eager()) {
      parser.eager(true);
      Exercise(parser.get().base());
    }
    if (ec == beast_http::error::need_more && offset >= input.size()) {
      break;
    }
  }
  if (body_bytes > input.size()) {
    std::abort();
  }
  return 0;
}
