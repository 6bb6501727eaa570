#pragma once

// NATS triggers: functions with `topic: nats:SUBJECT` (wildcards * and > allowed) are called
// with each message's payload as the body and its NATS headers as HTTP headers; X-Topic is
// the subject the message was published on. A request (a message with a reply subject) gets
// the function's response as the reply, with X-Function-Status and X-Call-Id headers (an
// async function answers at once: empty body, X-Function-Status 202).
//
// Each function subscribes in the queue group "funcd.<name.namespace>", so several funcd
// gateways on one NATS deliver each message once per function. Delivery is at most once
// (core NATS): a message that arrives while no funcd is subscribed is gone.
//
// libnats runs its own threads: its callbacks only copy the message and post the call to an
// I/O executor. Subscribing and unsubscribing run on a control thread of this connector.
// After Stop() no message is handed on; after destruction no library callback runs into it.
// Thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "triggers/connector.h"
#include "triggers/dispatcher.h"

namespace funcd::triggers {

class NatsConnector final : public Connector {
 public:
  // Connects to `url` ("nats://host:4222", several separated by commas). When no server
  // answers yet it keeps trying in the background. Errors: kInvalidArgument (a bad URL),
  // kUnavailable.
  // REQUIRES: `dispatcher` and the executors outlive the connector.
  static Result<std::unique_ptr<NatsConnector>> Connect(const std::string& url,
                                                        Dispatcher& dispatcher,
                                                        ExecutorPicker pick_executor);
  ~NatsConnector() override;

  void Update(const std::string& function, const std::vector<std::string>& topics,
              bool async) override;
  void Stop() override;

  struct State;

 private:
  explicit NatsConnector(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Checks a --nats value before libnats sees it (libnats accepts almost anything and only
// fails to connect later): one or more comma-separated [nats://|tls://][user[:pass]@]host[:port].
// Errors: kInvalidArgument, saying what is wrong.
Result<void> CheckNatsUrl(std::string_view url);

}  // namespace funcd::triggers
