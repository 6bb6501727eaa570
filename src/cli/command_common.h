#pragma once

// Shared pieces of the client commands: the flags most commands take (gateway, stack file),
// how a command finds its gateway and credentials, and how failures are reported.

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/gateway_client.h"
#include "cli/stack.h"
#include "common/result.h"

namespace funcd::cli {

struct GatewayFlags {
  std::string gateway;         // -g/--gateway
  std::string token;           // -k/--token: a bearer token instead of the stored credentials
  bool tls_no_verify = false;  // accepted for faas-cli compatibility
  std::string namespace_name;  // -n/--namespace
};

struct StackFlags {
  std::string yaml;  // -f/--yaml
  std::string filter;
  std::string regex;
  bool envsubst = true;
};

// -g, -k, --tls-no-verify and (with_namespace) -n.
void AddGatewayFlags(CLI::App* command, GatewayFlags& flags, bool with_namespace = true);
// -f/--yaml, and with `selection` --filter, --regex; --envsubst.
void AddStackFlags(CLI::App* command, StackFlags& flags, bool selection = true);

// The stack named by -f, else ./stack.yaml or ./stack.yml when present; nullopt when there is
// none and it is not `required`. Prints the stack's warnings to stderr.
Result<std::optional<Stack>> LoadStackFor(const StackFlags& flags, bool required);

// A client for the gateway these flags and stack name, with the stored credentials.
Result<GatewayClient> ConnectGateway(const GatewayFlags& flags, const Stack* stack);

// Prints "funcd COMMAND: message" on stderr and returns the exit code (1).
int Report(std::string_view command, const Error& error);

// Parses KEY=VALUE options (--env, --label, ...). Errors: kInvalidArgument naming `what`.
Result<std::map<std::string, std::string>> ParseKeyValues(const std::vector<std::string>& items,
                                                          std::string_view what,
                                                          bool allow_empty_value = false);

// Reads all of stdin; prints a hint on stderr first when stdin is a terminal.
std::string ReadStdin();

// Runs the client command that was parsed. Owns the state behind its CLI11 bindings.
class CommandRegistry {
 public:
  // `run` is called when `command` was parsed (register leaf commands only).
  void Add(CLI::App* command, std::function<int()> run);
  // Keeps `state` alive as long as the registry (CLI11 binds options to its fields).
  template <typename T>
  T& Keep(std::shared_ptr<T> state) {
    T& ref = *state;
    kept_.push_back(std::move(state));
    return ref;
  }
  // The exit code of the parsed command; nullopt when none of ours was parsed.
  std::optional<int> RunParsed() const;

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
  std::vector<std::shared_ptr<void>> kept_;
};

// Registration of each command group (one file each).
void RegisterLoginCommands(CLI::App& app, CommandRegistry& registry);
void RegisterFunctionCommands(CLI::App& app, CommandRegistry& registry);
void RegisterLogsCommands(CLI::App& app, CommandRegistry& registry);
void RegisterInvokeCommands(CLI::App& app, CommandRegistry& registry);
void RegisterSecretCommands(CLI::App& app, CommandRegistry& registry);
void RegisterNamespaceCommands(CLI::App& app, CommandRegistry& registry);
void RegisterBuildCommands(CLI::App& app, CommandRegistry& registry);

}  // namespace funcd::cli
