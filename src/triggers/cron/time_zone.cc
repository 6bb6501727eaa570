#include "triggers/cron/time_zone.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "triggers/cron/civil.h"

namespace funcd::triggers::cron {

namespace {

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// A cursor over the POSIX TZ string.
struct TzScanner {
  std::string_view text;
  size_t pos = 0;

  bool Done() const { return pos >= text.size(); }
  char Peek() const { return Done() ? '\0' : text[pos]; }
  bool Consume(char c) {
    if (Peek() != c) {
      return false;
    }
    ++pos;
    return true;
  }
  // A zone abbreviation: "<...>" or three or more letters.
  bool Name() {
    if (Consume('<')) {
      const size_t close = text.find('>', pos);
      if (close == std::string_view::npos) {
        return false;
      }
      pos = close + 1;
      return true;
    }
    const size_t start = pos;
    while (!Done() && ((Peek() >= 'a' && Peek() <= 'z') || (Peek() >= 'A' && Peek() <= 'Z'))) {
      ++pos;
    }
    return pos - start >= 3;
  }
  std::optional<std::int64_t> Number() {
    const size_t start = pos;
    std::int64_t value = 0;
    while (!Done() && Peek() >= '0' && Peek() <= '9' && pos - start < 6) {
      value = value * 10 + (Peek() - '0');
      ++pos;
    }
    return pos > start ? std::optional<std::int64_t>(value) : std::nullopt;
  }
  // [+-]hh[:mm[:ss]] in seconds.
  std::optional<std::int64_t> Time() {
    std::int64_t sign = 1;
    if (Consume('-')) {
      sign = -1;
    } else {
      Consume('+');
    }
    auto hours = Number();
    if (!hours || *hours > 167) {
      return std::nullopt;
    }
    std::int64_t seconds = *hours * 3600;
    for (std::int64_t unit : {60, 1}) {
      if (!Consume(':')) {
        break;
      }
      auto part = Number();
      if (!part || *part > 59) {
        return std::nullopt;
      }
      seconds += *part * unit;
    }
    return sign * seconds;
  }
  std::optional<PosixTzRule::Date> Date() {
    PosixTzRule::Date date;
    using Kind = PosixTzRule::Date::Kind;
    if (Consume('M')) {
      date.kind = Kind::kMonthWeekDay;
      auto m = Number();
      if (!m || *m < 1 || *m > 12 || !Consume('.')) {
        return std::nullopt;
      }
      auto w = Number();
      if (!w || *w < 1 || *w > 5 || !Consume('.')) {
        return std::nullopt;
      }
      auto d = Number();
      if (!d || *d > 6) {
        return std::nullopt;
      }
      date.month = static_cast<int>(*m);
      date.week = static_cast<int>(*w);
      date.day = static_cast<int>(*d);
    } else {
      const bool julian = Consume('J');
      date.kind = julian ? Kind::kJulianNoLeap : Kind::kJulian;
      auto n = Number();
      if (!n || *n > 365 || (julian && *n < 1)) {
        return std::nullopt;
      }
      date.day = static_cast<int>(*n);
    }
    if (Consume('/')) {
      auto time = Time();
      if (!time) {
        return std::nullopt;
      }
      date.time = *time;
    }
    return date;
  }
};

// Local midnight of `date` in `year`, in days since 1970-01-01.
std::int64_t RuleDay(std::int64_t year, const PosixTzRule::Date& date) {
  using Kind = PosixTzRule::Date::Kind;
  const std::int64_t jan1 = DaysFromCivil(year, 1, 1);
  switch (date.kind) {
    case Kind::kJulianNoLeap:
      return jan1 + date.day - 1 + (IsLeapYear(year) && date.day >= 60 ? 1 : 0);
    case Kind::kJulian:
      return jan1 + date.day;
    case Kind::kMonthWeekDay:
      break;
  }
  const std::int64_t first = DaysFromCivil(year, date.month, 1);
  std::int64_t day = first + (date.day - WeekdayFromDays(first) + 7) % 7 + (date.week - 1) * 7;
  const std::int64_t last = first + DaysInMonth(year, date.month) - 1;
  while (day > last) {
    day -= 7;
  }
  return day;
}

std::int64_t ReadBigEndian(std::string_view data, size_t at, size_t bytes) {
  std::uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data[at + i]);
  }
  if (bytes == 4) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
  }
  return static_cast<std::int64_t>(value);
}

bool ValidZoneName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.find("..") != name.npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
  });
}

}  // namespace

Result<PosixTzRule> PosixTzRule::Parse(std::string_view text) {
  TzScanner scan{text};
  PosixTzRule rule;
  if (!scan.Name()) {
    return Invalid(StrCat("TZ rule \"", text, "\": no standard time name"));
  }
  auto std_time = scan.Time();
  if (!std_time) {
    return Invalid(StrCat("TZ rule \"", text, "\": no standard time offset"));
  }
  rule.std_offset = -*std_time;  // POSIX counts hours west of Greenwich
  if (scan.Done()) {
    return rule;
  }
  if (!scan.Name()) {
    return Invalid(StrCat("TZ rule \"", text, "\": bad daylight time name"));
  }
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!scan.Done() && scan.Peek() != ',') {
    auto dst_time = scan.Time();
    if (!dst_time) {
      return Invalid(StrCat("TZ rule \"", text, "\": bad daylight time offset"));
    }
    rule.dst_offset = -*dst_time;
  }
  if (scan.Done()) {
    // POSIX leaves the default rule to the implementation; the US rules are the usual one.
    rule.start = Date{Date::Kind::kMonthWeekDay, 0, 3, 2, 7200};
    rule.end = Date{Date::Kind::kMonthWeekDay, 0, 11, 1, 7200};
    return rule;
  }
  std::optional<Date> start, end;
  if (!scan.Consume(',') || !(start = scan.Date()) || !scan.Consume(',') || !(end = scan.Date()) ||
      !scan.Done()) {
    return Invalid(StrCat("TZ rule \"", text, "\": bad transition dates"));
  }
  rule.start = *start;
  rule.end = *end;
  return rule;
}

std::int64_t PosixTzRule::OffsetAt(std::int64_t unix_seconds) const {
  if (!has_dst) {
    return std_offset;
  }
  const std::int64_t year = CivilFromDays(FloorDiv(unix_seconds + std_offset, 86400)).year;
  // Daylight time starts when standard local time reaches start.time, and ends when
  // daylight local time reaches end.time.
  const std::int64_t starts = RuleDay(year, start) * 86400 + start.time - std_offset;
  const std::int64_t ends = RuleDay(year, end) * 86400 + end.time - dst_offset;
  if (starts < ends) {  // northern hemisphere: daylight time inside the year
    return unix_seconds >= starts && unix_seconds < ends ? dst_offset : std_offset;
  }
  return unix_seconds >= ends && unix_seconds < starts ? std_offset : dst_offset;
}

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    std::shared_ptr<TimeZone> zone(new TimeZone());
    zone->name_ = "UTC";
    return zone;
  }();
  return kUtc;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Load(std::string_view name,
                                                       const std::string& zoneinfo_dir) {
  const std::string_view trimmed = TrimSpace(name);
  if (trimmed.empty() || trimmed == "UTC" || trimmed == "Etc/UTC" || trimmed == "Z") {
    return Utc();
  }
  if (!ValidZoneName(trimmed)) {
    return Invalid(StrCat("\"", trimmed, "\" is not a time zone name (such as Europe/Berlin)"));
  }
  std::ifstream in(StrCat(zoneinfo_dir, "/", trimmed), std::ios::binary);
  if (!in) {
    return Error{ErrorCode::kNotFound,
                 StrCat("unknown time zone \"", trimmed, "\" (not in ", zoneinfo_dir, ")")};
  }
  std::stringstream data;
  data << in.rdbuf();
  return FromTzif(std::string(trimmed), data.str());
}

Result<std::shared_ptr<const TimeZone>> TimeZone::FromTzif(std::string name,
                                                           std::string_view data) {
  auto corrupt = [&](std::string_view why) {
    return Invalid(StrCat("time zone ", name, ": not a TZif file (", why, ")"));
  };
  constexpr size_t kHeader = 44;
  if (data.size() < kHeader || data.substr(0, 4) != "TZif") {
    return corrupt("no TZif header");
  }
  struct Counts {
    std::int64_t isut, isstd, leap, time, type, chars;
  };
  auto counts_at = [&](size_t at) {
    return Counts{ReadBigEndian(data, at + 20, 4), ReadBigEndian(data, at + 24, 4),
                  ReadBigEndian(data, at + 28, 4), ReadBigEndian(data, at + 32, 4),
                  ReadBigEndian(data, at + 36, 4), ReadBigEndian(data, at + 40, 4)};
  };
  Counts c = counts_at(0);
  size_t at = kHeader;
  size_t time_size = 4;
  auto block_size = [&](const Counts& k, size_t tsize) {
    return static_cast<size_t>(k.time) * tsize + static_cast<size_t>(k.time) +
           static_cast<size_t>(k.type) * 6 + static_cast<size_t>(k.chars) +
           static_cast<size_t>(k.leap) * (tsize + 4) + static_cast<size_t>(k.isstd) +
           static_cast<size_t>(k.isut);
  };
  const bool v2 = data[4] >= '2';
  if (v2) {
    // Skip the version 1 block: the 64-bit block after it covers all instants.
    at += block_size(c, 4);
    if (data.size() < at + kHeader || data.substr(at, 4) != "TZif") {
      return corrupt("no second header");
    }
    c = counts_at(at);
    at += kHeader;
    time_size = 8;
  }
  if (c.time < 0 || c.type <= 0 || c.type > 256 || c.chars < 0 || c.leap < 0 ||
      data.size() < at + block_size(c, time_size)) {
    return corrupt("truncated");
  }
  std::shared_ptr<TimeZone> zone(new TimeZone());
  zone->name_ = std::move(name);
  for (std::int64_t i = 0; i < c.time; ++i) {
    zone->transitions_.push_back(
        ReadBigEndian(data, at + static_cast<size_t>(i) * time_size, time_size));
  }
  at += static_cast<size_t>(c.time) * time_size;
  for (std::int64_t i = 0; i < c.time; ++i) {
    const auto type = static_cast<std::uint8_t>(data[at + static_cast<size_t>(i)]);
    if (type >= c.type) {
      return corrupt("bad type index");
    }
    zone->transition_types_.push_back(type);
  }
  at += static_cast<size_t>(c.time);
  for (std::int64_t i = 0; i < c.type; ++i) {
    zone->offsets_.push_back(ReadBigEndian(data, at + static_cast<size_t>(i) * 6, 4));
  }
  at += static_cast<size_t>(c.type) * 6 + static_cast<size_t>(c.chars) +
        static_cast<size_t>(c.leap) * (time_size + 4) + static_cast<size_t>(c.isstd) +
        static_cast<size_t>(c.isut);
  zone->fixed_offset_ = zone->offsets_.front();
  if (v2 && at < data.size() && data[at] == '\n') {
    const size_t end = data.find('\n', at + 1);
    if (end != std::string_view::npos && end > at + 1) {
      auto rule = PosixTzRule::Parse(data.substr(at + 1, end - at - 1));
      if (!rule) {
        return corrupt(rule.error().message);
      }
      zone->footer_ = *rule;
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(zone));
}

std::int64_t TimeZone::OffsetAt(std::int64_t unix_seconds) const {
  if (transitions_.empty() || unix_seconds < transitions_.front()) {
    return transitions_.empty() && footer_ ? footer_->OffsetAt(unix_seconds) : fixed_offset_;
  }
  if (unix_seconds >= transitions_.back() && footer_) {
    return footer_->OffsetAt(unix_seconds);
  }
  // The last transition at or before the instant.
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  const size_t index = static_cast<size_t>(it - transitions_.begin()) - 1;
  return offsets_[transition_types_[index]];
}

std::vector<std::int64_t> TimeZone::InstantsOf(std::int64_t local_seconds) const {
  // Offsets in force a day either side cover any one transition near this local time.
  std::vector<std::int64_t> out;
  for (std::int64_t probe : {local_seconds - 86400, local_seconds, local_seconds + 86400}) {
    const std::int64_t instant = local_seconds - OffsetAt(probe);
    if (instant + OffsetAt(instant) == local_seconds &&
        std::find(out.begin(), out.end(), instant) == out.end()) {
      out.push_back(instant);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace funcd::triggers::cron
