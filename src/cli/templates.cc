#include "cli/templates.h"

#include <dirent.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "cli/files.h"
#include "common/strings.h"

#ifndef FUNCD_SOURCE_TEMPLATES_DIR
#define FUNCD_SOURCE_TEMPLATES_DIR ""
#endif

namespace funcd::cli {

namespace {

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? DirName(std::string(buf, static_cast<size_t>(n))) : ".";
}

Error Bad(const std::string& path, const YAML::Node& node, std::string_view what) {
  const YAML::Mark mark = node.Mark();
  return Error{ErrorCode::kInvalidArgument,
               mark.line < 0 ? StrCat(path, ": ", what)
                             : StrCat(path, ":", mark.line + 1, ":", mark.column + 1, ": ", what)};
}

Result<StringMap> ReadMap(const std::string& path, const YAML::Node& node, std::string_view what) {
  StringMap out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsMap()) {
    return Bad(path, node, StrCat(what, " must be a map of strings"));
  }
  for (const auto& entry : node) {
    if (!entry.second.IsScalar() && !entry.second.IsNull()) {
      return Bad(path, entry.second, StrCat(what, ".", entry.first.Scalar(), " must be a string"));
    }
    out[entry.first.Scalar()] = entry.second.IsNull() ? "" : entry.second.Scalar();
  }
  return out;
}

std::string Scalar(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : std::string();
}

Result<void> ParseTemplateYaml(const std::string& path, const YAML::Node& root,
                               LanguageTemplate& out) {
  if (!root.IsMap()) {
    return Bad(path, root, "template.yml must be a map (language, fprocess, ...)");
  }
  out.language = Scalar(root["language"]);
  out.fprocess = Scalar(root["fprocess"]);
  out.welcome_message = Scalar(root["welcome_message"]);
  if (std::string folder = Scalar(root["handler_folder"]); !folder.empty()) {
    out.handler_folder = folder;
  }
  if (const YAML::Node ssh = root["mount_ssh"]; ssh && ssh.IsScalar()) {
    YAML::convert<bool>::decode(ssh, out.mount_ssh);
  }
  if (const YAML::Node options = root["build_options"]; options && options.IsSequence()) {
    for (const auto& item : options) {
      BuildOption option;
      option.name = Scalar(item["name"]);
      if (const YAML::Node packages = item["packages"]; packages && packages.IsSequence()) {
        for (const auto& package : packages) {
          option.packages.push_back(Scalar(package));
        }
      }
      out.build_options.push_back(std::move(option));
    }
  }
  const YAML::Node funcd = root["funcd"];
  if (!funcd || funcd.IsNull()) {
    return Ok();
  }
  if (!funcd.IsMap()) {
    return Bad(path, funcd, "funcd: must be a map (build, environment, annotations, package)");
  }
  out.build = Scalar(funcd["build"]);
  FUNCD_ASSIGN_OR_RETURN(out.environment, ReadMap(path, funcd["environment"], "funcd.environment"));
  FUNCD_ASSIGN_OR_RETURN(out.annotations, ReadMap(path, funcd["annotations"], "funcd.annotations"));
  const std::string package = Scalar(funcd["package"]);
  if (package == "handler") {
    out.handler_is_package = true;
  } else if (!package.empty() && package != "template") {
    return Bad(path, funcd["package"], "funcd.package is template or handler");
  }
  return Ok();
}

}  // namespace

std::vector<std::string> TemplateSearchPath(const std::string& project_dir) {
  std::vector<std::string> path;
  auto add = [&](std::string dir) {
    if (!dir.empty() && std::find(path.begin(), path.end(), dir) == path.end()) {
      path.push_back(std::move(dir));
    }
  };
  add(JoinPath(project_dir.empty() ? "." : project_dir, "template"));
  if (const char* env = std::getenv("FUNCD_TEMPLATES"); env != nullptr) {
    add(env);
  }
  add(JoinPath(SelfDir(), "../share/funcd/templates"));
  add(FUNCD_SOURCE_TEMPLATES_DIR);
  return path;
}

Result<LanguageTemplate> LoadTemplate(const std::string& dir) {
  const std::string path = JoinPath(dir, "template.yml");
  FUNCD_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  LanguageTemplate out;
  out.dir = dir;
  out.name = BaseName(dir);
  try {
    YAML::Node root = YAML::Load(text);
    FUNCD_RETURN_IF_ERROR(ParseTemplateYaml(path, root, out));
  } catch (const YAML::Exception& e) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg)};
  }
  return out;
}

Result<LanguageTemplate> FindTemplate(const std::string& lang,
                                      const std::vector<std::string>& search_path) {
  const std::string name = ToLower(lang);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Error{ErrorCode::kInvalidArgument, StrCat("\"", lang, "\" is not a template name")};
  }
  for (const std::string& dir : search_path) {
    const std::string candidate = JoinPath(dir, name);
    if (PathExists(JoinPath(candidate, "template.yml"))) {
      return LoadTemplate(candidate);
    }
  }
  std::string available;
  for (const auto& found : ListTemplates(search_path)) {
    StrAppend(available, available.empty() ? "" : ", ", found.name);
  }
  std::string looked;
  for (const std::string& dir : search_path) {
    StrAppend(looked, looked.empty() ? "" : ", ", dir);
  }
  return Error{ErrorCode::kNotFound,
               StrCat("template \"", name, "\" not found (looked in ", looked,
                      "); available: ", available.empty() ? "none" : available)};
}

std::vector<LanguageTemplate> ListTemplates(const std::vector<std::string>& search_path) {
  std::vector<LanguageTemplate> out;
  std::set<std::string> seen;
  for (const std::string& dir : search_path) {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) {
      continue;
    }
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(handle)) {
      std::string name = entry->d_name;
      if (name != "." && name != ".." &&
          PathExists(JoinPath(JoinPath(dir, name), "template.yml"))) {
        names.push_back(std::move(name));
      }
    }
    ::closedir(handle);
    for (const std::string& name : names) {
      if (!seen.insert(name).second) {
        continue;
      }
      if (auto loaded = LoadTemplate(JoinPath(dir, name))) {
        out.push_back(std::move(*loaded));
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const LanguageTemplate& a, const LanguageTemplate& b) { return a.name < b.name; });
  return out;
}

}  // namespace funcd::cli
