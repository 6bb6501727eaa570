#pragma once

// The client side of the OpenFaaS REST API for the funcd commands: gateway URL resolution as
// faas-cli does it (contracts §7.3), blocking requests with the stored credentials, and
// streamed responses (logs, function output). Not thread-safe; each call runs its own
// io_context until it finishes.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/message.h"

namespace funcd::cli {

inline constexpr std::string_view kDefaultGateway = "http://127.0.0.1:8080";

// faas-cli's order: the flag (when not the default) > the stack's provider.gateway (when not
// the default) > $OPENFAAS_URL > the default; lower-cased, without trailing '/', with http://
// added when there is no scheme.
std::string ResolveGatewayUrl(const std::string& flag, const std::string& stack_gateway,
                              const std::string& env_url);

struct GatewayResponse {
  unsigned status = 0;
  http::Fields headers;
  std::string body;  // empty when it was streamed to a sink
  std::string Header(std::string_view name) const {
    return std::string(http::FieldValue(headers, name));
  }
};

struct GatewayRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/system/functions?namespace=x"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool authenticated = true;  // send the stored credentials
  // For the whole exchange without a sink; with one, until the response head arrives (the
  // body may stream for as long as the server sends it).
  std::chrono::nanoseconds timeout = std::chrono::seconds(60);
};

// Receives body bytes as they arrive.
using BodySink = std::function<void(std::string_view piece)>;

class GatewayClient {
 public:
  // `gateway` as ResolveGatewayUrl returns it; `authorization` the Authorization header value
  // for management calls (none: anonymous). With `debug` (FAAS_DEBUG=1), requests and
  // response statuses are printed to stderr, credentials redacted.
  GatewayClient(std::string gateway, std::optional<std::string> authorization, bool debug);

  const std::string& gateway() const { return gateway_; }

  // Sends `request`. With `sink`, the body of a 2xx response goes to the sink as it arrives;
  // other bodies are returned whole. Errors: kInvalidArgument (gateway URL), kUnavailable
  // (cannot connect: the message says where and how to point elsewhere), kDeadlineExceeded.
  Result<GatewayResponse> Send(const GatewayRequest& request, const BodySink& sink = nullptr);

  // A management call: credentials, and Content-Type: application/json when there is a body.
  Result<GatewayResponse> Call(std::string method, std::string target, std::string body = "");

 private:
  const std::string gateway_;
  const std::optional<std::string> authorization_;
  const bool debug_;
};

// The error for a response that was not what a command expected: 401 gives the login hint,
// others "unexpected status CODE from the gateway: BODY".
Error UnexpectedStatus(const GatewayResponse& response, std::string_view doing);

// Percent-encodes a query value.
std::string QueryEscape(std::string_view value);

}  // namespace funcd::cli
