#include "triggers/cron/time_zone.h"

#include <gtest/gtest.h>

#include "triggers/cron/civil.h"

namespace funcd::triggers::cron {
namespace {

std::int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0) {
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

TEST(PosixTzRuleTest, ParsesCommonRules) {
  auto berlin = PosixTzRule::Parse("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(berlin) << berlin.error().message;
  EXPECT_EQ(berlin->std_offset, 3600);
  EXPECT_TRUE(berlin->has_dst);
  EXPECT_EQ(berlin->dst_offset, 7200);
  EXPECT_EQ(berlin->start.month, 3);
  EXPECT_EQ(berlin->start.week, 5);
  EXPECT_EQ(berlin->end.time, 3 * 3600);
  // 2030: last Sunday of March is the 31st, of October the 27th.
  EXPECT_EQ(berlin->OffsetAt(Utc(2030, 3, 31, 0, 59)), 3600);
  EXPECT_EQ(berlin->OffsetAt(Utc(2030, 3, 31, 1, 0)), 7200);
  EXPECT_EQ(berlin->OffsetAt(Utc(2030, 10, 27, 0, 59)), 7200);
  EXPECT_EQ(berlin->OffsetAt(Utc(2030, 10, 27, 1, 0)), 3600);

  auto sydney = PosixTzRule::Parse("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_TRUE(sydney) << sydney.error().message;
  EXPECT_EQ(sydney->OffsetAt(Utc(2040, 1, 1)), 11 * 3600);
  EXPECT_EQ(sydney->OffsetAt(Utc(2040, 7, 1)), 10 * 3600);

  auto quoted = PosixTzRule::Parse("<+0330>-3:30");
  ASSERT_TRUE(quoted) << quoted.error().message;
  EXPECT_FALSE(quoted->has_dst);
  EXPECT_EQ(quoted->OffsetAt(0), 3 * 3600 + 1800);

  auto julian = PosixTzRule::Parse("XST3XDT,J60/2,300");
  ASSERT_TRUE(julian) << julian.error().message;
  EXPECT_EQ(julian->OffsetAt(Utc(2024, 6, 1)), -2 * 3600);
  EXPECT_EQ(julian->OffsetAt(Utc(2024, 1, 1)), -3 * 3600);

  for (const char* bad :
       {"", "C1", "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0",
        "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J10", "CET-1CEST,M3.5.0,M10.5.0x"}) {
    EXPECT_FALSE(PosixTzRule::Parse(bad)) << bad;
  }
}

TEST(TimeZoneTest, UtcNeedsNoFile) {
  for (const char* name : {"", "UTC", "Etc/UTC"}) {
    auto zone = TimeZone::Load(name, "/nonexistent");
    ASSERT_TRUE(zone) << name;
    EXPECT_TRUE((*zone)->is_utc());
    EXPECT_EQ((*zone)->OffsetAt(Utc(2024, 7, 1)), 0);
  }
}

TEST(TimeZoneTest, RefusesBadNamesAndFiles) {
  EXPECT_EQ(TimeZone::Load("../etc/passwd").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("/etc/passwd").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("Europe/Berlin; rm").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Load("Nowhere/Atlantis").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(TimeZone::FromTzif("junk", "not a tzif file at all, but long enough to read"));
  EXPECT_FALSE(TimeZone::FromTzif("short", "TZif2"));
}

TEST(TimeZoneTest, ReadsSystemZones) {
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message;
  const TimeZone& z = **berlin;
  EXPECT_EQ(z.OffsetAt(Utc(2024, 1, 15)), 3600);
  EXPECT_EQ(z.OffsetAt(Utc(2024, 7, 15)), 7200);
  // 2024-03-31 01:00 UTC clocks go from 02:00 CET to 03:00 CEST.
  EXPECT_EQ(z.OffsetAt(Utc(2024, 3, 31, 0, 59)), 3600);
  EXPECT_EQ(z.OffsetAt(Utc(2024, 3, 31, 1, 0)), 7200);
  EXPECT_EQ(z.OffsetAt(Utc(2060, 7, 1)), 7200);  // the footer rule
  EXPECT_EQ(z.OffsetAt(Utc(1890, 7, 1)), 3208);  // local mean time before 1893

  auto kolkata = TimeZone::Load("Asia/Kolkata");
  ASSERT_TRUE(kolkata) << kolkata.error().message;
  EXPECT_EQ((*kolkata)->OffsetAt(Utc(2024, 7, 15)), 5 * 3600 + 1800);
}

TEST(TimeZoneTest, LocalTimesInGapsAndOverlaps) {
  auto ny = TimeZone::Load("America/New_York");
  ASSERT_TRUE(ny) << ny.error().message;
  const TimeZone& z = **ny;
  // An ordinary time: one instant.
  EXPECT_EQ(z.InstantsOf(Utc(2024, 1, 15, 9)), std::vector<std::int64_t>{Utc(2024, 1, 15, 14)});
  // 2024-03-10 02:30 does not exist.
  EXPECT_TRUE(z.InstantsOf(Utc(2024, 3, 10, 2, 30)).empty());
  // 2024-11-03 01:30 happens at 05:30 and 06:30 UTC.
  EXPECT_EQ(z.InstantsOf(Utc(2024, 11, 3, 1, 30)),
            (std::vector<std::int64_t>{Utc(2024, 11, 3, 5, 30), Utc(2024, 11, 3, 6, 30)}));
}

}  // namespace
}  // namespace funcd::triggers::cron
