#include "triggers/trigger_spec.h"

#include <algorithm>

#include "common/strings.h"

namespace funcd::triggers {

namespace {

std::string_view Annotation(const std::map<std::string, std::string>& annotations,
                            std::string_view key) {
  auto it = annotations.find(std::string(key));
  return it == annotations.end() ? std::string_view() : std::string_view(it->second);
}

}  // namespace

bool IsTrue(std::string_view value) {
  value = TrimSpace(value);
  return EqualsIgnoreCase(value, "true") || value == "1" || EqualsIgnoreCase(value, "yes");
}

TriggerSpec ParseTriggerSpec(const std::map<std::string, std::string>& annotations) {
  TriggerSpec spec;
  for (std::string_view part : Split(Annotation(annotations, kTopicAnnotation), ',')) {
    part = TrimSpace(part);
    if (part.empty() ||
        std::find(spec.topics.begin(), spec.topics.end(), part) != spec.topics.end()) {
      continue;
    }
    spec.topics.emplace_back(part);
    if (part == kCronTopic) {
      spec.cron = true;
    } else if (part.starts_with(kNatsPrefix) && part.size() > kNatsPrefix.size()) {
      spec.nats_subjects.emplace_back(TrimSpace(part.substr(kNatsPrefix.size())));
    } else if (part.starts_with(kMqttPrefix) && part.size() > kMqttPrefix.size()) {
      spec.mqtt_topics.emplace_back(TrimSpace(part.substr(kMqttPrefix.size())));
    }
  }
  spec.async = IsTrue(Annotation(annotations, kAsyncAnnotation));
  if (spec.cron) {
    spec.schedule = std::string(TrimSpace(Annotation(annotations, kScheduleAnnotation)));
    spec.time_zone = std::string(TrimSpace(Annotation(annotations, kTimeZoneAnnotation)));
    spec.allow_overlap = IsTrue(Annotation(annotations, kOverlapAnnotation));
  }
  return spec;
}

}  // namespace funcd::triggers
