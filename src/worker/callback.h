#pragma once

// Posting an async call's result to its X-Callback-Url (contracts §4.4): keep-alive
// connections per callback host and I/O thread, and bounded retries with backoff when the
// receiver cannot be reached or answers 408, 429 or 5xx.

#include <chrono>
#include <string>

#include "common/asio.h"
#include "http/message.h"

namespace funcd::worker {

struct CallbackOptions {
  int attempts = 4;  // tries per callback, the first included
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);              // per try
  std::chrono::nanoseconds first_backoff = std::chrono::milliseconds(250);  // doubles per try
};

struct CallbackResult {
  bool delivered = false;  // the receiver answered with a status below 400 (or 4xx final)
  unsigned status = 0;     // the receiver's last status; 0 if it never answered
  int tries = 0;
  std::string error;  // the last failure, for the log
};

// POSTs `body` with `headers` to `url` (an http:// URL checked at enqueue). `headers` must
// not carry framing (Content-Length is set here). A 4xx other than 408/429 is final: the
// receiver understood and refused, retrying will not change that.
// REQUIRES: runs on an io_context executor (the connection pools are per io_context).
asio::awaitable<CallbackResult> PostCallback(std::string url, http::Fields headers,
                                             std::string body, CallbackOptions options);

}  // namespace funcd::worker
