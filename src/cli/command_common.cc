#include "cli/command_common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/credentials.h"
#include "common/strings.h"

namespace funcd::cli {

void AddGatewayFlags(CLI::App* command, GatewayFlags& flags, bool with_namespace) {
  command->add_option("-g,--gateway", flags.gateway,
                      "Gateway URL (default: the stack's provider.gateway, $OPENFAAS_URL, "
                      "http://127.0.0.1:8080)");
  command->add_option("-k,--token", flags.token,
                      "A bearer token to send instead of the credentials saved by login");
  command->add_flag("--tls-no-verify", flags.tls_no_verify,
                    "Accepted for faas-cli compatibility (funcd's client speaks plain HTTP)");
  if (with_namespace) {
    command->add_option("-n,--namespace", flags.namespace_name,
                        "Namespace of the function (default: the gateway's, openfaas-fn)");
  }
}

void AddStackFlags(CLI::App* command, StackFlags& flags, bool selection) {
  command->add_option("-f,--yaml", flags.yaml,
                      "Stack file (default: ./stack.yaml, else ./stack.yml)");
  if (selection) {
    command->add_option("--filter", flags.filter,
                        "Only the functions whose name matches this wildcard (* and ?)");
    command->add_option("--regex", flags.regex,
                        "Only the functions whose name matches this regular expression");
  }
  command
      ->add_flag("--envsubst", flags.envsubst,
                 "Substitute ${VAR} and ${VAR:-default} in the stack file (--envsubst=false "
                 "to turn off)")
      ->capture_default_str();
}

Result<std::optional<Stack>> LoadStackFor(const StackFlags& flags, bool required) {
  const std::string path = FindStackFile(flags.yaml);
  if (path.empty()) {
    if (required) {
      return Error{ErrorCode::kNotFound,
                   "no stack file: pass -f FILE, or run where stack.yaml or stack.yml is "
                   "(funcd new NAME --lang LANG writes one)"};
    }
    return std::optional<Stack>();
  }
  StackOptions options;
  options.envsubst = flags.envsubst;
  options.filter = flags.filter;
  options.regex = flags.regex;
  FUNCD_ASSIGN_OR_RETURN(Stack stack, LoadStack(path, options));
  for (const std::string& warning : stack.warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  return std::optional<Stack>(std::move(stack));
}

Result<GatewayClient> ConnectGateway(const GatewayFlags& flags, const Stack* stack) {
  const char* env_url = std::getenv("OPENFAAS_URL");
  std::string gateway = ResolveGatewayUrl(flags.gateway, stack != nullptr ? stack->gateway : "",
                                          env_url != nullptr ? env_url : "");
  auto authorization = AuthorizationFor(gateway, flags.token, ProcessEnvironment());
  if (!authorization) {
    return Error{authorization.error().code,
                 StrCat("cannot read the saved credentials: ", authorization.error().message)};
  }
  const char* debug = std::getenv("FAAS_DEBUG");
  return GatewayClient(std::move(gateway), std::move(*authorization),
                       debug != nullptr && std::string_view(debug) == "1");
}

int Report(std::string_view command, const Error& error) {
  std::fprintf(stderr, "funcd %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               error.message.c_str());
  return 1;
}

Result<std::map<std::string, std::string>> ParseKeyValues(const std::vector<std::string>& items,
                                                          std::string_view what,
                                                          bool allow_empty_value) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    std::string_view text = TrimSpace(item);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      return Error{ErrorCode::kInvalidArgument,
                   StrCat(what, " \"", item, "\" is not in the form KEY=VALUE")};
    }
    std::string key(text.substr(0, eq));
    std::string value(text.substr(eq + 1));
    if (key.empty()) {
      return Error{ErrorCode::kInvalidArgument, StrCat("empty ", what, " name in \"", item, "\"")};
    }
    if (value.empty() && !allow_empty_value) {
      return Error{ErrorCode::kInvalidArgument, StrCat("empty ", what, " value in \"", item, "\"")};
    }
    out[std::move(key)] = std::move(value);
  }
  return out;
}

std::string ReadStdin() {
  if (::isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "Reading from STDIN - hit (Control + D) to stop.\n");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void CommandRegistry::Add(CLI::App* command, std::function<int()> run) {
  commands_.emplace_back(command, std::move(run));
}

std::optional<int> CommandRegistry::RunParsed() const {
  for (const auto& [command, run] : commands_) {
    if (command->parsed()) {
      return run();
    }
  }
  return std::nullopt;
}

}  // namespace funcd::cli
