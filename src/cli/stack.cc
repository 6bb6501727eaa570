#include "cli/stack.h"

#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>

#include "cli/files.h"
#include "common/strings.h"

namespace funcd::cli {

namespace {

constexpr std::string_view kFunctionKeys[] = {"lang",          "handler",
                                              "image",         "fprocess",
                                              "environment",   "environment_file",
                                              "secrets",       "skip_build",
                                              "constraints",   "labels",
                                              "annotations",   "limits",
                                              "requests",      "readonly_root_filesystem",
                                              "build_options", "build_args",
                                              "build_secrets", "platforms",
                                              "namespace"};

// Reads typed values out of a YAML document and phrases errors as "PATH:LINE:COL: what".
class YamlReader {
 public:
  explicit YamlReader(std::string path) : path_(std::move(path)) {}

  std::string Where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) {
      return path_;
    }
    return StrCat(path_, ":", mark.line + 1, ":", mark.column + 1);
  }
  Error At(const YAML::Node& node, std::string_view message) const {
    return Error{ErrorCode::kInvalidArgument, StrCat(Where(node), ": ", message)};
  }

  Result<std::string> String(const YAML::Node& node, std::string_view what) const {
    if (!node || node.IsNull()) {
      return std::string();
    }
    if (!node.IsScalar()) {
      return At(node, StrCat(what, " must be a string"));
    }
    return node.Scalar();
  }

  Result<bool> Bool(const YAML::Node& node, std::string_view what) const {
    if (!node || node.IsNull()) {
      return false;
    }
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      return At(node, StrCat(what, " must be true or false"));
    }
    return value;
  }

  Result<StringMap> Map(const YAML::Node& node, std::string_view what) const {
    StringMap out;
    if (!node || node.IsNull()) {
      return out;
    }
    if (!node.IsMap()) {
      return At(node, StrCat(what, " must be a map of strings (key: value)"));
    }
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        return At(entry.first, StrCat(what, ": keys must be strings"));
      }
      const std::string key = entry.first.Scalar();
      if (out.contains(key)) {
        return At(entry.first, StrCat(what, ": duplicate key \"", key, "\""));
      }
      if (entry.second.IsNull()) {
        out[key] = "";
        continue;
      }
      if (!entry.second.IsScalar()) {
        return At(entry.second, StrCat(what, ".", key, " must be a string"));
      }
      out[key] = entry.second.Scalar();
    }
    return out;
  }

  Result<std::vector<std::string>> List(const YAML::Node& node, std::string_view what) const {
    std::vector<std::string> out;
    if (!node || node.IsNull()) {
      return out;
    }
    if (!node.IsSequence()) {
      return At(node, StrCat(what, " must be a list (- item)"));
    }
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return At(item, StrCat(what, " items must be strings"));
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  Result<Resources> ResourcesOf(const YAML::Node& node, std::string_view what) const {
    if (!node.IsMap()) {
      return At(node, StrCat(what, " must be a map with memory and/or cpu"));
    }
    Resources out;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key == "memory") {
        FUNCD_ASSIGN_OR_RETURN(out.memory, String(entry.second, StrCat(what, ".memory")));
      } else if (key == "cpu") {
        FUNCD_ASSIGN_OR_RETURN(out.cpu, String(entry.second, StrCat(what, ".cpu")));
      } else {
        return At(entry.first, StrCat(what, ": unknown key \"", key, "\" (memory, cpu)"));
      }
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool IsKnownFunctionKey(std::string_view key) {
  for (std::string_view known : kFunctionKeys) {
    if (key == known) {
      return true;
    }
  }
  return false;
}

// Reads an environment file: a YAML map with one key, environment: {K: V}.
Result<StringMap> ReadEnvironmentFile(const std::string& path) {
  FUNCD_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  YamlReader reader(path);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) {
      return StringMap();
    }
    if (!root.IsMap()) {
      return reader.At(root, "an environment file holds a map: environment: {KEY: value}");
    }
    return reader.Map(root["environment"], "environment");
  } catch (const YAML::Exception& e) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)};
  }
}

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) {
    return text.empty();
  }
  if (pattern[0] == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (WildcardMatch(pattern.substr(1), text.substr(i))) {
        return true;
      }
    }
    return false;
  }
  if (text.empty()) {
    return false;
  }
  return (pattern[0] == '?' || pattern[0] == text[0]) &&
         WildcardMatch(pattern.substr(1), text.substr(1));
}

// Parses one stack file into a Stack; used once per file. Not thread-safe.
class StackParser {
 public:
  StackParser(const std::string& path, const StackOptions& options)
      : reader_(path), options_(options) {
    stack_.path = path;
    stack_.dir = DirName(path);
  }

  Result<Stack> Parse(std::string_view text) {
    std::string expanded(text);
    if (options_.envsubst) {
      auto substituted = EnvSubst(text, options_.lookup ? options_.lookup : ProcessEnvironment());
      if (!substituted) {
        // "line N: what" -> "PATH:N: what", as the YAML errors read.
        std::string_view message = substituted.error().message;
        std::string where = StrCat(stack_.path, ": ");
        if (message.starts_with("line ")) {
          const size_t colon = message.find(": ");
          if (colon != std::string_view::npos) {
            where = StrCat(stack_.path, ":", message.substr(5, colon - 5), ": ");
            message.remove_prefix(colon + 2);
          }
        }
        return Error{ErrorCode::kInvalidArgument, StrCat(where, message)};
      }
      expanded = std::move(*substituted);
    }
    YAML::Node root;
    try {
      root = YAML::Load(expanded);
    } catch (const YAML::Exception& e) {
      return Error{ErrorCode::kInvalidArgument,
                   StrCat(stack_.path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)};
    }
    try {
      FUNCD_RETURN_IF_ERROR(ParseRoot(root));
    } catch (const YAML::Exception& e) {
      return Error{ErrorCode::kInvalidArgument,
                   StrCat(stack_.path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)};
    }
    FUNCD_RETURN_IF_ERROR(ApplyFilter());
    return std::move(stack_);
  }

 private:
  Result<void> ParseRoot(const YAML::Node& root) {
    if (!root || root.IsNull() || !root.IsMap()) {
      return Error{
          ErrorCode::kInvalidArgument,
          StrCat(stack_.path, ": not a stack file (expected provider: and functions: at the top)")};
    }
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      if (key == "version") {
        FUNCD_ASSIGN_OR_RETURN(stack_.version, reader_.String(entry.second, "version"));
        if (!stack_.version.empty() && stack_.version != "1.0") {
          return reader_.At(entry.second, StrCat("version ", stack_.version,
                                                 " is not supported, use 1.0 or remove it"));
        }
      } else if (key == "provider") {
        FUNCD_RETURN_IF_ERROR(ParseProvider(entry.second));
      } else if (key == "functions") {
        FUNCD_RETURN_IF_ERROR(ParseFunctions(entry.second));
      } else if (key == "configuration") {
        FUNCD_RETURN_IF_ERROR(ParseConfiguration(entry.second));
      } else {
        Warn(entry.first, StrCat("unknown key \"", key, "\" (ignored)"));
      }
    }
    if (!root["provider"]) {
      return Error{
          ErrorCode::kInvalidArgument,
          StrCat(stack_.path, ": provider.name is missing (use provider: {name: openfaas})")};
    }
    return Ok();
  }

  Result<void> ParseProvider(const YAML::Node& node) {
    if (!node.IsMap()) {
      return reader_.At(node, "provider must be a map with name and gateway");
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key == "name") {
        FUNCD_ASSIGN_OR_RETURN(stack_.provider_name, reader_.String(entry.second, "provider.name"));
        if (stack_.provider_name != "openfaas" && stack_.provider_name != "funcd") {
          return reader_.At(entry.second,
                            StrCat("provider.name must be openfaas (or funcd), got \"",
                                   stack_.provider_name, "\""));
        }
      } else if (key == "gateway") {
        FUNCD_ASSIGN_OR_RETURN(stack_.gateway, reader_.String(entry.second, "provider.gateway"));
      } else if (key != "network") {  // network: deprecated, ignored by faas-cli too
        Warn(entry.first, StrCat("unknown key \"provider.", key, "\" (ignored)"));
      }
    }
    if (stack_.provider_name.empty()) {
      return reader_.At(node, "provider.name is missing (use name: openfaas)");
    }
    return Ok();
  }

  Result<void> ParseConfiguration(const YAML::Node& node) {
    if (node.IsNull()) {
      return Ok();
    }
    if (!node.IsMap()) {
      return reader_.At(node, "configuration must be a map");
    }
    if (const YAML::Node templates = node["templates"]; templates) {
      if (!templates.IsSequence()) {
        return reader_.At(templates, "configuration.templates must be a list of {name, source}");
      }
      for (const auto& item : templates) {
        if (!item.IsMap()) {
          return reader_.At(item, "configuration.templates items are {name, source}");
        }
        TemplateSource source;
        FUNCD_ASSIGN_OR_RETURN(source.name, reader_.String(item["name"], "templates.name"));
        FUNCD_ASSIGN_OR_RETURN(source.source, reader_.String(item["source"], "templates.source"));
        stack_.templates.push_back(std::move(source));
      }
    }
    FUNCD_ASSIGN_OR_RETURN(stack_.copy, reader_.List(node["copy"], "configuration.copy"));
    return Ok();
  }

  Result<void> ParseFunctions(const YAML::Node& node) {
    if (node.IsNull()) {
      return Ok();
    }
    if (!node.IsMap()) {
      return reader_.At(node, "functions must be a map of function name to its settings");
    }
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const std::string name = entry.first.Scalar();
      if (!seen.insert(name).second) {
        return reader_.At(entry.first, StrCat("function \"", name, "\" is defined twice"));
      }
      if (!IsValidFunctionName(name)) {
        return reader_.At(entry.first,
                          StrCat("function name \"", name,
                                 "\" is not valid: use a-z, 0-9 and '-' (not at the ends), at "
                                 "most 63 characters"));
      }
      FUNCD_ASSIGN_OR_RETURN(StackFunction fn, ParseFunction(name, entry.first, entry.second));
      stack_.functions.push_back(std::move(fn));
    }
    return Ok();
  }

  Result<StackFunction> ParseFunction(const std::string& name, const YAML::Node& key_node,
                                      const YAML::Node& node) {
    StackFunction fn;
    fn.name = name;
    fn.line = key_node.Mark().line + 1;
    if (node.IsNull()) {
      return fn;
    }
    if (!node.IsMap()) {
      return reader_.At(node, StrCat("function ", name, " must be a map of settings"));
    }
    const std::string p = StrCat(name, ".");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (!seen.insert(key).second) {
        return reader_.At(entry.first, StrCat(p, key, " is set twice"));
      }
      if (!IsKnownFunctionKey(key)) {
        Warn(entry.first, StrCat("unknown key \"", p, key, "\" (ignored)"));
        continue;
      }
      if (key == "lang") {
        FUNCD_ASSIGN_OR_RETURN(fn.lang, reader_.String(value, p + key));
        fn.lang = ToLower(fn.lang);
      } else if (key == "handler") {
        FUNCD_ASSIGN_OR_RETURN(fn.handler, reader_.String(value, p + key));
      } else if (key == "image") {
        FUNCD_ASSIGN_OR_RETURN(fn.image, reader_.String(value, p + key));
      } else if (key == "fprocess") {
        FUNCD_ASSIGN_OR_RETURN(fn.fprocess, reader_.String(value, p + key));
      } else if (key == "namespace") {
        FUNCD_ASSIGN_OR_RETURN(fn.namespace_name, reader_.String(value, p + key));
      } else if (key == "platforms") {
        FUNCD_ASSIGN_OR_RETURN(fn.platforms, reader_.String(value, p + key));
      } else if (key == "environment") {
        FUNCD_ASSIGN_OR_RETURN(fn.environment, reader_.Map(value, p + key));
      } else if (key == "environment_file") {
        FUNCD_ASSIGN_OR_RETURN(fn.environment_file, reader_.List(value, p + key));
      } else if (key == "secrets") {
        FUNCD_ASSIGN_OR_RETURN(fn.secrets, reader_.List(value, p + key));
      } else if (key == "constraints") {
        FUNCD_ASSIGN_OR_RETURN(fn.constraints, reader_.List(value, p + key));
      } else if (key == "build_options") {
        FUNCD_ASSIGN_OR_RETURN(fn.build_options, reader_.List(value, p + key));
      } else if (key == "labels") {
        FUNCD_ASSIGN_OR_RETURN(fn.labels, reader_.Map(value, p + key));
      } else if (key == "annotations") {
        FUNCD_ASSIGN_OR_RETURN(fn.annotations, reader_.Map(value, p + key));
      } else if (key == "build_args") {
        FUNCD_ASSIGN_OR_RETURN(fn.build_args, reader_.Map(value, p + key));
      } else if (key == "build_secrets") {
        FUNCD_ASSIGN_OR_RETURN(fn.build_secrets, reader_.Map(value, p + key));
      } else if (key == "limits") {
        FUNCD_ASSIGN_OR_RETURN(fn.limits, reader_.ResourcesOf(value, p + key));
      } else if (key == "requests") {
        FUNCD_ASSIGN_OR_RETURN(fn.requests, reader_.ResourcesOf(value, p + key));
      } else if (key == "skip_build") {
        FUNCD_ASSIGN_OR_RETURN(fn.skip_build, reader_.Bool(value, p + key));
      } else if (key == "readonly_root_filesystem") {
        FUNCD_ASSIGN_OR_RETURN(fn.readonly_root_filesystem, reader_.Bool(value, p + key));
      }
    }
    // Environment files win over the inline environment; later files over earlier ones.
    if (const YAML::Node files = node["environment_file"]; files && !fn.environment_file.empty()) {
      size_t index = 0;
      for (const std::string& file : fn.environment_file) {
        const std::string path = ResolveStackPath(stack_, file);
        auto values = ReadEnvironmentFile(path);
        if (!values) {
          return reader_.At(files[index], StrCat(p, "environment_file: ", values.error().message));
        }
        for (auto& [k, v] : *values) {
          fn.environment[k] = v;
        }
        ++index;
      }
    }
    return fn;
  }

  Result<void> ApplyFilter() {
    if (!options_.filter.empty() && !options_.regex.empty()) {
      return Error{ErrorCode::kInvalidArgument, "pass --filter or --regex, not both"};
    }
    if (options_.filter.empty() && options_.regex.empty()) {
      return Ok();
    }
    std::optional<std::regex> regex;
    if (!options_.regex.empty()) {
      try {
        regex.emplace(options_.regex, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Error{
            ErrorCode::kInvalidArgument,
            StrCat("--regex \"", options_.regex, "\" is not a regular expression: ", e.what())};
      }
    }
    std::vector<StackFunction> kept;
    for (auto& fn : stack_.functions) {
      const bool match =
          regex ? std::regex_search(fn.name, *regex) : WildcardMatch(options_.filter, fn.name);
      if (match) {
        kept.push_back(std::move(fn));
      }
    }
    if (kept.empty()) {
      return Error{ErrorCode::kNotFound,
                   StrCat("no function in ", stack_.path, " matches ",
                          regex ? StrCat("--regex \"", options_.regex, "\"")
                                : StrCat("--filter \"", options_.filter, "\""))};
    }
    stack_.functions = std::move(kept);
    return Ok();
  }

  void Warn(const YAML::Node& node, std::string_view message) {
    stack_.warnings.push_back(StrCat(reader_.Where(node), ": ", message));
  }

  YamlReader reader_;
  const StackOptions& options_;
  Stack stack_;
};

}  // namespace

const StackFunction* Stack::Find(std::string_view name) const {
  for (const auto& fn : functions) {
    if (fn.name == name) {
      return &fn;
    }
  }
  return nullptr;
}

bool IsValidFunctionName(std::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string ResolveStackPath(const Stack& stack, const std::string& path) {
  if (path.empty() || path[0] == '/') {
    return path;
  }
  std::string beside = JoinPath(stack.dir, path);
  if (PathExists(beside) || !PathExists(path)) {
    return beside;
  }
  return path;
}

Result<Stack> ParseStack(std::string_view text, const std::string& path,
                         const StackOptions& options) {
  StackParser parser(path, options);
  return parser.Parse(text);
}

Result<Stack> LoadStack(const std::string& path, const StackOptions& options) {
  auto text = ReadFile(path);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) {
      return Error{ErrorCode::kNotFound, StrCat("stack file ", path, " not found")};
    }
    return std::move(text).error();
  }
  return ParseStack(*text, path, options);
}

std::string FindStackFile(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  for (const char* name : {"stack.yaml", "stack.yml"}) {
    if (PathExists(name)) {
      return name;
    }
  }
  return "";
}

}  // namespace funcd::cli
