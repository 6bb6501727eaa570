#include "triggers/cron/schedule.h"

#include <array>

#include "common/config.h"
#include "common/strings.h"
#include "triggers/cron/civil.h"

namespace funcd::triggers::cron {

namespace {

using Bits = std::uint64_t;

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

// Schedules that never fire within this many years of a date are refused (Feb 29 comes back
// within eight years: 2096, then 2104).
constexpr std::int64_t kSearchYears = 9;

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names;  // names for min, min+1, ... (or null)
  size_t name_count;
};

constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDay{"day of month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size()};
// 7 is Sunday too; folded onto 0 after parsing.
constexpr FieldSpec kWeekday{"day of week", 0, 7, kDayNames.data(), kDayNames.size()};

std::vector<std::string_view> SplitWhitespace(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
      ++i;
    }
    if (i > start) {
      out.push_back(text.substr(start, i - start));
    }
  }
  return out;
}

Result<int> FieldValue(std::string_view text, const FieldSpec& spec) {
  for (size_t i = 0; i < spec.name_count; ++i) {
    if (EqualsIgnoreCase(text, spec.names[i])) {
      return spec.min + static_cast<int>(i);
    }
  }
  auto value = ParseUint(text);
  if (!value || *value > 1000) {
    return Invalid(StrCat("bad ", spec.name, " value \"", text, "\""));
  }
  return static_cast<int>(*value);
}

// One comma-separated field: sets bits min..max; *star when a part is '*' or '?' without a
// step above one (robfig/cron's rule).
Result<Bits> ParseField(std::string_view text, const FieldSpec& spec, bool* star) {
  Bits bits = 0;
  *star = false;
  for (std::string_view part : Split(text, ',')) {
    std::vector<std::string_view> range_step = Split(part, '/');
    if (part.empty() || range_step.size() > 2) {
      return Invalid(StrCat("bad ", spec.name, " field \"", text, "\""));
    }
    std::vector<std::string_view> low_high = Split(range_step[0], '-');
    if (low_high.size() > 2) {
      return Invalid(StrCat("bad ", spec.name, " range \"", range_step[0], "\""));
    }
    int start = spec.min;
    int end = spec.max;
    bool part_star = false;
    if (low_high[0] == "*" || low_high[0] == "?") {
      if (low_high.size() != 1) {
        return Invalid(StrCat("bad ", spec.name, " range \"", range_step[0], "\""));
      }
      part_star = true;
      if (spec.max == 7) {
        end = 6;  // '*' is each day once
      }
    } else {
      FUNCD_ASSIGN_OR_RETURN(start, FieldValue(low_high[0], spec));
      end = start;
      if (low_high.size() == 2) {
        FUNCD_ASSIGN_OR_RETURN(end, FieldValue(low_high[1], spec));
      }
    }
    int step = 1;
    if (range_step.size() == 2) {
      auto parsed = ParseUint(range_step[1]);
      if (!parsed || *parsed == 0 || *parsed > 1000) {
        return Invalid(StrCat("bad ", spec.name, " step \"", range_step[1], "\""));
      }
      step = static_cast<int>(*parsed);
      if (!part_star && low_high.size() == 1) {
        end = spec.max;  // "N/step" means N-max/step
      }
      if (step > 1) {
        part_star = false;
      }
    }
    if (start < spec.min || end > spec.max) {
      return Invalid(StrCat(spec.name, " \"", part, "\" is outside ", spec.min, "-", spec.max));
    }
    if (start > end) {
      return Invalid(StrCat(spec.name, " range \"", part, "\" runs backwards"));
    }
    for (int v = start; v <= end; v += step) {
      bits |= Bits{1} << v;
    }
    *star = *star || part_star;
  }
  return bits;
}

std::string_view DescriptorFields(std::string_view name) {
  if (EqualsIgnoreCase(name, "@yearly") || EqualsIgnoreCase(name, "@annually")) {
    return "0 0 1 1 *";
  }
  if (EqualsIgnoreCase(name, "@monthly")) {
    return "0 0 1 * *";
  }
  if (EqualsIgnoreCase(name, "@weekly")) {
    return "0 0 * * 0";
  }
  if (EqualsIgnoreCase(name, "@daily") || EqualsIgnoreCase(name, "@midnight")) {
    return "0 0 * * *";
  }
  if (EqualsIgnoreCase(name, "@hourly")) {
    return "0 * * * *";
  }
  return "";
}

}  // namespace

Result<Schedule> Schedule::Parse(std::string_view text, std::shared_ptr<const TimeZone> zone,
                                 const std::string& zoneinfo_dir) {
  Schedule schedule;
  for (std::string_view part : Split(text, ';')) {
    part = TrimSpace(part);
    if (part.empty()) {
      continue;
    }
    auto alternative = ParseOne(part, zone, zoneinfo_dir);
    if (!alternative) {
      return Error{alternative.error().code,
                   StrCat("schedule \"", part, "\": ", alternative.error().message)};
    }
    schedule.alternatives_.push_back(std::move(*alternative));
  }
  if (schedule.alternatives_.empty()) {
    return Invalid("empty schedule");
  }
  return schedule;
}

Result<Schedule::Alternative> Schedule::ParseOne(std::string_view text,
                                                 std::shared_ptr<const TimeZone> zone,
                                                 const std::string& zoneinfo_dir) {
  for (std::string_view prefix : {"CRON_TZ=", "TZ="}) {
    if (text.starts_with(prefix)) {
      const size_t space = text.find_first_of(" \t");
      if (space == std::string_view::npos) {
        return Invalid("a time zone but no schedule");
      }
      FUNCD_ASSIGN_OR_RETURN(
          zone, TimeZone::Load(text.substr(prefix.size(), space - prefix.size()), zoneinfo_dir));
      text = TrimSpace(text.substr(space));
      break;
    }
  }
  Alternative alternative;
  if (text.starts_with('@')) {
    std::vector<std::string_view> words = SplitWhitespace(text);
    if (EqualsIgnoreCase(words[0], "@every")) {
      if (words.size() != 2) {
        return Invalid("@every wants one duration, such as @every 5m or @every 1h30m");
      }
      auto every = ParseGoDuration(words[1]);
      if (!every || *every <= Duration::zero()) {
        return Invalid(
            StrCat("@every: \"", words[1], "\" is not a positive duration (e.g. 90s, 5m)"));
      }
      alternative.every_seconds = std::max<std::int64_t>(
          1, std::chrono::duration_cast<std::chrono::seconds>(*every).count());
      return alternative;
    }
    const std::string_view fields = DescriptorFields(words[0]);
    if (fields.empty() || words.size() != 1) {
      return Invalid(StrCat("unknown descriptor \"", text, "\""));
    }
    text = fields;
  }
  std::vector<std::string_view> parts = SplitWhitespace(text);
  if (parts.size() != 5) {
    return Invalid(StrCat("expected 5 fields (minute hour day-of-month month day-of-week), found ",
                          parts.size()));
  }
  Fields& f = alternative.fields;
  bool star = false;
  FUNCD_ASSIGN_OR_RETURN(Bits minutes, ParseField(parts[0], kMinute, &star));
  FUNCD_ASSIGN_OR_RETURN(Bits hours, ParseField(parts[1], kHour, &star));
  FUNCD_ASSIGN_OR_RETURN(Bits days, ParseField(parts[2], kDay, &f.day_star));
  FUNCD_ASSIGN_OR_RETURN(Bits months, ParseField(parts[3], kMonth, &star));
  FUNCD_ASSIGN_OR_RETURN(Bits weekdays, ParseField(parts[4], kWeekday, &f.weekday_star));
  if (weekdays & (Bits{1} << 7)) {
    weekdays = (weekdays & 0x7f) | 1;
  }
  f.minutes = std::bitset<60>(minutes);
  f.hours = std::bitset<24>(hours);
  f.days = std::bitset<32>(days);
  f.months = std::bitset<13>(months);
  f.weekdays = std::bitset<7>(weekdays);
  f.zone = zone ? std::move(zone) : TimeZone::Utc();
  // Refuse what can never run, such as the 30th of February.
  constexpr std::int64_t kJan2000 = 946684800;
  if (!NextLocal(f, kJan2000)) {
    return Invalid("never fires (no such day)");
  }
  return alternative;
}

std::optional<std::int64_t> Schedule::NextLocal(const Fields& f, std::int64_t local_after) {
  std::int64_t day = FloorDiv(local_after, 86400);
  const std::int64_t second_of_day = local_after - day * 86400;
  int hour = static_cast<int>(second_of_day / 3600);
  int minute = static_cast<int>(second_of_day % 3600 / 60) + 1;  // strictly after
  CivilDay civil = CivilFromDays(day);
  const std::int64_t last_year = civil.year + kSearchYears;
  auto next_day = [&] {
    ++day;
    civil = CivilFromDays(day);
    hour = 0;
    minute = 0;
  };
  for (;;) {
    if (minute == 60) {
      minute = 0;
      ++hour;
    }
    if (hour == 24) {
      next_day();
    }
    if (civil.year > last_year) {
      return std::nullopt;
    }
    if (!f.months.test(static_cast<size_t>(civil.month))) {
      day = civil.month == 12 ? DaysFromCivil(civil.year + 1, 1, 1)
                              : DaysFromCivil(civil.year, civil.month + 1, 1);
      civil = CivilFromDays(day);
      hour = 0;
      minute = 0;
      continue;
    }
    const bool day_match = f.days.test(static_cast<size_t>(civil.day));
    const bool weekday_match = f.weekdays.test(static_cast<size_t>(WeekdayFromDays(day)));
    const bool matches =
        f.day_star || f.weekday_star ? day_match && weekday_match : day_match || weekday_match;
    if (!matches) {
      next_day();
      continue;
    }
    if (!f.hours.test(static_cast<size_t>(hour))) {
      ++hour;
      minute = 0;
      continue;
    }
    if (!f.minutes.test(static_cast<size_t>(minute))) {
      ++minute;
      continue;
    }
    return day * 86400 + hour * 3600 + minute * 60;
  }
}

std::optional<std::int64_t> Schedule::NextOf(const Alternative& a, std::int64_t after) {
  if (a.every_seconds > 0) {
    return after + a.every_seconds;
  }
  const Fields& f = a.fields;
  if (f.zone->is_utc()) {
    return NextLocal(f, after);
  }
  // Walk wall-clock times from a little before `after`'s, so that the second pass through an
  // hour repeated when clocks go back is seen too.
  std::int64_t local = after + f.zone->OffsetAt(after) - 3 * 3600;
  const bool every_hour = f.hours.all();
  for (int i = 0; i < 10000; ++i) {
    auto wall = NextLocal(f, local);
    if (!wall) {
      return std::nullopt;
    }
    std::vector<std::int64_t> instants = f.zone->InstantsOf(*wall);
    if (!every_hour && instants.size() > 1) {
      instants.resize(1);  // a fixed time runs once, at its first occurrence
    }
    for (std::int64_t instant : instants) {
      if (instant > after) {
        return instant;
      }
    }
    local = *wall;
  }
  return std::nullopt;
}

std::optional<std::int64_t> Schedule::NextSeconds(std::int64_t after) const {
  std::optional<std::int64_t> best;
  for (const Alternative& alternative : alternatives_) {
    auto next = NextOf(alternative, after);
    if (next && (!best || *next < *best)) {
      best = next;
    }
  }
  return best;
}

std::optional<Schedule::Clock::time_point> Schedule::Next(Clock::time_point after) const {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(after.time_since_epoch()).count();
  auto next = NextSeconds(seconds);
  if (!next) {
    return std::nullopt;
  }
  return Clock::time_point(std::chrono::seconds(*next));
}

}  // namespace funcd::triggers::cron
