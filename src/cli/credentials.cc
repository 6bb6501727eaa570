#include "cli/credentials.h"

#include <yaml-cpp/yaml.h>

#include "cli/files.h"
#include "common/strings.h"

namespace funcd::cli {

namespace {

Error Malformed(const std::string& path, const YAML::Node& node, std::string_view what) {
  const YAML::Mark mark = node.Mark();
  return Error{ErrorCode::kInvalidArgument,
               mark.line < 0 ? StrCat(path, ": ", what)
                             : StrCat(path, ":", mark.line + 1, ":", mark.column + 1, ": ", what)};
}

// A YAML scalar as faas-cli's writer (yaml.v2) would print it: plain when that reads back as
// the same string, else double-quoted.
std::string YamlScalar(std::string_view value) {
  constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  bool plain = !value.empty() && kIndicators.find(value.front()) == std::string_view::npos &&
               value.front() != ' ' && value.back() != ' ' && value.back() != ':' &&
               value.find(": ") == std::string_view::npos &&
               value.find(" #") == std::string_view::npos &&
               value.find_first_of("\n\t\r") == std::string_view::npos;
  if (plain) {
    // yaml.v2 quotes strings that would read back as something else.
    const std::string lower = ToLower(value);
    for (std::string_view keyword :
         {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}) {
      plain = plain && lower != keyword;
    }
    plain = plain && !ParseInt(value).has_value();
  }
  if (plain) {
    return std::string(value);
  }
  std::string out = "\"";
  AppendJsonEscaped(out, value);
  out += "\"";
  return out;
}

}  // namespace

std::string ConfigDir(const EnvLookup& lookup) {
  if (auto dir = lookup("OPENFAAS_CONFIG"); dir && !dir->empty()) {
    return *dir;
  }
  if (auto ci = lookup("CI"); ci && (*ci == "true" || *ci == "1")) {
    return ".openfaas";
  }
  auto home = lookup("HOME");
  return StrCat(home && !home->empty() ? *home : "/root", "/.openfaas");
}

std::string ConfigPath(const EnvLookup& lookup) {
  return JoinPath(ConfigDir(lookup), "config.yml");
}

Result<ConfigFile> ReadConfig(const std::string& path) {
  ConfigFile config;
  auto text = ReadFile(path);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) {
      return config;
    }
    return std::move(text).error();
  }
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root || root.IsNull()) {
      return config;
    }
    if (!root.IsMap()) {
      return Malformed(path, root, "expected auths: [...]");
    }
    const YAML::Node auths = root["auths"];
    if (!auths || auths.IsNull()) {
      return config;
    }
    if (!auths.IsSequence()) {
      return Malformed(path, auths, "auths must be a list");
    }
    for (const auto& item : auths) {
      if (!item.IsMap()) {
        return Malformed(path, item, "each auths entry is a map with gateway, auth and token");
      }
      AuthEntry entry;
      for (const auto& field : item) {
        const std::string key = field.first.Scalar();
        if (key == "options") {
          if (!field.second.IsSequence()) {
            continue;
          }
          for (const auto& option : field.second) {
            if (option.IsMap()) {
              entry.options.emplace_back(option["name"] ? option["name"].Scalar() : "",
                                         option["value"] ? option["value"].Scalar() : "");
            }
          }
          continue;
        }
        if (!field.second.IsScalar()) {
          continue;
        }
        if (key == "gateway") {
          entry.gateway = field.second.Scalar();
        } else if (key == "auth") {
          entry.auth = field.second.Scalar();
        } else if (key == "token") {
          entry.token = field.second.Scalar();
        }
      }
      config.auths.push_back(std::move(entry));
    }
  } catch (const YAML::Exception& e) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)};
  }
  return config;
}

std::string SerializeConfig(const ConfigFile& config) {
  if (config.auths.empty()) {
    return "auths: []\n";
  }
  std::string out = "auths:\n";
  for (const AuthEntry& entry : config.auths) {
    std::string_view lead = "- ";
    auto field = [&](std::string_view key, std::string_view value) {
      if (value.empty()) {
        return;  // omitempty
      }
      StrAppend(out, lead, key, ": ", YamlScalar(value), "\n");
      lead = "  ";
    };
    field("gateway", entry.gateway);
    field("auth", entry.auth);
    field("token", entry.token);
    if (!entry.options.empty()) {
      StrAppend(out, lead, "options:\n");
      lead = "  ";
      for (const auto& [name, value] : entry.options) {
        StrAppend(out, "  - name: ", YamlScalar(name), "\n");
        StrAppend(out, "    value: ", YamlScalar(value), "\n");
      }
    }
    if (lead == "- ") {
      out += "- {}\n";
    }
  }
  return out;
}

Result<void> WriteConfig(const std::string& path, const ConfigFile& config) {
  FUNCD_RETURN_IF_ERROR(MakeDirs(DirName(path), 0700));
  return WriteFileAtomic(path, SerializeConfig(config), 0600);
}

void SetBasicAuth(ConfigFile& config, const std::string& gateway, const std::string& user,
                  const std::string& password) {
  AuthEntry entry;
  entry.gateway = gateway;
  entry.auth = "basic";
  entry.token = Base64Encode(StrCat(user, ":", password));
  for (AuthEntry& existing : config.auths) {
    if (existing.gateway == gateway) {
      existing = std::move(entry);
      return;
    }
  }
  config.auths.push_back(std::move(entry));
}

bool RemoveAuth(ConfigFile& config, const std::string& gateway) {
  const size_t before = config.auths.size();
  std::erase_if(config.auths, [&](const AuthEntry& e) { return e.gateway == gateway; });
  return config.auths.size() != before;
}

const AuthEntry* FindAuth(const ConfigFile& config, const std::string& gateway) {
  for (const AuthEntry& entry : config.auths) {
    if (entry.gateway == gateway) {
      return &entry;
    }
  }
  return nullptr;
}

Result<std::optional<std::string>> AuthorizationFor(const std::string& gateway,
                                                    const std::string& token,
                                                    const EnvLookup& lookup) {
  if (!token.empty()) {
    return std::optional<std::string>(StrCat("Bearer ", token));
  }
  FUNCD_ASSIGN_OR_RETURN(ConfigFile config, ReadConfig(ConfigPath(lookup)));
  const AuthEntry* entry = FindAuth(config, gateway);
  if (entry == nullptr || entry->token.empty()) {
    return std::optional<std::string>();
  }
  if (entry->auth == "basic") {
    return std::optional<std::string>(StrCat("Basic ", entry->token));
  }
  return std::optional<std::string>(StrCat("Bearer ", entry->token));
}

Result<void> CheckLoginAnswer(const GatewayResponse& response) {
  if (response.status == 200) {
    return Ok();
  }
  if (response.status == 401) {
    return Error{ErrorCode::kUnauthenticated,
                 "unable to login, either username or password is incorrect"};
  }
  return UnexpectedStatus(response, "validating the credentials");
}

}  // namespace funcd::cli
