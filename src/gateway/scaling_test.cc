#include "gateway/scaling.h"

#include <gtest/gtest.h>

namespace funcd::gateway {
namespace {

using namespace std::chrono_literals;

TEST(ScalingPolicyTest, Defaults) {
  auto policy = ParseScalingPolicy({});
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->min, 1);
  EXPECT_EQ(policy->max, 20);
  EXPECT_EQ(policy->type, ScaleType::kRps);
  EXPECT_EQ(policy->target, 5);
  EXPECT_DOUBLE_EQ(policy->target_proportion, 0.9);
  EXPECT_FALSE(policy->zero);
  EXPECT_EQ(policy->zero_duration, 15min);
  EXPECT_TRUE(policy->autoscaling());
}

TEST(ScalingPolicyTest, ParsesEveryLabel) {
  auto policy = ParseScalingPolicy({{"com.openfaas.scale.min", "2"},
                                    {"com.openfaas.scale.max", "4"},
                                    {"com.openfaas.scale.type", "capacity"},
                                    {"com.openfaas.scale.target", "3"},
                                    {"com.openfaas.scale.target-proportion", "0.5"},
                                    {"com.openfaas.scale.zero", "true"},
                                    {"com.openfaas.scale.zero-duration", "2s"},
                                    {"com.openfaas.scale.down.window", "1m"}});
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  EXPECT_EQ(policy->min, 2);
  EXPECT_EQ(policy->max, 4);
  EXPECT_EQ(policy->type, ScaleType::kCapacity);
  EXPECT_EQ(policy->target, 3);
  EXPECT_DOUBLE_EQ(policy->target_proportion, 0.5);
  EXPECT_TRUE(policy->zero);
  EXPECT_EQ(policy->zero_duration, 2s);
  EXPECT_EQ(policy->down_window, 1min);
  EXPECT_EQ(ParseScalingPolicy({{"com.openfaas.scale.type", "cpu"}})->target, 500);
  EXPECT_FALSE(
      ParseScalingPolicy({{"com.openfaas.scale.min", "3"}, {"com.openfaas.scale.max", "3"}})
          ->autoscaling());
  EXPECT_EQ(ParseScalingPolicy({{"com.openfaas.scale.min", "30"}})->max, 30);
}

TEST(ScalingPolicyTest, InvalidValuesNameTheLabel) {
  for (const auto& [label, value] :
       std::vector<std::pair<std::string, std::string>>{{"min", "0"},
                                                        {"min", "two"},
                                                        {"max", "101"},
                                                        {"type", "memory"},
                                                        {"target", "-1"},
                                                        {"target-proportion", "1.5"},
                                                        {"target-proportion", "x"},
                                                        {"zero", "yes"},
                                                        {"zero-duration", "soon"},
                                                        {"down.window", "10m"},
                                                        {"factor", "0"}}) {
    auto policy = ParseScalingPolicy({{"com.openfaas.scale." + label, value}});
    ASSERT_FALSE(policy.has_value()) << label << "=" << value;
    EXPECT_NE(policy.error().message.find("com.openfaas.scale." + label), std::string::npos);
  }
  auto below =
      ParseScalingPolicy({{"com.openfaas.scale.min", "3"}, {"com.openfaas.scale.max", "2"}});
  ASSERT_FALSE(below.has_value());
}

TEST(ScalingPolicyTest, DesiredReplicasFollowsTheFormula) {
  ScalingPolicy policy;  // rps, target 5 x 0.9 = 4.5 per replica, 1..20
  EXPECT_EQ(DesiredReplicas(policy, 0), 1);
  EXPECT_EQ(DesiredReplicas(policy, 4.5), 1);
  EXPECT_EQ(DesiredReplicas(policy, 4.6), 2);
  EXPECT_EQ(DesiredReplicas(policy, 10), 3);
  EXPECT_EQ(DesiredReplicas(policy, 1000), 20);
  policy.max = 2;
  EXPECT_EQ(DesiredReplicas(policy, 10), 2);  // the certifier's throughput case
  policy.min = policy.max = 2;
  EXPECT_EQ(DesiredReplicas(policy, 1000), 2);  // scaling disabled
}

}  // namespace
}  // namespace funcd::gateway
