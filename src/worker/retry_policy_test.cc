#include "worker/retry_policy.h"

#include <gtest/gtest.h>

#include <set>

namespace funcd::worker {
namespace {

using namespace std::chrono_literals;

TEST(RetryPolicyTest, DefaultsFollowTheProQueueWorker) {
  RetryPolicy policy;
  EXPECT_EQ(policy.attempts, 10);
  EXPECT_EQ(policy.min_wait, 10s);
  EXPECT_EQ(policy.max_wait, 120s);
  for (unsigned code : {408u, 429u, 500u, 502u, 503u, 504u}) {
    EXPECT_TRUE(policy.Retries(code)) << code;
  }
  EXPECT_FALSE(policy.Retries(200));
  EXPECT_FALSE(policy.Retries(404));
  EXPECT_FALSE(policy.Retries(501));
}

TEST(RetryPolicyTest, AnnotationsOverrideAndInvalidOnesFallBack) {
  RetryPolicy defaults;
  RetryPolicy p = PolicyFor(defaults, {{"com.openfaas.retry.attempts", "3"},
                                       {"com.openfaas.retry.codes", "429, 503"},
                                       {"com.openfaas.retry.min_wait", "250ms"},
                                       {"com.openfaas.retry.max_wait", "2"}});
  EXPECT_EQ(p.attempts, 3);
  EXPECT_EQ(p.codes, (std::vector<unsigned>{429, 503}));
  EXPECT_EQ(p.min_wait, 250ms);
  EXPECT_EQ(p.max_wait, 2s);

  RetryPolicy bad = PolicyFor(defaults, {{"com.openfaas.retry.attempts", "zero"},
                                         {"com.openfaas.retry.codes", "42,abc"},
                                         {"com.openfaas.retry.min_wait", "soon"},
                                         {"com.openfaas.retry.max_wait", "-1s"}});
  EXPECT_EQ(bad.attempts, defaults.attempts);
  EXPECT_EQ(bad.codes, defaults.codes);
  EXPECT_EQ(bad.min_wait, defaults.min_wait);
  EXPECT_EQ(bad.max_wait, defaults.max_wait);

  // A max below the min is raised to it.
  RetryPolicy inverted = PolicyFor(
      defaults, {{"com.openfaas.retry.min_wait", "30s"}, {"com.openfaas.retry.max_wait", "5s"}});
  EXPECT_EQ(inverted.max_wait, 30s);
}

TEST(RetryPolicyTest, StatusListRejectsJunk) {
  EXPECT_TRUE(ParseStatusList("500"));
  EXPECT_FALSE(ParseStatusList(""));
  EXPECT_FALSE(ParseStatusList("99"));
  EXPECT_FALSE(ParseStatusList("600"));
  EXPECT_FALSE(ParseStatusList("5xx"));
}

TEST(RetryPolicyTest, BackoffGrowsWithinItsBoundsUntilTheCap) {
  RetryPolicy policy;
  policy.min_wait = 100ms;
  policy.max_wait = 1s;
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::chrono::nanoseconds previous{0};
    for (int attempt = 0; attempt < 8; ++attempt) {
      const auto delay = BackoffDelay(policy, attempt, rng);
      EXPECT_GE(delay, policy.min_wait);
      EXPECT_LE(delay, policy.max_wait);
      // Equal jitter: within [base/2, base] of base = min * 2^attempt (capped).
      const auto base =
          std::min<std::chrono::nanoseconds>(policy.min_wait * (1 << attempt), policy.max_wait);
      if (base < policy.max_wait) {
        EXPECT_GE(delay, previous) << "attempt " << attempt;  // grows until the cap
      }
      EXPECT_GE(delay, std::max<std::chrono::nanoseconds>(base / 2, policy.min_wait));
      EXPECT_LE(delay, base);
      previous = delay;
    }
  }
}

TEST(RetryPolicyTest, BackoffHasJitter) {
  RetryPolicy policy;
  policy.min_wait = 100ms;
  policy.max_wait = 10s;
  std::mt19937_64 rng(1);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    seen.insert(BackoffDelay(policy, 3, rng).count());
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST(RetryPolicyTest, BackoffSurvivesHugeAttemptNumbers) {
  RetryPolicy policy;
  std::mt19937_64 rng(3);
  EXPECT_LE(BackoffDelay(policy, 1000, rng), policy.max_wait);
  EXPECT_GE(BackoffDelay(policy, 1000, rng), policy.max_wait / 2);
}

TEST(RetryPolicyTest, RetryAfterSecondsAndDates) {
  const std::int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("3", now), std::chrono::nanoseconds(3s));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), std::chrono::nanoseconds(0s));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), std::chrono::nanoseconds(10s));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now),
            std::chrono::nanoseconds(0s));  // in the past
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("-5", now));
}

TEST(RetryPolicyTest, RetryAfterWinsOverBackoffButNotBelowTheMinimum) {
  RetryPolicy policy;
  policy.min_wait = 2s;
  policy.max_wait = 4s;
  std::mt19937_64 rng(5);
  EXPECT_EQ(RetryDelay(policy, 0, std::chrono::nanoseconds(30s), rng), 30s);  // above max: kept
  EXPECT_EQ(RetryDelay(policy, 0, std::chrono::nanoseconds(1s), rng), 2s);
  EXPECT_EQ(RetryDelay(policy, 0, std::chrono::nanoseconds(100h), rng), kMaxRetryAfter);
  EXPECT_LE(RetryDelay(policy, 5, std::nullopt, rng), 4s);
}

}  // namespace
}  // namespace funcd::worker
