#pragma once

// MQTT triggers (libmosquitto, MQTT 3.1.1): functions with `topic: mqtt:FILTER` (wildcards +
// and #) are called with each message's payload as the body; X-Topic is the topic the
// message was published on. Subscriptions are QoS 1. A message matching several filters of
// one function calls it once.
//
// The session is clean (clean_session=true, a fresh client id per start): messages published
// while funcd is not connected are not delivered later. libmosquitto acknowledges a QoS 1
// message when it is received, before the function runs.
//
// libmosquitto runs one network thread: its callbacks only copy the message and post the
// call to an I/O executor. Subscribing and unsubscribing only queue packets, so Update never
// blocks on the network. After Stop() no message is handed on and no callback runs.
// Thread-safe.

#include <memory>
#include <string>

#include "common/result.h"
#include "triggers/connector.h"
#include "triggers/dispatcher.h"

namespace funcd::triggers {

class MqttConnector final : public Connector {
 public:
  // Connects to `url` ("mqtt://[user[:password]@]host[:port]", port 1883 by default; tcp://
  // works too), retrying in the background while the broker does not answer.
  // Errors: kInvalidArgument (a bad URL), kUnavailable.
  // REQUIRES: `dispatcher` and the executors outlive the connector.
  static Result<std::unique_ptr<MqttConnector>> Connect(const std::string& url,
                                                        Dispatcher& dispatcher,
                                                        ExecutorPicker pick_executor);
  ~MqttConnector() override;

  void Update(const std::string& function, const std::vector<std::string>& topics,
              bool async) override;
  void Stop() override;

  struct State;

 private:
  explicit MqttConnector(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// The parts of an MQTT URL. Errors: kInvalidArgument.
struct MqttUrl {
  std::string host;
  int port = 1883;
  std::string user;
  std::string password;
};
Result<MqttUrl> ParseMqttUrl(std::string_view url);

}  // namespace funcd::triggers
