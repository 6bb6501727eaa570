// funcd serve: autoscaling (the certifier's throughput case and its siblings), scale to zero
// and back, and admission control (calls wait for a replica with room instead of getting a
// watchdog's 429). Real funcd, real replicas, real load from threads.

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/strings.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using namespace std::chrono_literals;

class ScalingTest : public GatewayTest {
 protected:
  json::object Fixture(std::string_view name, json::object labels) {
    json::object fn = FixtureFunction(name);
    fn["labels"] = std::move(labels);
    return fn;
  }
  std::int64_t Replicas(std::string_view name) {
    auto status = funcd().Status(name);
    return status ? IntField(*status, "replicas") : -1;
  }
};

// Calls `target` at about `rate` requests per second from one thread until stopped, counting
// the answers by status.
class PacedLoad {
 public:
  PacedLoad(std::uint16_t port, std::string target, int rate)
      : thread_([this, port, target = std::move(target), rate] {
          auto next = std::chrono::steady_clock::now();
          while (!stop_.load()) {
            auto reply = TryCall(port, "GET", target, "", {}, 10s);
            {
              std::lock_guard lock(mu_);
              ++statuses_[reply ? reply->status : 0];
            }
            next += std::chrono::microseconds(1000000 / rate);
            std::this_thread::sleep_until(next);
          }
        }) {}
  ~PacedLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::map<unsigned, int> statuses() {
    std::lock_guard lock(mu_);
    return statuses_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<unsigned, int> statuses_;  // guarded by mu_
  std::thread thread_;
};

// Certifier: 10 req/s against min 1, max 2 reaches 2 replicas, and 1 again once the load
// stops (the down window shortened from its 30 s default to keep the test short).
TEST_F(ScalingTest, ThroughputScalesUpAndBackDown) {
  ASSERT_TRUE(funcd().DeployAndWait(Fixture("busy", {{"com.openfaas.scale.min", "1"},
                                                     {"com.openfaas.scale.max", "2"},
                                                     {"com.openfaas.scale.down.window", "2s"}})));
  PacedLoad load(funcd().port(), "/function/busy/", 10);
  EXPECT_TRUE(Eventually([&] { return Replicas("busy") == 2; }, 30s, 200ms))
      << "replicas " << Replicas("busy");
  EXPECT_TRUE(funcd().WaitAvailable("busy", 2));
  load.Stop();
  EXPECT_EQ(load.statuses(), (std::map<unsigned, int>{{200, load.statuses()[200]}}));
  EXPECT_TRUE(Eventually([&] { return Replicas("busy") == 1; }, 30s, 200ms))
      << "replicas " << Replicas("busy");
}

// min == max turns autoscaling off: the count stays under load.
TEST_F(ScalingTest, MinEqualToMaxStaysPut) {
  ASSERT_TRUE(funcd().DeployAndWait(
      Fixture("pinned", {{"com.openfaas.scale.min", "2"}, {"com.openfaas.scale.max", "2"}}), 2));
  PacedLoad load(funcd().port(), "/function/pinned/", 40);
  const auto until = std::chrono::steady_clock::now() + 5s;  // two autoscaler ticks and more
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(Replicas("pinned"), 2);
    std::this_thread::sleep_for(250ms);
  }
  load.Stop();
  EXPECT_GT(load.statuses()[200], 100);
  EXPECT_EQ(load.statuses().size(), 1u);
}

// com.openfaas.scale.zero: idle for zero-duration, the function goes to zero replicas (its
// definition stays) and the next call brings one back.
TEST_F(ScalingTest, IdleFunctionGoesToZeroAndComesBack) {
  ASSERT_TRUE(
      funcd().DeployAndWait(Fixture("sleeper", {{"com.openfaas.scale.zero", "true"},
                                                {"com.openfaas.scale.zero-duration", "2s"}})));
  EXPECT_EQ(funcd().Invoke("sleeper", "GET", "/").status, 200u);
  EXPECT_TRUE(Eventually(
      [&] {
        auto status = funcd().Status("sleeper");
        return status && !status->contains("replicas") && !status->contains("availableReplicas");
      },
      20s, 200ms))
      << ToJson(*funcd().Status("sleeper"));
  Reply woken = funcd().Invoke("sleeper", "GET", "/again");
  EXPECT_EQ(woken.status, 200u);
  EXPECT_EQ(woken.body, "path=/again query=");
  EXPECT_EQ(Replicas("sleeper"), 1);
}

// A burst at zero: every call waits for the one replica that starts, none fails.
TEST_F(ScalingTest, HundredConcurrentCallsAtZeroAllSucceed) {
  ASSERT_TRUE(funcd().DeployAndWait(FixtureFunction("burst")));
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/burst", R"({"serviceName":"burst","replicas":0})")
          .status,
      202u);
  ASSERT_TRUE(Eventually([&] { return !funcd().Status("burst")->contains("availableReplicas"); }));
  std::vector<std::future<std::optional<Reply>>> calls;
  for (int i = 0; i < 100; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return TryCall(funcd().port(), "GET", StrCat("/function/burst/call?i=", i), "", {}, 30s);
    }));
  }
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    auto reply = calls[static_cast<size_t>(i)].get();
    ASSERT_TRUE(reply) << "call " << i << " failed to connect or timed out";
    EXPECT_EQ(reply->status, 200u) << "call " << i << ": " << reply->body;
    EXPECT_EQ(reply->body, StrCat("path=/call query=i=", i));
    ok += reply->status == 200 ? 1 : 0;
  }
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(Replicas("burst"), 1);
}

// max_inflight=1 per replica, max 4 replicas, 20 callers: the gateway holds what no replica
// has room for (no watchdog 429 reaches a caller) and the backlog scales the function up.
TEST_F(ScalingTest, FullReplicasQueueCallsAndScaleUpInsteadOf429) {
  json::object fn = Fixture("narrow", {{"com.openfaas.scale.min", "1"},
                                       {"com.openfaas.scale.max", "4"},
                                       {"com.openfaas.scale.type", "capacity"}});
  fn["envVars"].as_object()["max_inflight"] = "1";
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  std::atomic<int> done{0};
  std::mutex mu;
  std::map<unsigned, int> statuses;
  std::vector<std::thread> callers;
  for (int i = 0; i < 20; ++i) {
    callers.emplace_back([&] {
      for (int call = 0; call < 3; ++call) {
        auto reply = TryCall(funcd().port(), "GET", "/function/narrow/slow?ms=100", "", {}, 30s);
        std::lock_guard lock(mu);
        ++statuses[reply ? reply->status : 0];
        ++done;
      }
    });
  }
  for (auto& caller : callers) {
    caller.join();
  }
  EXPECT_EQ(done.load(), 60);
  EXPECT_EQ(statuses, (std::map<unsigned, int>{{200, 60}}));
  EXPECT_EQ(Replicas("narrow"), 4);  // the backlog asked for every replica it may have
  EXPECT_TRUE(funcd().WaitAvailable("narrow", 4));
}

// A replica that refuses connections while its process lives on (or before the runtime has
// seen it die) is passed over: the calls go to the other replica and none gets a 502.
TEST_F(ScalingTest, AReplicaThatRefusesConnectionsIsPassedOver) {
  json::object fn = FixtureFunction("refusing", /*direct=*/true);
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}, {"com.openfaas.scale.max", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));
  // The replica that answers /unlisten stops listening.
  Reply unlistened = funcd().Invoke("refusing", "GET", "/unlisten");
  ASSERT_EQ(unlistened.status, 200u);
  const std::string gone = unlistened.body;
  // Two callers at a time: least-in-flight gives the second one the other replica, so the
  // gone one is tried again and again (each time its unreachable period has passed).
  std::mutex mu;
  std::map<std::string, int> answered_by;
  std::vector<std::string> failures;
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto reply = TryCall(funcd().port(), "GET", "/function/refusing/boot-id?ms=50", "", {});
        std::lock_guard lock(mu);
        if (!reply || reply->status != 200) {
          failures.push_back(reply ? StrCat(reply->status, " ", reply->body) : "no answer");
        } else {
          ++answered_by[reply->body];
        }
      }
    });
  }
  for (auto& caller : callers) {
    caller.join();
  }
  EXPECT_EQ(failures, std::vector<std::string>{});
  EXPECT_FALSE(answered_by.contains(gone));
  EXPECT_EQ(answered_by.size(), 1u);
  EXPECT_NE(funcd().process().Log().find("refused the connection"), std::string::npos);
}

// --max-queue bounds the calls waiting for a full function: the ones past it get 429 with
// Retry-After at once, the ones within it are served.
TEST_F(ScalingTest, CallsPastTheQueueBoundGet429WithRetryAfter) {
  StartFuncd(FuncdOptions{.extra_args = {"--max-queue", "2"}});
  json::object fn =
      Fixture("bounded", {{"com.openfaas.scale.min", "1"}, {"com.openfaas.scale.max", "1"}});
  fn["envVars"].as_object()["max_inflight"] = "1";
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  // One call occupies the replica; then two wait and the rest are turned away.
  auto first = std::async(std::launch::async, [&] {
    return TryCall(funcd().port(), "GET", "/function/bounded/slow?ms=3000", "", {}, 30s);
  });
  ASSERT_TRUE(Eventually([&] {
    return funcd()
               .Api("GET", "/metrics")
               .body.find(
                   "gateway_function_invocation_started{function_name=\"bounded.openfaas-fn\"} "
                   "1") != std::string::npos;
  }));
  std::vector<std::future<std::optional<Reply>>> more;
  for (int i = 0; i < 5; ++i) {
    more.push_back(std::async(std::launch::async, [&] {
      return TryCall(funcd().port(), "GET", "/function/bounded/slow?ms=10", "", {}, 30s);
    }));
  }
  std::map<unsigned, int> statuses;
  std::string retry_after;
  for (auto& call : more) {
    auto reply = call.get();
    ++statuses[reply ? reply->status : 0];
    if (reply && reply->status == 429) {
      retry_after = reply->Header("Retry-After");
      EXPECT_NE(reply->body.find("already waiting"), std::string::npos) << reply->body;
    }
  }
  auto reply = first.get();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(statuses, (std::map<unsigned, int>{{200, 2}, {429, 3}}));
  EXPECT_FALSE(retry_after.empty());
}

// com.funcd.standby=frozen: at zero the last replica is frozen instead of stopped, and the
// next call thaws it: the same process answers, no new replica starts.
TEST_F(ScalingTest, StandbyReplicaIsFrozenAtZeroAndThawedByTheNextCall) {
  json::object fn = FixtureFunction("standby");
  fn["annotations"] = json::object{{"com.funcd.standby", "frozen"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  const std::string boot_id = funcd().Invoke("standby", "GET", "/boot-id").body;
  ASSERT_EQ(funcd()
                .Api("POST", "/system/scale-function/standby",
                     R"({"serviceName":"standby","replicas":0})")
                .status,
            202u);
  ASSERT_TRUE(
      Eventually([&] { return !funcd().Status("standby")->contains("availableReplicas"); }));
  ASSERT_TRUE(Eventually([&] {
    return funcd().RuntimeEvents("standby").find("cgroup frozen") != std::string::npos;
  })) << funcd().RuntimeEvents("standby");
  Reply woken = funcd().Invoke("standby", "GET", "/boot-id");
  EXPECT_EQ(woken.status, 200u);
  EXPECT_EQ(woken.body, boot_id);  // the same process: thawed, not started again
  EXPECT_EQ(Replicas("standby"), 1);
  EXPECT_NE(funcd().RuntimeEvents("standby").find("woken from standby"), std::string::npos)
      << funcd().RuntimeEvents("standby");
}

}  // namespace
}  // namespace funcd::testing
