#pragma once

// What a function asks of the triggers, read from its annotations (contracts §8):
//
//   topic                              comma-separated topics; built in:
//                                        cron-function     run on `schedule`
//                                        nats:SUBJECT      NATS subject (wildcards * and >)
//                                        mqtt:TOPIC        MQTT topic filter (+ and #), QoS 1
//                                      other topics are left to external connectors
//   schedule                           cron schedule(s), see cron/schedule.h
//   com.openfaas.schedule.tz           the schedule's time zone (default UTC)
//   com.openfaas.schedule.overlap      "true": a run may start while the previous one runs
//   com.openfaas.trigger.async         "true": deliver through the async queue (202 + call id)
//
// Plain data; thread-compatible.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace funcd::triggers {

inline constexpr std::string_view kTopicAnnotation = "topic";
inline constexpr std::string_view kScheduleAnnotation = "schedule";
inline constexpr std::string_view kTimeZoneAnnotation = "com.openfaas.schedule.tz";
inline constexpr std::string_view kOverlapAnnotation = "com.openfaas.schedule.overlap";
inline constexpr std::string_view kAsyncAnnotation = "com.openfaas.trigger.async";

inline constexpr std::string_view kCronTopic = "cron-function";
inline constexpr std::string_view kNatsPrefix = "nats:";
inline constexpr std::string_view kMqttPrefix = "mqtt:";

struct TriggerSpec {
  std::vector<std::string> topics;  // trimmed, non-empty, in annotation order, no duplicates
  bool async = false;
  // Cron (only when topics holds cron-function).
  bool cron = false;
  std::string schedule;
  std::string time_zone;
  bool allow_overlap = false;
  // Subjects and topic filters, without their prefixes.
  std::vector<std::string> nats_subjects;
  std::vector<std::string> mqtt_topics;

  bool empty() const { return !cron && nats_subjects.empty() && mqtt_topics.empty(); }
  bool operator==(const TriggerSpec&) const = default;
};

// Reads the annotations; never fails (a bad schedule is reported when it is parsed).
TriggerSpec ParseTriggerSpec(const std::map<std::string, std::string>& annotations);

// "true", "1", "yes" (any case) count as true.
bool IsTrue(std::string_view value);

}  // namespace funcd::triggers
