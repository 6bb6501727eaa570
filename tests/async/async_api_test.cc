// /async-function against the real funcd serve with its embedded SQLite queue: what the
// enqueue answers, callbacks for many calls, call status, cancellation, the per-function
// concurrency limit and the metrics. The callbacks go to a receiver in this process.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/strings.h"
#include "tests/async/async_harness.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;

class AsyncApiTest : public AsyncTest {};

// The fixture's /attempt path, reporting to the receiver.
std::string AttemptPath(const CallbackReceiver& receiver, std::string_view params = "") {
  return StrCat("/attempt?report=", receiver.port(), params.empty() ? "" : "&", params);
}

Headers WithCallback(const CallbackReceiver& receiver, Headers headers = {}) {
  headers.emplace_back("X-Callback-Url", receiver.Url());
  return headers;
}

TEST_F(AsyncApiTest, ThousandCallsWithCallbacksAllArriveWithTheirCallIds) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("many")));
  constexpr std::size_t kCalls = 1000;
  // Half the callers choose their call id; funcd makes one up for the others.
  auto make = [&](std::size_t i) {
    Headers headers = WithCallback(receiver_);
    if (i % 2 == 0) {
      headers.emplace_back("X-Call-Id", StrCat("caller-chosen-", i));
    }
    return AsyncRequest{StrCat("many/item/", i, "?i=", i), StrCat("payload ", i),
                        std::move(headers)};
  };
  std::vector<Reply> replies = EnqueueMany(funcd(), kCalls, 8, make);

  std::map<std::string, std::size_t> index_of;  // call id -> request index
  for (std::size_t i = 0; i < kCalls; ++i) {
    ASSERT_EQ(replies[i].status, 202u) << "call " << i << ": " << replies[i].body;
    const std::string call_id = replies[i].Header("X-Call-Id");
    ASSERT_FALSE(call_id.empty()) << "call " << i;
    if (i % 2 == 0) {
      EXPECT_EQ(call_id, StrCat("caller-chosen-", i));
    }
    EXPECT_FALSE(replies[i].Header("X-Start-Time").empty());
    EXPECT_TRUE(index_of.emplace(call_id, i).second) << "call id " << call_id << " given twice";
  }

  ASSERT_TRUE(receiver_.WaitForCallbacks(kCalls, std::chrono::seconds(90)))
      << receiver_.CallbackCount() << " of " << kCalls << " callbacks arrived";
  std::map<std::string, int> seen;
  for (const ReceivedCallback& callback : receiver_.Callbacks()) {
    ++seen[callback.call_id];
    auto it = index_of.find(callback.call_id);
    ASSERT_NE(it, index_of.end()) << "callback for an unknown call id " << callback.call_id;
    const std::size_t i = it->second;
    EXPECT_EQ(callback.function_status, 200u) << callback.call_id;
    EXPECT_EQ(callback.Header("X-Function-Name"), "many");
    EXPECT_EQ(callback.Header("X-Retry"), "0");
    EXPECT_FALSE(callback.Header("X-Duration-Seconds").empty());
    EXPECT_EQ(callback.target, "/callback");
    // The stored path and query were replayed to the function.
    EXPECT_EQ(callback.body, StrCat("path=/item/", i, " query=i=", i));
  }
  EXPECT_EQ(seen.size(), kCalls);
  for (const auto& [call_id, count] : seen) {
    EXPECT_EQ(count, 1) << call_id << " called back " << count << " times without a crash";
  }
}

TEST_F(AsyncApiTest, TheRequestIsReplayedWithItsMethodHeadersAndBody) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("replay")));
  Reply reply = EnqueueAsync(funcd(), "replay/headers", "the body",
                             WithCallback(receiver_, {{"X-Custom", "kept"}}));
  ASSERT_EQ(reply.status, 202u) << reply.body;
  auto callback = receiver_.WaitForCallback(reply.Header("X-Call-Id"), std::chrono::seconds(20));
  ASSERT_TRUE(callback);
  EXPECT_EQ(callback->function_status, 200u);
  // /headers lists the request's headers as the function saw them.
  EXPECT_THAT(callback->body, HasSubstr("X-Custom: kept"));
  EXPECT_THAT(callback->body, HasSubstr(StrCat("X-Call-Id: ", reply.Header("X-Call-Id"))));
  EXPECT_THAT(callback->body, HasSubstr("X-Start-Time: "));

  Reply echo = EnqueueAsync(funcd(), "replay/echo", "echo me", WithCallback(receiver_));
  ASSERT_EQ(echo.status, 202u);
  auto echoed = receiver_.WaitForCallback(echo.Header("X-Call-Id"), std::chrono::seconds(20));
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->body, "echo me");
}

TEST_F(AsyncApiTest, EnqueueAnswersTruthfully) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("truth")));
  // An unknown function: 404 (the reference enqueues blindly).
  Reply unknown = EnqueueAsync(funcd(), "no-such-function", "x");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(EnqueueAsync(funcd(), "truth.other-namespace", "x").status, 404u);
  // A callback URL that is not an http:// URL: 400.
  for (const char* bad : {"not a url", "ftp://127.0.0.1/cb", "http://"}) {
    Reply reply = EnqueueAsync(funcd(), "truth", "x", {{"X-Callback-Url", bad}});
    EXPECT_EQ(reply.status, 400u) << bad << ": " << reply.body;
  }
  // Over the body limit: 413 with a message; at the limit: accepted.
  Reply big = EnqueueAsync(funcd(), "truth", std::string(kTestMaxBody + 1, 'b'));
  EXPECT_EQ(big.status, 413u);
  EXPECT_THAT(big.body, HasSubstr(std::to_string(kTestMaxBody)));
  Reply fits = EnqueueAsync(funcd(), "truth", std::string(kTestMaxBody, 'b'));
  EXPECT_EQ(fits.status, 202u) << fits.body;
  // Only POST enqueues (DELETE cancels; the rest is 405).
  EXPECT_EQ(funcd().Anonymous("GET", "/async-function/truth").status, 405u);
  EXPECT_EQ(funcd().Anonymous("PUT", "/async-function/truth", "x").status, 405u);
  // 202 with an empty body, the call id and the start time.
  Reply ok =
      EnqueueAsync(funcd(), "truth.openfaas-fn/some/path?q=1", "x", {{"X-Call-Id", "my-own-id"}});
  EXPECT_EQ(ok.status, 202u);
  EXPECT_EQ(ok.body, "");
  EXPECT_EQ(ok.Header("X-Call-Id"), "my-own-id");
  EXPECT_FALSE(ok.Header("X-Start-Time").empty());
}

TEST_F(AsyncApiTest, CallStatusFollowsTheCallThroughItsStates) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("states", {{"com.openfaas.queue.max_inflight", "1"},
                                                    {"com.openfaas.retry.attempts", "2"},
                                                    {"com.openfaas.retry.min_wait", "1500ms"}})));
  EXPECT_EQ(funcd().Api("GET", "/system/async/calls/never-heard-of-it").status, 404u);

  // One slot: the blocker runs, the next call waits in the queue.
  Reply blocker = EnqueueAsync(funcd(), StrCat("states", AttemptPath(receiver_, "hold=2000")), "",
                               WithCallback(receiver_));
  ASSERT_EQ(blocker.status, 202u);
  const std::string blocker_id = blocker.Header("X-Call-Id");
  ASSERT_TRUE(receiver_.WaitForAttempts(blocker_id, 1, std::chrono::seconds(20)));
  Reply waiting = EnqueueAsync(funcd(), "states", "", WithCallback(receiver_));
  ASSERT_EQ(waiting.status, 202u);
  const std::string waiting_id = waiting.Header("X-Call-Id");
  json::object running = CallStatusOf(funcd(), blocker_id);
  EXPECT_EQ(StringField(running, "state"), "running") << ToJson(running);
  EXPECT_EQ(IntField(running, "attempts"), 1);
  EXPECT_EQ(StringField(running, "function"), "states.openfaas-fn");
  json::object queued = CallStatusOf(funcd(), waiting_id);
  EXPECT_EQ(StringField(queued, "state"), "queued") << ToJson(queued);
  EXPECT_EQ(IntField(queued, "attempts"), 0);
  EXPECT_FALSE(StringField(queued, "enqueuedAt").empty());

  ASSERT_TRUE(WaitForState(funcd(), waiting_id, "done"));
  json::object done = CallStatusOf(funcd(), waiting_id);
  EXPECT_EQ(IntField(done, "lastStatus"), 200);
  EXPECT_EQ(IntField(done, "attempts"), 1);

  // A failing call: retrying (with its next attempt time), then dead.
  Reply failing = EnqueueAsync(funcd(), StrCat("states", AttemptPath(receiver_, "fail=9&code=503")),
                               "", WithCallback(receiver_));
  ASSERT_EQ(failing.status, 202u);
  const std::string failing_id = failing.Header("X-Call-Id");
  ASSERT_TRUE(WaitForState(funcd(), failing_id, "retrying"));
  json::object retrying = CallStatusOf(funcd(), failing_id);
  EXPECT_FALSE(StringField(retrying, "nextAttemptAt").empty()) << ToJson(retrying);
  EXPECT_EQ(IntField(retrying, "lastStatus"), 503);
  ASSERT_TRUE(WaitForState(funcd(), failing_id, "dead"));
  EXPECT_EQ(IntField(CallStatusOf(funcd(), failing_id), "attempts"), 2);
}

TEST_F(AsyncApiTest, ACancelledCallIsNeverDelivered) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("cancel", {{"com.openfaas.queue.max_inflight", "1"}})));
  Reply blocker = EnqueueAsync(funcd(), StrCat("cancel", AttemptPath(receiver_, "hold=1500")), "",
                               WithCallback(receiver_));
  ASSERT_EQ(blocker.status, 202u);
  ASSERT_TRUE(receiver_.WaitForAttempts(blocker.Header("X-Call-Id"), 1, std::chrono::seconds(20)));
  // Queued behind the blocker, then cancelled.
  Reply doomed =
      EnqueueAsync(funcd(), StrCat("cancel", AttemptPath(receiver_)), "", WithCallback(receiver_));
  ASSERT_EQ(doomed.status, 202u);
  const std::string doomed_id = doomed.Header("X-Call-Id");
  // Cancelling is management: credentials required.
  EXPECT_EQ(funcd().Anonymous("DELETE", StrCat("/async-function/", doomed_id)).status, 401u);
  EXPECT_EQ(funcd().Api("DELETE", StrCat("/async-function/", doomed_id)).status, 202u);
  EXPECT_EQ(StringField(CallStatusOf(funcd(), doomed_id), "state"), "cancelled");
  // Twice: it is already cancelled (409); unknown ids: 404.
  EXPECT_EQ(funcd().Api("DELETE", StrCat("/async-function/", doomed_id)).status, 409u);
  EXPECT_EQ(funcd().Api("DELETE", "/async-function/no-such-call").status, 404u);
  // A call queued after it: by the time its callback arrives, the cancelled call would have
  // run (one slot, first in first out).
  Reply after =
      EnqueueAsync(funcd(), StrCat("cancel", AttemptPath(receiver_)), "", WithCallback(receiver_));
  ASSERT_EQ(after.status, 202u);
  ASSERT_TRUE(receiver_.WaitForCallback(after.Header("X-Call-Id"), std::chrono::seconds(20)));
  EXPECT_TRUE(receiver_.Attempts(doomed_id).empty()) << "the cancelled call was attempted";
  for (const ReceivedCallback& callback : receiver_.Callbacks()) {
    EXPECT_NE(callback.call_id, doomed_id) << "the cancelled call was called back";
  }
  // Finished calls cannot be cancelled. (The callback goes out just before the call is
  // settled: wait for that.)
  ASSERT_TRUE(WaitForState(funcd(), after.Header("X-Call-Id"), "done"));
  EXPECT_EQ(funcd().Api("DELETE", StrCat("/async-function/", after.Header("X-Call-Id"))).status,
            409u);
}

TEST_F(AsyncApiTest, ARunningCallCancelledIsNotCalledBack) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("cancel-running")));
  Reply call = EnqueueAsync(funcd(), StrCat("cancel-running", AttemptPath(receiver_, "hold=2000")),
                            "", WithCallback(receiver_));
  ASSERT_EQ(call.status, 202u);
  const std::string call_id = call.Header("X-Call-Id");
  ASSERT_TRUE(receiver_.WaitForAttempts(call_id, 1, std::chrono::seconds(20)));
  EXPECT_EQ(funcd().Api("DELETE", StrCat("/system/async/calls/", call_id)).status, 202u);
  ASSERT_TRUE(WaitForState(funcd(), call_id, "cancelled"));
  // The attempt ended (its end was reported) without a callback.
  ASSERT_TRUE(Eventually([&] { return receiver_.Attempts(call_id).size() == 2; },
                         std::chrono::seconds(20)));
  Reply marker = EnqueueAsync(funcd(), "cancel-running", "", WithCallback(receiver_));
  ASSERT_TRUE(receiver_.WaitForCallback(marker.Header("X-Call-Id"), std::chrono::seconds(20)));
  for (const ReceivedCallback& callback : receiver_.Callbacks()) {
    EXPECT_NE(callback.call_id, call_id);
  }
}

TEST_F(AsyncApiTest, PerFunctionMaxInflightIsRespected) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("limited", {{"com.openfaas.queue.max_inflight", "2"}})));
  constexpr std::size_t kCalls = 8;
  std::vector<Reply> replies = EnqueueMany(funcd(), kCalls, 8, [&](std::size_t) {
    return AsyncRequest{StrCat("limited", AttemptPath(receiver_, "hold=500")), "",
                        WithCallback(receiver_)};
  });
  for (const Reply& reply : replies) {
    ASSERT_EQ(reply.status, 202u);
  }
  ASSERT_TRUE(receiver_.WaitForCallbacks(kCalls, std::chrono::seconds(30)));
  // Replay the start/end reports in time order: never more than 2 at once, and 2 at some
  // point (8 calls were waiting).
  std::vector<std::pair<std::chrono::steady_clock::time_point, int>> events;
  for (const Reply& reply : replies) {
    for (const AttemptReport& report : receiver_.Attempts(reply.Header("X-Call-Id"))) {
      events.emplace_back(report.at, report.phase == "start" ? 1 : -1);
    }
  }
  ASSERT_EQ(events.size(), 2 * kCalls);
  std::sort(events.begin(), events.end());
  int inflight = 0;
  int peak = 0;
  for (const auto& [at, delta] : events) {
    inflight += delta;
    peak = std::max(peak, inflight);
  }
  EXPECT_EQ(peak, 2);
}

TEST_F(AsyncApiTest, MetricsCountPerFunction) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("metered", {{"com.openfaas.queue.max_inflight", "1"},
                                                     {"com.openfaas.retry.attempts", "2"}})));
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("other")));
  const std::string label = "{function_name=\"metered.openfaas-fn\"}";
  Reply blocker = EnqueueAsync(funcd(), StrCat("metered", AttemptPath(receiver_, "hold=3000")), "",
                               WithCallback(receiver_));
  ASSERT_EQ(blocker.status, 202u);
  ASSERT_TRUE(receiver_.WaitForAttempts(blocker.Header("X-Call-Id"), 1, std::chrono::seconds(20)));
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(EnqueueAsync(funcd(), "metered", "", WithCallback(receiver_)).status, 202u);
  }
  // A call that fails twice: one retry, then a dead letter.
  ASSERT_EQ(EnqueueAsync(funcd(), StrCat("metered", AttemptPath(receiver_, "fail=5&code=500")), "",
                         WithCallback(receiver_))
                .status,
            202u);
  ASSERT_EQ(EnqueueAsync(funcd(), "other", "", WithCallback(receiver_)).status, 202u);
  // The depth gauge is refreshed every second: 5 calls wait behind the blocker.
  EXPECT_TRUE(Eventually(
      [&] { return MetricValue(funcd(), StrCat("funcd_async_queue_depth", label)) == 5; },
      std::chrono::seconds(10)))
      << MetricValue(funcd(), StrCat("funcd_async_queue_depth", label));
  ASSERT_TRUE(receiver_.WaitForCallbacks(7, std::chrono::seconds(30)));
  // The counters move when a call is settled, just after its callback.
  Eventually([&] {
    return MetricValue(funcd(), StrCat("funcd_async_succeeded_total", label)) == 5 &&
           MetricValue(funcd(), StrCat("funcd_async_dead_total", label)) == 1 &&
           MetricValue(funcd(),
                       "funcd_async_succeeded_total{function_name=\"other.openfaas-fn\"}") == 1;
  });
  EXPECT_EQ(MetricValue(funcd(), StrCat("funcd_async_enqueued_total", label)), 6);
  EXPECT_EQ(MetricValue(funcd(), StrCat("funcd_async_started_total", label)), 7);  // one retry
  EXPECT_EQ(MetricValue(funcd(), StrCat("funcd_async_succeeded_total", label)), 5);
  EXPECT_EQ(MetricValue(funcd(), StrCat("funcd_async_retried_total", label)), 1);
  EXPECT_EQ(MetricValue(funcd(), StrCat("funcd_async_dead_total", label)), 1);
  EXPECT_EQ(MetricValue(funcd(), "funcd_async_enqueued_total{function_name=\"other.openfaas-fn\"}"),
            1);
  EXPECT_EQ(
      MetricValue(funcd(), "funcd_async_succeeded_total{function_name=\"other.openfaas-fn\"}"), 1);
  EXPECT_TRUE(Eventually(
      [&] { return MetricValue(funcd(), StrCat("funcd_async_queue_depth", label)) == 0; },
      std::chrono::seconds(10)));
}

TEST_F(AsyncApiTest, ManagementRoutesNeedCredentials) {
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/system/async/calls/x"},
                                                        {"GET", "/system/async/dead"},
                                                        {"POST", "/system/async/dead/redrive"},
                                                        {"DELETE", "/system/async/dead"}}) {
    EXPECT_EQ(funcd().Anonymous(method, target).status, 401u) << method << " " << target;
  }
  EXPECT_EQ(funcd().Api("GET", "/system/async/dead").body, "[]");
  EXPECT_EQ(funcd().Api("GET", "/system/async/nothing-here").status, 404u);
}

}  // namespace
}  // namespace funcd::testing
