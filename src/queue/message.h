#pragma once

// An asynchronous call as the queue stores it: the whole request made to
// /async-function/NAME (contracts §4.1, §4.2), and its binary encoding.
//
// The encoding keeps the body apart from the rest ("meta"), so that a backend can store the
// body as its own blob without copying it into a larger buffer:
//
//   meta := version(1 byte = 1) call_id function key method path query host callback_url
//           varint(enqueued_at) varint(header count) (name value)*
//   string := varint(length) bytes
//
// EncodeFramed/DecodeFramed put meta and body into one buffer (varint(meta length) meta body)
// for backends that carry one payload per message (JetStream).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace funcd::queue {

struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

struct Message {
  std::string call_id;           // X-Call-Id: the caller's or one made up at enqueue
  std::string function;          // the name as called: "name" or "name.namespace"
  std::string key;               // "name.namespace", the namespace filled in
  std::string method;            // "POST"
  std::string path;              // after /async-function/NAME: "/" or "/a/b"
  std::string query;             // raw, without '?'
  std::string host;              // the original Host
  std::string callback_url;      // X-Callback-Url, "" when none
  std::int64_t enqueued_at = 0;  // Unix nanoseconds (X-Start-Time)
  std::vector<Header> headers;   // request headers, hop-by-hop ones removed
  std::string body;

  bool operator==(const Message&) const = default;
};

// False for the fields that describe one hop or the framing of a request (Connection,
// Transfer-Encoding, Content-Length, Expect, ...): a queued call does not keep them; the
// worker frames its own request.
bool IsStoredField(std::string_view name);

// Everything but the body. Never fails.
std::string EncodeMeta(const Message& message);
// Fills every field but `body` from `meta`. Errors: kInvalidArgument (truncated, unknown
// version, implausible lengths) - never aborts, whatever the bytes.
Result<void> DecodeMeta(std::string_view meta, Message& message);

// meta and body in one buffer.
std::string EncodeFramed(const Message& message);
Result<Message> DecodeFramed(std::string_view framed);

}  // namespace funcd::queue
