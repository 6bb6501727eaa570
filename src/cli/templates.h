#pragma once

// Function templates (contracts §7.2): DIR/<lang>/template.yml plus the files a function is
// built from, with the sample handler in <handler_folder> (default "function").
//
// template.yml keys: language, fprocess, welcome_message, handler_folder, build_options
// ([{name, packages}]), mount_ssh; and funcd's own, under `funcd:` (faas-cli ignores them):
//
//   funcd:
//     build: sh build.sh            # run in the package directory by `funcd build`
//     environment: {mode: http}     # defaults written to the package manifest (funcd.json)
//     annotations: {com.funcd.watchdog: none}   # added to every deployment of this language
//     package: handler              # "template" (default): the template with the handler in
//                                   # handler_folder; "handler": the handler folder alone
//
// Templates are looked up in the project's ./template/<lang> first (faas-cli's layout; `funcd
// new` copies the template there), then in $FUNCD_TEMPLATES, <funcd binary>/../share/funcd/
// templates, and the templates/ folder of the source tree funcd was built from.

#include <string>
#include <vector>

#include "cli/stack.h"
#include "common/result.h"

namespace funcd::cli {

struct BuildOption {
  std::string name;
  std::vector<std::string> packages;
};

struct LanguageTemplate {
  std::string name;  // the directory name: what `lang:` says
  std::string dir;
  std::string language;
  std::string fprocess;
  std::string welcome_message;
  std::string handler_folder = "function";
  std::vector<BuildOption> build_options;
  bool mount_ssh = false;
  // funcd extensions
  std::string build;
  StringMap environment;
  StringMap annotations;
  bool handler_is_package = false;
};

// The directories searched for templates, most specific first; `project_dir` is where the
// stack file is (its template/ folder comes first).
std::vector<std::string> TemplateSearchPath(const std::string& project_dir);

// Parses DIR/template.yml. Errors: kNotFound, kInvalidArgument (with the line).
Result<LanguageTemplate> LoadTemplate(const std::string& dir);

// The template for `lang` (lower-cased) from the first directory that has it.
// Errors: kNotFound listing where it looked and which templates exist.
Result<LanguageTemplate> FindTemplate(const std::string& lang,
                                      const std::vector<std::string>& search_path);

// Every template found, the first of each name, sorted by name.
std::vector<LanguageTemplate> ListTemplates(const std::vector<std::string>& search_path);

}  // namespace funcd::cli
