#include "gateway/async_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/log.h"
#include "common/strings.h"
#include "common/uuid.h"
#include "common/version.h"
#include "gateway/api.h"

namespace funcd::gateway {

namespace json = boost::json;

AsyncMetrics::AsyncMetrics(prometheus::Registry& r)
    : depth(r.Gauge("funcd_async_queue_depth", "Async calls waiting (queued or retrying)",
                    {"function_name"})),
      running(r.Gauge("funcd_async_running", "Async calls being attempted", {"function_name"})),
      enqueued(
          r.Counter("funcd_async_enqueued_total", "Async calls accepted (202)", {"function_name"})),
      started(
          r.Counter("funcd_async_started_total", "Async call attempts started", {"function_name"})),
      succeeded(r.Counter("funcd_async_succeeded_total",
                          "Async calls finished with a status below 400", {"function_name"})),
      failed(r.Counter("funcd_async_failed_total",
                       "Async calls finished with an error status that is not retried",
                       {"function_name"})),
      retried(r.Counter("funcd_async_retried_total", "Async call attempts scheduled again",
                        {"function_name"})),
      dead(r.Counter("funcd_async_dead_total", "Async calls that used their last attempt",
                     {"function_name"})),
      cancelled(
          r.Counter("funcd_async_cancelled_total", "Async calls cancelled", {"function_name"})),
      callbacks(r.Counter("funcd_async_callbacks_total", "Callback deliveries by result",
                          {"function_name", "result"})),
      seconds(r.Histogram("funcd_async_call_seconds",
                          "Seconds from enqueue to the final result of an async call",
                          {"function_name"},
                          {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900})) {}

const AsyncMetrics::Series& AsyncMetrics::For(const std::string& function) {
  std::lock_guard lock(mu_);
  auto& slot = series_[function];
  if (!slot) {
    slot = std::make_unique<Series>(Series{
        &enqueued.WithLabels({function}),
        &started.WithLabels({function}),
        &succeeded.WithLabels({function}),
        &failed.WithLabels({function}),
        &retried.WithLabels({function}),
        &dead.WithLabels({function}),
        &cancelled.WithLabels({function}),
        &callbacks.WithLabels({function, "ok"}),
        &callbacks.WithLabels({function, "failed"}),
        &seconds.HistogramWithLabels({function}),
    });
  }
  return *slot;
}

namespace {

bool IsValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    if (c >= 0x80) {
      if ((c >> 5) == 0x6) {
        extra = 1;
      } else if ((c >> 4) == 0xe) {
        extra = 2;
      } else if ((c >> 3) == 0x1e) {
        extra = 3;
      } else {
        return false;
      }
    }
    if (i + extra >= text.size() && extra > 0) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 2) {
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

// A byte string as JSON: "key" when it is UTF-8 text, else "keyBase64".
void PutBytes(json::object& o, std::string_view key, std::string_view bytes) {
  if (IsValidUtf8(bytes)) {
    o[key] = json::string_view(bytes.data(), bytes.size());
  } else {
    o[StrCat(key, "Base64")] = Base64Encode(bytes);
  }
}

json::object StatusObject(const queue::CallStatus& s) {
  json::object o;
  o["callId"] = s.call_id;
  o["function"] = s.function;
  o["state"] = std::string(queue::CallStateName(s.state));
  o["attempts"] = s.attempts;
  o["enqueuedAt"] = FormatRfc3339Nano(s.enqueued_at);
  o["updatedAt"] = FormatRfc3339Nano(s.updated_at);
  if ((s.state == queue::CallState::kQueued || s.state == queue::CallState::kRetrying) &&
      s.next_attempt_at != 0) {
    o["nextAttemptAt"] = FormatRfc3339Nano(s.next_attempt_at);
  }
  if (s.last_status != 0) {
    o["lastStatus"] = s.last_status;
  }
  if (!s.last_error.empty()) {
    o["lastError"] = s.last_error;
  }
  return o;
}

bool DeleteMethod(http::ServerExchange& ex) { return ex.head().method() == http::Verb::delete_; }

}  // namespace

std::string SerializeCallStatus(const queue::CallStatus& status) {
  return json::serialize(StatusObject(status));
}

std::string SerializeDeadLetter(const queue::DeadLetter& dead, bool with_request) {
  json::object o = StatusObject(dead.status);
  const queue::Message& m = dead.message;
  o["method"] = m.method;
  o["path"] = m.path;
  o["query"] = m.query;
  if (!m.callback_url.empty()) {
    o["callbackUrl"] = m.callback_url;
  }
  PutBytes(o, "lastBody", dead.last_body);
  if (with_request) {
    json::object headers;  // as Go's http.Header: name -> [values]
    for (const queue::Header& h : m.headers) {
      auto& values = headers[h.name];
      if (!values.is_array()) {
        values = json::array();
      }
      values.as_array().emplace_back(json::string_view(h.value.data(), h.value.size()));
    }
    o["headers"] = std::move(headers);
    o["bodyBase64"] = Base64Encode(m.body);
  }
  return json::serialize(o);
}

AsyncApi::AsyncApi(queue::Queue& queue, const FunctionTable& functions, AsyncMetrics& metrics,
                   AsyncApiOptions options)
    : queue_(queue), functions_(functions), metrics_(metrics), options_(std::move(options)) {}

std::string AsyncApi::KeyOf(std::string_view function) const {
  return function.find('.') == std::string_view::npos
             ? StrCat(function, ".", options_.default_namespace)
             : std::string(function);
}

asio::awaitable<void> AsyncApi::RespondError(http::ServerExchange& ex, const Error& error) {
  unsigned status = static_cast<unsigned>(HttpStatusFor(error.code));
  if (error.code == ErrorCode::kFailedPrecondition) {
    status = 409;  // the call's state does not allow it: a conflict, not a bad request
  }
  co_await ex.Respond(status, StrCat(error.message, "\n"));
}

asio::awaitable<void> AsyncApi::ServeInvoke(http::ServerExchange& ex, const RouteMatch& match) {
  if (DeleteMethod(ex)) {
    co_await Cancel(ex, match.name);
  } else {
    co_await Enqueue(ex, match);
  }
}

asio::awaitable<void> AsyncApi::Enqueue(http::ServerExchange& ex, const RouteMatch& match) {
  const std::int64_t start = queue::UnixNanosNow();
  http::RequestHead& head = ex.head();
  queue::Message m;
  m.key = KeyOf(match.name);
  if (match.name.front() == '.' || !functions_.Find(m.key)) {
    co_await ex.Respond(404, StrCat("error finding function ", m.key, ": not found\n"));
    co_return;
  }
  m.callback_url = std::string(http::FieldValue(head, "X-Callback-Url"));
  if (!m.callback_url.empty()) {
    auto url = http::ParseUrl(m.callback_url);
    if (!url || url->scheme != "http") {
      // (Built outside the co_await: g++ 12 destroys temporaries of a conditional
      // expression inside co_await twice.)
      std::string why =
          url ? std::string("only http:// callback URLs are supported") : url.error().message;
      std::string text = StrCat("invalid X-Callback-Url \"", m.callback_url, "\": ", why, "\n");
      co_await ex.Respond(400, std::move(text));
      co_return;
    }
  }
  auto body = co_await ex.ReadAll(options_.max_body);
  if (!body) {
    if (body.error().code == ErrorCode::kResourceExhausted) {
      // The connection stays open: the server discards the rest of the body when it is
      // small, so that the client, still writing, reads the 413 rather than a reset.
      co_await ex.Respond(413, StrCat("request body larger than the async limit of ",
                                      options_.max_body, " bytes\n"));
    } else {
      ex.CloseAfterResponse();
      co_await ex.Respond(400,
                          StrCat("cannot read the request body: ", body.error().message, "\n"));
    }
    co_return;
  }
  m.body = std::move(*body);

  char start_time[24];
  const std::string_view start_text(
      start_time,
      static_cast<std::size_t>(
          std::to_chars(start_time, start_time + sizeof(start_time), start).ptr - start_time));
  const std::string_view caller_call_id = http::FieldValue(head, "X-Call-Id");
  if (caller_call_id.empty()) {
    char id[36];
    NewUuid(id);
    m.call_id.assign(id, sizeof(id));
  } else {
    m.call_id = std::string(caller_call_id);
  }
  m.function = match.name;
  m.method = std::string(head.method_string());
  m.path = match.rest;
  m.query = match.query;
  m.host = std::string(http::FieldValue(head, "Host"));
  m.enqueued_at = start;
  m.headers.reserve(16);
  bool has_call_id = false;
  bool has_forwarded_for = false;
  bool has_forwarded_host = false;
  for (const auto& field : head) {
    const std::string_view name = field.name_string();
    if (!queue::IsStoredField(name)) {
      continue;
    }
    has_call_id = has_call_id || EqualsIgnoreCase(name, "X-Call-Id");
    has_forwarded_for = has_forwarded_for || EqualsIgnoreCase(name, "X-Forwarded-For");
    has_forwarded_host = has_forwarded_host || EqualsIgnoreCase(name, "X-Forwarded-Host");
    m.headers.push_back({std::string(name), std::string(field.value())});
  }
  if (!has_call_id) {
    m.headers.push_back({"X-Call-Id", m.call_id});
  }
  m.headers.push_back({"X-Start-Time", std::string(start_text)});
  if (!has_forwarded_for) {
    m.headers.push_back({"X-Forwarded-For", ex.remote_address()});
  }
  if (!has_forwarded_host && !m.host.empty()) {
    m.headers.push_back({"X-Forwarded-Host", m.host});
  }
  const AsyncMetrics::Series& series = metrics_.For(m.key);
  const std::string call_id = m.call_id;

  Result<void> stored = co_await queue_.Enqueue(std::move(m));
  if (!stored) {
    Logf("async: cannot queue a call of %s: %s", match.name.c_str(),
         stored.error().message.c_str());
    if (stored.error().code == ErrorCode::kResourceExhausted) {
      ex.response().set(http::Field::retry_after, "1");
      co_await ex.Respond(429, StrCat("Error queuing request: ", stored.error().message, "\n"));
    } else if (stored.error().code == ErrorCode::kInvalidArgument) {
      co_await ex.Respond(413, StrCat("Error queuing request: ", stored.error().message, "\n"));
    } else {
      co_await ex.Respond(500, StrCat("Error queuing request: ", stored.error().message, "\n"));
    }
    co_return;
  }
  series.enqueued->Increment();
  ex.response().set("X-Call-Id", call_id);
  ex.response().set("X-Start-Time", start_text);
  ex.response().set("X-Served-By", StrCat("funcd/", Version()));
  co_await ex.Respond(202, "", "");
}

asio::awaitable<void> AsyncApi::Cancel(http::ServerExchange& ex, std::string call_id) {
  auto before = co_await queue_.Cancel(call_id);
  if (!before) {
    co_await RespondError(ex, before.error());
    co_return;
  }
  Logf("async: call %s cancelled (was %s)", call_id.c_str(),
       std::string(queue::CallStateName(*before)).c_str());
  co_await ex.Respond(202, "", "");
}

asio::awaitable<void> AsyncApi::CallStatus(http::ServerExchange& ex, std::string call_id) {
  auto status = co_await queue_.Status(call_id);
  if (!status) {
    co_await RespondError(ex, status.error());
    co_return;
  }
  co_await ex.Respond(200, SerializeCallStatus(*status), "application/json");
}

asio::awaitable<void> AsyncApi::ServeSystem(http::ServerExchange& ex, const RouteMatch& match) {
  using V = http::Verb;
  const V method = ex.head().method();
  std::vector<std::string_view> parts;
  for (std::string_view part : Split(match.name, '/')) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  auto allow = [&](std::initializer_list<V> verbs) {
    for (V v : verbs) {
      if (v == method) {
        return true;
      }
    }
    return false;
  };
  if (parts.size() == 2 && parts[0] == "calls") {
    if (allow({V::get})) {
      co_await CallStatus(ex, std::string(parts[1]));
    } else if (allow({V::delete_})) {
      co_await Cancel(ex, std::string(parts[1]));
    } else {
      co_await ex.Respond(405, "", "");
    }
    co_return;
  }
  if (!parts.empty() && parts[0] == "dead" && parts.size() <= 3) {
    const bool all = parts.size() == 1 || (parts.size() == 2 && parts[1] == "redrive");
    const bool redrive = parts.back() == "redrive" && parts.size() >= 2;
    if (parts.size() == 3 && parts[2] != "redrive") {
      co_await ex.Respond(404, "404 page not found\n");
      co_return;
    }
    const bool ok = redrive ? allow({V::post}) : allow({V::get, V::delete_});
    if (!ok) {
      co_await ex.Respond(405, "", "");
      co_return;
    }
    std::string call_id = all ? std::string() : std::string(parts[1]);
    co_await DeadLetters(ex, match, std::move(call_id), redrive);
    co_return;
  }
  co_await ex.Respond(404, "404 page not found\n");
}

asio::awaitable<void> AsyncApi::DeadLetters(http::ServerExchange& ex, const RouteMatch& match,
                                            std::string call_id, bool redrive) {
  queue::DeadFilter filter;
  filter.call_id = call_id;
  if (const std::string function = QueryParam(match.query, "function"); !function.empty()) {
    filter.function = KeyOf(function);
  }
  if (const std::string limit = QueryParam(match.query, "limit"); !limit.empty()) {
    auto n = ParseUint(limit);
    if (!n || *n == 0) {
      co_await ex.Respond(400, "limit must be a positive integer\n");
      co_return;
    }
    filter.limit = static_cast<std::size_t>(*n);
  } else if (redrive || DeleteMethod(ex)) {
    filter.limit = 1000000;  // all of them
  }
  if (redrive) {
    auto count = co_await queue_.Redrive(filter);
    if (!count) {
      co_await RespondError(ex, count.error());
    } else if (*count == 0 && !call_id.empty()) {
      co_await ex.Respond(404, StrCat("no dead letter with call id ", call_id, "\n"));
    } else {
      Logf("async: %zu dead letter(s) redriven", *count);
      co_await ex.Respond(202, StrCat("{\"redriven\":", *count, "}"), "application/json");
    }
    co_return;
  }
  if (DeleteMethod(ex)) {
    auto count = co_await queue_.Purge(filter);
    if (!count) {
      co_await RespondError(ex, count.error());
    } else if (*count == 0 && !call_id.empty()) {
      co_await ex.Respond(404, StrCat("no dead letter with call id ", call_id, "\n"));
    } else {
      co_await ex.Respond(200, StrCat("{\"purged\":", *count, "}"), "application/json");
    }
    co_return;
  }
  if (!call_id.empty()) {
    auto dead = co_await queue_.GetDead(call_id);
    if (!dead) {
      co_await RespondError(ex, dead.error());
    } else {
      co_await ex.Respond(200, SerializeDeadLetter(*dead, true), "application/json");
    }
    co_return;
  }
  auto list = co_await queue_.ListDead(filter);
  if (!list) {
    co_await RespondError(ex, list.error());
    co_return;
  }
  std::string out = "[";
  for (std::size_t i = 0; i < list->size(); ++i) {
    StrAppend(out, i == 0 ? "" : ",", SerializeDeadLetter((*list)[i], false));
  }
  out += "]";
  co_await ex.Respond(200, out, "application/json");
}

}  // namespace funcd::gateway
