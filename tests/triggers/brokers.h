#pragma once

// Real message brokers for trigger tests, started by the test on free loopback ports with a
// temporary configuration (Debian's nats-server and mosquitto), plus small publishing
// clients (libnats, libmosquitto) and helpers to read funcd's trigger metrics and the fixture
// function's records.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/funcd_harness.h"
#include "tests/integration/harness.h"

namespace funcd::testing {

// mosquitto -c <temp config> listening on 127.0.0.1:<free> (or `port`), anonymous, no
// persistence.
class MosquittoBroker {
 public:
  explicit MosquittoBroker(std::uint16_t port = 0);
  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url() const;
  std::string log() const { return process_ ? process_->Log() : ""; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

// A NATS reply as the test sees it.
struct NatsReply {
  std::string data;
  std::string function_status;  // X-Function-Status header
  std::string call_id;          // X-Call-Id header
};

// Publishes one message (with headers) and flushes. Adds a test failure on errors.
void NatsPublish(const std::string& url, const std::string& subject, const std::string& data,
                 const std::vector<std::pair<std::string, std::string>>& headers = {});
// A request; nullopt (and a test failure) when no reply came within `timeout`.
std::optional<NatsReply> NatsRequest(const std::string& url, const std::string& subject,
                                     const std::string& data,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20));
// The same without a test failure, for polling.
std::optional<NatsReply> TryNatsRequest(const std::string& url, const std::string& subject,
                                        const std::string& data, std::chrono::milliseconds timeout);

// Publishes with QoS 1 and waits for the broker's PUBACK. False (and a test failure) on errors.
bool MqttPublish(std::uint16_t port, const std::string& topic, const std::string& payload);

// The sum of the samples of `metric` whose labels contain every one of `labels` (such as
// R"(function_name="tick.openfaas-fn")"), from /metrics.
double MetricSum(FuncdServer& funcd, std::string_view metric,
                 const std::vector<std::string>& labels);

// The fixture function's records (fixture_record=1), one object per request to /.
std::vector<boost::json::object> Records(FuncdServer& funcd, std::string_view function);
// Polls until `function` has recorded at least `count` requests; returns them (maybe fewer).
std::vector<boost::json::object> WaitForRecords(
    FuncdServer& funcd, std::string_view function, std::size_t count,
    std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The fixture function with recording on and `annotations`; envVars may add more.
boost::json::object RecordingFunction(std::string_view name, boost::json::object annotations,
                                      boost::json::object env = {});

// Deletes a function in the default namespace; returns the status.
unsigned DeleteFunction(FuncdServer& funcd, std::string_view name);

// Stops funcd with SIGTERM while the brokers are still up and expects a clean exit: status 0
// within 20 s and no sanitizer report in its output (the shutdown of the triggers included).
void ExpectCleanExit(FuncdServer& funcd);

}  // namespace funcd::testing
