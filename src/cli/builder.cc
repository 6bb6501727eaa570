#include "cli/builder.h"

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "cli/dockerfile.h"
#include "cli/files.h"
#include "cli/run_command.h"
#include "common/strings.h"

namespace funcd::cli {

namespace fs = std::filesystem;

namespace {

std::string Canonical(const std::string& path) {
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(path, ec);
  return ec ? path : resolved.string();
}

std::string HumanSize(std::uintmax_t bytes) {
  if (bytes < 10 * 1024) {
    return StrCat(bytes, " B");
  }
  if (bytes < 10 * 1024 * 1024) {
    return StrCat(bytes / 1024, " KiB");
  }
  return StrCat(bytes / (1024 * 1024), " MiB");
}

std::uintmax_t TreeSize(const std::string& root) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      total += it->file_size(ec);
    }
  }
  return total;
}

std::string Seconds(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fs", std::chrono::duration<double>(d).count());
  return buf;
}

// Copies the template and the handler into `dir`.
Result<void> Assemble(const LanguageTemplate& tmpl, const std::string& handler_dir,
                      bool handler_is_project, const std::string& dir) {
  auto skip_handler = [handler_is_project](const std::string& relative) {
    if (relative == ".git" || relative.starts_with(".git/")) {
      return true;
    }
    // `handler: .` — the project folder itself: leave out what is not the function.
    return handler_is_project &&
           (relative == "template" || relative == "build" || relative == ".openfaas" ||
            relative.starts_with("template/") || relative.starts_with("build/") ||
            relative.starts_with(".openfaas/"));
  };
  if (tmpl.handler_is_package) {
    return CopyTree(handler_dir, dir, skip_handler);
  }
  const std::string folder = tmpl.handler_folder;
  const bool into_root = folder.empty() || folder == ".";
  FUNCD_RETURN_IF_ERROR(CopyTree(tmpl.dir, dir, [&](const std::string& relative) {
    return !into_root && (relative == folder || relative.starts_with(folder + "/"));
  }));
  return CopyTree(handler_dir, into_root ? dir : JoinPath(dir, folder), skip_handler);
}

Result<void> CheckBuildable(const Stack& stack, const StackFunction& fn) {
  const std::string where = StrCat("function ", fn.name, " (", stack.path, ":", fn.line, ")");
  if (fn.lang.empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat(where,
                        " has no lang: set it to a template (funcd template list), or "
                        "set skip_build: true for a prebuilt image")};
  }
  if (fn.handler.empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat(where, " has no handler: set handler: ./FOLDER")};
  }
  if (fn.image.empty()) {
    return Error{ErrorCode::kInvalidArgument, StrCat(where, " has no image: set image: ", fn.name,
                                                     ":latest (the package's name in the store)")};
  }
  return Ok();
}

// Without an fprocess, a Dockerfile in the package supplies it (CMD/ENTRYPOINT) and
// environment defaults (ENV).
Result<void> ApplyDockerfile(const std::string& dir, const std::string& tag, std::FILE* out,
                             std::string& fprocess, StringMap& environment) {
  const std::string dockerfile = JoinPath(dir, "Dockerfile");
  if (!fprocess.empty() || !PathExists(dockerfile)) {
    return Ok();
  }
  FUNCD_ASSIGN_OR_RETURN(std::string text, ReadFile(dockerfile));
  FUNCD_ASSIGN_OR_RETURN(DockerfileInfo info, ParseDockerfile(text));
  for (const std::string& warning : info.warnings) {
    std::fprintf(out, "%swarning: %s\n", tag.c_str(), warning.c_str());
  }
  FUNCD_ASSIGN_OR_RETURN(fprocess, info.Fprocess());
  for (const auto& [k, v] : info.environment) {
    environment[k] = v;
  }
  return Ok();
}

// The build step's environment: funcd's variables, ADDITIONAL_PACKAGE from build_options,
// then the stack's build_args and the command line's over them.
std::vector<std::pair<std::string, std::string>> BuildEnvironment(const LanguageTemplate& tmpl,
                                                                  const StackFunction& fn,
                                                                  const std::string& image,
                                                                  const BuildSettings& settings) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"FUNCD_FUNCTION", fn.name},
      {"FUNCD_IMAGE", image},
      {"FUNCD_HANDLER_FOLDER", tmpl.handler_folder}};
  std::string packages;
  for (const std::string& option : fn.build_options) {
    for (const BuildOption& known : tmpl.build_options) {
      for (const std::string& package :
           known.name == option ? known.packages : std::vector<std::string>()) {
        StrAppend(packages, packages.empty() ? "" : " ", package);
      }
    }
  }
  if (!packages.empty()) {
    env.emplace_back("ADDITIONAL_PACKAGE", packages);
  }
  StringMap args = fn.build_args;
  for (const auto& [k, v] : settings.build_args) {
    args[k] = v;
  }
  env.insert(env.end(), args.begin(), args.end());
  return env;
}

// Runs the template's build command in `dir`, its output on the progress stream (with
// --quiet only when it fails). Errors: kFailedPrecondition when it fails.
Result<void> RunBuildStep(const LanguageTemplate& tmpl, const StackFunction& fn,
                          const std::string& image, const std::string& dir,
                          const BuildSettings& settings, const std::string& tag) {
  std::FILE* out = settings.progress;
  std::fprintf(out, "%s  running: %s\n", tag.c_str(), tmpl.build.c_str());
  std::fflush(out);
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", tmpl.build};
  spec.working_dir = dir;
  spec.extra_env = BuildEnvironment(tmpl, fn, image, settings);
  std::vector<std::string> held;
  FUNCD_ASSIGN_OR_RETURN(int code, RunCommand(spec, [&](std::string_view line) {
                           if (settings.quiet) {
                             held.emplace_back(line);
                             return;
                           }
                           std::fprintf(out, "%s  | %.*s\n", tag.c_str(),
                                        static_cast<int>(line.size()), line.data());
                           std::fflush(out);
                         }));
  if (code == 0) {
    return Ok();
  }
  for (const std::string& line : held) {
    std::fprintf(out, "%s  | %s\n", tag.c_str(), line.c_str());
  }
  return Error{ErrorCode::kFailedPrecondition,
               StrCat("building ", fn.name, " failed: `", tmpl.build, "` exited with ", code,
                      " (its output is above)")};
}

}  // namespace

Result<void> WriteManifest(const std::string& dir, const std::string& fprocess,
                           const StringMap& environment) {
  const std::string path = JoinPath(dir, "funcd.json");
  boost::json::object manifest;
  if (auto existing = ReadFile(path)) {
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(*existing, ec);
    if (ec || !parsed.is_object()) {
      return Error{ErrorCode::kInvalidArgument, StrCat(path, " is not a JSON object")};
    }
    manifest = std::move(parsed.as_object());
  }
  if (!fprocess.empty()) {
    manifest["fprocess"] = fprocess;
  }
  if (!environment.empty()) {
    boost::json::object env;
    if (auto* current = manifest.if_contains("environment"); current && current->is_object()) {
      env = current->as_object();
    }
    for (const auto& [k, v] : environment) {
      if (!env.contains(k)) {
        env[k] = v;  // values the handler's own funcd.json sets win
      }
    }
    manifest["environment"] = std::move(env);
  }
  return WriteFileAtomic(path, boost::json::serialize(manifest) + "\n", 0644);
}

Result<std::string> ApplyTagMode(const std::string& image, const std::string& mode,
                                 const std::string& dir) {
  if (mode.empty() || mode == "latest") {
    return image;
  }
  if (mode != "sha" && mode != "branch" && mode != "describe") {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("--tag is latest, sha, branch or describe, not \"", mode, "\"")};
  }
  auto git = [&](std::vector<std::string> args) -> Result<std::string> {
    CommandSpec spec;
    spec.argv = {"git"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.working_dir = dir;
    auto out = CaptureCommand(spec);
    if (!out) {
      return Error{
          ErrorCode::kFailedPrecondition,
          StrCat("--tag ", mode, " needs a git repository at ", dir, ": ", out.error().message)};
    }
    return out;
  };
  FUNCD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(image));
  std::string suffix;
  if (mode == "describe") {
    FUNCD_ASSIGN_OR_RETURN(suffix, git({"describe", "--tags", "--always"}));
  } else {
    FUNCD_ASSIGN_OR_RETURN(std::string sha, git({"rev-parse", "--short", "HEAD"}));
    suffix = sha;
    if (mode == "branch") {
      FUNCD_ASSIGN_OR_RETURN(std::string branch, git({"rev-parse", "--abbrev-ref", "HEAD"}));
      suffix = StrCat(branch, "-", sha);
    }
  }
  for (char& c : suffix) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_')) {
      c = '-';
    }
  }
  return StrCat(ref.name, ":", ref.tag, "-", suffix);
}

namespace {

// Assembles the package in `dir`, runs the build step and writes the manifest.
Result<void> MakePackage(const Stack& stack, const StackFunction& fn, const LanguageTemplate& tmpl,
                         const std::string& image, const std::string& dir,
                         const BuildSettings& settings, const std::string& tag) {
  const std::string handler_dir = ResolveStackPath(stack, fn.handler);
  const bool handler_is_project = Canonical(handler_dir) == Canonical(stack.dir);
  FUNCD_RETURN_IF_ERROR(Assemble(tmpl, handler_dir, handler_is_project, dir));
  std::string fprocess = !fn.fprocess.empty() ? fn.fprocess : tmpl.fprocess;
  StringMap environment = tmpl.environment;
  if (auto applied = ApplyDockerfile(dir, tag, settings.progress, fprocess, environment);
      !applied) {
    return Error{applied.error().code, StrCat(fn.name, ": ", applied.error().message)};
  }
  if (!settings.shrinkwrap && !tmpl.build.empty()) {
    FUNCD_RETURN_IF_ERROR(RunBuildStep(tmpl, fn, image, dir, settings, tag));
  }
  FUNCD_RETURN_IF_ERROR(WriteManifest(dir, fprocess, environment));
  if (fprocess.empty() && !(environment.contains("mode") && environment.at("mode") == "static")) {
    std::fprintf(settings.progress,
                 "%swarning: no fprocess: set fprocess in stack.yml (or in the template) or the "
                 "function will not deploy\n",
                 tag.c_str());
  }
  return Ok();
}

}  // namespace

Result<BuildResult> BuildFunction(const Stack& stack, const StackFunction& fn,
                                  const BuildSettings& settings) {
  const auto start = std::chrono::steady_clock::now();
  std::FILE* out = settings.progress;
  FUNCD_RETURN_IF_ERROR(CheckBuildable(stack, fn));
  const std::string handler_dir = ResolveStackPath(stack, fn.handler);
  if (!IsDirectory(handler_dir)) {
    return Error{ErrorCode::kNotFound, StrCat("the handler folder ", handler_dir, " of function ",
                                              fn.name, " does not exist")};
  }
  FUNCD_ASSIGN_OR_RETURN(LanguageTemplate tmpl,
                         FindTemplate(fn.lang, TemplateSearchPath(stack.dir)));
  FUNCD_ASSIGN_OR_RETURN(std::string image, ApplyTagMode(fn.image, settings.tag_mode, handler_dir));
  FUNCD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(image));
  const std::string tag = StrCat("[", fn.name, "] ");
  std::fprintf(out, "%s> Building %s from template %s (%s)\n", tag.c_str(), image.c_str(),
               tmpl.name.c_str(), tmpl.dir.c_str());
  std::fflush(out);

  BuildResult result;
  result.image = image;
  PackageStore store(settings.state_dir);
  std::string dir;
  if (settings.shrinkwrap) {
    dir = JoinPath("build", fn.name);
    RemoveTree(dir);
    FUNCD_RETURN_IF_ERROR(MakeDirs(dir, 0755));
  } else {
    auto staging = store.NewStaging();
    if (!staging) {
      return Error{staging.error().code,
                   StrCat(staging.error().message,
                          " (the package store is in the state directory; set it with "
                          "--state-dir or FUNCD_STATE_DIR)")};
    }
    dir = *staging;
  }
  if (auto made = MakePackage(stack, fn, tmpl, image, dir, settings, tag); !made) {
    if (!settings.shrinkwrap) {
      RemoveTree(dir);  // nothing half-built stays in the store
    }
    return made.error();
  }
  const std::string elapsed = Seconds(std::chrono::steady_clock::now() - start);
  if (settings.shrinkwrap) {
    result.shrinkwrap_dir = dir;
    std::fprintf(out, "%s< Shrinkwrapped %s into %s (%s)\n", tag.c_str(), fn.name.c_str(),
                 dir.c_str(), elapsed.c_str());
    return result;
  }
  const std::uintmax_t size = TreeSize(dir);
  FUNCD_ASSIGN_OR_RETURN(result.package, store.Install(dir, ref));
  std::fprintf(out, "%s< Stored %s (%s, %s%s) in %s (%s)\n", tag.c_str(),
               result.package.image.c_str(), result.package.digest.substr(0, 19).c_str(),
               HumanSize(size).c_str(), result.package.reused ? ", unchanged" : "",
               store.packages_dir().c_str(),
               Seconds(std::chrono::steady_clock::now() - start).c_str());
  std::fflush(out);
  return result;
}

}  // namespace funcd::cli
