#pragma once

// Cron schedules as the OpenFaaS cron-connector reads them (robfig/cron v3, standard form),
// plus several schedules in one annotation:
//
//   minute hour day-of-month month day-of-week     "*/5 * * * *", "0 9 * * MON-FRI"
//   lists, ranges, steps, names                    "0,30 8-18/2 1-7 JAN,jul sun"
//   descriptors                                    @yearly @annually @monthly @weekly
//                                                  @daily @midnight @hourly @every 1h30m
//   a time zone per schedule                       "CRON_TZ=Europe/Berlin 0 9 * * *"
//   alternatives, separated by ';'                 "0 9 * * MON-FRI; 0 12 * * SAT,SUN"
//
// Day of month and day of week combine as in cron: when both are restricted (neither is '*'
// or '?'), a day matching either runs; otherwise a day must match both. Day of week 7 is
// Sunday too. Times are wall-clock times in the schedule's zone (UTC unless given): a time
// that does not exist (clocks jumping forward) is skipped, as robfig/cron does; a time that
// occurs twice (clocks going back) runs once, at its first occurrence, unless the hour field
// is '*' (every hour runs, measured in real time, as Vixie cron does). @every counts real
// time from the previous run, rounded down to whole seconds, at least one second.
//
// Immutable; thread-safe.

#include <bitset>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "triggers/cron/time_zone.h"

namespace funcd::triggers::cron {

class Schedule {
 public:
  using Clock = std::chrono::system_clock;

  // Parses `text` (one or more ';'-separated schedules). `zone` applies to the schedules that
  // do not name their own with CRON_TZ= (or TZ=); `zoneinfo_dir` is where named zones are read.
  // Errors: kInvalidArgument (with the offending part), kNotFound (an unknown zone).
  static Result<Schedule> Parse(std::string_view text, std::shared_ptr<const TimeZone> zone,
                                const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // The first activation strictly after `after`; nullopt when none follows (a schedule such as
  // "0 0 30 2 *" is refused by Parse, so this happens only at the far end of time).
  std::optional<Clock::time_point> Next(Clock::time_point after) const;

  // The same on Unix seconds.
  std::optional<std::int64_t> NextSeconds(std::int64_t after) const;

 private:
  struct Fields {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;     // 1..31
    std::bitset<13> months;   // 1..12
    std::bitset<7> weekdays;  // 0 = Sunday
    bool day_star = false;    // day of month was '*' or '?'
    bool weekday_star = false;
    std::shared_ptr<const TimeZone> zone;
  };
  struct Alternative {
    std::int64_t every_seconds = 0;  // @every; otherwise the fields apply
    Fields fields;
  };

  static Result<Alternative> ParseOne(std::string_view text, std::shared_ptr<const TimeZone> zone,
                                      const std::string& zoneinfo_dir);
  static std::optional<std::int64_t> NextOf(const Alternative& alternative, std::int64_t after);
  static std::optional<std::int64_t> NextLocal(const Fields& fields, std::int64_t local_after);

  std::vector<Alternative> alternatives_;
};

}  // namespace funcd::triggers::cron
