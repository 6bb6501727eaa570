#pragma once

// Event triggers inside `funcd serve`: keeps cron jobs and NATS / MQTT subscriptions in step
// with the functions' `topic` annotations (contracts §8), across all namespaces. It listens
// to the gateway's function table, so a deploy, update or delete takes effect at once: no
// polling of /system/functions as OpenFaaS connectors do (those keep working against the
// REST API).
//
// Thread-safe. Owns the dispatcher, the cron scheduler and the broker connectors.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/prometheus.h"
#include "common/result.h"
#include "gateway/function_table.h"
#include "gateway/invoker.h"
#include "triggers/async_submitter.h"
#include "triggers/connector.h"
#include "triggers/cron/cron_scheduler.h"
#include "triggers/dispatcher.h"
#include "triggers/trigger_spec.h"

namespace funcd::triggers {

struct TriggerOptions {
  std::string nats_url;  // "": no NATS triggers
  std::string mqtt_url;  // "": no MQTT triggers
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
};

class TriggerManager {
 public:
  // REQUIRES: the references and the contexts outlive the manager; the contexts run (or will
  // run) the deliveries. Destroy the manager only when no change of `functions` is in
  // progress (in funcd serve: after the I/O threads were joined).
  TriggerManager(const gateway::FunctionTable& functions, gateway::Invoker& invoker,
                 AsyncSubmitter& async, prometheus::Registry& registry,
                 std::vector<asio::io_context*> contexts, TriggerOptions options);
  ~TriggerManager();
  TriggerManager(const TriggerManager&) = delete;

  // Connects to the brokers that were given, then follows the function table, starting with
  // the functions already in it. Errors: kInvalidArgument (a bad broker URL), kUnavailable.
  Result<void> Start();
  // Stops every trigger: no delivery starts after it returns (calls in progress finish).
  // Blocking (joins the broker libraries' threads); idempotent.
  void Stop();

 private:
  // Brings the triggers of `key` in line with the table's current entry for it.
  void Sync(const std::string& key);
  asio::any_io_executor NextExecutor();

  const gateway::FunctionTable& functions_;
  const std::vector<asio::io_context*> contexts_;
  const TriggerOptions options_;
  std::atomic<std::size_t> next_context_{0};
  Dispatcher dispatcher_;
  CronScheduler cron_;
  std::unique_ptr<Connector> nats_;
  std::unique_ptr<Connector> mqtt_;

  std::mutex mu_;  // serializes Sync; guards the members below
  bool started_ = false;
  bool stopped_ = false;
  std::uint64_t listener_id_ = 0;
  std::map<std::string, TriggerSpec> specs_;  // functions with any topic
};

}  // namespace funcd::triggers
