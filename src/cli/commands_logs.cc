// funcd logs: a function's log lines from /system/logs (NDJSON), printed as they arrive.

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "cli/command_common.h"
#include "common/config.h"
#include "common/strings.h"

namespace funcd::cli {

namespace json = boost::json;

namespace {

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

// --- logs ----------------------------------------------------------------------------------

struct LogsFlags {
  GatewayFlags gateway;
  std::string name;
  bool tail = true;  // follow
  int lines = -1;
  std::string since;
  std::string since_time;
  std::string instance;
  std::string output = "plain";
  std::string time_format = "rfc3339";
  bool include_name = false;
  bool include_instance = false;
};

std::string FormatRfc3339(std::time_t seconds) {
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Reformats an RFC3339Nano timestamp for display ("" drops it).
std::string DisplayTime(const std::string& timestamp, const std::string& format) {
  if (format.empty() || format == "none") {
    return "";
  }
  if (format == "rfc3339nano") {
    return timestamp;
  }
  // rfc3339: drop the fraction of a second.
  const size_t dot = timestamp.find('.');
  if (dot == std::string::npos) {
    return timestamp;
  }
  size_t end = dot + 1;
  while (end < timestamp.size() && timestamp[end] >= '0' && timestamp[end] <= '9') {
    ++end;
  }
  return timestamp.substr(0, dot) + timestamp.substr(end);
}

void PrintLogLine(const LogsFlags& flags, std::string_view line) {
  if (flags.output == "json") {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    return;
  }
  boost::system::error_code ec;
  json::value value = json::parse(line, ec);
  if (ec || !value.is_object()) {
    return;
  }
  const json::object& message = value.as_object();
  std::string text = Str(message, "text");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  const std::string when = DisplayTime(Str(message, "timestamp"), flags.time_format);
  std::string out;
  if (flags.output == "keyvalue" || flags.output == "key-value") {
    if (!when.empty()) {
      StrAppend(out, "timestamp=\"", when, "\" ");
    }
    if (flags.include_name) {
      StrAppend(out, "name=\"", Str(message, "name"), "\" ");
    }
    if (flags.include_instance) {
      StrAppend(out, "instance=\"", Str(message, "instance"), "\" ");
    }
    StrAppend(out, "text=\"", text, "\" ");
  } else {
    if (!when.empty()) {
      StrAppend(out, when, " ");
    }
    if (flags.include_name) {
      StrAppend(out, Str(message, "name"), " ");
    }
    if (flags.include_instance) {
      StrAppend(out, "(", Str(message, "instance"), ") ");
    }
    out += text;
  }
  std::printf("%s\n", out.c_str());
}

int RunLogs(const LogsFlags& flags) {
  if (flags.output != "plain" && flags.output != "json" && flags.output != "keyvalue" &&
      flags.output != "key-value") {
    return Report("logs", Error{ErrorCode::kInvalidArgument, "-o is plain, keyvalue or json"});
  }
  std::string target = StrCat("/system/logs?name=", QueryEscape(flags.name),
                              "&follow=", flags.tail ? "true" : "false", "&tail=", flags.lines);
  if (!flags.gateway.namespace_name.empty()) {
    StrAppend(target, "&namespace=", QueryEscape(flags.gateway.namespace_name));
  }
  if (!flags.instance.empty()) {
    StrAppend(target, "&instance=", QueryEscape(flags.instance));
  }
  if (!flags.since_time.empty()) {
    StrAppend(target, "&since=", QueryEscape(flags.since_time));
  } else if (!flags.since.empty()) {
    auto since = ParseGoDuration(flags.since);
    if (!since) {
      return Report("logs", Error{ErrorCode::kInvalidArgument,
                                  StrCat("--since \"", flags.since, "\" is not a duration (5m)")});
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*since).count();
    StrAppend(target, "&since=", QueryEscape(FormatRfc3339(std::time(nullptr) - seconds)));
  }
  auto client = ConnectGateway(flags.gateway, nullptr);
  if (!client) {
    return Report("logs", client.error());
  }
  GatewayRequest request;
  request.target = target;
  request.timeout = std::chrono::seconds(30);
  std::string pending;
  auto response = client->Send(request, [&](std::string_view piece) {
    pending.append(piece);
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      PrintLogLine(flags, std::string_view(pending).substr(0, newline));
      pending.erase(0, newline + 1);
    }
    std::fflush(stdout);
  });
  if (!response) {
    return Report("logs", response.error());
  }
  if (!pending.empty()) {
    PrintLogLine(flags, pending);
  }
  if (response->status == 404) {
    return Report("logs", Error{ErrorCode::kNotFound, StrCat("no such function: ", flags.name)});
  }
  if (response->status != 200) {
    return Report("logs", UnexpectedStatus(*response, StrCat("reading the logs of ", flags.name)));
  }
  return 0;
}

}  // namespace

void RegisterLogsCommands(CLI::App& app, CommandRegistry& registry) {
  {
    auto& flags = registry.Keep(std::make_shared<LogsFlags>());
    CLI::App* cmd = app.add_subcommand("logs", "Print a function's logs (and follow them)");
    AddGatewayFlags(cmd, flags.gateway);
    cmd->add_option("name", flags.name, "The function")->required();
    cmd->add_flag("--tail", flags.tail,
                  "Keep printing new lines until interrupted (--tail=false: print and exit)")
        ->capture_default_str();
    cmd->add_option("--lines", flags.lines, "How many recent lines (-1: all)")
        ->capture_default_str();
    cmd->add_option("--since", flags.since, "Only lines newer than this (5m, 1h)");
    cmd->add_option("--since-time", flags.since_time, "Only lines since this RFC3339 time");
    cmd->add_option("-o,--output", flags.output, "plain, keyvalue or json")->capture_default_str();
    cmd->add_option("--time-format", flags.time_format,
                    "rfc3339, rfc3339nano or none (plain and keyvalue)")
        ->capture_default_str();
    cmd->add_flag("--name", flags.include_name, "Print the function's name on each line");
    cmd->add_flag("--instance", flags.include_instance, "Print the replica's name on each line");
    registry.Add(cmd, [&flags] { return RunLogs(flags); });
  }
}

}  // namespace funcd::cli
