#include "triggers/dispatcher.h"

#include "common/log.h"
#include "common/strings.h"
#include "common/uuid.h"
#include "common/version.h"

namespace funcd::triggers {

namespace {

bool Reserved(std::string_view name) {
  return EqualsIgnoreCase(name, "X-Call-Id") || EqualsIgnoreCase(name, "X-Connector") ||
         EqualsIgnoreCase(name, "X-Topic") || EqualsIgnoreCase(name, "Content-Length") ||
         EqualsIgnoreCase(name, "Transfer-Encoding") || EqualsIgnoreCase(name, "Host") ||
         EqualsIgnoreCase(name, "Connection");
}

}  // namespace

Dispatcher::Dispatcher(gateway::Invoker& invoker, AsyncSubmitter& async,
                       prometheus::Registry& registry)
    : invoker_(invoker),
      async_(async),
      invocations_(registry.Counter("funcd_trigger_invocations_total",
                                    "Function calls made by triggers, by response status",
                                    {"trigger", "function_name", "code"})),
      skipped_(registry.Counter("funcd_trigger_skipped_total",
                                "Trigger runs skipped because the previous run was still going",
                                {"trigger", "function_name"})),
      subscribed_(registry.Gauge("funcd_trigger_subscribed",
                                 "Subscriptions of functions that the broker confirmed",
                                 {"trigger", "topic", "function_name"})) {}

asio::awaitable<gateway::CallResult> Dispatcher::Deliver(Delivery delivery) {
  gateway::CallRequest request;
  request.function = delivery.function;
  request.head.method(http::Verb::post);
  request.head.target("/");
  request.head.version(11);
  char id[36];
  NewUuid(id);
  const std::string call_id(id, sizeof(id));
  request.head.set("X-Call-Id", call_id);
  request.head.set("X-Connector", StrCat("funcd-", delivery.trigger));
  request.head.set("X-Topic", delivery.topic);
  request.head.set(http::Field::user_agent, StrCat("funcd-", delivery.trigger, "/", Version()));
  for (auto& [name, value] : delivery.headers) {
    if (!Reserved(name)) {
      request.head.insert(name, value);
    }
  }
  request.body = std::move(delivery.body);

  gateway::CallResult result;
  if (delivery.async) {
    Result<std::string> accepted = co_await async_.Submit(std::move(request));
    if (accepted) {
      result.status = 202;
      result.from_gateway = true;
      result.headers.set("X-Call-Id", *accepted);
    } else {
      result.status = static_cast<unsigned>(HttpStatusFor(accepted.error().code));
      result.from_gateway = true;
      result.body = accepted.error().message;
    }
  } else {
    result = co_await invoker_.Call(std::move(request));
    if (result.headers.find("X-Call-Id") == result.headers.end()) {
      result.headers.set("X-Call-Id", call_id);
    }
  }
  const std::string code = std::to_string(result.status);
  invocations_.WithLabels({delivery.trigger, delivery.function, code}).Increment();
  if (result.status >= 400) {
    std::string_view body = TrimSpace(result.body);
    Logf("trigger %s: %s call %s to %s (topic %s) failed: status %u%s: %.*s",
         delivery.trigger.c_str(), delivery.async ? "async" : "sync", call_id.c_str(),
         delivery.function.c_str(), delivery.topic.c_str(), result.status,
         result.from_gateway ? " from the gateway" : "",
         static_cast<int>(std::min<size_t>(body.size(), 200)), body.data());
  }
  co_return result;
}

void Dispatcher::CountSkipped(const std::string& trigger, const std::string& function) {
  skipped_.WithLabels({trigger, function}).Increment();
}

void Dispatcher::SetSubscribed(const std::string& trigger, const std::string& topic,
                               const std::string& function, bool subscribed) {
  if (subscribed) {
    subscribed_.WithLabels({trigger, topic, function}).Set(1);
  } else {
    subscribed_.Remove({trigger, topic, function});
  }
}

}  // namespace funcd::triggers
