#pragma once

// Helpers for the async integration tests: a callback receiver on loopback (the test
// process's own HTTP server) that also collects the attempt reports of the fixture's
// /attempt path, and a fixture base that runs funcd serve.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/testing/test_server.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {

// A callback POSTed by funcd (contracts §4.4).
struct ReceivedCallback {
  std::string target;
  std::string call_id;
  unsigned function_status = 0;
  http::Fields headers;
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string Header(std::string_view name) const {
    return std::string(http::FieldValue(headers, name));
  }
};

// One call of the fixture's /attempt path, as it reported it.
struct AttemptReport {
  std::string call_id;
  int attempt = 0;
  std::string phase;  // "start" or "end"
  std::chrono::steady_clock::time_point at;
};

class CallbackReceiver;

// The durability tests' tallies over what a receiver got. Call ids are `prefix` + an index
// below accepted.size(); accepted[i] is nonzero for the calls funcd answered 202.
// How many accepted calls were never called back.
std::size_t NeverCalledBack(const CallbackReceiver& receiver, const std::vector<char>& accepted,
                            std::string_view prefix);
struct CallbackTally {
  std::size_t duplicates = 0;     // callbacks beyond the first of their call
  std::size_t failed_status = 0;  // callbacks whose X-Function-Status is not 200
};
CallbackTally TallyCallbacks(const CallbackReceiver& receiver);

// An HTTP server on 127.0.0.1:0 with a thread of its own. POST /attempt records an attempt
// report; any other request records a callback. Thread-safe.
class CallbackReceiver {
 public:
  CallbackReceiver();
  ~CallbackReceiver();

  std::uint16_t port() const { return server_->port(); }
  std::string Url(std::string_view path = "/callback") const;

  // The next `count` callbacks are answered with `status` (then 200 again).
  void FailNext(int count, unsigned status);

  std::vector<ReceivedCallback> Callbacks() const;
  std::size_t CallbackCount() const;
  std::vector<AttemptReport> Attempts(std::string_view call_id) const;
  // Waits until at least `count` callbacks arrived; false on timeout.
  bool WaitForCallbacks(std::size_t count, std::chrono::milliseconds timeout);
  // Waits for a callback with this X-Call-Id.
  std::optional<ReceivedCallback> WaitForCallback(std::string_view call_id,
                                                  std::chrono::milliseconds timeout);
  // Waits until `count` attempts of `call_id` started.
  bool WaitForAttempts(std::string_view call_id, int count, std::chrono::milliseconds timeout);

  // Called by the server (public for the handler coroutine).
  unsigned Record(ReceivedCallback callback);
  void RecordAttempt(AttemptReport report);

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ReceivedCallback> callbacks_;
  std::vector<AttemptReport> attempts_;
  int fail_count_ = 0;
  unsigned fail_status_ = 500;
  std::unique_ptr<http::testing::FunctionHandler> handler_;
  std::unique_ptr<http::testing::TestServer> server_;
};

// A FixtureFunction (direct, no watchdog) with extra annotations.
json::object AsyncFixture(std::string_view name,
                          const std::map<std::string, std::string>& annotations = {});

// POST /async-function/<name_and_path>.
Reply EnqueueAsync(FuncdServer& funcd, std::string_view name_and_path, std::string body = "",
                   Headers headers = {});

// One request for EnqueueMany.
struct AsyncRequest {
  std::string name_and_path;  // after /async-function/
  std::string body;
  Headers headers;
};

// Sends `count` enqueues from `threads` threads at once (a connection per request), request
// i made by `make(i)`; returns the replies in request order.
std::vector<Reply> EnqueueMany(FuncdServer& funcd, std::size_t count, std::size_t threads,
                               const std::function<AsyncRequest(std::size_t)>& make);

// GET /system/async/calls/ID as JSON; empty object unless 200.
json::object CallStatusOf(FuncdServer& funcd, std::string_view call_id);

// Polls the call's state until it is `state`.
bool WaitForState(FuncdServer& funcd, std::string_view call_id, std::string_view state,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A Prometheus sample value from /metrics ("name{labels}"), or -1 when absent.
double MetricValue(FuncdServer& funcd, std::string_view series);

// The body limit AsyncTest gives funcd (--async-max-body).
inline constexpr std::size_t kTestMaxBody = 64 * 1024;

// The arguments AsyncTest gives funcd serve (fast retries, a small body limit), plus `extra`.
std::vector<std::string> AsyncArgs(std::vector<std::string> extra = {});

// funcd serve with fast retry defaults for tests; subclasses add arguments. With
// FUNCD_TEST_QUEUE=jetstream in the environment, each test starts a nats-server -js and
// funcd runs with --queue nats://... (ctest registers the tests a second time so).
class AsyncTest : public GatewayTest {
 protected:
  void SetUp() override;
  // Stops funcd before its nats-server.
  void TearDown() override;
  FuncdOptions Options() const override;
  std::unique_ptr<NatsServer> nats_;  // with FUNCD_TEST_QUEUE=jetstream
  // Extra `funcd serve` arguments (e.g. --async-workers 8).
  virtual std::vector<std::string> ExtraArgs() const { return {}; }
  CallbackReceiver receiver_;
};

}  // namespace funcd::testing
