#include "gateway/autoscaler.h"

#include "common/config.h"
#include "common/strings.h"
#include "provider/log_store.h"

namespace funcd::gateway {

Autoscaler::Autoscaler(FunctionTable& functions, provider::Provider& provider,
                       GatewayMetrics& metrics, ScaleTo scale_to,
                       std::chrono::milliseconds interval)
    : functions_(functions),
      provider_(provider),
      metrics_(metrics),
      scale_to_(std::move(scale_to)),
      interval_(interval) {}

asio::awaitable<void> Autoscaler::Run() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval_);
    auto [ec] = co_await timer.async_wait(kUseAwaitableNoThrow);
    if (ec) {
      co_return;
    }
    Tick(Clock::now());
  }
}

double Autoscaler::Load(const FunctionEntry& entry, State& state, Clock::time_point now,
                        double seconds) {
  switch (entry.policy.type) {
    case ScaleType::kRps: {
      const std::uint64_t started = entry.stats->started_total.load();
      const double rate =
          seconds > 0 ? static_cast<double>(started - state.started) / seconds : 0.0;
      state.started = started;
      return rate;
    }
    case ScaleType::kCapacity:
      // Calls in flight, including those waiting for a replica with room.
      return static_cast<double>(std::max<std::int64_t>(entry.stats->inflight.load(), 0));
    case ScaleType::kCpu: {
      const double cpu = provider_.CpuSeconds(entry.ref);
      const double used = cpu >= state.cpu_seconds ? cpu - state.cpu_seconds : 0.0;
      state.cpu_seconds = cpu;
      return seconds > 0 ? used / seconds * 1000.0 : 0.0;  // millicores
    }
  }
  (void)now;
  return 0;
}

void Autoscaler::Saturated(const FunctionEntry& entry, std::int64_t demand, Clock::time_point now) {
  const ScalingPolicy& policy = entry.policy;
  if (!policy.autoscaling() || entry.desired <= 0) {
    return;
  }
  const std::int64_t target = std::clamp(demand, policy.min, policy.max);
  std::lock_guard lock(mu_);
  states_[entry.key].wanted.emplace_back(now, target);
  if (target > entry.desired) {
    scale_to_(entry, target,
              StrCat(entry.replicas->waiting(), " calls waiting for a replica with room"));
  }
}

void Autoscaler::ScaledByHand(const FunctionEntry& entry, std::int64_t replicas,
                              Clock::time_point now) {
  std::lock_guard lock(mu_);
  states_[entry.key].wanted.emplace_back(now, replicas);
}

void Autoscaler::Tick(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::map<std::string, State> next;
  for (const auto& entry : functions_.List("")) {
    const ScalingPolicy& policy = entry->policy;
    State& state = next[entry->key] = std::move(states_[entry->key]);
    const bool first = state.at == Clock::time_point{};
    const double seconds = first ? 0.0 : std::chrono::duration<double>(now - state.at).count();
    const double load = Load(*entry, state, now, seconds);
    state.at = now;
    metrics_.service_target.WithLabels({entry->key}).Set(policy.target);
    metrics_.service_min.WithLabels({entry->key}).Set(static_cast<double>(policy.min));
    if (first || !policy.autoscaling() || entry->desired <= 0) {
      continue;  // no rate yet, autoscaling off, or scaled to zero (calls bring it back)
    }
    // Calls waiting for room are load whatever the policy's type.
    std::int64_t wanted = std::max(DesiredReplicas(policy, load), entry->replicas->Demand());
    // Idle functions that opted in go to zero.
    const std::int64_t idle_nanos = provider::UnixNanos() - entry->stats->last_invoked.load();
    if (policy.zero && entry->stats->inflight.load() == 0 &&
        idle_nanos >= policy.zero_duration.count()) {
      scale_to_(*entry, 0,
                StrCat("idle for ", FormatGoDuration(std::chrono::nanoseconds(idle_nanos))));
      state.wanted.clear();
      continue;
    }
    // Down only to the highest count wanted over the window.
    state.wanted.emplace_back(now, wanted);
    while (!state.wanted.empty() && now - state.wanted.front().first > policy.down_window) {
      state.wanted.pop_front();
    }
    std::int64_t target = wanted;
    if (wanted < entry->desired) {
      for (const auto& [at, count] : state.wanted) {
        target = std::max(target, count);
      }
    }
    target = std::clamp(target, policy.min, policy.max);
    if (target != entry->desired) {
      const char* unit = policy.type == ScaleType::kRps        ? "req/s"
                         : policy.type == ScaleType::kCapacity ? "in flight"
                                                               : "millicores";
      scale_to_(*entry, target,
                StrCat("load ", static_cast<std::int64_t>(load * 10) / 10, ".",
                       static_cast<std::int64_t>(load * 10) % 10, " ", unit, ", target ",
                       static_cast<std::int64_t>(policy.target), " per replica"));
    }
  }
  states_ = std::move(next);  // forget removed functions
}

}  // namespace funcd::gateway
