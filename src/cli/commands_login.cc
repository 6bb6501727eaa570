// funcd login, logout and version.

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/command_common.h"
#include "cli/credentials.h"
#include "common/config.h"
#include "common/strings.h"
#include "common/version.h"
#include "http/client.h"

namespace funcd::cli {

namespace {

struct LoginFlags {
  std::string gateway;
  std::string user = "admin";
  std::string password;
  bool password_stdin = false;
  bool tls_no_verify = false;
  std::string timeout = "5s";
};

bool IsLoopbackGateway(const std::string& gateway) {
  auto url = http::ParseUrl(gateway);
  return url && (url->host == "127.0.0.1" || url->host == "localhost" || url->host == "::1");
}

int RunLogin(const LoginFlags& flags) {
  if (!flags.password.empty() && flags.password_stdin) {
    return Report("login", Error{ErrorCode::kInvalidArgument,
                                 "pass --password or --password-stdin, not both"});
  }
  std::string password = flags.password;
  if (flags.password_stdin) {
    password = ReadStdin();
  } else if (!password.empty()) {
    std::fprintf(stderr,
                 "WARNING! Using --password is insecure, consider using: cat ~/faas_pass.txt | "
                 "funcd login -u %s --password-stdin\n",
                 flags.user.c_str());
  }
  password = std::string(TrimSpace(password));
  if (password.empty()) {
    return Report("login", Error{ErrorCode::kInvalidArgument,
                                 "must provide a non-empty password via --password or "
                                 "--password-stdin (funcd serve keeps it in "
                                 "STATE_DIR/secrets/basic-auth-password)"});
  }
  if (flags.user.empty()) {
    return Report("login", Error{ErrorCode::kInvalidArgument, "must provide --username"});
  }
  const char* env_url = std::getenv("OPENFAAS_URL");
  const std::string gateway =
      ResolveGatewayUrl(flags.gateway, "", env_url != nullptr ? env_url : "");
  if (!IsLoopbackGateway(gateway) && gateway.starts_with("http://")) {
    std::fprintf(stderr,
                 "WARNING! You are not using an encrypted connection to the gateway, consider "
                 "using HTTPS.\n");
  }
  auto timeout = ParseGoDuration(flags.timeout);
  if (!timeout) {
    return Report("login", Error{ErrorCode::kInvalidArgument,
                                 StrCat("--timeout \"", flags.timeout, "\" is not a duration")});
  }
  std::printf("Calling the OpenFaaS server to validate the credentials...\n");
  std::fflush(stdout);
  GatewayClient client(gateway, StrCat("Basic ", Base64Encode(StrCat(flags.user, ":", password))),
                       false);
  GatewayRequest request;
  request.target = "/system/functions";
  request.timeout = *timeout;
  auto response = client.Send(request);
  if (!response) {
    return Report("login", response.error());
  }
  if (auto accepted = CheckLoginAnswer(*response); !accepted) {
    return Report("login", accepted.error());
  }
  const std::string path = ConfigPath(ProcessEnvironment());
  auto config = ReadConfig(path);
  if (!config) {
    return Report("login", config.error());
  }
  SetBasicAuth(*config, gateway, flags.user, password);
  if (auto written = WriteConfig(path, *config); !written) {
    return Report("login", written.error());
  }
  std::printf("credentials saved for %s %s\n", flags.user.c_str(), gateway.c_str());
  return 0;
}

int RunLogout(const std::string& gateway_flag) {
  const char* env_url = std::getenv("OPENFAAS_URL");
  const std::string gateway =
      ResolveGatewayUrl(gateway_flag, "", env_url != nullptr ? env_url : "");
  const std::string path = ConfigPath(ProcessEnvironment());
  auto config = ReadConfig(path);
  if (!config) {
    return Report("logout", config.error());
  }
  if (!RemoveAuth(*config, gateway)) {
    return Report("logout", Error{ErrorCode::kNotFound,
                                  StrCat("no credentials saved for ", gateway, " in ", path)});
  }
  if (auto written = WriteConfig(path, *config); !written) {
    return Report("logout", written.error());
  }
  std::printf("credentials removed for %s\n", gateway.c_str());
  return 0;
}

std::string JsonString(const boost::json::value& object, std::initializer_list<const char*> path) {
  const boost::json::value* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) {
      return "";
    }
    at = at->as_object().if_contains(key);
    if (at == nullptr) {
      return "";
    }
  }
  return at->is_string() ? std::string(at->as_string()) : "";
}

int RunVersion(const GatewayFlags& flags, bool short_version) {
  if (short_version) {
    std::printf("%s\n", Version());
    return 0;
  }
  std::printf("CLI:\n commit:  %s\n version: %s\n", GitSha(), Version());
  std::fflush(stdout);
  auto client = ConnectGateway(flags, nullptr);
  if (!client) {
    return Report("version", client.error());
  }
  auto response = client->Call("GET", "/system/info");
  if (!response) {
    return Report("version", response.error());
  }
  if (response->status != 200) {
    return Report("version", UnexpectedStatus(*response, "reading /system/info"));
  }
  boost::system::error_code ec;
  boost::json::value info = boost::json::parse(response->body, ec);
  if (ec || !info.is_object()) {
    return Report("version", Error{ErrorCode::kInternal, "/system/info did not answer JSON"});
  }
  std::printf("\nGateway\n uri:     %s\n version: %s\n sha:     %s\n", client->gateway().c_str(),
              JsonString(info, {"version", "release"}).c_str(),
              JsonString(info, {"version", "sha"}).c_str());
  std::printf(
      "\nProvider\n name:          %s\n orchestration: %s\n version:       %s\n"
      " sha:           %s\n",
      JsonString(info, {"provider", "provider"}).c_str(),
      JsonString(info, {"provider", "orchestration"}).c_str(),
      JsonString(info, {"provider", "version", "release"}).c_str(),
      JsonString(info, {"provider", "version", "sha"}).c_str());
  return 0;
}

}  // namespace

void RegisterLoginCommands(CLI::App& app, CommandRegistry& registry) {
  {
    auto& flags = registry.Keep(std::make_shared<LoginFlags>());
    CLI::App* cmd = app.add_subcommand(
        "login", "Save the gateway's basic-auth credentials (in ~/.openfaas/config.yml, 0600)");
    cmd->add_option("-g,--gateway", flags.gateway, "Gateway URL");
    cmd->add_option("-u,--username", flags.user, "Gateway user")->capture_default_str();
    cmd->add_option("-p,--password", flags.password, "Gateway password (prefer --password-stdin)");
    cmd->add_flag("-s,--password-stdin", flags.password_stdin, "Read the password from stdin");
    cmd->add_flag("--tls-no-verify", flags.tls_no_verify, "Accepted for faas-cli compatibility");
    cmd->add_option("--timeout", flags.timeout, "How long to wait for the gateway")
        ->capture_default_str();
    cmd->footer(
        "Example:\n  funcd login --password-stdin < /var/lib/funcd/secrets/basic-auth-password");
    registry.Add(cmd, [&flags] { return RunLogin(flags); });
  }
  {
    auto& gateway = registry.Keep(std::make_shared<std::string>());
    CLI::App* cmd = app.add_subcommand("logout", "Remove the saved credentials of a gateway");
    cmd->add_option("-g,--gateway", gateway, "Gateway URL");
    registry.Add(cmd, [&gateway] { return RunLogout(gateway); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<GatewayFlags>());
    auto& short_version = registry.Keep(std::make_shared<bool>(false));
    CLI::App* cmd = app.add_subcommand(
        "version", "Print the client's version and the gateway's and provider's (/system/info)");
    AddGatewayFlags(cmd, flags, false);
    cmd->add_flag("--short-version", short_version, "Print only the client's version");
    registry.Add(cmd, [&flags, &short_version] { return RunVersion(flags, short_version); });
  }
}

}  // namespace funcd::cli
