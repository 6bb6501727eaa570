#include "triggers/async_submitter.h"

#include "common/strings.h"
#include "common/uuid.h"
#include "http/message.h"

namespace funcd::triggers {

queue::Message ToQueueMessage(gateway::CallRequest request, std::string_view default_namespace,
                              std::int64_t now) {
  queue::Message m;
  const http::RequestHead& head = request.head;
  m.call_id = std::string(http::FieldValue(head, "X-Call-Id"));
  if (m.call_id.empty()) {
    m.call_id = NewUuid();
    m.headers.push_back({"X-Call-Id", m.call_id});
  }
  m.function = request.function;
  m.key = request.function.find('.') == std::string::npos
              ? StrCat(request.function, ".", default_namespace)
              : request.function;
  m.method = std::string(head.method_string());
  const http::Target target = http::SplitTarget(std::string_view(head.target()));
  m.path = target.path.empty() ? "/" : std::string(target.path);
  m.query = std::string(target.query);
  m.enqueued_at = now;
  for (const auto& field : head) {
    const std::string_view name = field.name_string();
    // Host names the trigger's made-up target, and the worker sets X-Start-Time itself.
    if (queue::IsStoredField(name) && !EqualsIgnoreCase(name, "Host") &&
        !EqualsIgnoreCase(name, "X-Start-Time")) {
      m.headers.push_back({std::string(name), std::string(field.value())});
    }
  }
  m.headers.push_back({"X-Start-Time", std::to_string(now)});
  m.body = std::move(request.body);
  return m;
}

asio::awaitable<Result<std::string>> QueueAsyncSubmitter::Submit(gateway::CallRequest request) {
  queue::Message message =
      ToQueueMessage(std::move(request), default_namespace_, queue::UnixNanosNow());
  std::string call_id = message.call_id;
  Result<void> stored = co_await queue_.Enqueue(std::move(message));
  if (!stored) {
    co_return stored.error();
  }
  co_return call_id;
}

}  // namespace funcd::triggers
