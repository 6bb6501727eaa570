#include "triggers/trigger_manager.h"

#include "common/log.h"
#include "triggers/mqtt/mqtt_connector.h"
#include "triggers/nats/nats_connector.h"

namespace funcd::triggers {

namespace {

std::optional<CronJobSpec> CronOf(const TriggerSpec& spec) {
  if (!spec.cron) {
    return std::nullopt;
  }
  return CronJobSpec{spec.schedule, spec.time_zone, spec.allow_overlap, spec.async};
}

}  // namespace

TriggerManager::TriggerManager(const gateway::FunctionTable& functions, gateway::Invoker& invoker,
                               AsyncSubmitter& async, prometheus::Registry& registry,
                               std::vector<asio::io_context*> contexts, TriggerOptions options)
    : functions_(functions),
      contexts_(std::move(contexts)),
      options_(std::move(options)),
      dispatcher_(invoker, async, registry),
      cron_(
          dispatcher_, [this] { return NextExecutor(); }, options_.zoneinfo_dir) {}

TriggerManager::~TriggerManager() { Stop(); }

asio::any_io_executor TriggerManager::NextExecutor() {
  const std::size_t n = next_context_.fetch_add(1, std::memory_order_relaxed);
  return contexts_[n % contexts_.size()]->get_executor();
}

Result<void> TriggerManager::Start() {
  FUNCD_CHECK(!contexts_.empty());
  auto pick = [this] { return NextExecutor(); };
  if (!options_.nats_url.empty()) {
    FUNCD_ASSIGN_OR_RETURN(nats_, NatsConnector::Connect(options_.nats_url, dispatcher_, pick));
  }
  if (!options_.mqtt_url.empty()) {
    FUNCD_ASSIGN_OR_RETURN(mqtt_, MqttConnector::Connect(options_.mqtt_url, dispatcher_, pick));
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  // Listen first, then read what is there: a change in between is seen twice, which Sync
  // makes harmless, rather than not at all.
  listener_id_ = functions_.AddListener(
      [this](const std::string& key, const std::shared_ptr<const gateway::FunctionEntry>&) {
        Sync(key);
      });
  for (const auto& entry : functions_.List("")) {
    Sync(entry->key);
  }
  return Ok();
}

void TriggerManager::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    specs_.clear();
  }
  if (listener_id_ != 0) {
    functions_.RemoveListener(listener_id_);
  }
  cron_.Stop();
  if (nats_) {
    nats_->Stop();
  }
  if (mqtt_) {
    mqtt_->Stop();
  }
}

void TriggerManager::Sync(const std::string& key) {
  std::lock_guard lock(mu_);
  if (!started_ || stopped_) {
    return;
  }
  // Re-read rather than trust the notification: changes of one key on two threads may be
  // reported out of order, and the table holds the latest.
  std::shared_ptr<const gateway::FunctionEntry> entry = functions_.Find(key);
  TriggerSpec spec = entry ? ParseTriggerSpec(entry->deployment.annotations) : TriggerSpec{};
  auto it = specs_.find(key);
  const TriggerSpec old = it != specs_.end() ? it->second : TriggerSpec{};
  if (spec == old) {
    return;  // the common case: a scale change, or an update that kept the annotations
  }
  if (CronOf(spec) != CronOf(old)) {
    cron_.Update(key, CronOf(spec));
  }
  if (spec.nats_subjects != old.nats_subjects || spec.async != old.async) {
    if (nats_) {
      nats_->Update(key, spec.nats_subjects, spec.async);
    } else if (!spec.nats_subjects.empty()) {
      Logf("nats: %s subscribes to \"%s\", but funcd serve runs without --nats", key.c_str(),
           spec.nats_subjects.front().c_str());
    }
  }
  if (spec.mqtt_topics != old.mqtt_topics || spec.async != old.async) {
    if (mqtt_) {
      mqtt_->Update(key, spec.mqtt_topics, spec.async);
    } else if (!spec.mqtt_topics.empty()) {
      Logf("mqtt: %s subscribes to \"%s\", but funcd serve runs without --mqtt", key.c_str(),
           spec.mqtt_topics.front().c_str());
    }
  }
  if (spec.topics.empty()) {
    specs_.erase(key);
  } else {
    specs_[key] = std::move(spec);
  }
}

}  // namespace funcd::triggers
