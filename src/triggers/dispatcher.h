#pragma once

// Turns a trigger event (a cron tick, a NATS or MQTT message) into a function call, as the
// OpenFaaS connector-sdk does (contracts §8.1): POST / with the message as the body and
// X-Topic, X-Connector (funcd-cron, funcd-nats, funcd-mqtt) and X-Call-Id headers, either
// synchronously through the invoker or asynchronously through an AsyncSubmitter. Records
// metrics labelled with the trigger's name and logs every failure with its call id.
//
// Metrics (on the gateway's /metrics):
//   funcd_trigger_invocations_total{trigger,function_name,code}   202 for accepted async calls
//   funcd_trigger_skipped_total{trigger,function_name}            cron runs skipped (overlap)
//   funcd_trigger_subscribed{trigger,topic,function_name}         1 once the broker confirmed
//
// Thread-safe; Deliver runs on an I/O thread's executor.

#include <string>
#include <utility>
#include <vector>

#include "common/asio.h"
#include "common/prometheus.h"
#include "gateway/invoker.h"
#include "triggers/async_submitter.h"

namespace funcd::triggers {

struct Delivery {
  std::string function;  // "name.namespace"
  std::string trigger;   // "cron", "nats", "mqtt"
  std::string topic;     // X-Topic: the topic, subject or MQTT topic the event came on
  std::string body;
  bool async = false;
  // Added after funcd's own headers (which they cannot replace).
  std::vector<std::pair<std::string, std::string>> headers;
};

class Dispatcher {
 public:
  // REQUIRES: the arguments outlive the dispatcher.
  Dispatcher(gateway::Invoker& invoker, AsyncSubmitter& async, prometheus::Registry& registry);

  // Calls the function. Sync: the function's response (or the gateway's status, see
  // CallResult). Async: 202 once the submitter took the call, else the status of its error.
  // The result's headers always carry the call's X-Call-Id. Never throws for expected
  // failures.
  asio::awaitable<gateway::CallResult> Deliver(Delivery delivery);

  // A cron run that did not start because the previous one was still running.
  void CountSkipped(const std::string& trigger, const std::string& function);
  // Sets funcd_trigger_subscribed; `subscribed` false removes the series.
  void SetSubscribed(const std::string& trigger, const std::string& topic,
                     const std::string& function, bool subscribed);

 private:
  gateway::Invoker& invoker_;
  AsyncSubmitter& async_;
  prometheus::Family& invocations_;
  prometheus::Family& skipped_;
  prometheus::Family& subscribed_;
};

}  // namespace funcd::triggers
