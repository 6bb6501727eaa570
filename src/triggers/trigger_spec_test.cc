#include "triggers/trigger_spec.h"

#include <gtest/gtest.h>

namespace funcd::triggers {
namespace {

TEST(TriggerSpecTest, SplitsTopicsByPrefix) {
  TriggerSpec spec = ParseTriggerSpec({
      {"topic", " cron-function , nats:orders.* ,mqtt:sensors/+/temp,, kafka-topic,nats:orders.*"},
      {"schedule", " */5 * * * * "},
      {"com.openfaas.schedule.tz", "Europe/Berlin"},
      {"com.openfaas.schedule.overlap", "TRUE"},
      {"com.openfaas.trigger.async", "true"},
  });
  EXPECT_EQ(spec.topics, (std::vector<std::string>{"cron-function", "nats:orders.*",
                                                   "mqtt:sensors/+/temp", "kafka-topic"}));
  EXPECT_TRUE(spec.cron);
  EXPECT_EQ(spec.schedule, "*/5 * * * *");
  EXPECT_EQ(spec.time_zone, "Europe/Berlin");
  EXPECT_TRUE(spec.allow_overlap);
  EXPECT_TRUE(spec.async);
  EXPECT_EQ(spec.nats_subjects, std::vector<std::string>{"orders.*"});
  EXPECT_EQ(spec.mqtt_topics, std::vector<std::string>{"sensors/+/temp"});
  EXPECT_FALSE(spec.empty());
}

TEST(TriggerSpecTest, NothingWithoutBuiltInTopics) {
  EXPECT_TRUE(ParseTriggerSpec({}).empty());
  EXPECT_TRUE(ParseTriggerSpec({{"topic", "payments"}}).empty());
  EXPECT_TRUE(ParseTriggerSpec({{"topic", "nats:, mqtt:"}}).empty());
  // The schedule only counts with the cron topic (exact, as the cron-connector reads it).
  TriggerSpec spec = ParseTriggerSpec({{"topic", "Cron-Function"}, {"schedule", "@hourly"}});
  EXPECT_FALSE(spec.cron);
  EXPECT_TRUE(spec.schedule.empty());
  EXPECT_FALSE(ParseTriggerSpec({{"topic", "nats:a"}, {"com.openfaas.trigger.async", "no"}}).async);
}

TEST(TriggerSpecTest, EqualityIgnoresNothingThatMatters) {
  const std::map<std::string, std::string> a = {{"topic", "cron-function"}, {"schedule", "@daily"}};
  std::map<std::string, std::string> b = a;
  b["com.openfaas.scale.min"] = "2";  // not a trigger annotation
  EXPECT_EQ(ParseTriggerSpec(a), ParseTriggerSpec(b));
  b["schedule"] = "@hourly";
  EXPECT_NE(ParseTriggerSpec(a), ParseTriggerSpec(b));
}

TEST(TriggerSpecTest, IsTrue) {
  for (const char* yes : {"true", "TRUE", " 1 ", "yes"}) {
    EXPECT_TRUE(IsTrue(yes)) << yes;
  }
  for (const char* no : {"", "false", "0", "no", "on"}) {
    EXPECT_FALSE(IsTrue(no)) << no;
  }
}

}  // namespace
}  // namespace funcd::triggers
