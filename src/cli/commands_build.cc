// funcd new, build, up and template list.

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "cli/builder.h"
#include "cli/command_common.h"
#include "cli/deploy.h"
#include "cli/files.h"
#include "cli/templates.h"
#include "common/strings.h"

namespace funcd::cli {

namespace {

// --- new -----------------------------------------------------------------------------------

struct NewFlags {
  std::string name;
  std::string lang;
  std::string gateway;
  std::string handler;
  std::string prefix;
  std::string append;
  std::string memory_limit;
  std::string cpu_limit;
  std::string memory_request;
  std::string cpu_request;
  bool list = false;
  bool quiet = false;
};

void PrintLanguages() {
  std::printf("Languages available as templates:\n");
  for (const auto& tmpl : ListTemplates(TemplateSearchPath("."))) {
    std::printf("- %s\n", tmpl.name.c_str());
  }
}

// Adds template/, build/ and .secrets to ./.gitignore, as faas-cli does.
void UpdateGitignore() {
  std::string text = ReadFile(".gitignore").value_or("");
  std::string added;
  for (std::string_view entry : {"template", "build", ".secrets"}) {
    bool present = false;
    for (std::string_view line : Split(text, '\n')) {
      present = present || TrimSpace(line) == entry;
    }
    if (!present) {
      StrAppend(added, entry, "\n");
    }
  }
  if (added.empty()) {
    return;
  }
  if (!text.empty() && text.back() != '\n') {
    text += "\n";
  }
  (void)WriteFileAtomic(".gitignore", text + added, 0644);
}

std::string FunctionYaml(const NewFlags& flags, const std::string& handler,
                         const std::string& image) {
  std::string out = StrCat("  ", flags.name, ":\n    lang: ", ToLower(flags.lang),
                           "\n    handler: ./", handler, "\n    image: ", image, "\n");
  auto resources = [&](std::string_view key, const std::string& cpu, const std::string& memory) {
    if (cpu.empty() && memory.empty()) {
      return;
    }
    StrAppend(out, "    ", key, ":\n");
    if (!cpu.empty()) {
      StrAppend(out, "      cpu: ", cpu, "\n");
    }
    if (!memory.empty()) {
      StrAppend(out, "      memory: ", memory, "\n");
    }
  };
  resources("requests", flags.cpu_request, flags.memory_request);
  resources("limits", flags.cpu_limit, flags.memory_limit);
  return out + "\n";
}

struct StackEdit {
  std::string path;
  bool append = false;
  std::string text;  // the whole file with the new function
};

// The stack file with the new function added: --append FILE, else the default stack file
// when there is one, else a new stack.yaml. Nothing is written yet.
Result<StackEdit> PlanStackFile(const NewFlags& flags, const std::string& handler) {
  StackEdit edit;
  edit.path = flags.append;
  edit.append = !edit.path.empty();
  if (edit.append) {
    if (!edit.path.ends_with(".yml") && !edit.path.ends_with(".yaml")) {
      return Error{ErrorCode::kInvalidArgument,
                   "when appending to a stack the suffix should be .yml or .yaml"};
    }
    if (!PathExists(edit.path)) {
      return Error{ErrorCode::kNotFound, StrCat("unable to find file: ", edit.path)};
    }
  } else {
    edit.path = FindStackFile("");
    edit.append = !edit.path.empty();
  }
  std::string prefix = flags.prefix;
  if (const char* env = std::getenv("OPENFAAS_PREFIX"); prefix.empty() && env != nullptr) {
    prefix = env;
  }
  prefix = std::string(TrimSpace(prefix));
  const std::string image =
      prefix.empty() ? StrCat(flags.name, ":latest") : StrCat(prefix, "/", flags.name, ":latest");
  const std::string entry = FunctionYaml(flags, handler, image);
  if (!edit.append) {
    const char* env_url = std::getenv("OPENFAAS_URL");
    const std::string gateway =
        ResolveGatewayUrl(flags.gateway, "", env_url != nullptr ? env_url : "");
    edit.path = "stack.yaml";
    edit.text = StrCat("version: 1.0\nprovider:\n  name: openfaas\n  gateway: ", gateway,
                       "\nfunctions:\n", entry);
    return edit;
  }
  FUNCD_ASSIGN_OR_RETURN(edit.text, ReadFile(edit.path));
  auto existing = ParseStack(edit.text, edit.path);
  if (!existing) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("cannot append to ", edit.path, ": ", existing.error().message)};
  }
  if (existing->Find(flags.name) != nullptr) {
    return Error{ErrorCode::kAlreadyExists,
                 StrCat("function ", flags.name, " already exists in ", edit.path,
                        "; function names must be unique in a stack file")};
  }
  if (!edit.text.empty() && edit.text.back() != '\n') {
    edit.text += "\n";
  }
  edit.text += entry;
  // As faas-cli, the entry is appended as text: that only works when functions: comes last.
  auto check = ParseStack(edit.text, edit.path);
  if (!check || check->Find(flags.name) == nullptr) {
    return Error{
        ErrorCode::kInvalidArgument,
        StrCat("cannot append to ", edit.path, ": its functions: map is not the last section; add ",
               flags.name, " by hand")};
  }
  return edit;
}

// The handler folder from the template's sample, and the template in ./template/<lang>
// (faas-cli's place for it: the project then builds the same everywhere and may change it).
Result<void> CreateHandler(const LanguageTemplate& tmpl, const std::string& handler) {
  const std::string local_template = JoinPath("template", tmpl.name);
  if (!PathExists(local_template)) {
    FUNCD_RETURN_IF_ERROR(CopyTree(tmpl.dir, local_template));
  }
  FUNCD_RETURN_IF_ERROR(MakeDirs(handler, 0755));
  std::printf("Folder: %s created.\n", handler.c_str());
  UpdateGitignore();
  FUNCD_RETURN_IF_ERROR(CopyTree(JoinPath(tmpl.dir, tmpl.handler_folder), handler));
  std::printf("\nFunction created in folder: %s\n", handler.c_str());
  return Ok();
}

int RunNew(const NewFlags& flags) {
  if (flags.list) {
    PrintLanguages();
    return 0;
  }
  if (flags.lang.empty()) {
    return Report("new", Error{ErrorCode::kInvalidArgument,
                               "you must supply a function language with the --lang flag (funcd "
                               "new --list shows them)"});
  }
  if (flags.name.empty()) {
    return Report("new",
                  Error{ErrorCode::kInvalidArgument, "please provide a name for the function"});
  }
  if (!IsValidFunctionName(flags.name)) {
    return Report("new", Error{ErrorCode::kInvalidArgument,
                               "function name can only contain a-z, 0-9 and dashes"});
  }
  auto tmpl = FindTemplate(flags.lang, TemplateSearchPath("."));
  if (!tmpl) {
    return Report("new", tmpl.error());
  }
  const std::string handler = flags.handler.empty() ? flags.name : flags.handler;
  auto edit = PlanStackFile(flags, handler);
  if (!edit) {
    return Report("new", edit.error());
  }
  if (PathExists(handler)) {
    return Report("new",
                  Error{ErrorCode::kAlreadyExists, StrCat("folder: ", handler, " already exists")});
  }
  if (auto created = CreateHandler(*tmpl, handler); !created) {
    return Report("new", created.error());
  }
  if (auto written = WriteFileAtomic(edit->path, edit->text, 0644); !written) {
    return Report("new", written.error());
  }
  std::printf("Stack file %s: %s\n", edit->append ? "updated" : "written", edit->path.c_str());
  if (!flags.quiet && !tmpl->welcome_message.empty()) {
    std::printf("\nNotes:\n%s\n", tmpl->welcome_message.c_str());
  }
  return 0;
}

// --- build ---------------------------------------------------------------------------------

struct BuildFlags {
  StackFlags stack;
  std::vector<std::string> build_args;
  std::string tag = "latest";
  std::string state_dir;
  bool shrinkwrap = false;
  bool quiet = false;
  bool no_cache = false;
  bool pull = false;
};

void AddBuildOnlyFlags(CLI::App* cmd, BuildFlags& flags) {
  cmd->add_option("-b,--build-arg", flags.build_args,
                  "KEY=VALUE for the template's build step (repeatable; TEST_ENABLED=false "
                  "skips the handler's tests)")
      ->allow_extra_args(false);
  cmd->add_option("--state-dir", flags.state_dir,
                  "Where the package store is: funcd serve's state directory (default "
                  "$FUNCD_STATE_DIR, /var/lib/funcd as root, else ~/.local/share/funcd)");
  cmd->add_flag("--quiet", flags.quiet, "Show the build step's output only when it fails");
  cmd->add_flag("--no-cache", flags.no_cache, "Accepted for faas-cli compatibility (no cache)");
  cmd->add_flag("--pull", flags.pull, "Accepted for faas-cli compatibility");
}

// Builds the stack's functions; fills `images` with what was stored. Returns the failures.
int BuildAll(const Stack& stack, const BuildFlags& flags, const std::string& tag,
             std::map<std::string, std::string>& images) {
  auto build_args = ParseKeyValues(flags.build_args, "build-arg", true);
  if (!build_args) {
    Report("build", build_args.error());
    return 1;
  }
  BuildSettings settings;
  settings.state_dir = flags.state_dir.empty() ? DefaultStateDirFromEnv() : flags.state_dir;
  settings.build_args = *build_args;
  settings.tag_mode = tag;
  settings.shrinkwrap = flags.shrinkwrap;
  settings.quiet = flags.quiet;
  const auto start = std::chrono::steady_clock::now();
  int failed = 0;
  int built = 0;
  for (const StackFunction& fn : stack.functions) {
    if (fn.skip_build) {
      std::printf("Skipping build of: %s.\n", fn.name.c_str());
      continue;
    }
    auto result = BuildFunction(stack, fn, settings);
    if (!result) {
      Report("build", result.error());
      ++failed;
      continue;
    }
    images[fn.name] = result->image;
    ++built;
  }
  std::printf("\nTotal build time: %.2fs (%d built, %d failed)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
              built, failed);
  std::fflush(stdout);
  return failed;
}

int RunBuild(const BuildFlags& flags) {
  auto stack = LoadStackFor(flags.stack, true);
  if (!stack) {
    return Report("build", stack.error());
  }
  std::map<std::string, std::string> images;
  return BuildAll(**stack, flags, flags.tag, images) > 0 ? 1 : 0;
}

// --- up ------------------------------------------------------------------------------------

struct UpFlags {
  DeployFlags deploy;
  BuildFlags build;
  bool skip_deploy = false;
  bool skip_push = false;
};

int RunUp(const UpFlags& flags) {
  auto stack = LoadStackFor(flags.deploy.stack, true);
  if (!stack) {
    return Report("up", stack.error());
  }
  std::map<std::string, std::string> images;
  if (int failed = BuildAll(**stack, flags.build, flags.deploy.tag, images); failed > 0) {
    return Report("up", Error{ErrorCode::kFailedPrecondition,
                              StrCat(failed, " build(s) failed; nothing was deployed")});
  }
  if (flags.skip_deploy) {
    return 0;
  }
  std::printf("\n");
  return RunDeploy(flags.deploy, &**stack, images);
}

// --- template list -------------------------------------------------------------------------

int RunTemplateList() {
  const auto templates = ListTemplates(TemplateSearchPath("."));
  if (templates.empty()) {
    return Report("template list", Error{ErrorCode::kNotFound, "no templates found"});
  }
  std::printf("%-16s%-14s%s\n", "NAME", "FPROCESS", "FROM");
  for (const auto& tmpl : templates) {
    std::printf("%-16s%-14s%s\n", tmpl.name.c_str(),
                tmpl.fprocess.empty() ? "-" : tmpl.fprocess.substr(0, 13).c_str(),
                tmpl.dir.c_str());
  }
  return 0;
}

}  // namespace

void RegisterBuildCommands(CLI::App& app, CommandRegistry& registry) {
  {
    auto& flags = registry.Keep(std::make_shared<NewFlags>());
    CLI::App* cmd = app.add_subcommand(
        "new", "Create a function from a template: a handler folder and a stack file entry");
    cmd->add_option("name", flags.name, "The function's name (a-z, 0-9, '-')");
    cmd->add_option("--lang", flags.lang, "The template (funcd template list)");
    cmd->add_option("-g,--gateway", flags.gateway, "Gateway URL to write into a new stack file");
    cmd->add_option("--handler", flags.handler, "The handler folder (default: NAME)");
    cmd->add_option("-p,--prefix", flags.prefix, "Prefix for the image name ($OPENFAAS_PREFIX)");
    cmd->add_option("-a,--append", flags.append, "Add the function to this stack file");
    cmd->add_option("--memory-limit", flags.memory_limit, "limits.memory, e.g. 128Mi");
    cmd->add_option("--cpu-limit", flags.cpu_limit, "limits.cpu, e.g. 500m");
    cmd->add_option("--memory-request", flags.memory_request, "requests.memory");
    cmd->add_option("--cpu-request", flags.cpu_request, "requests.cpu");
    cmd->add_flag("--list", flags.list, "List the templates");
    cmd->add_flag("-q,--quiet", flags.quiet, "Skip the template's notes");
    cmd->footer(
        "Writes ./stack.yaml (or adds to the stack file that is there), the handler folder, "
        "and a copy of the template in ./template/LANG.\n"
        "Example:\n  funcd new hello --lang python3-http && funcd up");
    registry.Add(cmd, [&flags] { return RunNew(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<BuildFlags>());
    CLI::App* cmd = app.add_subcommand(
        "build", "Build the stack's functions into packages in the local package store");
    AddStackFlags(cmd, flags.stack);
    AddBuildOnlyFlags(cmd, flags);
    cmd->add_option("--tag", flags.tag, "latest, sha, branch or describe (git) for the image tag")
        ->capture_default_str();
    cmd->add_flag("--shrinkwrap", flags.shrinkwrap,
                  "Only assemble each package into ./build/NAME (no build step, not stored)");
    registry.Add(cmd, [&flags] { return RunBuild(flags); });
  }
  {
    auto& flags = registry.Keep(std::make_shared<UpFlags>());
    CLI::App* cmd = app.add_subcommand("up", "Build, then deploy, the stack's functions");
    AddDeployFlags(cmd, flags.deploy);
    AddBuildOnlyFlags(cmd, flags.build);
    cmd->add_flag("--skip-deploy", flags.skip_deploy, "Build only");
    cmd->add_flag("--skip-push", flags.skip_push,
                  "Accepted for faas-cli compatibility (packages are never pushed)");
    registry.Add(cmd, [&flags] { return RunUp(flags); });
  }
  {
    CLI::App* group = app.add_subcommand("template", "Function templates");
    group->require_subcommand(1);
    CLI::App* cmd = group->add_subcommand("list", "List the templates funcd new can use");
    cmd->alias("ls");
    registry.Add(cmd, [] { return RunTemplateList(); });
  }
}

}  // namespace funcd::cli
