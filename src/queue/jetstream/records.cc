#include "queue/jetstream/records.h"

#include <charconv>
#include <cstdint>

#include "common/strings.h"

namespace funcd::queue::jetstream {

namespace {

void Put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

void PutInt(std::string& out, std::int64_t value) { Put(out, std::to_string(value)); }

Error Bad(std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, StrCat("bad queue record: ", what));
}

// Reads one netstring from the front of `in`.
Result<std::string_view> Take(std::string_view& in) {
  const std::size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 20) {
    return Bad("no length");
  }
  std::uint64_t length = 0;
  auto [end, ec] = std::from_chars(in.data(), in.data() + colon, length);
  if (ec != std::errc() || end != in.data() + colon || length > in.size() - colon - 1) {
    return Bad("bad length");
  }
  std::string_view field = in.substr(colon + 1, length);
  in.remove_prefix(colon + 1 + length);
  return field;
}

Result<std::int64_t> TakeInt(std::string_view& in) {
  FUNCD_ASSIGN_OR_RETURN(std::string_view field, Take(in));
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size()) {
    return Bad("bad number");
  }
  return value;
}

void PutStatus(std::string& out, const CallStatus& s) {
  Put(out, "1");  // version
  Put(out, s.call_id);
  Put(out, s.function);
  PutInt(out, static_cast<std::int64_t>(s.state));
  PutInt(out, s.attempts);
  PutInt(out, s.enqueued_at);
  PutInt(out, s.updated_at);
  PutInt(out, s.next_attempt_at);
  PutInt(out, s.last_status);
  Put(out, s.last_error);
}

Result<CallStatus> TakeStatus(std::string_view& in) {
  CallStatus s;
  FUNCD_ASSIGN_OR_RETURN(std::string_view version, Take(in));
  if (version != "1") {
    return Bad("unknown version");
  }
  FUNCD_ASSIGN_OR_RETURN(std::string_view call_id, Take(in));
  FUNCD_ASSIGN_OR_RETURN(std::string_view function, Take(in));
  FUNCD_ASSIGN_OR_RETURN(std::int64_t state, TakeInt(in));
  if (state < 0 || state > static_cast<std::int64_t>(CallState::kCancelled)) {
    return Bad("unknown state");
  }
  FUNCD_ASSIGN_OR_RETURN(std::int64_t attempts, TakeInt(in));
  FUNCD_ASSIGN_OR_RETURN(s.enqueued_at, TakeInt(in));
  FUNCD_ASSIGN_OR_RETURN(s.updated_at, TakeInt(in));
  FUNCD_ASSIGN_OR_RETURN(s.next_attempt_at, TakeInt(in));
  FUNCD_ASSIGN_OR_RETURN(std::int64_t last_status, TakeInt(in));
  FUNCD_ASSIGN_OR_RETURN(std::string_view last_error, Take(in));
  if (attempts < 0 || attempts > 1000000 || last_status < 0 || last_status > 999) {
    return Bad("implausible numbers");
  }
  s.call_id = call_id;
  s.function = function;
  s.state = static_cast<CallState>(state);
  s.attempts = static_cast<int>(attempts);
  s.last_status = static_cast<unsigned>(last_status);
  s.last_error = last_error;
  return s;
}

}  // namespace

std::string EncodeCallRecord(const CallStatus& status) {
  std::string out;
  PutStatus(out, status);
  return out;
}

Result<CallStatus> DecodeCallRecord(std::string_view record) {
  FUNCD_ASSIGN_OR_RETURN(CallStatus status, TakeStatus(record));
  if (!record.empty()) {
    return Bad("trailing bytes");
  }
  return status;
}

std::string EncodeDeadRecord(const DeadLetter& dead) {
  std::string out;
  PutStatus(out, dead.status);
  Put(out, dead.last_body);
  Put(out, EncodeFramed(dead.message));
  return out;
}

Result<DeadLetter> DecodeDeadRecord(std::string_view record, bool with_body) {
  DeadLetter dead;
  FUNCD_ASSIGN_OR_RETURN(dead.status, TakeStatus(record));
  FUNCD_ASSIGN_OR_RETURN(std::string_view last_body, Take(record));
  FUNCD_ASSIGN_OR_RETURN(std::string_view framed, Take(record));
  if (!record.empty()) {
    return Bad("trailing bytes");
  }
  dead.last_body = last_body;
  FUNCD_ASSIGN_OR_RETURN(dead.message, DecodeFramed(framed));
  if (!with_body) {
    dead.message.body.clear();
  }
  return dead;
}

std::string CallKey(std::string_view call_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "c";
  key.reserve(1 + 2 * call_id.size());
  for (unsigned char c : call_id) {
    key += kHex[c >> 4];
    key += kHex[c & 15];
  }
  return key;
}

}  // namespace funcd::queue::jetstream
