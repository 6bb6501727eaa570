#pragma once

// What the JetStream backend stores besides the messages themselves: the call record kept
// in the KV bucket (call id -> CallStatus) and the payload of a dead letter (its last status,
// the excerpt of its last body and the framed request). Both are sequences of netstrings
// ("<length>:<bytes>"), so that any byte may appear in a field.
//
// Pure functions, thread-safe.

#include <string>
#include <string_view>

#include "common/result.h"
#include "queue/queue.h"

namespace funcd::queue::jetstream {

std::string EncodeCallRecord(const CallStatus& status);
// Errors: kInvalidArgument (truncated, bad numbers, unknown state).
Result<CallStatus> DecodeCallRecord(std::string_view record);

// The dead letter as published to the dead-letter stream, the request body included.
std::string EncodeDeadRecord(const DeadLetter& dead);
// Errors: kInvalidArgument. With `with_body` false the request body is dropped.
Result<DeadLetter> DecodeDeadRecord(std::string_view record, bool with_body);

// A KV key for a call id: KV keys allow only [-/_=.a-zA-Z0-9], call ids come from callers,
// so the id is hex-encoded ("c" + hex).
std::string CallKey(std::string_view call_id);

}  // namespace funcd::queue::jetstream
