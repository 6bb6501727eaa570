#include "cli/gateway_client.h"

#include <cstdio>
#include <memory>
#include <optional>

#include "common/asio.h"
#include "common/strings.h"
#include "common/version.h"
#include "http/client.h"
#include "http/reader.h"
#include "http/writer.h"

namespace funcd::cli {

namespace {

using SteadyClock = std::chrono::steady_clock;

// One exchange on a new connection. `sink` (may be null) receives a 2xx body as it arrives.
asio::awaitable<Result<GatewayResponse>> Exchange(http::Endpoint endpoint, http::RequestHead head,
                                                  std::string body,
                                                  std::chrono::nanoseconds timeout,
                                                  const BodySink* sink) {
  auto executor = co_await asio::this_coro::executor;
  http::ConnectionPool pool(executor, endpoint);
  const http::SteadyTime deadline = SteadyClock::now() + timeout;
  auto acquired = co_await pool.Connect(deadline);
  if (!acquired) {
    co_return std::move(acquired).error();
  }
  std::unique_ptr<http::Connection> connection = std::move(*acquired);
  connection->ExpireAt(deadline);

  const bool bodyless =
      body.empty() && (head.method() == http::Verb::get || head.method() == http::Verb::head ||
                       head.method() == http::Verb::delete_);
  const http::Framing framing = bodyless ? http::Framing::kNone : http::Framing::kContentLength;
  http::ApplyFraming(head, framing, body.size());
  http::MessageWriter writer(*connection);
  asio::const_buffer piece(body.data(), body.size());
  std::span<const asio::const_buffer> pieces;
  if (!body.empty()) {
    pieces = std::span<const asio::const_buffer>(&piece, 1);
  }
  auto wrote = co_await writer.WriteHead(head, framing, pieces, true);
  if (!wrote) {
    co_return std::move(wrote).error();
  }

  std::optional<http::ResponseReader> reader;
  for (;;) {  // skip 1xx heads
    reader.emplace(*connection);
    if (head.method() == http::Verb::head) {
      reader->SkipBody();
    }
    auto read = co_await reader->ReadHead();
    if (!read) {
      co_return std::move(read).error();
    }
    const unsigned status = reader->message().result_int();
    if (status < 100 || status >= 200 || status == 101) {
      break;
    }
  }
  GatewayResponse response;
  response.status = reader->message().result_int();
  response.headers = static_cast<const http::Fields&>(reader->message().base());
  const bool streaming = sink != nullptr && response.status >= 200 && response.status < 300;
  if (streaming) {
    connection->ClearDeadline();
  }
  for (;;) {
    auto chunk = co_await reader->ReadBody();
    if (!chunk) {
      co_return std::move(chunk).error();
    }
    if (chunk->empty()) {
      break;
    }
    for (const asio::const_buffer& buffer : *chunk) {
      std::string_view bytes(static_cast<const char*>(buffer.data()), buffer.size());
      if (streaming) {
        (*sink)(bytes);
      } else {
        response.body.append(bytes);
      }
    }
    reader->Release();
  }
  co_return response;
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string ResolveGatewayUrl(const std::string& flag, const std::string& stack_gateway,
                              const std::string& env_url) {
  std::string url;
  if (!flag.empty() && flag != kDefaultGateway) {
    url = flag;
  } else if (!stack_gateway.empty() && stack_gateway != kDefaultGateway) {
    url = stack_gateway;
  } else if (!env_url.empty()) {
    url = env_url;
  } else {
    url = std::string(kDefaultGateway);
  }
  url = ToLower(url);
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  if (!url.starts_with("http")) {
    url = StrCat("http://", url);
  }
  return url;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
  return out;
}

GatewayClient::GatewayClient(std::string gateway, std::optional<std::string> authorization,
                             bool debug)
    : gateway_(std::move(gateway)), authorization_(std::move(authorization)), debug_(debug) {}

Result<GatewayResponse> GatewayClient::Send(const GatewayRequest& request, const BodySink& sink) {
  if (gateway_.starts_with("https://")) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("the gateway ", gateway_,
                        " uses https, which funcd's client does not speak yet; use http:// "
                        "(funcd serve listens on plain HTTP) or a TLS-terminating proxy")};
  }
  FUNCD_ASSIGN_OR_RETURN(http::Url url, http::ParseUrl(gateway_));
  FUNCD_ASSIGN_OR_RETURN(http::Endpoint endpoint, http::ResolveBlocking(url));
  std::string base = url.target == "/" ? "" : url.target;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  http::RequestHead head;
  head.version(11);
  head.method_string(request.method);
  head.target(StrCat(base, request.target));
  head.set(http::Field::host, url.HostHeader());
  head.set(http::Field::user_agent, StrCat("funcd/", Version()));
  for (const auto& [name, value] : request.headers) {
    head.set(name, value);
  }
  if (request.authenticated && authorization_ &&
      head.find(http::Field::authorization) == head.end()) {
    head.set(http::Field::authorization, *authorization_);
  }
  if (debug_) {
    std::fprintf(stderr, "> %s %s%s\n", request.method.c_str(), gateway_.c_str(),
                 request.target.c_str());
    for (const auto& field : head) {
      const bool secret = field.name() == http::Field::authorization;
      std::fprintf(stderr, "> %.*s: %.*s\n", static_cast<int>(field.name_string().size()),
                   field.name_string().data(), secret ? 3 : static_cast<int>(field.value().size()),
                   secret ? "***" : field.value().data());
    }
    if (!request.body.empty()) {
      std::fprintf(stderr, "> %s\n", request.body.c_str());
    }
  }
  const BodySink* sink_ptr = sink ? &sink : nullptr;
  Result<GatewayResponse> result = Error{ErrorCode::kInternal, "no response"};
  try {
    result = RunSync(Exchange(endpoint, head, request.body, request.timeout, sink_ptr));
  } catch (const std::exception& e) {
    return Error{ErrorCode::kInternal, StrCat("request to ", gateway_, " failed: ", e.what())};
  }
  if (!result) {
    const Error& error = result.error();
    if (error.code == ErrorCode::kDeadlineExceeded) {
      return Error{ErrorCode::kDeadlineExceeded, StrCat("no answer from the gateway at ", gateway_,
                                                        " in time (", error.message, ")")};
    }
    return Error{ErrorCode::kUnavailable,
                 StrCat("cannot reach the gateway at ", gateway_, " (", error.message,
                        "); is funcd serve running there? Point at another gateway with -g "
                        "URL or OPENFAAS_URL")};
  }
  if (debug_) {
    std::fprintf(stderr, "< %u\n", result->status);
  }
  return result;
}

Result<GatewayResponse> GatewayClient::Call(std::string method, std::string target,
                                            std::string body) {
  GatewayRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  request.body = std::move(body);
  return Send(request);
}

Error UnexpectedStatus(const GatewayResponse& response, std::string_view doing) {
  if (response.status == 401) {
    return Error{ErrorCode::kUnauthenticated,
                 "unauthorized access, run \"funcd login\" to setup authentication for this "
                 "server"};
  }
  std::string body(TrimSpace(response.body));
  if (body.size() > 2000) {
    body = body.substr(0, 2000) + "...";
  }
  return Error{ErrorCode::kInternal,
               StrCat(doing, ": unexpected status ", response.status, " from the gateway",
                      body.empty() ? "" : StrCat(": ", body))};
}

}  // namespace funcd::cli
