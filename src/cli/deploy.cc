#include "cli/deploy.h"

#include <cstdio>

#include "cli/builder.h"
#include "cli/package_store.h"
#include "common/strings.h"

namespace funcd::cli {

namespace json = boost::json;

namespace {

json::object ToObject(const std::map<std::string, std::string>& values) {
  json::object out;
  for (const auto& [k, v] : values) {
    out[k] = v;
  }
  return out;
}

json::object ResourcesJson(const Resources& resources) {
  json::object out;
  if (!resources.memory.empty()) {
    out["memory"] = resources.memory;
  }
  if (!resources.cpu.empty()) {
    out["cpu"] = resources.cpu;
  }
  return out;
}

std::string ReasonOf(unsigned status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 202:
      return "202 Accepted";
    default:
      return StrCat(status);
  }
}

// One function: PUT → 404 → POST, or DELETE → POST, or POST. Prints faas-cli's lines.
bool DeployOne(GatewayClient& client, const json::object& deployment, const DeployFlags& flags,
               const std::string& name, const std::string& ns) {
  std::printf("Deploying: %s.\n", name.c_str());
  std::fflush(stdout);
  const std::string body = json::serialize(deployment);
  if (flags.replace) {
    json::object remove{{"functionName", name}};
    if (!ns.empty()) {
      remove["namespace"] = ns;
    }
    auto removed = client.Call("DELETE", "/system/functions", json::serialize(remove));
    if (!removed) {
      Report("deploy", removed.error());
      return false;
    }
    if (removed->status == 200 || removed->status == 202) {
      std::printf("Removing old function.\n");
    } else if (removed->status != 404) {
      Report("deploy", UnexpectedStatus(*removed, StrCat("removing ", name)));
      return false;
    }
  }
  std::string method = flags.update ? "PUT" : "POST";
  auto response = client.Call(method, "/system/functions", body);
  if (response && flags.update && response->status == 404) {
    method = "POST";
    response = client.Call(method, "/system/functions", body);
  }
  if (!response) {
    Report("deploy", response.error());
    return false;
  }
  if (response->status != 200 && response->status != 201 && response->status != 202) {
    Error error = UnexpectedStatus(*response, StrCat("deploying ", name));
    if (response->status == 400 &&
        response->body.find("not in the package store") != std::string::npos) {
      // The usual cause: the build went to another state directory than the server's.
      StrAppend(error.message, "\n  hint: funcd build stores packages in STATE_DIR/packages (",
                DefaultStateDirFromEnv(),
                " unless --state-dir is given); funcd serve must run on this machine with the "
                "same --state-dir (or $FUNCD_STATE_DIR)");
    }
    Report("deploy", error);
    return false;
  }
  std::printf("\nDeployed. %s.\nURL: %s/function/%s%s\n\n", ReasonOf(response->status).c_str(),
              client.gateway().c_str(), name.c_str(), ns.empty() ? "" : StrCat(".", ns).c_str());
  std::fflush(stdout);
  return true;
}

}  // namespace

void AddDeployFlags(CLI::App* command, DeployFlags& flags) {
  AddGatewayFlags(command, flags.gateway);
  AddStackFlags(command, flags.stack);
  command->add_option("--image", flags.image,
                      "Deploy this image without a stack file (with --name): a package NAME[:TAG] "
                      "from funcd build, or dir:///absolute/path");
  command->add_option("--name", flags.name, "The function's name (with --image)");
  command->add_option("--fprocess", flags.fprocess, "The process the watchdog runs");
  command->add_option("--lang", flags.lang, "The function's template (with --image)");
  command->add_option("-e,--env", flags.env, "Environment variable KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  command->add_option("-l,--label", flags.labels, "Label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--annotation", flags.annotations, "Annotation KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--secret", flags.secrets, "Secret the function may read (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--constraint", flags.constraints, "Placement constraint (repeatable)")
      ->allow_extra_args(false);
  command->add_flag("--replace", flags.replace,
                    "Remove an existing function before deploying it again");
  command
      ->add_flag("--update", flags.update,
                 "Update an existing function in place (PUT, then POST when new)")
      ->capture_default_str();
  command
      ->add_flag("--read-template", flags.read_template,
                 "Take fprocess and annotations from the function's template")
      ->capture_default_str();
  command
      ->add_option("--tag", flags.tag,
                   "Image tag as built: latest, sha, branch or describe (see funcd build)")
      ->capture_default_str();
  command->preparse_callback([&flags](std::size_t) { flags.update_given = false; });
  command->parse_complete_callback(
      [command, &flags] { flags.update_given = command->count("--update") > 0; });
}

Result<json::object> DeploymentFor(const StackFunction& fn, const DeployFlags& flags,
                                   const LanguageTemplate* tmpl, const std::string& image) {
  json::object out;
  out["service"] = fn.name;
  out["image"] = image;
  const std::string ns =
      !flags.gateway.namespace_name.empty() ? flags.gateway.namespace_name : fn.namespace_name;
  if (!ns.empty()) {
    out["namespace"] = ns;
  }
  std::string fprocess = !flags.fprocess.empty() ? flags.fprocess : fn.fprocess;
  if (fprocess.empty() && tmpl != nullptr) {
    fprocess = tmpl->fprocess;
  }
  if (!fprocess.empty()) {
    out["envProcess"] = fprocess;
  }
  FUNCD_ASSIGN_OR_RETURN(auto env, ParseKeyValues(flags.env, "env"));
  std::map<std::string, std::string> environment = fn.environment;
  for (const auto& [k, v] : env) {
    environment[k] = v;
  }
  if (!environment.empty()) {
    out["envVars"] = ToObject(environment);
  }
  std::vector<std::string> constraints =
      !fn.constraints.empty() ? fn.constraints : flags.constraints;
  if (!constraints.empty()) {
    json::array array;
    for (const auto& c : constraints) {
      array.emplace_back(c);
    }
    out["constraints"] = std::move(array);
  }
  std::vector<std::string> secrets = flags.secrets;  // faas-cli: flags first, then the stack's
  for (const std::string& secret : fn.secrets) {
    if (std::find(secrets.begin(), secrets.end(), secret) == secrets.end()) {
      secrets.push_back(secret);
    }
  }
  if (!secrets.empty()) {
    json::array array;
    for (const auto& s : secrets) {
      array.emplace_back(s);
    }
    out["secrets"] = std::move(array);
  }
  FUNCD_ASSIGN_OR_RETURN(auto label_flags, ParseKeyValues(flags.labels, "label"));
  std::map<std::string, std::string> labels = fn.labels.value_or(StringMap{});
  for (const auto& [k, v] : label_flags) {
    labels[k] = v;
  }
  out["labels"] = ToObject(labels);
  FUNCD_ASSIGN_OR_RETURN(auto annotation_flags, ParseKeyValues(flags.annotations, "annotation"));
  std::map<std::string, std::string> annotations;
  if (tmpl != nullptr) {
    annotations = tmpl->annotations;
  }
  for (const auto& [k, v] : fn.annotations.value_or(StringMap{})) {
    annotations[k] = v;
  }
  for (const auto& [k, v] : annotation_flags) {
    annotations[k] = v;
  }
  out["annotations"] = ToObject(annotations);
  if (fn.limits) {
    out["limits"] = ResourcesJson(*fn.limits);
  }
  if (fn.requests) {
    out["requests"] = ResourcesJson(*fn.requests);
  }
  if (fn.readonly_root_filesystem) {
    out["readOnlyRootFilesystem"] = true;
  }
  return out;
}

int RunDeploy(const DeployFlags& flags_in, const Stack* stack,
              const std::map<std::string, std::string>& images) {
  DeployFlags flags = flags_in;
  if (flags.replace && flags.update) {
    if (flags.update_given) {
      std::fprintf(stderr,
                   "Cannot specify --update and --replace at the same time.\n"
                   "  --replace    removes an existing deployment before re-creating it\n"
                   "  --update     provides a rolling update to a new function image or "
                   "configuration\n");
      return Report("deploy", Error{ErrorCode::kInvalidArgument,
                                    "cannot specify --update and --replace at the same time"});
    }
    flags.update = false;  // --replace alone means replace
  }
  std::vector<StackFunction> functions;
  if (stack == nullptr) {
    if (flags.image.empty()) {
      return Report("deploy", Error{ErrorCode::kInvalidArgument,
                                    "no stack file (stack.yaml or stack.yml) here: pass -f FILE, "
                                    "or deploy an image with --image IMAGE --name NAME"});
    }
    if (flags.name.empty()) {
      return Report("deploy",
                    Error{ErrorCode::kInvalidArgument, "please provide a --name for the function"});
    }
    if (!IsValidFunctionName(flags.name)) {
      return Report("deploy", Error{ErrorCode::kInvalidArgument,
                                    StrCat("function name \"", flags.name,
                                           "\" is not valid: use a-z, 0-9 and '-'")});
    }
    StackFunction fn;
    fn.name = flags.name;
    fn.image = flags.image;
    fn.lang = ToLower(flags.lang);
    functions.push_back(std::move(fn));
  } else {
    functions = stack->functions;
    if (functions.empty()) {
      return Report("deploy", Error{ErrorCode::kInvalidArgument,
                                    StrCat(stack->path, " defines no functions")});
    }
  }
  auto client = ConnectGateway(flags.gateway, stack);
  if (!client) {
    return Report("deploy", client.error());
  }
  const std::string project_dir = stack != nullptr ? stack->dir : ".";
  int failed = 0;
  for (const StackFunction& fn : functions) {
    std::optional<LanguageTemplate> tmpl;
    if (flags.read_template && !fn.lang.empty()) {
      auto found = FindTemplate(fn.lang, TemplateSearchPath(project_dir));
      if (!found) {
        Report("deploy", Error{found.error().code, StrCat(fn.name, ": ", found.error().message,
                                                          " (or pass --read-template=false)")});
        ++failed;
        continue;
      }
      tmpl = std::move(*found);
    }
    std::string image = fn.image;
    if (auto it = images.find(fn.name); it != images.end()) {
      image = it->second;
    } else if (flags.tag != "latest" && !image.empty() && !image.starts_with("dir://")) {
      const std::string dir = stack != nullptr ? ResolveStackPath(*stack, fn.handler) : ".";
      auto tagged = ApplyTagMode(image, flags.tag, dir);
      if (!tagged) {
        Report("deploy", tagged.error());
        ++failed;
        continue;
      }
      image = *tagged;
    }
    if (image.empty()) {
      Report("deploy", Error{ErrorCode::kInvalidArgument,
                             StrCat("function ", fn.name, " has no image: set image: in ",
                                    stack != nullptr ? stack->path : "the stack file")});
      ++failed;
      continue;
    }
    auto deployment = DeploymentFor(fn, flags, tmpl ? &*tmpl : nullptr, image);
    if (!deployment) {
      Report("deploy", deployment.error());
      ++failed;
      continue;
    }
    const std::string ns = deployment->contains("namespace")
                               ? std::string(deployment->at("namespace").as_string())
                               : "";
    if (!DeployOne(*client, *deployment, flags, fn.name, ns)) {
      ++failed;
    }
  }
  if (failed > 0) {
    std::fprintf(stderr, "funcd deploy: %d of %zu function(s) failed to deploy\n", failed,
                 functions.size());
    return 1;
  }
  return 0;
}

}  // namespace funcd::cli
