#pragma once

// HTTP/1.1 message heads: the Beast header types funcd uses, their serialization, and the
// header rules of proxies (hop-by-hop fields, framing).

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace funcd::http {

namespace beast_http = boost::beast::http;
using Fields = beast_http::fields;
using Field = beast_http::field;
using Verb = beast_http::verb;
using RequestHead = beast_http::request_header<Fields>;
using ResponseHead = beast_http::response_header<Fields>;

// How an outgoing message's body is delimited.
enum class Framing {
  kNone,           // no body (HEAD responses, 1xx/204/304, requests without a body)
  kContentLength,  // exactly Content-Length bytes
  kChunked,        // Transfer-Encoding: chunked
  kUntilClose,     // HTTP/1.0 peer: the body ends when the connection closes
};

// Appends the serialized head ("start line CRLF fields CRLF CRLF").
void AppendHead(std::string& out, const RequestHead& head);
void AppendHead(std::string& out, const ResponseHead& head);

// Sets the framing headers of `fields` for `framing` (Content-Length or Transfer-Encoding),
// removing the other one.
void ApplyFraming(Fields& fields, Framing framing, std::uint64_t content_length);

// Removes hop-by-hop fields (RFC 9110 §7.6.1): Connection and the fields it names,
// Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
// Transfer-Encoding, Upgrade. With keep_upgrade, Upgrade and "Connection: upgrade" stay.
void StripHopByHop(Fields& fields, bool keep_upgrade = false);

// True when the request asks to switch to the WebSocket protocol (or any Upgrade).
bool IsUpgradeRequest(const RequestHead& head);

// True when a response with this status to a request with this method has no body.
bool ResponseHasNoBody(unsigned status, Verb request_method);

// The value of a field, or an empty view.
std::string_view FieldValue(const Fields& fields, std::string_view name);

// "text/plain" from "text/plain; charset=utf-8", lower-cased comparison helper.
bool MediaTypeIs(std::string_view content_type, std::string_view media_type);

// The path and query parts of a request target ("/a/b?x=1" -> "/a/b", "x=1").
struct Target {
  std::string_view path;
  std::string_view query;
};
Target SplitTarget(std::string_view target);

// Percent-decodes a URL path ("%2e" -> "."); nullopt on malformed escapes.
std::optional<std::string> PercentDecode(std::string_view text);

// The reason phrase of a status code ("Not Found"), or "" for unknown codes.
std::string_view ReasonPhrase(unsigned status);

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); cached per second.
std::string_view HttpDate();

}  // namespace funcd::http
