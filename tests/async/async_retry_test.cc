// Retries of async calls against the real funcd serve: exponential backoff up to the attempt
// limit, Retry-After, statuses that are final, dead letters (list, inspect, redrive, purge)
// and callback retries. The fixture's /attempt path reports each attempt to the receiver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "tests/async/async_harness.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;
using Millis = std::chrono::milliseconds;

class AsyncRetryTest : public AsyncTest {
 protected:
  // POST /async-function/<function>/attempt?report=...&<params> with a callback; the call id.
  std::string EnqueueAttempt(std::string_view function, std::string_view params) {
    Reply reply =
        EnqueueAsync(funcd(), StrCat(function, "/attempt?report=", receiver_.port(), "&", params),
                     "", {{"X-Callback-Url", receiver_.Url()}});
    EXPECT_EQ(reply.status, 202u) << reply.body;
    return reply.Header("X-Call-Id");
  }
  // Start times of the attempts of `call_id`, in order.
  std::vector<std::chrono::steady_clock::time_point> Starts(const std::string& call_id) {
    std::vector<std::chrono::steady_clock::time_point> out;
    for (const AttemptReport& report : receiver_.Attempts(call_id)) {
      if (report.phase == "start") {
        out.push_back(report.at);
      }
    }
    return out;
  }
};

Millis Between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<Millis>(b - a);
}

// The reports travel over loopback HTTP: allow for their own delay when comparing gaps.
constexpr Millis kReportSlack{60};

TEST_F(AsyncRetryTest, RetriesBackOffExponentiallyAndStopAtTheLimit) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("backoff", {{"com.openfaas.retry.attempts", "5"},
                                                     {"com.openfaas.retry.min_wait", "200ms"},
                                                     {"com.openfaas.retry.max_wait", "5s"}})));
  const std::string call_id = EnqueueAttempt("backoff", "fail=100&code=503");
  auto callback = receiver_.WaitForCallback(call_id, std::chrono::seconds(30));
  ASSERT_TRUE(callback);
  // The last attempt's answer reaches the callback, with the retry counters (§4.4).
  EXPECT_EQ(callback->function_status, 503u);
  EXPECT_EQ(callback->Header("X-Retry"), "4");
  EXPECT_EQ(callback->Header("X-Retry-Max"), "4");
  EXPECT_EQ(callback->body, "failing attempt 5\n");
  ASSERT_TRUE(WaitForState(funcd(), call_id, "dead"));

  // Exactly 5 attempts. Delays (equal jitter, never below min_wait): 200 ms, [200, 400],
  // [400, 800], [800, 1600]: each at least its lower bound, and the last far above the first
  // (a scheduling stall of 600 ms would be needed to hide the growth).
  const auto starts = Starts(call_id);
  ASSERT_EQ(starts.size(), 5u);
  std::vector<Millis> gaps;
  for (std::size_t i = 1; i < starts.size(); ++i) {
    gaps.push_back(Between(starts[i - 1], starts[i]));
  }
  const Millis lower[] = {Millis(200), Millis(200), Millis(400), Millis(800)};
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    EXPECT_GE(gaps[i], lower[i] - kReportSlack) << "delay before attempt " << i + 2;
  }
  EXPECT_GT(gaps[3], gaps[0]) << gaps[0].count() << " " << gaps[1].count() << " " << gaps[2].count()
                              << " " << gaps[3].count();
  // No attempt after the limit.
  EXPECT_EQ(StringField(CallStatusOf(funcd(), call_id), "state"), "dead");
  EXPECT_EQ(IntField(CallStatusOf(funcd(), call_id), "attempts"), 5);
  EXPECT_EQ(Starts(call_id).size(), 5u);
}

TEST_F(AsyncRetryTest, RetryAfterReplacesTheBackoff) {
  ASSERT_TRUE(
      funcd().DeployAndWait(AsyncFixture("after", {{"com.openfaas.retry.min_wait", "50ms"},
                                                   {"com.openfaas.retry.max_wait", "100ms"}})));
  // 429 with Retry-After: 2 (seconds), then 200. The backoff alone would wait <= 100 ms.
  const std::string call_id = EnqueueAttempt("after", "fail=1&code=429&retry_after=2");
  auto callback = receiver_.WaitForCallback(call_id, std::chrono::seconds(30));
  ASSERT_TRUE(callback);
  EXPECT_EQ(callback->function_status, 200u);
  EXPECT_EQ(callback->Header("X-Retry"), "1");
  EXPECT_EQ(callback->body, "ok after 2\n");
  const auto starts = Starts(call_id);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_GE(Between(starts[0], starts[1]), Millis(2000) - kReportSlack);
}

TEST_F(AsyncRetryTest, StatusesOutsideTheRetryListAreFinal) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("final", {{"com.openfaas.retry.codes", "503"}})));
  // 500 is retried by default, not with this function's list.
  const std::string call_id = EnqueueAttempt("final", "fail=5&code=500");
  auto callback = receiver_.WaitForCallback(call_id, std::chrono::seconds(20));
  ASSERT_TRUE(callback);
  EXPECT_EQ(callback->function_status, 500u);
  EXPECT_EQ(callback->Header("X-Retry"), "0");
  ASSERT_TRUE(WaitForState(funcd(), call_id, "done"));
  EXPECT_EQ(IntField(CallStatusOf(funcd(), call_id), "lastStatus"), 500);
  EXPECT_EQ(Starts(call_id).size(), 1u);
  EXPECT_EQ(funcd().Api("GET", "/system/async/dead").body, "[]");
}

TEST_F(AsyncRetryTest, ADeadLetterIsListedRedrivenAndSucceeds) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("dlq", {{"com.openfaas.retry.attempts", "2"}})));
  // Fails twice (its whole budget), succeeds on a third attempt.
  const std::string call_id = EnqueueAttempt("dlq", "fail=2&code=502");
  const std::string purged_id = EnqueueAttempt("dlq", "fail=9&code=500");
  ASSERT_TRUE(WaitForState(funcd(), call_id, "dead"));
  ASSERT_TRUE(WaitForState(funcd(), purged_id, "dead"));
  auto first = receiver_.WaitForCallback(call_id, std::chrono::seconds(20));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->function_status, 502u);

  // Listed, with the last status and body excerpt.
  Reply list = funcd().Api("GET", "/system/async/dead?function=dlq");
  ASSERT_EQ(list.status, 200u);
  json::value listed = ParseJson(list.body);
  ASSERT_TRUE(listed.is_array());
  ASSERT_EQ(listed.as_array().size(), 2u) << list.body;
  // Both died after their second attempt, in either order.
  const json::value* found = nullptr;
  for (const json::value& letter : listed.as_array()) {
    if (StringField(letter.as_object(), "callId") == call_id) {
      found = &letter;
    }
  }
  ASSERT_NE(found, nullptr) << list.body;
  const json::object& dead = found->as_object();
  EXPECT_EQ(StringField(dead, "state"), "dead");
  EXPECT_EQ(IntField(dead, "lastStatus"), 502);
  EXPECT_EQ(IntField(dead, "attempts"), 2);
  EXPECT_EQ(StringField(dead, "lastBody"), "failing attempt 2\n");
  EXPECT_EQ(StringField(dead, "path"), "/attempt");
  EXPECT_EQ(StringField(dead, "callbackUrl"), receiver_.Url());
  // Another function's filter sees none of them.
  EXPECT_EQ(funcd().Api("GET", "/system/async/dead?function=dlq-other").body, "[]");

  // One of them with its request.
  Reply one = funcd().Api("GET", StrCat("/system/async/dead/", call_id));
  ASSERT_EQ(one.status, 200u);
  json::object detail = ParseJson(one.body).as_object();
  EXPECT_EQ(StringField(detail, "method"), "POST");
  EXPECT_TRUE(detail.contains("headers"));
  EXPECT_EQ(funcd().Api("GET", "/system/async/dead/unknown-call").status, 404u);

  // Redriven: a fresh budget; the fixture's third answer is 200.
  Reply redrive = funcd().Api("POST", StrCat("/system/async/dead/", call_id, "/redrive"));
  ASSERT_EQ(redrive.status, 202u) << redrive.body;
  EXPECT_THAT(redrive.body, HasSubstr("\"redriven\":1"));
  ASSERT_TRUE(WaitForState(funcd(), call_id, "done"));
  EXPECT_EQ(IntField(CallStatusOf(funcd(), call_id), "lastStatus"), 200);
  ASSERT_TRUE(Eventually([&] {
    int count = 0;
    for (const ReceivedCallback& callback : receiver_.Callbacks()) {
      count += callback.call_id == call_id && callback.function_status == 200 ? 1 : 0;
    }
    return count == 1;
  }));
  EXPECT_EQ(Starts(call_id).size(), 3u);

  // Purged: gone from the list, and not redriven later.
  Reply purge = funcd().Api("DELETE", StrCat("/system/async/dead/", purged_id));
  EXPECT_EQ(purge.status, 200u) << purge.body;
  EXPECT_EQ(funcd().Api("GET", "/system/async/dead").body, "[]");
  EXPECT_EQ(funcd().Api("POST", StrCat("/system/async/dead/", purged_id, "/redrive")).status, 404u);
  EXPECT_EQ(funcd().Api("GET", StrCat("/system/async/calls/", purged_id)).status, 404u);
}

TEST_F(AsyncRetryTest, RedriveAllOfAFunction) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("bulk", {{"com.openfaas.retry.attempts", "1"}})));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(EnqueueAttempt("bulk", "fail=1&code=500"));
  }
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitForState(funcd(), id, "dead"));
  }
  Reply redrive = funcd().Api("POST", "/system/async/dead/redrive?function=bulk");
  ASSERT_EQ(redrive.status, 202u);
  EXPECT_THAT(redrive.body, HasSubstr("\"redriven\":3"));
  for (const std::string& id : ids) {
    EXPECT_TRUE(WaitForState(funcd(), id, "done")) << id;
  }
}

TEST_F(AsyncRetryTest, AFailingCallbackReceiverIsTriedAgain) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("cb")));
  receiver_.FailNext(2, 503);
  Reply reply = EnqueueAsync(funcd(), "cb/echo", "hello", {{"X-Callback-Url", receiver_.Url()}});
  ASSERT_EQ(reply.status, 202u);
  auto callback = receiver_.WaitForCallback(reply.Header("X-Call-Id"), std::chrono::seconds(20));
  ASSERT_TRUE(callback) << "the callback was not retried";
  EXPECT_EQ(callback->body, "hello");
  EXPECT_EQ(receiver_.CallbackCount(), 1u);
}

}  // namespace
}  // namespace funcd::testing
