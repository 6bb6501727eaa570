#pragma once

// Time zones for cron schedules: the UTC offset in effect at any instant, read from the
// system's TZif files (/usr/share/zoneinfo, RFC 8536) including the POSIX TZ rule in their
// footer for instants after the last listed transition. No global state (unlike tzset and
// localtime_r with $TZ), so any number of zones can be used from any thread.
//
// Immutable after Load; thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::triggers::cron {

// A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): standard and daylight offsets and the
// local dates on which daylight time starts and ends each year.
struct PosixTzRule {
  // One of the forms Jn (1..365, no Feb 29), n (0..365) or Mm.w.d.
  struct Date {
    enum class Kind { kJulianNoLeap, kJulian, kMonthWeekDay } kind = Kind::kMonthWeekDay;
    int day = 0;  // n for kJulianNoLeap and kJulian; d (0 = Sunday) for kMonthWeekDay
    int month = 0;
    int week = 0;              // 1..5, 5 = the last
    std::int64_t time = 7200;  // seconds after local midnight (may be negative or > 24 h)
  };
  std::int64_t std_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  std::int64_t dst_offset = 0;
  Date start;
  Date end;

  // Errors: kInvalidArgument.
  static Result<PosixTzRule> Parse(std::string_view text);
  std::int64_t OffsetAt(std::int64_t unix_seconds) const;
};

class TimeZone {
 public:
  // UTC (offset zero, always).
  static std::shared_ptr<const TimeZone> Utc();
  // The zone `name` ("Europe/Berlin"; "UTC", "Etc/UTC" and "" are UTC) from `zoneinfo_dir`.
  // Errors: kInvalidArgument (a name that is not a zone name, or a corrupt file), kNotFound.
  static Result<std::shared_ptr<const TimeZone>> Load(
      std::string_view name, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  // Parses TZif data (version 1, 2 or 3). Errors: kInvalidArgument.
  static Result<std::shared_ptr<const TimeZone>> FromTzif(std::string name, std::string_view data);

  // Seconds east of UTC in effect at the instant `unix_seconds`.
  std::int64_t OffsetAt(std::int64_t unix_seconds) const;
  // The instants whose local time is `local_seconds` (seconds since 1970-01-01T00:00 local
  // time), earliest first: none in a gap (clocks jumping forward), two in an overlap (clocks
  // going back), else one.
  std::vector<std::int64_t> InstantsOf(std::int64_t local_seconds) const;

  const std::string& name() const { return name_; }
  bool is_utc() const { return transitions_.empty() && !footer_ && fixed_offset_ == 0; }

 private:
  TimeZone() = default;

  std::string name_;
  std::vector<std::int64_t> transitions_;       // instants, ascending
  std::vector<std::uint8_t> transition_types_;  // index into offsets_, per transition
  std::vector<std::int64_t> offsets_;           // local time types' UTC offsets
  std::int64_t fixed_offset_ = 0;               // before the first transition / without any
  std::optional<PosixTzRule> footer_;           // after the last transition
};

}  // namespace funcd::triggers::cron
