#include "gateway/autoscaler.h"

#include <gtest/gtest.h>

#include <vector>

namespace funcd::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = Autoscaler::Clock;

// The autoscaler asks the provider only for CPU time; the decisions under test do not use it.
class NoCpuProvider final : public provider::Provider {
 public:
  std::string_view name() const override { return "test"; }
  std::string_view orchestration() const override { return "test"; }
  Result<void> Validate(const provider::FunctionSpec&) const override { return Ok(); }
  void Apply(provider::FunctionSpec) override {}
  void Scale(const provider::FunctionRef&, std::int64_t) override {}
  void Remove(const provider::FunctionRef&) override {}
  provider::ReplicaCounts Counts(const provider::FunctionRef&) const override { return {}; }
  std::shared_ptr<provider::ReplicaSet> Replicas(const provider::FunctionRef&) const override {
    return nullptr;
  }
  provider::LogStore& logs() override { return logs_; }
  double CpuSeconds(const provider::FunctionRef&) const override { return 0; }
  void Shutdown() override {}

 private:
  provider::LogStore logs_;
};

class AutoscalerTest : public ::testing::Test {
 protected:
  AutoscalerTest()
      : autoscaler_(functions_, provider_, metrics_,
                    [this](const FunctionEntry& entry, std::int64_t replicas, const std::string&) {
                      decisions_.push_back(replicas);
                      Deploy(entry.policy, replicas);  // as the gateway applies a decision
                    }) {}

  // Puts "fn.openfaas-fn" in the table with `desired` replicas, keeping its stats and set.
  void Deploy(ScalingPolicy policy, std::int64_t desired) {
    auto entry = std::make_shared<FunctionEntry>();
    entry->ref = {"openfaas-fn", "fn"};
    entry->key = "fn.openfaas-fn";
    entry->policy = policy;
    entry->desired = desired;
    entry->replicas = replicas_;
    if (!stats_) {
      stats_ = std::make_shared<FunctionStats>(
          entry->key, metrics_.invocation_total, metrics_.functions_seconds,
          metrics_.invocation_started, metrics_.inflight, metrics_.cold_starts);
    }
    entry->stats = stats_;
    functions_.Put(entry);
  }
  std::shared_ptr<const FunctionEntry> Entry() { return functions_.Find("fn.openfaas-fn"); }
  void AddCalls(std::uint64_t calls) { stats_->started_total += calls; }

  FunctionTable functions_;
  NoCpuProvider provider_;
  GatewayMetrics metrics_;
  std::shared_ptr<provider::ReplicaSet> replicas_ = std::make_shared<provider::ReplicaSet>();
  std::shared_ptr<FunctionStats> stats_;
  std::vector<std::int64_t> decisions_;
  Autoscaler autoscaler_;
};

ScalingPolicy Policy(std::int64_t min, std::int64_t max) {
  ScalingPolicy policy;
  policy.min = min;
  policy.max = max;
  policy.down_window = 10s;
  return policy;
}

TEST_F(AutoscalerTest, ScalesUpWithTheRateAndDownAfterTheWindow) {
  Deploy(Policy(1, 4), 1);
  const Clock::time_point t0 = Clock::now();
  autoscaler_.Tick(t0);  // first sight: no rate yet
  AddCalls(20);          // 10 req/s over 2 s: ceil(10 / 4.5) = 3
  autoscaler_.Tick(t0 + 2s);
  ASSERT_EQ(decisions_, std::vector<std::int64_t>({3}));
  // Idle: the count holds through the down window, then falls to the minimum.
  autoscaler_.Tick(t0 + 4s);
  autoscaler_.Tick(t0 + 8s);
  EXPECT_EQ(decisions_.size(), 1u);
  autoscaler_.Tick(t0 + 14s);
  EXPECT_EQ(decisions_, std::vector<std::int64_t>({3, 1}));
}

TEST_F(AutoscalerTest, AScaleByHandHoldsThroughTheWindow) {
  Deploy(Policy(1, 4), 1);
  const Clock::time_point t0 = Clock::now();
  autoscaler_.Tick(t0);
  Deploy(Policy(1, 4), 3);  // faas-cli scale --replicas 3, as the gateway applies it
  autoscaler_.ScaledByHand(*Entry(), 3, t0 + 1s);
  autoscaler_.Tick(t0 + 2s);  // idle, but the count was asked for
  autoscaler_.Tick(t0 + 8s);
  EXPECT_TRUE(decisions_.empty());
  autoscaler_.Tick(t0 + 12s);  // the window has passed: back to the minimum
  EXPECT_EQ(decisions_, std::vector<std::int64_t>({1}));
}

TEST_F(AutoscalerTest, MinEqualToMaxNeverScales) {
  Deploy(Policy(2, 2), 2);
  const Clock::time_point t0 = Clock::now();
  autoscaler_.Tick(t0);
  AddCalls(1000);
  autoscaler_.Tick(t0 + 2s);
  autoscaler_.Saturated(*Entry(), 10, t0 + 2s);
  EXPECT_TRUE(decisions_.empty());
}

TEST_F(AutoscalerTest, WaitingCallsScaleUpAtOnceAndHoldThroughTheWindow) {
  Deploy(Policy(1, 4), 1);
  const Clock::time_point t0 = Clock::now();
  autoscaler_.Tick(t0);
  autoscaler_.Saturated(*Entry(), 9, t0 + 100ms);  // clamped to max
  ASSERT_EQ(decisions_, std::vector<std::int64_t>({4}));
  autoscaler_.Saturated(*Entry(), 3, t0 + 200ms);  // never down from here
  EXPECT_EQ(decisions_.size(), 1u);
  // No calls at all afterwards: the rate alone wants 1, but not before the window ends.
  autoscaler_.Tick(t0 + 2s);
  EXPECT_EQ(decisions_.size(), 1u);
  autoscaler_.Tick(t0 + 11s);
  EXPECT_EQ(decisions_, std::vector<std::int64_t>({4, 1}));
}

TEST_F(AutoscalerTest, IdleFunctionsThatOptInGoToZero) {
  ScalingPolicy policy = Policy(1, 4);
  policy.zero = true;
  policy.zero_duration = 1ns;  // idle since it appeared
  Deploy(policy, 1);
  const Clock::time_point t0 = Clock::now();
  autoscaler_.Tick(t0);
  autoscaler_.Tick(t0 + 2s);
  ASSERT_EQ(decisions_, std::vector<std::int64_t>({0}));
  // At zero the autoscaler leaves it alone: the next call brings it back.
  autoscaler_.Tick(t0 + 4s);
  EXPECT_EQ(decisions_.size(), 1u);
}

}  // namespace
}  // namespace funcd::gateway
