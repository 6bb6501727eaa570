#include "cli/dockerfile.h"

#include <boost/json.hpp>

#include "common/strings.h"

namespace funcd::cli {

namespace {

struct Instruction {
  int line = 0;
  std::string keyword;  // upper-case
  std::string args;
};

// Joins continuation lines (a trailing backslash) and drops comments and blank lines.
std::vector<Instruction> SplitInstructions(std::string_view text) {
  std::vector<Instruction> out;
  std::string pending;
  int start_line = 0;
  int line_number = 0;
  for (std::string_view raw : Split(text, '\n')) {
    ++line_number;
    std::string_view line = TrimSpace(raw);
    if (pending.empty() && (line.empty() || line.front() == '#')) {
      continue;
    }
    if (!pending.empty() && !line.empty() && line.front() == '#') {
      continue;  // comments inside a continued instruction
    }
    if (pending.empty()) {
      start_line = line_number;
    }
    const bool continued = !line.empty() && line.back() == '\\';
    if (continued) {
      line.remove_suffix(1);
    }
    StrAppend(pending, pending.empty() ? "" : " ", TrimSpace(line));
    if (continued) {
      continue;
    }
    Instruction instruction;
    instruction.line = start_line;
    const size_t space = pending.find_first_of(" \t");
    std::string keyword = pending.substr(0, space);
    for (char& c : keyword) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    instruction.keyword = std::move(keyword);
    instruction.args =
        space == std::string::npos ? "" : std::string(TrimSpace(pending.substr(space)));
    out.push_back(std::move(instruction));
    pending.clear();
  }
  return out;
}

Error At(int line, std::string_view message) {
  return Error{ErrorCode::kInvalidArgument, StrCat("Dockerfile:", line, ": ", message)};
}

// The exec form ["a", "b"] or the shell form (split on spaces).
Result<std::vector<std::string>> ParseCommand(const Instruction& instruction,
                                              std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  if (instruction.args.starts_with("[")) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(instruction.args, ec);
    if (ec || !value.is_array()) {
      return At(instruction.line, StrCat(instruction.keyword, " is not a JSON array of strings"));
    }
    for (const auto& item : value.as_array()) {
      if (!item.is_string()) {
        return At(instruction.line, StrCat(instruction.keyword, " holds a non-string"));
      }
      out.emplace_back(item.as_string());
    }
    return out;
  }
  if (instruction.args.find_first_of("'\"$|&;<>*") != std::string::npos) {
    warnings.push_back(StrCat("Dockerfile:", instruction.line, ": ", instruction.keyword,
                              " in shell form is run without a shell (split on spaces)"));
  }
  for (std::string_view part : Split(instruction.args, ' ')) {
    if (!part.empty()) {
      out.emplace_back(part);
    }
  }
  return out;
}

std::string Unquote(std::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    return std::string(value.substr(1, value.size() - 2));
  }
  return std::string(value);
}

Result<void> ParseEnv(const Instruction& instruction, StringMap& environment) {
  std::string_view args = instruction.args;
  if (args.find('=') == std::string_view::npos ||
      args.find_first_of(" \t") < args.find('=')) {  // legacy form: ENV KEY value with spaces
    const size_t space = args.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return At(instruction.line, "ENV needs KEY=value");
    }
    environment[std::string(args.substr(0, space))] = std::string(TrimSpace(args.substr(space)));
    return Ok();
  }
  // KEY=value KEY2="value two"
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && (args[i] == ' ' || args[i] == '\t')) {
      ++i;
    }
    const size_t eq = args.find('=', i);
    if (eq == std::string_view::npos) {
      return At(instruction.line, "ENV needs KEY=value");
    }
    std::string key(args.substr(i, eq - i));
    size_t end = eq + 1;
    if (end < args.size() && (args[end] == '"' || args[end] == '\'')) {
      const size_t close = args.find(args[end], end + 1);
      if (close == std::string_view::npos) {
        return At(instruction.line, "ENV has an unterminated quote");
      }
      end = close + 1;
    } else {
      while (end < args.size() && args[end] != ' ' && args[end] != '\t') {
        ++end;
      }
    }
    environment[key] = Unquote(args.substr(eq + 1, end - eq - 1));
    i = end;
  }
  return Ok();
}

}  // namespace

Result<std::string> DockerfileInfo::Fprocess() const {
  std::string out;
  for (const auto* part : {&entrypoint, &cmd}) {
    for (const std::string& arg : *part) {
      if (arg.find(' ') != std::string::npos || arg.empty()) {
        return Error{ErrorCode::kInvalidArgument,
                     StrCat("the Dockerfile command argument \"", arg,
                            "\" is empty or holds a space, which fprocess cannot express; set "
                            "fprocess in stack.yml or wrap the command in a script")};
      }
      StrAppend(out, out.empty() ? "" : " ", arg);
    }
  }
  return out;
}

Result<DockerfileInfo> ParseDockerfile(std::string_view text) {
  DockerfileInfo info;
  for (const Instruction& instruction : SplitInstructions(text)) {
    const std::string& keyword = instruction.keyword;
    if (keyword == "FROM") {
      // A new stage: only the last one's settings count.
      info = DockerfileInfo{.warnings = std::move(info.warnings)};
    } else if (keyword == "CMD") {
      FUNCD_ASSIGN_OR_RETURN(info.cmd, ParseCommand(instruction, info.warnings));
    } else if (keyword == "ENTRYPOINT") {
      FUNCD_ASSIGN_OR_RETURN(info.entrypoint, ParseCommand(instruction, info.warnings));
      info.cmd.clear();  // as Docker: a new ENTRYPOINT resets an inherited CMD
    } else if (keyword == "ENV") {
      FUNCD_RETURN_IF_ERROR(ParseEnv(instruction, info.environment));
    } else if (keyword == "RUN") {
      info.warnings.push_back(StrCat("Dockerfile:", instruction.line,
                                     ": RUN is not executed by funcd build (no container "
                                     "engine); the function runs against this machine's /usr"));
    } else if (keyword == "USER") {
      info.warnings.push_back(StrCat("Dockerfile:", instruction.line,
                                     ": USER is ignored: replicas run as the sandbox's uid"));
    }
  }
  return info;
}

}  // namespace funcd::cli
