#pragma once

// Runs the real `funcd serve` (gateway, REST API and process runtime) as a child process on
// 127.0.0.1:0 with a state directory of its own, and talks HTTP to it: management calls with
// the generated basic-auth credentials, function calls, JSON and NDJSON helpers, and polling
// with a bounded deadline (never sleeps as synchronisation).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/testing/raw_client.h"
#include "tests/integration/harness.h"

namespace funcd::testing {

namespace json = boost::json;

using Headers = std::vector<std::pair<std::string, std::string>>;

// How to start `funcd serve`.
struct FuncdOptions {
  bool basic_auth = true;
  std::string sandbox = "bwrap";        // or "none"
  std::vector<std::string> extra_args;  // e.g. {"--upstream-timeout", "1s"}
};

// `funcd serve --listen 127.0.0.1:0 --state-dir DIR --host-images ...` as a child process.
// Not thread-safe except for the request helpers, which open a connection per call and may
// run on several threads at once. Destruction stops funcd with SIGTERM (then SIGKILL after a
// bounded wait); its replicas die with it.
class FuncdServer {
 public:
  // Starts funcd on `state_dir` (not owned; kept after destruction so that a later server
  // can restart on it). Adds a test failure when funcd does not come up; check ok().
  explicit FuncdServer(std::string state_dir, FuncdOptions options = {});
  FuncdServer(const FuncdServer&) = delete;
  ~FuncdServer();

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // "Basic base64(user:password)".
  std::string Authorization() const;

  // A management call carrying the credentials (when basic auth is on).
  Reply Api(std::string method, std::string target, std::string body = "", Headers headers = {});
  // A call without credentials.
  Reply Anonymous(std::string method, std::string target, std::string body = "",
                  Headers headers = {});
  // POST (or `method`) /function/<name><path>; `name` may carry ".namespace".
  Reply Invoke(std::string_view name, std::string method = "POST", std::string path = "",
               std::string body = "", Headers headers = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // POST /system/functions; returns the status.
  unsigned Deploy(const json::object& deployment);
  // PUT /system/functions; returns the status.
  unsigned Update(const json::object& deployment);
  // Deploys (POST, expecting 202) and waits until `replicas` replicas are available.
  bool DeployAndWait(const json::object& deployment, std::int64_t replicas = 1,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // GET /system/function/NAME?namespace=NS; nullopt unless 200 with a JSON object.
  std::optional<json::object> Status(std::string_view name, std::string_view ns = "");
  // Polls the status until availableReplicas >= `replicas`.
  bool WaitAvailable(std::string_view name, std::int64_t replicas = 1,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20),
                     std::string_view ns = "");
  // GET /system/logs?name=NAME&follow=false<extra_query> as parsed NDJSON messages.
  std::vector<json::object> Logs(std::string_view name, std::string_view extra_query = "");
  // Polls the logs until some message's text contains `needle`; returns that text.
  std::optional<std::string> WaitForFunctionLog(
      std::string_view name, std::string_view needle,
      std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // The runtime's own lines ("funcd: ...") in the logs of `name`, one per line: what happened
  // to its replicas, for failure messages.
  std::string RuntimeEvents(std::string_view name);

  // SIGTERM, then waits for exit; returns the exit code (nullopt on timeout).
  std::optional<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // SIGKILL, then waits for exit.
  void Kill();

 private:
  std::string state_dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
  std::string user_;
  std::string password_;
  bool stopped_ = false;
};

// One request on a new connection; nullopt on transport errors (no test failure), for
// polling and for calls that are expected to fail.
std::optional<Reply> TryCall(std::uint16_t port, std::string method, std::string target,
                             std::string body = "", Headers headers = {},
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Calls `condition` every `interval` until it returns true or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));

// A classic-watchdog function on the host's /usr: image functions/alpine:latest, `fprocess`.
json::object HostFunction(std::string_view name, std::string_view fprocess);
// tests/integration/fixture_function.cc as a function: image dir://<bin dir>, fprocess
// ./fixture_function, envVars mode=http (behind fwatchdog), or with `direct` the annotation
// com.funcd.watchdog=none (no watchdog; the fixture listens on $http_port itself).
json::object FixtureFunction(std::string_view name, bool direct = false);

// Parses `text`; adds a test failure and returns null when it is not JSON.
json::value ParseJson(std::string_view text);
// obj[key] as a string; "" when missing or not a string.
std::string StringField(const json::object& object, std::string_view key);
// obj[key] as an integer; 0 when missing (as Go clients read omitted counts).
std::int64_t IntField(const json::object& object, std::string_view key);
std::string ToJson(const json::value& value);

// The raw bytes a client sends for `method target` with `headers`, for RawClient tests.
std::string RawRequest(std::string_view method, std::string_view target,
                       const Headers& headers = {}, std::string_view body = "");
// The status code of the first response in `raw` (0 when none).
unsigned RawStatus(std::string_view raw);
// Reads one whole response framed by Content-Length (or chunked, up to the last chunk) into
// client.received(); false on timeout or an unframed response.
bool ReadWholeResponse(http::testing::RawClient& client,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Base fixture: a fresh state directory and a started funcd per test. Skips when not root
// (replicas need cgroups and bubblewrap).
class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Starts funcd (again) on the same state directory.
  void StartFuncd(FuncdOptions options = {});
  FuncdServer& funcd() { return *funcd_; }
  // Options for the funcd SetUp starts; override to change them.
  virtual FuncdOptions Options() const { return {}; }

  TempDir state_;
  std::unique_ptr<FuncdServer> funcd_;
};

}  // namespace funcd::testing
