// funcd serve with --queue nats:// (NATS JetStream, work in progress): two funcd serve
// processes on one real nats-server -js share the queue; every accepted call is attempted
// and called back once, by one of them. Also retries, dead letters and redrive through the
// HTTP API with the JetStream backend.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <thread>

#include "common/strings.h"
#include "tests/async/async_harness.h"

namespace funcd::testing {
namespace {

class AsyncJetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
    }
    ASSERT_TRUE(nats_.ok()) << nats_.log();
  }

  // funcd serve on `state` with --queue <server URL><query> ("?max_pending=5").
  std::unique_ptr<FuncdServer> StartFuncd(const TempDir& state, std::string_view query = "") {
    FuncdOptions options;
    options.extra_args = AsyncArgs({"--queue", StrCat(nats_.url(), query), "--async-workers", "8"});
    auto funcd = std::make_unique<FuncdServer>(state.path(), std::move(options));
    EXPECT_TRUE(funcd->ok());
    return funcd;
  }

  // Runs funcd serve with `--queue queue`, which must make it refuse to start; returns its
  // output.
  std::string StartupFailure(const TempDir& state, const std::string& queue) {
    Process funcd(WithDeathSignal({StrCat(BinDir(), "/funcd"), "serve", "--listen", "127.0.0.1:0",
                                   "--state-dir", state.path(), "--host-images", "--queue", queue}),
                  {});
    const std::optional<int> code = funcd.WaitExit(std::chrono::seconds(30));
    EXPECT_TRUE(code.has_value()) << "funcd serve --queue " << queue << " did not stop";
    EXPECT_NE(code.value_or(0), 0) << funcd.Log();
    EXPECT_FALSE(funcd.WaitForLog("listening on", std::chrono::milliseconds(0)));
    return funcd.Log();
  }

  NatsServer nats_{0, NatsServer::Mode::kJetStream};
  TempDir state_a_;
  TempDir state_b_;
  CallbackReceiver receiver_;
};

double Succeeded(FuncdServer& funcd, std::string_view key) {
  return MetricValue(funcd, StrCat("funcd_async_succeeded_total{function_name=\"", key, "\"}"));
}

TEST_F(AsyncJetStreamTest, TwoServersShareTheQueueAndEachCallIsProcessedOnce) {
  auto a = StartFuncd(state_a_);
  auto b = StartFuncd(state_b_);
  ASSERT_TRUE(a->ok() && b->ok());
  // Each gateway has its own function store: the function is deployed on both.
  ASSERT_TRUE(a->DeployAndWait(AsyncFixture("shared")));
  ASSERT_TRUE(b->DeployAndWait(AsyncFixture("shared")));

  constexpr std::size_t kCalls = 400;
  auto make = [&](std::size_t i) {
    Headers headers = {{"X-Callback-Url", receiver_.Url()}, {"X-Call-Id", StrCat("js-", i)}};
    return AsyncRequest{StrCat("shared/item/", i), StrCat("payload ", i), std::move(headers)};
  };
  // Half the calls enter through each gateway.
  std::vector<Reply> via_a = EnqueueMany(*a, kCalls / 2, 4, make);
  std::vector<Reply> via_b =
      EnqueueMany(*b, kCalls / 2, 4, [&](std::size_t i) { return make(i + kCalls / 2); });
  for (const std::vector<Reply>* replies : {&via_a, &via_b}) {
    for (const Reply& reply : *replies) {
      ASSERT_EQ(reply.status, 202u) << reply.body;
    }
  }

  ASSERT_TRUE(receiver_.WaitForCallbacks(kCalls, std::chrono::seconds(90)))
      << receiver_.CallbackCount() << " of " << kCalls << " callbacks arrived";
  // A duplicate would come now.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::map<std::string, int> seen;
  for (const ReceivedCallback& callback : receiver_.Callbacks()) {
    ++seen[callback.call_id];
    EXPECT_EQ(callback.function_status, 200u) << callback.call_id;
    EXPECT_EQ(callback.Header("X-Function-Name"), "shared");
  }
  EXPECT_EQ(seen.size(), kCalls);
  for (std::size_t i = 0; i < kCalls; ++i) {
    EXPECT_EQ(seen[StrCat("js-", i)], 1) << "js-" << i;
  }
  // Both servers took a share of the work, and together they did each call once.
  const double by_a = Succeeded(*a, "shared.openfaas-fn");
  const double by_b = Succeeded(*b, "shared.openfaas-fn");
  EXPECT_EQ(std::max(by_a, 0.0) + std::max(by_b, 0.0), static_cast<double>(kCalls));
  EXPECT_GT(by_a, 0);
  EXPECT_GT(by_b, 0);
  // Either gateway answers for any call.
  EXPECT_EQ(StringField(CallStatusOf(*a, "js-399"), "state"), "done");
  EXPECT_EQ(StringField(CallStatusOf(*b, "js-0"), "state"), "done");
}

TEST_F(AsyncJetStreamTest, RetriesThenDeadLetterThenRedrive) {
  auto a = StartFuncd(state_a_);
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(a->DeployAndWait(AsyncFixture("flaky", {{"com.openfaas.retry.attempts", "3"},
                                                      {"com.openfaas.retry.min_wait", "200ms"},
                                                      {"com.openfaas.retry.max_wait", "1s"}})));
  // fail=3: the first three attempts fail, a fourth (after a redrive) succeeds.
  Reply reply =
      EnqueueAsync(*a, StrCat("flaky/attempt?report=", receiver_.port(), "&fail=3&code=503"), "",
                   {{"X-Callback-Url", receiver_.Url()}, {"X-Call-Id", "flaky-1"}});
  ASSERT_EQ(reply.status, 202u) << reply.body;
  auto callback = receiver_.WaitForCallback("flaky-1", std::chrono::seconds(30));
  ASSERT_TRUE(callback);
  EXPECT_EQ(callback->function_status, 503u);
  EXPECT_EQ(callback->Header("X-Retry"), "2");
  ASSERT_TRUE(WaitForState(*a, "flaky-1", "dead"));
  EXPECT_EQ(IntField(CallStatusOf(*a, "flaky-1"), "attempts"), 3);
  ASSERT_TRUE(receiver_.WaitForAttempts("flaky-1", 3, std::chrono::seconds(5)));

  Reply dead = a->Api("GET", "/system/async/dead");
  ASSERT_EQ(dead.status, 200u) << dead.body;
  EXPECT_THAT(dead.body, ::testing::HasSubstr("flaky-1"));
  Reply redrive = a->Api("POST", "/system/async/dead/flaky-1/redrive");
  ASSERT_EQ(redrive.status, 202u) << redrive.body;
  ASSERT_TRUE(WaitForState(*a, "flaky-1", "done"));
  EXPECT_EQ(StringField(CallStatusOf(*a, "flaky-1"), "state"), "done");
  Reply after = a->Api("GET", "/system/async/dead");
  EXPECT_THAT(after.body, ::testing::Not(::testing::HasSubstr("flaky-1")));
}

// ?max_pending=N: the stream holds at most N calls (queued, waiting or running); more are
// refused as a full SQLite queue refuses them: 429, Retry-After, "Error queuing request".
TEST_F(AsyncJetStreamTest, AFullQueueAnswers429UntilACallIsSettled) {
  auto a = StartFuncd(state_a_, "?max_pending=4&ack_wait=5s");
  ASSERT_TRUE(a->ok());
  // One attempt at a time, 1.5 s each: the calls stay in the stream meanwhile.
  ASSERT_TRUE(a->DeployAndWait(AsyncFixture("full", {{"com.openfaas.queue.max_inflight", "1"}})));
  auto enqueue = [&](std::string call_id) {
    return EnqueueAsync(*a, "full/slow?ms=1500", "",
                        {{"X-Callback-Url", receiver_.Url()}, {"X-Call-Id", std::move(call_id)}});
  };
  for (int i = 0; i < 4; ++i) {
    Reply accepted = enqueue(StrCat("full-", i));
    ASSERT_EQ(accepted.status, 202u) << accepted.body;
  }
  Reply refused = enqueue("refused");
  EXPECT_EQ(refused.status, 429u) << refused.body;
  EXPECT_EQ(refused.Header("Retry-After"), "1");
  EXPECT_THAT(refused.body,
              ::testing::StartsWith("Error queuing request: the async queue is full"));
  EXPECT_EQ(a->Api("GET", "/system/async/calls/refused").status, 404u);

  // Once the first call is settled there is room again.
  ASSERT_TRUE(receiver_.WaitForCallback("full-0", std::chrono::seconds(20)));
  unsigned status = 0;
  EXPECT_TRUE(Eventually([&] { return (status = enqueue("full-4").status) == 202u; },
                         std::chrono::seconds(10), std::chrono::milliseconds(100)))
      << "last status " << status;
  ASSERT_TRUE(receiver_.WaitForCallbacks(5, std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a stray callback would come now
  std::map<std::string, int> seen;
  for (const ReceivedCallback& callback : receiver_.Callbacks()) {
    ++seen[callback.call_id];
  }
  EXPECT_EQ(seen, (std::map<std::string, int>{
                      {"full-0", 1}, {"full-1", 1}, {"full-2", 1}, {"full-3", 1}, {"full-4", 1}}));
}

// Bad queue options stop funcd serve at start-up with a message naming them; so does an
// ack_wait other than the one of the consumer that another funcd created.
TEST_F(AsyncJetStreamTest, BadQueueOptionsStopStartupWithAClearError) {
  EXPECT_THAT(StartupFailure(state_a_, nats_.url() + "?bogus=1"),
              ::testing::HasSubstr("unknown option \"bogus\" (known: ack_wait, max_pending)"));
  EXPECT_THAT(StartupFailure(state_a_, nats_.url() + "?ack_wait=5"),
              ::testing::HasSubstr("ack_wait wants a duration"));
  EXPECT_THAT(StartupFailure(state_a_, nats_.url() + "?max_pending=lots"),
              ::testing::HasSubstr("max_pending wants a number"));

  auto a = StartFuncd(state_a_, "?ack_wait=3s");
  ASSERT_TRUE(a->ok());
  EXPECT_THAT(StartupFailure(state_b_, nats_.url() + "?ack_wait=10s"),
              ::testing::HasSubstr("has ack_wait 3s"));
  auto b = StartFuncd(state_b_);  // no ack_wait: adopts the consumer's
  EXPECT_TRUE(b->ok());
}

// While nats-server is away, /async-function answers 500 (nothing stored, the caller sends
// again); funcd stays up, reconnects to the restarted server (same port and store), takes
// calls again, and delivers the one accepted before the outage.
TEST_F(AsyncJetStreamTest, EnqueuesFailWhileTheServerIsAwayAndWorkAfterItsRestart) {
  auto a = StartFuncd(state_a_);
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(a->DeployAndWait(AsyncFixture("outage", {{"com.openfaas.queue.max_inflight", "1"}})));
  auto enqueue = [&](std::string call_id, std::string_view path) {
    return EnqueueAsync(*a, StrCat("outage/", path), "",
                        {{"X-Callback-Url", receiver_.Url()}, {"X-Call-Id", std::move(call_id)}});
  };
  // Held by the function over the outage (a running attempt).
  ASSERT_EQ(enqueue("before", "slow?ms=3000").status, 202u);

  nats_.Kill();
  const auto down = std::chrono::steady_clock::now();
  Reply refused = enqueue("during", "slow?ms=1");
  EXPECT_EQ(refused.status, 500u) << refused.body;
  EXPECT_THAT(refused.body, ::testing::StartsWith("Error queuing request:"));
  std::printf("refused after %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - down).count());
  // Two libnats request timeouts (5 s each): the record's put and its delete.
  EXPECT_LT(std::chrono::steady_clock::now() - down, std::chrono::seconds(20));

  ASSERT_TRUE(nats_.Restart());
  unsigned status = 0;
  EXPECT_TRUE(Eventually([&] { return (status = enqueue("after", "slow?ms=1").status) == 202u; },
                         std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << "last status " << status;
  ASSERT_TRUE(receiver_.WaitForCallback("before", std::chrono::seconds(30)));
  ASSERT_TRUE(receiver_.WaitForCallback("after", std::chrono::seconds(30)));
  EXPECT_TRUE(WaitForState(*a, "before", "done"));
  EXPECT_TRUE(WaitForState(*a, "after", "done"));
  // Refused: no record is left (the put that timed out reached the server after its restart,
  // and so did the delete that followed it).
  EXPECT_EQ(a->Api("GET", "/system/async/calls/during").status, 404u);
}

}  // namespace
}  // namespace funcd::testing
