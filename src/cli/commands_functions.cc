// funcd deploy, list, describe, remove, scale and ready.

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/command_common.h"
#include "cli/deploy.h"
#include "common/config.h"
#include "common/strings.h"

namespace funcd::cli {

namespace json = boost::json;

namespace {

std::string NsQuery(const std::string& ns, char lead = '?') {
  return ns.empty() ? "" : StrCat(lead, "namespace=", QueryEscape(ns));
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

std::int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    return static_cast<std::int64_t>(v->as_double());
  }
  return 0;
}

Result<json::value> ParseBody(const GatewayResponse& response, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(response.body, ec);
  if (ec) {
    return Error{ErrorCode::kInternal, StrCat(what, ": the gateway did not answer JSON")};
  }
  return value;
}

// --- deploy --------------------------------------------------------------------------------

int RunDeployCommand(const DeployFlags& flags) {
  std::optional<Stack> stack;
  if (flags.image.empty()) {
    auto loaded = LoadStackFor(flags.stack, false);
    if (!loaded) {
      return Report("deploy", loaded.error());
    }
    stack = std::move(*loaded);
  }
  return RunDeploy(flags, stack ? &*stack : nullptr);
}

// --- list ----------------------------------------------------------------------------------

struct ListFlags {
  GatewayFlags gateway;
  StackFlags stack;
  bool verbose = false;
  bool quiet = false;
  std::string sort = "name";
};

int RunList(const ListFlags& flags) {
  if (flags.sort != "name" && flags.sort != "invocations") {
    return Report("list", Error{ErrorCode::kInvalidArgument, "--sort is name or invocations"});
  }
  auto stack = LoadStackFor(flags.stack, false);
  if (!stack) {
    return Report("list", stack.error());
  }
  auto client = ConnectGateway(flags.gateway, *stack ? &**stack : nullptr);
  if (!client) {
    return Report("list", client.error());
  }
  auto response =
      client->Call("GET", StrCat("/system/functions", NsQuery(flags.gateway.namespace_name)));
  if (!response) {
    return Report("list", response.error());
  }
  if (response->status != 200) {
    return Report("list", UnexpectedStatus(*response, "listing functions"));
  }
  auto body = ParseBody(*response, "listing functions");
  if (!body || !body->is_array()) {
    return Report("list", Error{ErrorCode::kInternal, "the function list is not a JSON array"});
  }
  std::vector<json::object> functions;
  for (const auto& item : body->as_array()) {
    if (item.is_object()) {
      functions.push_back(item.as_object());
    }
  }
  std::sort(functions.begin(), functions.end(), [&](const json::object& a, const json::object& b) {
    if (flags.sort == "invocations" && Int(a, "invocationCount") != Int(b, "invocationCount")) {
      return Int(a, "invocationCount") > Int(b, "invocationCount");
    }
    return Str(a, "name") < Str(b, "name");
  });
  if (flags.quiet) {
    for (const auto& fn : functions) {
      std::printf("%s\n", Str(fn, "name").c_str());
    }
    return 0;
  }
  if (flags.verbose) {
    std::printf("%-30s\t%-40s\t%-15s\t%-5s\n", "Function", "Image", "Invocations", "Replicas");
    for (const auto& fn : functions) {
      std::string image = Str(fn, "image");
      if (image.size() > 40) {
        image = image.substr(0, 38) + "..";
      }
      std::printf("%-30s\t%-40s\t%-15lld\t%-5lld\n", Str(fn, "name").c_str(), image.c_str(),
                  static_cast<long long>(Int(fn, "invocationCount")),
                  static_cast<long long>(Int(fn, "replicas")));
    }
    return 0;
  }
  std::printf("%-30s\t%-15s\t%-5s\n", "Function", "Invocations", "Replicas");
  for (const auto& fn : functions) {
    std::printf("%-30s\t%-15lld\t%-5lld\n", Str(fn, "name").c_str(),
                static_cast<long long>(Int(fn, "invocationCount")),
                static_cast<long long>(Int(fn, "replicas")));
  }
  return 0;
}

// --- describe ------------------------------------------------------------------------------

struct NameFlags {
  GatewayFlags gateway;
  StackFlags stack;
  std::vector<std::string> names;
};

void PrintMap(const char* title, const json::object& fn, std::string_view key) {
  const json::value* v = fn.if_contains(key);
  if (v == nullptr || !v->is_object() || v->as_object().empty()) {
    std::printf("%-20s<none>\n", title);
    return;
  }
  std::printf("%s\n", title);
  for (const auto& [k, value] : v->as_object()) {
    std::printf("  %.*s: %s\n", static_cast<int>(k.size()), k.data(),
                value.is_string() ? std::string(value.as_string()).c_str()
                                  : json::serialize(value).c_str());
  }
}

int RunDescribe(const NameFlags& flags) {
  if (flags.names.size() != 1) {
    return Report("describe", Error{ErrorCode::kInvalidArgument, "name one function"});
  }
  const std::string& name = flags.names[0];
  auto stack = LoadStackFor(flags.stack, false);
  if (!stack) {
    return Report("describe", stack.error());
  }
  auto client = ConnectGateway(flags.gateway, *stack ? &**stack : nullptr);
  if (!client) {
    return Report("describe", client.error());
  }
  const std::string& ns = flags.gateway.namespace_name;
  auto response =
      client->Call("GET", StrCat("/system/function/", name, "?usage=1", NsQuery(ns, '&')));
  if (!response) {
    return Report("describe", response.error());
  }
  if (response->status == 404) {
    return Report("describe", Error{ErrorCode::kNotFound, StrCat("no such function: ", name)});
  }
  if (response->status != 200) {
    return Report("describe", UnexpectedStatus(*response, StrCat("describing ", name)));
  }
  auto body = ParseBody(*response, "describe");
  if (!body || !body->is_object()) {
    return Report("describe", Error{ErrorCode::kInternal, "the function status is not JSON"});
  }
  const json::object& fn = body->as_object();
  std::int64_t invocations = Int(fn, "invocationCount");
  if (auto list = client->Call("GET", StrCat("/system/functions", NsQuery(ns)));
      list && list->status == 200) {
    if (auto all = ParseBody(*list, "list"); all && all->is_array()) {
      for (const auto& item : all->as_array()) {
        if (item.is_object() && Str(item.as_object(), "name") == name) {
          invocations = Int(item.as_object(), "invocationCount");
        }
      }
    }
  }
  const std::string suffix = ns.empty() ? "" : StrCat(".", ns);  // as faas-cli: the flag's
  std::printf("%-20s%s\n", "Name:", Str(fn, "name").c_str());
  std::printf("%-20s%s\n", "Status:", Int(fn, "availableReplicas") > 0 ? "Ready" : "Not Ready");
  std::printf("%-20s%lld\n", "Replicas:", static_cast<long long>(Int(fn, "replicas")));
  std::printf("%-20s%lld\n",
              "Available Replicas:", static_cast<long long>(Int(fn, "availableReplicas")));
  std::printf("%-20s%lld\n", "Invocations:", static_cast<long long>(invocations));
  std::printf("%-20s%s\n", "Image:", Str(fn, "image").c_str());
  std::printf("%-20s%s\n", "Function Process:", Str(fn, "envProcess").c_str());
  std::printf("%-20s%s/function/%s%s\n", "URL:", client->gateway().c_str(), name.c_str(),
              suffix.c_str());
  std::printf("%-20s%s/async-function/%s%s\n", "Async URL:", client->gateway().c_str(),
              name.c_str(), suffix.c_str());
  PrintMap("Labels:", fn, "labels");
  PrintMap("Annotations:", fn, "annotations");
  PrintMap("Environment:", fn, "envVars");
  if (const json::value* secrets = fn.if_contains("secrets");
      secrets != nullptr && secrets->is_array() && !secrets->as_array().empty()) {
    std::printf("Secrets:\n");
    for (const auto& s : secrets->as_array()) {
      std::printf("  - %s\n", s.is_string() ? std::string(s.as_string()).c_str() : "");
    }
  }
  PrintMap("Limits:", fn, "limits");
  PrintMap("Requests:", fn, "requests");
  std::printf("%-20s%s\n", "Created:", Str(fn, "createdAt").c_str());
  return 0;
}

// --- remove --------------------------------------------------------------------------------

int RunRemove(const NameFlags& flags) {
  std::optional<Stack> stack;
  std::vector<std::pair<std::string, std::string>> targets;  // name, namespace
  if (flags.names.empty()) {
    auto loaded = LoadStackFor(flags.stack, true);
    if (!loaded) {
      return Report("remove", Error{loaded.error().code,
                                    StrCat(loaded.error().message,
                                           "; or name the function: funcd remove NAME")});
    }
    stack = std::move(**loaded);
    for (const auto& fn : stack->functions) {
      targets.emplace_back(fn.name, flags.gateway.namespace_name.empty()
                                        ? fn.namespace_name
                                        : flags.gateway.namespace_name);
    }
  } else {
    for (const auto& name : flags.names) {
      targets.emplace_back(name, flags.gateway.namespace_name);
    }
  }
  auto client = ConnectGateway(flags.gateway, stack ? &*stack : nullptr);
  if (!client) {
    return Report("remove", client.error());
  }
  int failed = 0;
  for (const auto& [name, ns] : targets) {
    std::printf("Deleting: %s%s.\n", name.c_str(), ns.empty() ? "" : StrCat(".", ns).c_str());
    json::object body{{"functionName", name}};
    if (!ns.empty()) {
      body["namespace"] = ns;
    }
    auto response = client->Call("DELETE", "/system/functions", json::serialize(body));
    if (!response) {
      return Report("remove", response.error());
    }
    if (response->status == 404) {
      Report("remove",
             Error{ErrorCode::kNotFound, StrCat("No existing function to remove (", name, ")")});
      ++failed;
    } else if (response->status != 200 && response->status != 202) {
      Report("remove", UnexpectedStatus(*response, StrCat("removing ", name)));
      ++failed;
    } else {
      std::printf("Removing old function.\n");
    }
  }
  return failed > 0 ? 1 : 0;
}

// --- scale ---------------------------------------------------------------------------------

struct ScaleFlags {
  GatewayFlags gateway;
  std::string name;
  std::int64_t replicas = -1;
};

int RunScale(const ScaleFlags& flags) {
  if (flags.replicas < 0) {
    return Report("scale", Error{ErrorCode::kInvalidArgument, "--replicas N is required (N >= 0)"});
  }
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("scale", client.error());
  }
  json::object body{{"serviceName", flags.name}, {"replicas", flags.replicas}};
  const std::string& ns = flags.gateway.namespace_name;
  if (!ns.empty()) {
    body["namespace"] = ns;
  }
  auto response = client->Call("POST", StrCat("/system/scale-function/", flags.name, NsQuery(ns)),
                               json::serialize(body));
  if (!response) {
    return Report("scale", response.error());
  }
  if (response->status == 404) {
    return Report("scale", Error{ErrorCode::kNotFound, StrCat("no such function: ", flags.name)});
  }
  if (response->status != 200 && response->status != 202) {
    return Report("scale", UnexpectedStatus(*response, StrCat("scaling ", flags.name)));
  }
  std::printf("Scaled %s to %lld replica(s).\n", flags.name.c_str(),
              static_cast<long long>(flags.replicas));
  return 0;
}

// --- ready ---------------------------------------------------------------------------------

struct ReadyFlags {
  GatewayFlags gateway;
  std::string name;
  int attempts = 60;
  std::string interval = "1s";
};

int RunReady(const ReadyFlags& flags) {
  auto interval = ParseGoDuration(flags.interval);
  if (!interval || flags.attempts < 1) {
    return Report("ready", Error{ErrorCode::kInvalidArgument,
                                 "--interval is a duration (1s) and --attempts at least 1"});
  }
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("ready", client.error());
  }
  const std::string& ns = flags.gateway.namespace_name;
  bool gateway_ready = false;
  std::string last;
  for (int attempt = 1; attempt <= flags.attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(*interval);
    }
    if (!gateway_ready) {
      GatewayRequest health;
      health.target = "/healthz";
      health.timeout = std::chrono::seconds(5);
      auto response = client->Send(health);
      if (!response || response->status != 200) {
        last = response ? StrCat("/healthz answered ", response->status) : response.error().message;
        continue;
      }
      gateway_ready = true;
      if (flags.name.empty()) {
        std::printf("Gateway %s is ready\n", client->gateway().c_str());
        return 0;
      }
    }
    auto status = client->Call("GET", StrCat("/system/function/", flags.name, NsQuery(ns)));
    if (!status) {
      last = status.error().message;
      continue;
    }
    if (status->status == 401) {
      return Report("ready", UnexpectedStatus(*status, "reading the function's status"));
    }
    if (status->status != 200) {
      last = status->status == 404 ? StrCat("no function ", flags.name)
                                   : StrCat("status ", status->status);
      continue;
    }
    auto body = ParseBody(*status, "ready");
    if (body && body->is_object() && Int(body->as_object(), "availableReplicas") > 0) {
      std::printf("Function %s is ready\n", flags.name.c_str());
      return 0;
    }
    last = "no replica is ready yet";
  }
  return Report(
      "ready", Error{ErrorCode::kDeadlineExceeded,
                     StrCat(flags.name.empty() ? "the gateway" : flags.name, " is not ready after ",
                            flags.attempts, " attempts (", last, ")")});
}

}  // namespace

void RegisterFunctionCommands(CLI::App& app, CommandRegistry& registry) {
  {
    auto& flags = registry.Keep(std::make_shared<DeployFlags>());
    CLI::App* cmd = app.add_subcommand(
        "deploy", "Deploy the functions of a stack file, or one image with --image and --name");
    AddDeployFlags(cmd, flags);
    cmd->footer(
        "Examples:\n  funcd deploy                      # the functions of ./stack.yaml\n"
        "  funcd deploy -f stack.yml --filter 'api-*' --env DEBUG=1\n"
        "  funcd deploy --image hello:latest --name hello\n"
        "  funcd deploy --image dir:///srv/fn --name fn --fprocess ./handler");
    registry.Add(cmd, [&flags] { return RunDeployCommand(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<ListFlags>());
    CLI::App* cmd = app.add_subcommand("list", "List the deployed functions");
    cmd->alias("ls");
    AddGatewayFlags(cmd, flags.gateway);
    AddStackFlags(cmd, flags.stack, false);
    cmd->add_flag("-v,--verbose", flags.verbose, "Show the image too");
    cmd->add_flag("-q,--quiet", flags.quiet, "Only the names");
    cmd->add_option("--sort", flags.sort, "name or invocations")->capture_default_str();
    registry.Add(cmd, [&flags] { return RunList(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<NameFlags>());
    CLI::App* cmd = app.add_subcommand("describe", "Show a function's settings and status");
    AddGatewayFlags(cmd, flags.gateway);
    AddStackFlags(cmd, flags.stack, false);
    cmd->add_option("name", flags.names, "The function")->required();
    registry.Add(cmd, [&flags] { return RunDescribe(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<NameFlags>());
    CLI::App* cmd =
        app.add_subcommand("remove", "Remove functions: those named, or those of the stack file");
    cmd->alias("rm");
    cmd->alias("delete");
    AddGatewayFlags(cmd, flags.gateway);
    AddStackFlags(cmd, flags.stack);
    cmd->add_option("name", flags.names, "Functions to remove (default: the stack's)");
    registry.Add(cmd, [&flags] { return RunRemove(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<ScaleFlags>());
    CLI::App* cmd = app.add_subcommand("scale", "Set a function's replica count (0 stops it)");
    AddGatewayFlags(cmd, flags.gateway);
    cmd->add_option("name", flags.name, "The function")->required();
    cmd->add_option("-r,--replicas", flags.replicas, "Replicas to run")->required();
    registry.Add(cmd, [&flags] { return RunScale(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<ReadyFlags>());
    CLI::App* cmd = app.add_subcommand(
        "ready", "Wait until the gateway answers, and the function (if named) has a ready replica");
    AddGatewayFlags(cmd, flags.gateway);
    cmd->add_option("name", flags.name, "The function");
    cmd->add_option("--attempts", flags.attempts, "How many times to check")->capture_default_str();
    cmd->add_option("--interval", flags.interval, "Time between checks")->capture_default_str();
    registry.Add(cmd, [&flags] { return RunReady(flags); });
  }
}

}  // namespace funcd::cli
