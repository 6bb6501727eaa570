#pragma once

// The gateway's Prometheus metrics (contracts §2.5, plus what funcd adds: in-flight
// requests, ready replicas and cold starts per function).

#include "common/prometheus.h"

namespace funcd::gateway {

struct GatewayMetrics {
  prometheus::Registry registry;
  prometheus::Family& invocation_total = registry.Counter(
      "gateway_function_invocation_total", "Function invocations", {"function_name", "code"});
  prometheus::Family& functions_seconds = registry.Histogram(
      "gateway_functions_seconds", "Function time taken", {"function_name", "code"});
  prometheus::Family& invocation_started = registry.Counter(
      "gateway_function_invocation_started", "Function invocations started", {"function_name"});
  prometheus::Family& inflight = registry.Gauge(
      "gateway_function_invocation_inflight", "Function invocations in flight", {"function_name"});
  prometheus::Family& service_count = registry.Gauge(
      "gateway_service_count", "Desired replicas of each function", {"function_name"});
  prometheus::Family& service_ready = registry.Gauge(
      "gateway_service_ready_count", "Ready replicas of each function", {"function_name"});
  prometheus::Family& service_target = registry.Gauge(
      "gateway_service_target", "Autoscaling target load per replica", {"function_name"});
  prometheus::Family& service_min =
      registry.Gauge("gateway_service_min", "Minimum replicas of each function", {"function_name"});
  prometheus::Family& scale_events = registry.Counter(
      "gateway_scale_events_total", "Replica count changes by cause", {"function_name", "cause"});
  prometheus::Family& cold_starts =
      registry.Counter("gateway_function_cold_starts_total",
                       "Invocations that waited for a replica to start", {"function_name"});
  prometheus::Family& queued = registry.Gauge(
      "gateway_function_queued", "Invocations waiting for a replica with room", {"function_name"});
  // Seconds from the runtime starting a replica to: its process spawned ("spawn"), it serving
  // ("ready"), the first response through it ("first_response").
  prometheus::Family& replica_start_seconds = registry.Histogram(
      "gateway_replica_start_seconds", "Replica start-up phases, from the start request",
      {"function_name", "phase"}, {.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10});
};

}  // namespace funcd::gateway
