// funcd invoke: calls a function with stdin as the body (contracts §7.4).

#include <algorithm>
#include <cstdio>

#include "cli/command_common.h"
#include "cli/package_store.h"
#include "common/config.h"
#include "common/strings.h"

namespace funcd::cli {

namespace {

struct InvokeFlags {
  GatewayFlags gateway;
  StackFlags stack;
  std::string name;
  std::string method = "POST";
  std::string content_type = "text/plain";
  std::vector<std::string> headers;
  std::vector<std::string> query;
  bool async = false;
  std::string sign;
  std::string key;
  std::string timeout = "5m";
};

Result<std::pair<std::string, std::string>> ParseHeader(const std::string& text) {
  const size_t colon = text.find(':');
  const size_t eq = text.find('=');
  if (colon != std::string::npos && (eq == std::string::npos || colon < eq)) {
    std::string name(TrimSpace(std::string_view(text).substr(0, colon)));
    std::string value(TrimSpace(std::string_view(text).substr(colon + 1)));
    if (!name.empty()) {
      return std::make_pair(std::move(name), std::move(value));
    }
  } else if (eq != std::string::npos && eq > 0) {
    std::fprintf(stderr, "warning: -H %s: use \"Name: Value\" (KEY=VALUE is deprecated)\n",
                 text.c_str());
    return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
  }
  return Error{ErrorCode::kInvalidArgument,
               StrCat("-H \"", text, "\" is not a header: use -H \"Name: Value\"")};
}

// The request `funcd invoke` sends: method, headers, target with the query, and the body
// from stdin (signed with --sign/--key). Errors: kInvalidArgument for bad flags.
Result<GatewayRequest> InvokeRequest(const InvokeFlags& flags) {
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  std::string method = flags.method;
  for (char& c : method) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
    return Error{ErrorCode::kInvalidArgument,
                 "the --method or -m flag must take one of these values (GET, POST, PUT, PATCH, "
                 "DELETE)"};
  }
  if (flags.sign.empty() != flags.key.empty()) {
    return Error{ErrorCode::kInvalidArgument, "--sign HEADER and --key SECRET go together"};
  }
  auto timeout = ParseGoDuration(flags.timeout);
  if (!timeout) {
    return Error{ErrorCode::kInvalidArgument, "--timeout is a duration (30s)"};
  }
  GatewayRequest request;
  request.method = method;
  request.authenticated = false;  // invocations carry no gateway credentials
  request.timeout = *timeout;
  request.headers.emplace_back("Content-Type", flags.content_type);
  for (const std::string& header : flags.headers) {
    FUNCD_ASSIGN_OR_RETURN(auto parsed, ParseHeader(header));
    request.headers.push_back(std::move(parsed));
  }
  FUNCD_ASSIGN_OR_RETURN(auto query, ParseKeyValues(flags.query, "query", true));
  std::string name = flags.name;
  if (name.find('.') == std::string::npos) {
    // As faas-cli: the namespace is always named (openfaas-fn by default).
    const std::string& ns = flags.gateway.namespace_name;
    name = StrCat(name, ".", ns.empty() ? "openfaas-fn" : ns);
  }
  request.target = StrCat(flags.async ? "/async-function/" : "/function/", name);
  std::string separator = "?";
  for (const auto& [k, v] : query) {  // sorted by key, as Go's url.Values.Encode
    StrAppend(request.target, separator, QueryEscape(k), "=", QueryEscape(v));
    separator = "&";
  }
  request.body = ReadStdin();
  if (!flags.sign.empty()) {
    FUNCD_ASSIGN_OR_RETURN(std::string signature, HmacSha256Hex(flags.key, request.body));
    request.headers.emplace_back(flags.sign, StrCat("sha256=", signature));
  }
  return request;
}

int RunInvoke(const InvokeFlags& flags) {
  auto stack = LoadStackFor(flags.stack, false);
  if (!stack) {
    return Report("invoke", stack.error());
  }
  auto client = ConnectGateway(flags.gateway, *stack ? &**stack : nullptr);
  if (!client) {
    return Report("invoke", client.error());
  }
  auto request = InvokeRequest(flags);
  if (!request) {
    return Report("invoke", request.error());
  }
  // A 2xx body streams to stdout as it arrives (server-sent events, large outputs).
  auto response = client->Send(*request, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  if (!response) {
    return Report("invoke", response.error());
  }
  if (response->status < 200 || response->status >= 300) {
    const std::string body(TrimSpace(response->body));
    const bool no_route = response->status == 404 && body == "404 page not found";
    return Report("invoke",
                  Error{ErrorCode::kInternal,
                        StrCat("server returned non-2xx status code (", response->status, ")",
                               flags.async && no_route ? " (this gateway has no async queue)" : "",
                               body.empty() ? "" : StrCat(", body: ", body))});
  }
  if (flags.async && response->status == 202) {
    const std::string call_id = response->Header("X-Call-Id");
    std::fprintf(stderr, "Function submitted asynchronously.%s\n",
                 call_id.empty() ? "" : StrCat(" X-Call-Id: ", call_id).c_str());
  }
  return 0;
}

}  // namespace

void RegisterInvokeCommands(CLI::App& app, CommandRegistry& registry) {
  auto& flags = registry.Keep(std::make_shared<InvokeFlags>());
  CLI::App* cmd =
      app.add_subcommand("invoke", "Call a function with stdin as the body; prints the answer");
  AddGatewayFlags(cmd, flags.gateway);
  AddStackFlags(cmd, flags.stack, false);
  cmd->add_option("name", flags.name, "The function (NAME or NAME.NAMESPACE)")->required();
  cmd->add_option("-m,--method", flags.method, "GET, POST, PUT, PATCH or DELETE")
      ->capture_default_str();
  cmd->add_option("--content-type", flags.content_type, "The Content-Type header")
      ->capture_default_str();
  cmd->add_option("-H,--header", flags.headers, "A header \"Name: Value\" (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--query", flags.query, "A query parameter KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("-a,--async", flags.async,
                "Queue the call (/async-function); pass -H \"X-Callback-Url: URL\" for the result");
  cmd->add_option("--sign", flags.sign,
                  "Header to carry an HMAC-SHA256 of the body (sha256=HEX), with --key");
  cmd->add_option("--key", flags.key, "The HMAC key for --sign");
  cmd->add_option("--timeout", flags.timeout, "How long to wait for the answer to start")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n  echo -n hello | funcd invoke hello\n"
      "  funcd invoke hello -m GET --query name=x < /dev/null\n"
      "  funcd invoke hello -a -H \"X-Callback-Url: http://127.0.0.1:9000/\" <<< 'later'");
  registry.Add(cmd, [&flags] { return RunInvoke(flags); });
}

}  // namespace funcd::cli
