#pragma once

// The request-to-process contract of the forking watchdogs: Http_* environment variables
// (CGI style) and the marshal_request JSON envelope.

#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace funcd::watchdog {

// Go's textproto.CanonicalMIMEHeaderKey: "x-call-id" -> "X-Call-Id"; keys with characters
// outside the token set are returned unchanged.
std::string CanonicalHeaderKey(std::string_view key);

enum class CgiFlavor {
  kClassic,     // adds Http_ContentLength, Http_Content_Length and Http_Host
  kOfWatchdog,  // streaming / serializing modes
};

// The process environment for one request: `base` ("K=V" entries), then Http_<Header> for
// the first value of each request header, Http_Method, Http_Query and Http_Path when
// non-empty, Http_Transfer_Encoding, and for the classic flavor the content length and host.
// Later entries replace earlier ones with the same key.
std::vector<std::string> BuildCgiEnvironment(const std::vector<std::string>& base,
                                             const http::RequestHead& head,
                                             std::int64_t content_length, CgiFlavor flavor);

// {"header":{"Key":["v1",...],...},"body":{"raw":"<base64>"}} with keys sorted, as the
// classic watchdog's marshal_request=true sends on stdin.
std::string MarshalRequest(const http::RequestHead& head, std::string_view body);

}  // namespace funcd::watchdog
