#include "triggers/cron/schedule.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "triggers/cron/civil.h"

namespace funcd::triggers::cron {
namespace {

// "2024-02-29T23:59:00Z" -> Unix seconds.
std::int64_t At(const char* text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  EXPECT_EQ(std::sscanf(text, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s), 6) << text;
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

std::string Format(std::int64_t t) {
  const std::int64_t days = FloorDiv(t, 86400);
  const std::int64_t rest = t - days * 86400;
  const CivilDay c = CivilFromDays(days);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02lld:%02lld:%02lldZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(rest / 3600),
                static_cast<long long>(rest % 3600 / 60), static_cast<long long>(rest % 60));
  return buf;
}

struct Case {
  const char* schedule;
  const char* after;
  const char* next;
};

// Next-run times in UTC: steps, ranges, lists, names, descriptors, month ends, leap years.
constexpr Case kUtcCases[] = {
    {"*/5 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z"},
    {"*/5 * * * *", "2024-01-01T00:04:59Z", "2024-01-01T00:05:00Z"},
    {"* * * * *", "2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z"},
    {"0 0 31 * *", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z"},  // no 31st in Feb
    {"0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"},  // nor in April
    {"0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z"},  // leap year
    {"0 0 29 2 *", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},  // 2100 is no leap year
    {"0 0 29 2 *", "1999-03-01T00:00:00Z", "2000-02-29T00:00:00Z"},  // 2000 is one
    {"0 12 28-31 2 *", "2023-02-28T12:00:00Z", "2024-02-28T12:00:00Z"},
    {"0 12 28-31 2 *", "2024-02-28T12:00:00Z", "2024-02-29T12:00:00Z"},
    {"0 0 28 2 *", "2024-02-28T00:00:00Z", "2025-02-28T00:00:00Z"},
    {"0 0 1 3 *", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
    {"0 0 * 2 *", "2023-02-28T00:00:00Z", "2024-02-01T00:00:00Z"},
    {"59 23 31 12 *", "2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z"},
    {"0 0 30 * *", "2024-01-30T00:00:00Z", "2024-03-30T00:00:00Z"},
    {"@hourly", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z"},
    {"@daily", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
    {"@midnight", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"},
    {"@weekly", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"},  // a Saturday -> Sunday
    {"@monthly", "2024-01-31T12:00:00Z", "2024-02-01T00:00:00Z"},
    {"@yearly", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"},
    {"@annually", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"},
    {"0 9 * * MON-FRI", "2024-06-07T09:00:00Z", "2024-06-10T09:00:00Z"},  // Fri -> Mon
    {"0 9 1 * MON", "2024-06-01T09:00:00Z", "2024-06-03T09:00:00Z"},      // day OR weekday
    {"0 9 1 * *", "2024-06-01T09:00:00Z", "2024-07-01T09:00:00Z"},
    {"0 9 */10 * *", "2024-06-21T09:00:00Z", "2024-07-01T09:00:00Z"},   // 1,11,21,31
    {"0 9 1-7 * */1", "2024-06-07T09:00:00Z", "2024-07-01T09:00:00Z"},  // */1 is a star
    {"0 9 1-7 * */2", "2024-06-07T09:00:00Z", "2024-06-08T09:00:00Z"},  // not a star: OR
    {"30 8-18/2 * * *", "2024-01-01T18:30:00Z", "2024-01-02T08:30:00Z"},
    {"30 8-18/2 * * *", "2024-01-01T08:30:00Z", "2024-01-01T10:30:00Z"},
    {"0 0 * JAN,jul sun", "2024-01-28T00:00:00Z", "2024-07-07T00:00:00Z"},
    {"0 0 * * 7", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"},  // 7 is Sunday
    {"0 0 * * 5-7", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"},
    {"15 */6 * * ?", "2024-01-01T06:15:00Z", "2024-01-01T12:15:00Z"},
    {"0,30 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:30:00Z"},
    {"5/15 * * * *", "2024-01-01T00:50:00Z", "2024-01-01T01:05:00Z"},  // N/step = N-59/step
    {"0 0 1 jan-mar *", "2024-03-01T00:00:00Z", "2025-01-01T00:00:00Z"},
    {"5 4 * * *; 0 12 * * *", "2024-01-01T05:00:00Z", "2024-01-01T12:00:00Z"},
    {"5 4 * * *;0 12 * * *", "2024-01-01T12:00:00Z", "2024-01-02T04:05:00Z"},
    {"@every 5m", "2024-01-01T00:00:07Z", "2024-01-01T00:05:07Z"},
    {"@every 1h30m", "2024-01-01T23:00:00Z", "2024-01-02T00:30:00Z"},
    {"@every 1500ms", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"},  // whole seconds
    {"@every 1s; @hourly", "2024-01-01T00:59:59Z", "2024-01-01T01:00:00Z"},
};

TEST(ScheduleTest, NextRunsInUtc) {
  for (const Case& c : kUtcCases) {
    auto schedule = Schedule::Parse(c.schedule, TimeZone::Utc());
    ASSERT_TRUE(schedule) << c.schedule << ": " << schedule.error().message;
    auto next = schedule->NextSeconds(At(c.after));
    ASSERT_TRUE(next) << c.schedule;
    EXPECT_EQ(Format(*next), c.next) << c.schedule << " after " << c.after;
  }
}

// Wall-clock schedules in zones with daylight saving time (the system's tzdata).
constexpr Case kZoneCases[] = {
    {"CRON_TZ=America/New_York 0 9 * * *", "2024-01-15T00:00:00Z", "2024-01-15T14:00:00Z"},
    {"CRON_TZ=America/New_York 0 9 * * *", "2024-07-15T00:00:00Z", "2024-07-15T13:00:00Z"},
    {"TZ=America/New_York 0 9 * * *", "2024-07-15T00:00:00Z", "2024-07-15T13:00:00Z"},
    // 02:30 does not exist on 2024-03-10 (clocks jump from 02:00 to 03:00): skipped.
    {"CRON_TZ=America/New_York 30 2 * * *", "2024-03-10T00:00:00Z", "2024-03-11T06:30:00Z"},
    // 01:30 happens twice on 2024-11-03: a fixed time runs at the first one only.
    {"CRON_TZ=America/New_York 30 1 * * *", "2024-11-03T00:00:00Z", "2024-11-03T05:30:00Z"},
    {"CRON_TZ=America/New_York 30 1 * * *", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"},
    // Every hour runs in real time through the repeated hour.
    {"CRON_TZ=America/New_York 0 * * * *", "2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z"},
    {"CRON_TZ=America/New_York 0 * * * *", "2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z"},
    // And across the gap: 01:00 EST is followed by 03:00 EDT, one hour later.
    {"CRON_TZ=America/New_York 0 * * * *", "2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z"},
    {"CRON_TZ=Australia/Sydney 0 12 * * *", "2024-01-10T00:00:00Z", "2024-01-10T01:00:00Z"},
    {"CRON_TZ=Australia/Sydney 0 12 * * *", "2024-07-10T00:00:00Z", "2024-07-10T02:00:00Z"},
    {"CRON_TZ=Asia/Kolkata 0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-01T18:30:00Z"},
    // Past the transitions listed in the file: the footer's POSIX rule applies.
    {"CRON_TZ=Europe/Berlin 0 12 * * *", "2040-07-01T00:00:00Z", "2040-07-01T10:00:00Z"},
    {"CRON_TZ=Europe/Berlin 0 12 * * *", "2040-12-01T00:00:00Z", "2040-12-01T11:00:00Z"},
    {"CRON_TZ=UTC 0 12 * * *", "2040-12-01T00:00:00Z", "2040-12-01T12:00:00Z"},
};

TEST(ScheduleTest, NextRunsInTimeZones) {
  for (const Case& c : kZoneCases) {
    auto schedule = Schedule::Parse(c.schedule, TimeZone::Utc());
    ASSERT_TRUE(schedule) << c.schedule << ": " << schedule.error().message;
    auto next = schedule->NextSeconds(At(c.after));
    ASSERT_TRUE(next) << c.schedule;
    EXPECT_EQ(Format(*next), c.next) << c.schedule << " after " << c.after;
  }
}

TEST(ScheduleTest, DefaultZoneAppliesWhereNoneIsNamed) {
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message;
  auto schedule = Schedule::Parse("0 12 * * *; CRON_TZ=UTC 0 6 * * *", *berlin);
  ASSERT_TRUE(schedule) << schedule.error().message;
  EXPECT_EQ(Format(*schedule->NextSeconds(At("2024-07-01T00:00:00Z"))), "2024-07-01T06:00:00Z");
  EXPECT_EQ(Format(*schedule->NextSeconds(At("2024-07-01T06:00:00Z"))), "2024-07-01T10:00:00Z");
}

TEST(ScheduleTest, TimePointsAreStrictlyAfter) {
  auto schedule = Schedule::Parse("@every 1s", TimeZone::Utc());
  ASSERT_TRUE(schedule);
  const auto t = Schedule::Clock::time_point(std::chrono::seconds(At("2024-01-01T00:00:00Z")) +
                                             std::chrono::milliseconds(400));
  EXPECT_EQ(*schedule->Next(t),
            Schedule::Clock::time_point(std::chrono::seconds(At("2024-01-01T00:00:01Z"))));
}

TEST(ScheduleTest, RefusesBadSchedules) {
  const char* bad[] = {
      "",
      " ; ",
      "* * * *",
      "* * * * * *",
      "60 * * * *",
      "* 24 * * *",
      "* * 0 * *",
      "* * 32 * *",
      "* * * 13 *",
      "* * * * 8",
      "5-1 * * * *",
      "*/0 * * * *",
      "1-2-3 * * * *",
      "*-5 * * * *",
      "1,,2 * * * *",
      "0 0 * FOO *",
      "0 0 * * funday",
      "0 0 30 2 *",  // never
      "0 0 31 4,6 *",
      "@every 0s",
      "@every -5m",
      "@every",
      "@every five",
      "@often",
      "@daily extra",
      "CRON_TZ=America/New_York",
      "CRON_TZ=../../etc/passwd 0 * * * *",
      "0 * * * *; nonsense",
  };
  for (const char* text : bad) {
    auto schedule = Schedule::Parse(text, TimeZone::Utc());
    EXPECT_FALSE(schedule) << "accepted \"" << text << "\"";
    if (!schedule) {
      EXPECT_EQ(schedule.error().code, ErrorCode::kInvalidArgument) << text;
    }
  }
  auto unknown = Schedule::Parse("CRON_TZ=Nowhere/Atlantis 0 * * * *", TimeZone::Utc());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST(ScheduleTest, ErrorsNameTheBadPart) {
  auto schedule = Schedule::Parse("0 9 * * *; 0 25 * * *", TimeZone::Utc());
  ASSERT_FALSE(schedule);
  EXPECT_NE(schedule.error().message.find("0 25 * * *"), std::string::npos)
      << schedule.error().message;
  EXPECT_NE(schedule.error().message.find("hour"), std::string::npos) << schedule.error().message;
}

TEST(CivilTest, RoundTripsAndWeekdays) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(WeekdayFromDays(0), 4);  // Thursday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(2024, 2, 29)), 4);
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(1969, 12, 28)), 0);  // a Sunday before 1970
  for (std::int64_t day = DaysFromCivil(1899, 12, 25); day < DaysFromCivil(2101, 1, 10); ++day) {
    const CivilDay c = CivilFromDays(day);
    ASSERT_EQ(DaysFromCivil(c.year, c.month, c.day), day);
    ASSERT_LE(c.day, DaysInMonth(c.year, c.month));
  }
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 4), 30);
}

}  // namespace
}  // namespace funcd::triggers::cron
