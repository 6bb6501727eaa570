// funcd serve: synchronous invocation through the gateway (contracts §3) to
// tests/integration/fixture_function.cc, behind fwatchdog in http mode and (direct mode,
// com.funcd.watchdog=none) without it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

class InvokeTest : public GatewayTest {
 protected:
  // Deploys the fixture as `name` and waits for its replica; false (with a test failure) if
  // it never becomes available.
  bool DeployFixture(std::string_view name, bool direct = false, json::object env = {}) {
    json::object fn = FixtureFunction(name, direct);
    if (!env.empty()) {
      json::object vars = fn.contains("envVars") ? fn["envVars"].as_object() : json::object{};
      for (const auto& [k, v] : env) {
        vars[k] = v;
      }
      fn["envVars"] = std::move(vars);
    }
    return funcd().DeployAndWait(fn);
  }
};

TEST_F(InvokeTest, EveryVerbPathAndQueryReachesTheFunctionUnchanged) {
  ASSERT_TRUE(DeployFixture("fx"));
  for (const char* verb : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    const std::string body = StrCat("payload-", verb);
    Reply r = funcd().Invoke("fx", verb, "/echo?x=1&y=a%20b&z=%2F", body);
    EXPECT_EQ(r.status, 200u) << verb;
    EXPECT_EQ(r.Header("X-Fixture-Method"), verb);
    EXPECT_EQ(r.Header("X-Fixture-Target"), "/echo?x=1&y=a%20b&z=%2F") << verb;
    EXPECT_EQ(r.body, body) << verb;
  }
  EXPECT_EQ(funcd().Invoke("fx", "GET").body, "path=/ query=");
  EXPECT_EQ(funcd().Invoke("fx", "GET", "/").body, "path=/ query=");
  EXPECT_EQ(funcd().Invoke("fx", "GET", "?only=query").body, "path=/ query=only=query");
  EXPECT_EQ(funcd().Invoke("fx", "GET", "/a/b/c?q=1&q=2").body, "path=/a/b/c query=q=1&q=2");
  EXPECT_EQ(funcd().Invoke("fx.openfaas-fn", "GET", "/a%20b/").body, "path=/a%20b/ query=");
  Reply head = funcd().Invoke("fx", "HEAD", "/echo");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.Header("X-Fixture-Method"), "HEAD");
}

TEST_F(InvokeTest, HeadersInAndOut) {
  ASSERT_TRUE(DeployFixture("fx"));
  Reply r = funcd().Invoke("fx", "GET", "/headers", "",
                           {{"X-Custom", "custom value"},
                            {"Authorization", "Bearer caller-token"},
                            {"Host", "fn.example"}});
  ASSERT_EQ(r.status, 200u);
  EXPECT_THAT(r.body, HasSubstr("X-Custom: custom value\n"));
  // Invocations carry the caller's own Authorization (contracts §2.2).
  EXPECT_THAT(r.body, HasSubstr("Authorization: Bearer caller-token\n"));
  EXPECT_THAT(r.body, HasSubstr("X-Forwarded-Host: fn.example\n"));
  EXPECT_THAT(r.body, HasSubstr("X-Forwarded-For: 127.0.0.1"));
  EXPECT_THAT(r.body, HasSubstr("X-Start-Time: "));
  // The generated call id goes to the function and back to the caller.
  const std::string call_id = r.Header("X-Call-Id");
  EXPECT_EQ(call_id.size(), 36u) << call_id;
  EXPECT_THAT(r.body, HasSubstr(StrCat("X-Call-Id: ", call_id, "\n")));
  EXPECT_FALSE(r.Header("X-Start-Time").empty());
  EXPECT_THAT(r.body, HasSubstr(StrCat("X-Start-Time: ", r.Header("X-Start-Time"), "\n")));

  // A caller's call id is forwarded but not echoed (contracts §3.2).
  Reply own = funcd().Invoke("fx", "GET", "/headers", "", {{"X-Call-Id", "caller-id-1"}});
  EXPECT_THAT(own.body, HasSubstr("X-Call-Id: caller-id-1\n"));
  EXPECT_EQ(own.Header("X-Call-Id"), "");
  EXPECT_FALSE(own.Header("X-Start-Time").empty());
  // A caller's X-Forwarded-* are kept, not replaced.
  Reply forwarded =
      funcd().Invoke("fx", "GET", "/headers", "",
                     {{"X-Forwarded-For", "203.0.113.7"}, {"X-Forwarded-Host", "public.example"}});
  EXPECT_THAT(forwarded.body, HasSubstr("X-Forwarded-For: 203.0.113.7\n"));
  EXPECT_THAT(forwarded.body, HasSubstr("X-Forwarded-Host: public.example\n"));
  // The function's response headers reach the caller.
  Reply echo = funcd().Invoke("fx", "POST", "/echo", "x", {{"Host", "h.example"}});
  EXPECT_EQ(echo.Header("X-Fixture-Host"), "h.example");
  EXPECT_EQ(echo.Header("Content-Type"), "application/octet-stream");
}

TEST_F(InvokeTest, HopByHopHeadersAreStripped) {
  ASSERT_TRUE(
      DeployFixture("direct", /*direct=*/true));  // nothing between the gateway and the fixture
  RawClient client(funcd().port());
  client.Send(RawRequest("GET", "/function/direct/headers",
                         {{"Connection", "keep-alive, X-Hop-Only"},
                          {"X-Hop-Only", "1"},
                          {"Keep-Alive", "timeout=5"},
                          {"Proxy-Authorization", "Basic eA=="},
                          {"TE", "trailers"},
                          {"X-End-To-End", "kept"}}));
  ASSERT_TRUE(ReadWholeResponse(client)) << client.received();
  const std::string& seen = client.received();
  EXPECT_EQ(RawStatus(seen), 200u);
  EXPECT_THAT(seen, HasSubstr("X-End-To-End: kept"));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("X-Hop-Only")));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("Keep-Alive: timeout")));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("Proxy-Authorization")));
  EXPECT_THAT(seen, ::testing::Not(HasSubstr("TE: trailers")));
}

// The client's "Connection: close" is honoured after a proxied response (RFC 9112 §9.6),
// although the proxy strips Connection from the request it sends upstream.
TEST_F(InvokeTest, ClientConnectionCloseIsHonoured) {
  ASSERT_TRUE(DeployFixture("fx"));
  RawClient client(funcd().port());
  client.Send(RawRequest("GET", "/function/fx/x", {{"Connection", "close"}}));
  EXPECT_TRUE(client.ReadUntilClosed(std::chrono::seconds(2))) << client.received();
  EXPECT_EQ(RawStatus(client.received()), 200u);
  EXPECT_THAT(client.received(), HasSubstr("Connection: close"));
}

// An HTTP/1.0 client never gets chunked framing (which it does not know), although the
// proxy talks HTTP/1.1 upstream; the response ends with the connection.
TEST_F(InvokeTest, Http10ClientGetsAnUnchunkedResponseAndAClose) {
  ASSERT_TRUE(DeployFixture("fx"));
  RawClient client(funcd().port());
  client.Send("GET /function/fx/big?mb=1 HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(client.ReadUntilClosed(std::chrono::seconds(2)));
  const std::string& raw = client.received();
  EXPECT_EQ(RawStatus(raw), 200u) << raw.substr(0, 300);
  EXPECT_THAT(raw.substr(0, raw.find("\r\n\r\n")), ::testing::Not(HasSubstr("chunked")));
  EXPECT_EQ(raw.size() - raw.find("\r\n\r\n") - 4, std::size_t{1} << 20);
}

TEST_F(InvokeTest, StatusCodesAndRedirectsPassThrough) {
  ASSERT_TRUE(DeployFixture("fx"));
  Reply redirect = funcd().Invoke("fx", "POST", "/redirect");
  EXPECT_EQ(redirect.status, 302u);
  EXPECT_EQ(redirect.Header("Location"), "http://example.com/");
  for (unsigned code : {201u, 204u, 404u, 418u, 500u, 503u}) {
    EXPECT_EQ(funcd().Invoke("fx", "GET", StrCat("/status/", code)).status, code);
  }
}

TEST_F(InvokeTest, CallsWhileTheFirstReplicaStartsAreHeldNotFailed) {
  ASSERT_EQ(funcd().Deploy(FixtureFunction("fresh")), 202u);
  Reply r = funcd().Invoke("fresh", "GET", "/x?y=1");  // no wait for availableReplicas
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, "path=/x query=y=1");
}

TEST_F(InvokeTest, ServerSentEventsArriveOneByOne) {
  ASSERT_TRUE(DeployFixture("fx"));
  RawClient client(funcd().port());
  const auto start = Clock::now();
  client.Send(RawRequest("GET", "/function/fx/sse", {{"Accept", "text/event-stream"}}));
  ASSERT_TRUE(client.ReadUntil("data: 1")) << client.received();
  // The fixture sends the second event 500 ms after the first.
  EXPECT_EQ(client.received().find("data: 2"), std::string::npos);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(450));
  EXPECT_THAT(client.received(), HasSubstr("text/event-stream"));
  ASSERT_TRUE(client.ReadUntil("data: 2"));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(450));
}

TEST_F(InvokeTest, HundredMegabyteBodyStreamsBothWays) {
  ASSERT_TRUE(DeployFixture("fx", false, {{"exec_timeout", "60s"}}));
  std::size_t growth = 0;
  const std::size_t total = std::size_t{100} << 20;
  const std::size_t received =
      StreamUpload(funcd().port(), "/function/fx/echo", total, funcd().process(), &growth);
  EXPECT_GT(received, total);  // the echo plus head and chunk framing
  if (kMemoryLimitsApply) {
    // Streamed, not buffered: the gateway holds a few buffers, never the body.
    EXPECT_LT(growth, std::size_t{32} << 20) << "funcd RSS grew by " << growth << " bytes";
  }
  EXPECT_EQ(funcd().Invoke("fx", "GET", "/after").status, 200u);
}

TEST_F(InvokeTest, WebSocketEchoThroughTheGateway) {
  ASSERT_TRUE(DeployFixture("fx"));
  RawClient client(funcd().port());
  client.Send(RawRequest("GET", "/function/fx/ws",
                         {{"Connection", "Upgrade"},
                          {"Upgrade", "websocket"},
                          {"Sec-WebSocket-Version", "13"},
                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}}));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n")) << client.received();
  EXPECT_EQ(RawStatus(client.received()), 101u) << client.received();
  EXPECT_THAT(client.received(), HasSubstr("Upgrade: websocket"));
  client.received().clear();
  client.Send("first-frame");
  EXPECT_TRUE(client.ReadUntil("first-frame")) << client.received();
  client.received().clear();
  client.Send("second-frame");
  EXPECT_TRUE(client.ReadUntil("second-frame")) << client.received();
}

// With fwatchdog in front, exec_timeout=1s makes the watchdog answer 504 itself after 1 s,
// before the gateway's own deadline (exec_timeout + 1 s grace): the caller sees the
// watchdog's 504, marked X-OpenFaaS-Internal: of-watchdog, with no X-Timeout-Reason.
TEST_F(InvokeTest, FunctionTimeoutBehindTheWatchdogIsTheWatchdogs504) {
  ASSERT_TRUE(DeployFixture("slow", false, {{"exec_timeout", "1s"}}));
  const auto start = Clock::now();
  Reply r = funcd().Invoke("slow", "GET", "/slow?ms=4000");
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "of-watchdog");
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(1900));
  EXPECT_FALSE(r.Header("X-Call-Id").empty());
  EXPECT_EQ(funcd().Invoke("slow", "GET", "/slow?ms=10").status, 200u);
}

// Without a watchdog the gateway's deadline fires: exec_timeout (else write_timeout) + 1 s
// grace.
TEST_F(InvokeTest, FunctionTimeoutWithoutWatchdogIsTheGateways504) {
  ASSERT_TRUE(DeployFixture("slow", /*direct=*/true, {{"exec_timeout", "1s"}}));
  ASSERT_TRUE(DeployFixture("slow-write", /*direct=*/true, {{"write_timeout", "1s"}}));
  for (const char* name : {"slow", "slow-write"}) {
    EXPECT_EQ(funcd().Invoke(name, "GET", "/slow?ms=10").status, 200u);
  }
  auto timed = [&](std::string name) {
    const auto start = Clock::now();
    Reply r = funcd().Invoke(name, "GET", "/slow?ms=4000");
    return std::make_pair(r, Clock::now() - start);
  };
  auto write = std::async(std::launch::async, timed, "slow-write");
  auto [r, took] = timed("slow");
  for (const auto& [reply, elapsed] : {std::make_pair(r, took), write.get()}) {
    EXPECT_EQ(reply.status, 504u);
    EXPECT_EQ(reply.Header("X-Timeout-Reason"), "function-timeout");
    EXPECT_EQ(reply.Header("X-OpenFaaS-Internal"), "gateway");
    EXPECT_FALSE(reply.Header("X-Call-Id").empty());
    EXPECT_GE(elapsed, std::chrono::milliseconds(1900));
    EXPECT_LT(elapsed, std::chrono::milliseconds(3500));
  }
  EXPECT_EQ(funcd().Invoke("slow", "GET", "/slow?ms=10").status, 200u);
}

TEST_F(InvokeTest, UpstreamTimeoutIsTheGateways504) {
  StartFuncd({.extra_args = {"--upstream-timeout", "1s"}});
  ASSERT_TRUE(DeployFixture("slow", /*direct=*/true));
  const auto start = Clock::now();
  Reply r = funcd().Invoke("slow", "GET", "/slow?ms=4000");
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.Header("X-Timeout-Reason"), "gateway-timeout");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
}

// A function whose replica never becomes ready: calls wait (bounded by the gateway's
// timeout), then get a 503 that says so, not a hang or a connection error.
TEST_F(InvokeTest, CallsToAFunctionThatNeverStartsEndIn503) {
  StartFuncd({.extra_args = {"--upstream-timeout", "2s"}});
  json::object broken = HostFunction("broken", "/no/such/program");
  broken["envVars"] = json::object{{"mode", "http"}};
  ASSERT_EQ(funcd().Deploy(broken), 202u);
  const auto start = Clock::now();
  Reply r = funcd().Invoke("broken", "GET", "/");
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "gateway");
  EXPECT_FALSE(r.Header("Retry-After").empty());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1900));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(3500));
  EXPECT_THAT(funcd().RuntimeEvents("broken"), HasSubstr("funcd: replica exited"));
  EXPECT_FALSE(funcd().Status("broken")->contains("availableReplicas"));
}

TEST_F(InvokeTest, DirectModeServesWithoutAWatchdog) {
  ASSERT_TRUE(DeployFixture("direct", /*direct=*/true));
  Reply r = funcd().Invoke("direct", "PUT", "/echo?a=1", "direct body");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "direct body");
  EXPECT_EQ(r.Header("X-Fixture-Target"), "/echo?a=1");
  EXPECT_EQ(r.Header("X-Duration-Seconds"), "");  // no watchdog added it
  EXPECT_EQ(funcd().Invoke("direct", "GET", "/redirect").status, 302u);
}

// Least-in-flight choice: with max_inflight=1 per replica, a call goes to the idle replica
// while the other is busy, and is held (not refused) while both are.
TEST_F(InvokeTest, CallsGoToTheIdleReplicaAndWaitWhenAllAreBusy) {
  json::object fn = FixtureFunction("pair");
  fn["envVars"].as_object()["max_inflight"] = "1";
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));
  auto slow = std::async(std::launch::async,
                         [&] { return funcd().Invoke("pair", "GET", "/slow?ms=3000"); });
  // Wait until the slow call is in a replica, then the other one must serve at once.
  ASSERT_TRUE(Eventually([&] {
    return funcd()
               .Anonymous("GET", "/metrics")
               .body.find(
                   "gateway_function_invocation_inflight{function_name=\"pair.openfaas-fn\"} 1") !=
           std::string::npos;
  }));
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    Reply r = funcd().Invoke("pair", "GET", "/fast");
    EXPECT_EQ(r.status, 200u) << r.body << funcd().RuntimeEvents("pair");
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(700)) << i;
  }
  // Both busy: the next call waits for a free replica instead of getting a 429.
  auto second = std::async(std::launch::async,
                           [&] { return funcd().Invoke("pair", "GET", "/slow?ms=3000"); });
  ASSERT_TRUE(Eventually([&] {
    return funcd()
               .Anonymous("GET", "/metrics")
               .body.find(
                   "gateway_function_invocation_inflight{function_name=\"pair.openfaas-fn\"} 2") !=
           std::string::npos;
  }));
  Reply held = funcd().Invoke("pair", "GET", "/held");
  EXPECT_EQ(held.status, 200u) << held.body << funcd().RuntimeEvents("pair");
  EXPECT_EQ(held.body, "path=/held query=");
  EXPECT_EQ(slow.get().status, 200u);
  EXPECT_EQ(second.get().status, 200u);
}

TEST_F(InvokeTest, AFunctionThatDropsTheConnectionIsA5xx) {
  ASSERT_TRUE(DeployFixture("direct", /*direct=*/true));
  Reply r = funcd().Invoke("direct", "GET", "/reset");
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "gateway");
  EXPECT_EQ(funcd().Invoke("direct", "GET", "/ok").status, 200u);
}

}  // namespace
}  // namespace funcd::testing
