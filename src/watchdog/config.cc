#include "watchdog/config.h"

#include <algorithm>
#include <thread>

#include "common/strings.h"
#include "common/subprocess.h"

namespace funcd::watchdog {

using namespace std::chrono_literals;

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kClassic:
      return "classic";
    case Mode::kStreaming:
      return "streaming";
    case Mode::kSerializing:
      return "serializing";
    case Mode::kHttp:
      return "http";
    case Mode::kStatic:
      return "static";
  }
  return "unknown";
}

Result<Config> Config::FromEnvironment(const Environment& env) {
  Config c;
  std::string mode = ToLower(TrimSpace(env.GetOr("mode", "")));
  if (mode.empty()) {
    c.mode = Mode::kClassic;
  } else if (mode == "streaming") {
    c.mode = Mode::kStreaming;
  } else if (mode == "serializing") {
    c.mode = Mode::kSerializing;
  } else if (mode == "http") {
    c.mode = Mode::kHttp;
  } else if (mode == "static") {
    c.mode = Mode::kStatic;
  } else {
    return Unexpected(ErrorCode::kInvalidArgument,
                      StrCat("unknown mode \"", mode,
                             "\": use streaming, serializing, http or static (or leave it "
                             "unset for the classic watchdog)"));
  }
  const bool classic = c.mode == Mode::kClassic;

  c.fprocess = env.GetOr("fprocess", "");
  if (auto fp = env.Get("function_process"); fp && !fp->empty()) {
    c.fprocess = *fp;
  }
  c.argv = SplitCommand(c.fprocess);
  if (c.mode != Mode::kStatic && c.argv.empty()) {
    return Unexpected(ErrorCode::kInvalidArgument,
                      classic ? "Provide a valid process via fprocess environmental variable."
                              : "Provide a \"function_process\" or \"fprocess\" environmental "
                                "variable for your function.");
  }

  c.bind_address = env.GetOr("bind_address", "0.0.0.0");
  if (auto port = env.Get("port")) {
    auto parsed = ParseUint(TrimSpace(*port));
    if (!parsed || *parsed > 65535) {
      return Unexpected(ErrorCode::kInvalidArgument, StrCat("invalid port \"", *port, "\""));
    }
    c.port = static_cast<std::uint16_t>(*parsed);
  }
  c.listen_fd = static_cast<int>(env.GetInt("listen_fd", -1));
  c.ready_fd = static_cast<int>(env.GetInt("ready_fd", -1));
  if (auto metrics = env.Get("metrics_port")) {
    auto parsed = ParseUint(TrimSpace(*metrics));
    if (!parsed || *parsed > 65535) {
      return Unexpected(ErrorCode::kInvalidArgument,
                        StrCat("invalid metrics_port \"", *metrics, "\""));
    }
    c.metrics_port = static_cast<int>(*parsed);
  }
  // The forking modes block an I/O thread for every spawn (vfork waits for the child's
  // exec): with one thread, concurrent requests spawn one after the other and nothing else
  // is served meanwhile. They get a thread per CPU (at least 2); the proxying modes one.
  const bool forking =
      c.mode == Mode::kClassic || c.mode == Mode::kStreaming || c.mode == Mode::kSerializing;
  const std::int64_t default_threads =
      forking ? std::max<std::int64_t>(2, std::thread::hardware_concurrency()) : 1;
  c.threads = static_cast<int>(
      std::clamp<std::int64_t>(env.GetInt("fwatchdog_threads", default_threads), 1, 64));

  c.read_timeout = env.GetDuration("read_timeout", 30s);
  c.write_timeout = env.GetDuration("write_timeout", 30s);
  if (c.write_timeout <= Duration::zero()) {
    return Unexpected(ErrorCode::kInvalidArgument, "write_timeout must be greater than 0");
  }
  if (c.read_timeout <= Duration::zero()) {
    c.read_timeout = 30s;
  }
  // The classic watchdog has no exec timeout unless set; of-watchdog defaults to 30 s.
  c.exec_timeout = env.GetDuration("exec_timeout", classic ? 0s : Duration(30s));
  c.healthcheck_interval = env.GetDuration("healthcheck_interval", c.write_timeout);

  c.max_inflight = env.GetInt("max_inflight", 0);
  c.suppress_lock = env.GetBool("suppress_lock", false);
  std::string tmp = env.GetOr("TMPDIR", "");
  if (tmp.empty()) {
    tmp = "/tmp";
  }
  while (tmp.size() > 1 && tmp.back() == '/') {
    tmp.pop_back();
  }
  c.lock_path = StrCat(tmp, "/.lock");

  c.cgi_headers = env.GetBool("cgi_headers", true);
  c.marshal_request = env.GetBool("marshal_request", false);
  c.combine_output = env.GetBool("combine_output", true);
  c.write_debug = env.GetBool("write_debug", false);
  c.debug_headers = env.GetBool("debug_headers", false);
  c.content_type = env.GetOr("content_type", classic ? "" : "application/octet-stream");
  c.prefix_logs = env.GetBool("prefix_logs", true);
  if (auto size = env.Get("log_buffer_size")) {
    auto parsed = ParseInt(TrimSpace(*size));
    if (parsed && (*parsed == -1 || *parsed > 0)) {
      c.log_buffer_size = *parsed;
    }
  }
  c.log_callid = env.GetBool("log_callid", false) || env.GetBool("log_call_id", false);
  c.log_requests = env.GetBool("log_requests", false);

  c.upstream_url = env.GetOr("upstream_url", "");
  if (auto url = env.Get("http_upstream_url"); url && !url->empty()) {
    c.upstream_url = *url;
  }
  if (c.mode == Mode::kHttp && c.upstream_url.empty()) {
    return Unexpected(ErrorCode::kInvalidArgument,
                      "mode=http needs upstream_url (or http_upstream_url), for example "
                      "upstream_url=http://127.0.0.1:5000");
  }
  c.buffer_http = env.GetBool("buffer_http", false) || env.GetBool("http_buffer_req_body", false);
  c.static_path = env.GetOr("static_path", "/home/app/public");
  c.ready_path = env.GetOr("ready_path", "");
  return c;
}

}  // namespace funcd::watchdog
