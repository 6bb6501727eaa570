// funcd secret create|update|list|remove and funcd namespace list|get|create|update|delete.

#include <boost/json.hpp>
#include <cstdio>
#include <regex>

#include "cli/command_common.h"
#include "cli/files.h"
#include "common/strings.h"

namespace funcd::cli {

namespace json = boost::json;

namespace {

std::string NsQuery(const std::string& ns) {
  return ns.empty() ? "" : StrCat("?namespace=", QueryEscape(ns));
}

// DNS-1123 subdomain, as faas-cli checks secret names.
bool IsValidSecretName(const std::string& name) {
  static const std::regex kPattern(
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  return !name.empty() && name.size() <= 253 && std::regex_match(name, kPattern);
}

struct SecretFlags {
  GatewayFlags gateway;
  std::string name;
  std::string literal;
  std::string file;
  bool literal_given = false;
  bool replace = false;
  bool trim = false;
  bool quiet = false;
};

// The secret's JSON body, its value read from --from-literal, --from-file or stdin.
Result<json::object> SecretBody(const SecretFlags& flags) {
  if (!IsValidSecretName(flags.name)) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("secret name \"", flags.name,
                        "\" is not valid: lower-case letters, digits, '-' and '.' (DNS-1123)")};
  }
  if (flags.literal_given && !flags.file.empty()) {
    return Error{ErrorCode::kInvalidArgument, "pass --from-literal or --from-file, not both"};
  }
  json::object body{{"name", flags.name}};
  if (!flags.gateway.namespace_name.empty()) {
    body["namespace"] = flags.gateway.namespace_name;
  }
  std::string value;
  bool raw = false;
  if (flags.literal_given) {
    value = flags.literal;
  } else if (!flags.file.empty()) {
    FUNCD_ASSIGN_OR_RETURN(value, ReadFile(flags.file));
    raw = true;
  } else {
    value = ReadStdin();
  }
  if (flags.trim) {
    value = std::string(TrimSpace(value));
  }
  if (value.empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 "the secret's value is empty: give it with --from-literal, --from-file or stdin"};
  }
  body["value"] = value;
  if (raw) {
    body["rawValue"] = Base64Encode(value);  // as faas-cli: the file's bytes, base64
  }
  return body;
}

int RunSecretWrite(const SecretFlags& flags, bool update) {
  const char* command = update ? "secret update" : "secret create";
  auto body = SecretBody(flags);
  if (!body) {
    return Report(command, body.error());
  }
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report(command, client.error());
  }
  const std::string label = flags.gateway.namespace_name.empty()
                                ? flags.name
                                : StrCat(flags.name, ".", flags.gateway.namespace_name);
  std::printf("%s secret: %s\n", update ? "Updating" : "Creating", label.c_str());
  auto response = client->Call(update ? "PUT" : "POST", "/system/secrets", json::serialize(*body));
  if (response && !update && response->status == 409 && flags.replace) {
    response = client->Call("PUT", "/system/secrets", json::serialize(*body));
    update = true;
  }
  if (!response) {
    return Report(command, response.error());
  }
  if (response->status == 409) {
    return Report(command, Error{ErrorCode::kAlreadyExists,
                                 StrCat("secret ", label,
                                        " already exists: use --replace or funcd secret update")});
  }
  if (response->status == 404) {
    return Report(command, Error{ErrorCode::kNotFound,
                                 StrCat("secret ", label, " not found: create it first")});
  }
  if (response->status != 200 && response->status != 201 && response->status != 202) {
    return Report(command, UnexpectedStatus(*response, StrCat("writing secret ", label)));
  }
  std::printf("%s: %u\n", update ? "Updated" : "Created", response->status);
  return 0;
}

int RunSecretList(const SecretFlags& flags) {
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("secret list", client.error());
  }
  auto response =
      client->Call("GET", StrCat("/system/secrets", NsQuery(flags.gateway.namespace_name)));
  if (!response) {
    return Report("secret list", response.error());
  }
  if (response->status != 200) {
    return Report("secret list", UnexpectedStatus(*response, "listing secrets"));
  }
  boost::system::error_code ec;
  json::value list = json::parse(response->body, ec);
  if (ec || !list.is_array()) {
    return Report("secret list", Error{ErrorCode::kInternal, "the secret list is not JSON"});
  }
  std::vector<std::string> names;
  for (const auto& item : list.as_array()) {
    if (item.is_object()) {
      if (const auto* name = item.as_object().if_contains("name"); name && name->is_string()) {
        names.emplace_back(name->as_string());
      }
    }
  }
  std::sort(names.begin(), names.end());
  if (!flags.quiet) {
    std::printf("NAME\n");
  }
  for (const auto& name : names) {
    std::printf("%s\n", name.c_str());
  }
  return 0;
}

int RunSecretRemove(const SecretFlags& flags) {
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("secret remove", client.error());
  }
  json::object body{{"name", flags.name}};
  if (!flags.gateway.namespace_name.empty()) {
    body["namespace"] = flags.gateway.namespace_name;
  }
  auto response = client->Call("DELETE", "/system/secrets", json::serialize(body));
  if (!response) {
    return Report("secret remove", response.error());
  }
  if (response->status == 404) {
    return Report("secret remove",
                  Error{ErrorCode::kNotFound, StrCat("secret ", flags.name, " not found")});
  }
  if (response->status != 200 && response->status != 202 && response->status != 204) {
    return Report("secret remove", UnexpectedStatus(*response, StrCat("removing ", flags.name)));
  }
  std::printf("Removed.. OK.\n");
  return 0;
}

void AddSecretValueFlags(CLI::App* cmd, SecretFlags& flags) {
  cmd->add_option("name", flags.name, "The secret's name")->required();
  cmd->add_option("--from-literal", flags.literal, "The value")->each([&flags](const std::string&) {
    flags.literal_given = true;
  });
  cmd->add_option("--from-file", flags.file, "A file holding the value (sent as bytes)");
  cmd->add_flag("--trim", flags.trim, "Trim whitespace from the value");
}

// --- namespaces ----------------------------------------------------------------------------

struct NamespaceFlags {
  GatewayFlags gateway;
  std::string name;
  std::vector<std::string> labels;
  std::vector<std::string> annotations;
};

int RunNamespaceList(const NamespaceFlags& flags) {
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("namespace list", client.error());
  }
  auto response = client->Call("GET", "/system/namespaces");
  if (!response) {
    return Report("namespace list", response.error());
  }
  if (response->status != 200) {
    return Report("namespace list", UnexpectedStatus(*response, "listing namespaces"));
  }
  boost::system::error_code ec;
  json::value list = json::parse(response->body, ec);
  if (ec || !list.is_array()) {
    return Report("namespace list", Error{ErrorCode::kInternal, "the namespace list is not JSON"});
  }
  std::printf("Namespaces:\n");
  for (const auto& item : list.as_array()) {
    if (item.is_string()) {
      std::printf(" - %s\n", std::string(item.as_string()).c_str());
    }
  }
  return 0;
}

int RunNamespaceGet(const NamespaceFlags& flags) {
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("namespace get", client.error());
  }
  auto response = client->Call("GET", StrCat("/system/namespace/", flags.name));
  if (!response) {
    return Report("namespace get", response.error());
  }
  if (response->status == 404) {
    return Report("namespace get",
                  Error{ErrorCode::kNotFound, StrCat("namespace ", flags.name, " not found")});
  }
  if (response->status != 200) {
    return Report("namespace get", UnexpectedStatus(*response, StrCat("reading ", flags.name)));
  }
  std::printf("%s\n", std::string(TrimSpace(response->body)).c_str());
  return 0;
}

int RunNamespaceWrite(const NamespaceFlags& flags, bool update) {
  const char* command = update ? "namespace update" : "namespace create";
  auto labels = ParseKeyValues(flags.labels, "label", true);
  auto annotations = ParseKeyValues(flags.annotations, "annotation", true);
  if (!labels || !annotations) {
    return Report(command, !labels ? labels.error() : annotations.error());
  }
  (*labels)["openfaas"] = "1";  // required by the API
  json::object body{{"name", flags.name}};
  json::object label_object;
  for (const auto& [k, v] : *labels) {
    label_object[k] = v;
  }
  body["labels"] = std::move(label_object);
  if (!annotations->empty()) {
    json::object annotation_object;
    for (const auto& [k, v] : *annotations) {
      annotation_object[k] = v;
    }
    body["annotations"] = std::move(annotation_object);
  }
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report(command, client.error());
  }
  auto response =
      update ? client->Call("PUT", StrCat("/system/namespace/", flags.name), json::serialize(body))
             : client->Call("POST", "/system/namespace/", json::serialize(body));
  if (!response) {
    return Report(command, response.error());
  }
  if (response->status == 409) {
    return Report(command, Error{ErrorCode::kAlreadyExists,
                                 StrCat("namespace ", flags.name, " already exists")});
  }
  if (response->status == 404) {
    return Report(command,
                  Error{ErrorCode::kNotFound, StrCat("namespace ", flags.name, " not found")});
  }
  if (response->status != 200 && response->status != 201 && response->status != 202) {
    return Report(command, UnexpectedStatus(*response, StrCat("writing namespace ", flags.name)));
  }
  std::printf("Namespace %s %s\n", flags.name.c_str(), update ? "updated" : "created");
  return 0;
}

int RunNamespaceDelete(const NamespaceFlags& flags) {
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("namespace delete", client.error());
  }
  auto response = client->Call("DELETE", StrCat("/system/namespace/", flags.name));
  if (!response) {
    return Report("namespace delete", response.error());
  }
  if (response->status == 404) {
    return Report("namespace delete",
                  Error{ErrorCode::kNotFound, StrCat("namespace ", flags.name, " not found")});
  }
  if (response->status != 200 && response->status != 202 && response->status != 204) {
    return Report("namespace delete",
                  UnexpectedStatus(*response, StrCat("deleting namespace ", flags.name)));
  }
  std::printf("Namespace %s deleted\n", flags.name.c_str());
  return 0;
}

}  // namespace

void RegisterSecretCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* secret = app.add_subcommand("secret",
                                        "Manage secrets (read by functions at "
                                        "/var/openfaas/secrets/NAME)");
  secret->require_subcommand(1);
  {
    auto& flags = registry.Keep(std::make_shared<SecretFlags>());
    CLI::App* cmd = secret->add_subcommand("create",
                                           "Create a secret (value from --from-literal, "
                                           "--from-file or stdin)");
    AddGatewayFlags(cmd, flags.gateway);
    AddSecretValueFlags(cmd, flags);
    cmd->add_flag("--replace", flags.replace, "Update the secret when it exists");
    registry.Add(cmd, [&flags] { return RunSecretWrite(flags, false); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<SecretFlags>());
    CLI::App* cmd = secret->add_subcommand("update", "Change a secret's value");
    AddGatewayFlags(cmd, flags.gateway);
    AddSecretValueFlags(cmd, flags);
    registry.Add(cmd, [&flags] { return RunSecretWrite(flags, true); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<SecretFlags>());
    CLI::App* cmd = secret->add_subcommand("list", "List the secrets (names only)");
    cmd->alias("ls");
    AddGatewayFlags(cmd, flags.gateway);
    cmd->add_flag("-q,--quiet", flags.quiet, "Only the names, no header");
    registry.Add(cmd, [&flags] { return RunSecretList(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<SecretFlags>());
    CLI::App* cmd = secret->add_subcommand("remove", "Remove a secret");
    cmd->alias("rm");
    AddGatewayFlags(cmd, flags.gateway);
    cmd->add_option("name", flags.name, "The secret")->required();
    registry.Add(cmd, [&flags] { return RunSecretRemove(flags); });
  }
}

void RegisterNamespaceCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* ns = app.add_subcommand("namespace", "Manage function namespaces");
  ns->alias("namespaces");
  ns->require_subcommand(1);
  {
    auto& flags = registry.Keep(std::make_shared<NamespaceFlags>());
    CLI::App* cmd = ns->add_subcommand("list", "List the namespaces");
    cmd->alias("ls");
    AddGatewayFlags(cmd, flags.gateway, false);
    registry.Add(cmd, [&flags] { return RunNamespaceList(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<NamespaceFlags>());
    CLI::App* cmd = ns->add_subcommand("get", "Show a namespace's labels and annotations");
    AddGatewayFlags(cmd, flags.gateway, false);
    cmd->add_option("name", flags.name, "The namespace")->required();
    registry.Add(cmd, [&flags] { return RunNamespaceGet(flags); });
  }
  for (const bool update : {false, true}) {
    auto& flags = registry.Keep(std::make_shared<NamespaceFlags>());
    CLI::App* cmd = ns->add_subcommand(
        update ? "update" : "create",
        update ? "Change a namespace's labels and annotations" : "Create a namespace");
    AddGatewayFlags(cmd, flags.gateway, false);
    cmd->add_option("name", flags.name, "The namespace")->required();
    cmd->add_option("--label", flags.labels, "Label KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--annotation", flags.annotations, "Annotation KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    registry.Add(cmd, [&flags, update] { return RunNamespaceWrite(flags, update); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<NamespaceFlags>());
    CLI::App* cmd = ns->add_subcommand("delete", "Delete a namespace");
    cmd->alias("rm");
    AddGatewayFlags(cmd, flags.gateway, false);
    cmd->add_option("name", flags.name, "The namespace")->required();
    registry.Add(cmd, [&flags] { return RunNamespaceDelete(flags); });
  }
}

}  // namespace funcd::cli
