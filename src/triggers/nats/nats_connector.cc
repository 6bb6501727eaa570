#include "triggers/nats/nats_connector.h"

#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>

#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"

namespace funcd::triggers {

namespace {

struct Sink;

// A copy of one received message, owned by its delivery.
struct NatsMessage {
  std::string subject;
  std::string reply;
  std::string data;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string StatusText(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  if (const char* detail = nats_GetLastError(&last); detail != nullptr && *detail != '\0') {
    StrAppend(text, ": ", detail);
  }
  return text;
}

}  // namespace

struct NatsConnector::State {
  Dispatcher* dispatcher = nullptr;
  ExecutorPicker pick_executor;
  std::string url;
  natsConnection* connection = nullptr;  // set before the state is shared with the library
  InflightGate gate{kMaxInflightDeliveries};
  asio::thread_pool control{1};  // subscribe, unsubscribe, flush: in order, off I/O threads

  std::mutex mu;
  bool stopped = false;
  // function -> subject -> sink
  std::map<std::string, std::map<std::string, std::shared_ptr<Sink>>> functions;

  // Library subscriptions whose completion callback has not run yet.
  std::mutex live_mu;
  std::condition_variable live_cv;
  int live = 0;
};

namespace {

using State = NatsConnector::State;

// One subscription of one function.
struct Sink {
  std::shared_ptr<State> state;
  std::string function;
  std::string subject;
  std::atomic<bool> active{true};
  std::atomic<bool> async{false};
  natsSubscription* subscription = nullptr;  // on the control thread only
};

// A taken InflightGate slot, released when the delivery ends or is dropped.
class GateSlot {
 public:
  explicit GateSlot(std::shared_ptr<State> state) : state_(std::move(state)) {}
  GateSlot(GateSlot&& other) noexcept = default;
  GateSlot& operator=(GateSlot&&) = delete;
  ~GateSlot() {
    if (state_) {
      state_->gate.Release();
    }
  }

 private:
  std::shared_ptr<State> state_;
};

void PublishReply(natsConnection* connection, const std::string& reply,
                  const gateway::CallResult& result) {
  natsMsg* message = nullptr;
  natsStatus status = natsMsg_Create(&message, reply.c_str(), nullptr, result.body.data(),
                                     static_cast<int>(result.body.size()));
  if (status == NATS_OK) {
    const std::string code = std::to_string(result.status);
    natsMsgHeader_Set(message, "X-Function-Status", code.c_str());
    const std::string call_id(http::FieldValue(result.headers, "X-Call-Id"));
    if (!call_id.empty()) {
      natsMsgHeader_Set(message, "X-Call-Id", call_id.c_str());
    }
    status = natsConnection_PublishMsg(connection, message);
    natsMsg_Destroy(message);
  }
  if (status == NATS_NO_SERVER_SUPPORT) {  // a server without headers gets the body alone
    status = natsConnection_Publish(connection, reply.c_str(), result.body.data(),
                                    static_cast<int>(result.body.size()));
  }
  if (status != NATS_OK) {
    Logf("nats: cannot reply to %s: %s", reply.c_str(), StatusText(status).c_str());
  }
}

asio::awaitable<void> Deliver(std::shared_ptr<Sink> sink, NatsMessage message,
                              [[maybe_unused]] GateSlot slot) {
  if (!sink->active) {
    co_return;  // the function left the subject after the message arrived
  }
  const bool async = sink->async;
  Delivery delivery;
  delivery.function = sink->function;
  delivery.trigger = "nats";
  delivery.topic = message.subject;
  delivery.body = std::move(message.data);
  delivery.async = async;
  delivery.headers = std::move(message.headers);
  gateway::CallResult result = co_await sink->state->dispatcher->Deliver(std::move(delivery));
  if (!message.reply.empty()) {
    if (async && result.status == 202) {
      result.body.clear();
    }
    PublishReply(sink->state->connection, message.reply, result);
  }
}

// libnats thread: copy the message and hand it to an I/O thread.
void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  std::shared_ptr<Sink> sink = *static_cast<std::shared_ptr<Sink>*>(closure);
  NatsMessage message;
  message.subject = natsMsg_GetSubject(msg);
  if (const char* reply = natsMsg_GetReply(msg)) {
    message.reply = reply;
  }
  if (const char* data = natsMsg_GetData(msg)) {
    message.data.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  }
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) == NATS_OK) {
    for (int i = 0; i < key_count; ++i) {
      const char** values = nullptr;
      int value_count = 0;
      if (natsMsgHeader_Values(msg, keys[i], &values, &value_count) == NATS_OK) {
        for (int j = 0; j < value_count; ++j) {
          message.headers.emplace_back(keys[i], values[j]);
        }
        std::free(static_cast<void*>(values));
      }
    }
    std::free(static_cast<void*>(keys));
  }
  natsMsg_Destroy(msg);

  if (!sink->active || !sink->state->gate.Acquire()) {
    return;
  }
  GateSlot slot(sink->state);
  asio::any_io_executor executor = sink->state->pick_executor();
  asio::post(executor, [executor, sink = std::move(sink), message = std::move(message),
                        slot = std::move(slot)]() mutable {
    asio::co_spawn(executor, Deliver(std::move(sink), std::move(message), std::move(slot)),
                   LogExceptions{"nats trigger"});
  });
}

// libnats thread: the subscription is closed and its handler will not run again.
void OnSubscriptionComplete(void* closure) {
  auto* sink = static_cast<std::shared_ptr<Sink>*>(closure);
  std::shared_ptr<State> state = (*sink)->state;
  delete sink;
  {
    std::lock_guard lock(state->live_mu);
    --state->live;
  }
  state->live_cv.notify_all();
}

void OnError(natsConnection*, natsSubscription* subscription, natsStatus status, void*) {
  const char* subject = subscription != nullptr ? natsSubscription_GetSubject(subscription) : "";
  Logf("nats: %s%s%s", natsStatus_GetText(status), *subject != '\0' ? " on " : "",
       subject != nullptr ? subject : "");
}

// Control thread: confirms the subscriptions the server has seen (one round trip).
void ConfirmSubscriptions(const std::shared_ptr<State>& state) {
  if (natsConnection_FlushTimeout(state->connection, 5000) != NATS_OK) {
    return;  // not connected yet: the (re)connect callback confirms them later
  }
  std::lock_guard lock(state->mu);
  for (const auto& [function, subjects] : state->functions) {
    for (const auto& [subject, sink] : subjects) {
      if (sink->active) {
        state->dispatcher->SetSubscribed("nats", subject, function, true);
      }
    }
  }
}

void OnConnected(natsConnection*, void* closure) {
  std::shared_ptr<State> state = static_cast<std::weak_ptr<State>*>(closure)->lock();
  if (!state) {
    return;
  }
  Logf("nats: connected to %s", state->url.c_str());
  std::lock_guard lock(state->mu);
  if (!state->stopped) {
    asio::post(state->control, [state] { ConfirmSubscriptions(state); });
  }
}

void OnDisconnected(natsConnection*, void* closure) {
  if (auto state = static_cast<std::weak_ptr<State>*>(closure)->lock()) {
    std::lock_guard lock(state->mu);
    if (!state->stopped) {
      Logf("nats: disconnected from %s; reconnecting", state->url.c_str());
    }
  }
}

// The last callback of a connection: frees the closure the connection callbacks share.
void OnClosed(natsConnection*, void* closure) {
  delete static_cast<std::weak_ptr<State>*>(closure);
}

// Control thread.
void Subscribe(const std::shared_ptr<Sink>& sink) {
  State& state = *sink->state;
  if (!sink->active) {
    return;
  }
  auto* closure = new std::shared_ptr<Sink>(sink);
  const std::string queue = StrCat("funcd.", sink->function);
  natsSubscription* subscription = nullptr;
  natsStatus status = natsConnection_QueueSubscribe(
      &subscription, state.connection, sink->subject.c_str(), queue.c_str(), OnMessage, closure);
  if (status == NATS_OK) {
    status = natsSubscription_SetOnCompleteCB(subscription, OnSubscriptionComplete, closure);
    if (status != NATS_OK) {
      natsSubscription_Destroy(subscription);  // not yet delivering anything we free below
    }
  }
  if (status != NATS_OK) {
    delete closure;
    Logf("nats: %s cannot subscribe to \"%s\": %s", sink->function.c_str(), sink->subject.c_str(),
         StatusText(status).c_str());
    return;
  }
  {
    std::lock_guard lock(state.live_mu);
    ++state.live;
  }
  sink->subscription = subscription;
  Logf("nats: %s subscribed to \"%s\"%s", sink->function.c_str(), sink->subject.c_str(),
       sink->async ? " (async)" : "");
  if (natsConnection_FlushTimeout(state.connection, 5000) == NATS_OK && sink->active) {
    state.dispatcher->SetSubscribed("nats", sink->subject, sink->function, true);
  }
}

// Control thread.
void Unsubscribe(const std::shared_ptr<Sink>& sink) {
  if (sink->subscription == nullptr) {
    return;
  }
  natsSubscription_Unsubscribe(sink->subscription);
  natsSubscription_Destroy(sink->subscription);
  sink->subscription = nullptr;
  sink->state->dispatcher->SetSubscribed("nats", sink->subject, sink->function, false);
  Logf("nats: %s unsubscribed from \"%s\"", sink->function.c_str(), sink->subject.c_str());
}

}  // namespace

Result<void> CheckNatsUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error{ErrorCode::kInvalidArgument, StrCat("nats: bad URL \"", url, "\": ", why)};
  };
  if (TrimSpace(url).empty()) {
    return bad("empty");
  }
  for (std::string_view server : Split(url, ',')) {
    server = TrimSpace(server);
    if (const size_t scheme = server.find("://"); scheme != std::string_view::npos) {
      const std::string_view name = server.substr(0, scheme);
      if (name != "nats" && name != "tls") {
        return bad("the scheme must be nats:// or tls://");
      }
      server.remove_prefix(scheme + 3);
    }
    if (const size_t at = server.rfind('@'); at != std::string_view::npos) {
      server.remove_prefix(at + 1);
    }
    if (!server.empty() && server.back() == '/') {
      server.remove_suffix(1);
    }
    std::string_view host = server;
    std::string_view port;
    bool has_port = false;
    if (server.starts_with('[')) {
      const size_t close = server.find(']');
      if (close == std::string_view::npos) {
        return bad("unclosed [");
      }
      host = server.substr(1, close - 1);
      const std::string_view rest = server.substr(close + 1);
      if (!rest.empty() && !rest.starts_with(':')) {
        return bad("text after the host");
      }
      has_port = !rest.empty();
      port = has_port ? rest.substr(1) : rest;
    } else if (const size_t colon = server.rfind(':'); colon != std::string_view::npos) {
      host = server.substr(0, colon);
      port = server.substr(colon + 1);
      has_port = true;
    }
    if (host.empty() || host.find_first_of(" \t/?#") != std::string_view::npos) {
      return bad("no host, or spaces or a path in it");
    }
    if (has_port) {
      auto number = ParseUint(port);
      if (!number || *number == 0 || *number > 65535) {
        return bad("the port must be 1-65535");
      }
    }
  }
  return Ok();
}

Result<std::unique_ptr<NatsConnector>> NatsConnector::Connect(const std::string& url,
                                                              Dispatcher& dispatcher,
                                                              ExecutorPicker pick_executor) {
  FUNCD_RETURN_IF_ERROR(CheckNatsUrl(url));
  // libnats is opened here, not at start-up (common/libnats.h).
  if (auto loaded = libnats.Load(); !loaded) {
    return Error{loaded.error().code, StrCat("nats: ", loaded.error().message)};
  }
  auto state = std::make_shared<State>();
  state->dispatcher = &dispatcher;
  state->pick_executor = std::move(pick_executor);
  state->url = url;

  natsOptions* options = nullptr;
  if (natsOptions_Create(&options) != NATS_OK) {
    return Error{ErrorCode::kInternal, "nats: cannot create options"};
  }
  auto* closure = new std::weak_ptr<State>(state);
  natsStatus status = natsOptions_SetURL(options, url.c_str());
  if (status == NATS_OK) {
    status = natsOptions_SetName(options, "funcd-triggers");
  }
  if (status == NATS_OK) {
    status = natsOptions_SetMaxReconnect(options, -1);  // forever
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectWait(options, 1000);
  }
  if (status == NATS_OK) {
    status = natsOptions_UseGlobalMessageDelivery(options, true);  // no thread per subscription
  }
  if (status == NATS_OK) {
    status = natsOptions_SetRetryOnFailedConnect(options, true, OnConnected, closure);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectedCB(options, OnConnected, closure);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetDisconnectedCB(options, OnDisconnected, closure);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetClosedCB(options, OnClosed, closure);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetErrorHandler(options, OnError, nullptr);
  }
  if (status != NATS_OK) {
    natsOptions_Destroy(options);
    delete closure;
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("nats: bad URL \"", url, "\": ", StatusText(status))};
  }
  status = natsConnection_Connect(&state->connection, options);
  natsOptions_Destroy(options);
  if (status == NATS_NOT_YET_CONNECTED) {
    Logf("nats: %s does not answer yet; connecting in the background", url.c_str());
  } else if (status != NATS_OK) {
    if (state->connection == nullptr) {
      delete closure;
    }
    return Error{ErrorCode::kUnavailable,
                 StrCat("nats: cannot connect to ", url, ": ", StatusText(status))};
  } else {
    Logf("nats: connected to %s", url.c_str());
  }
  return std::unique_ptr<NatsConnector>(new NatsConnector(std::move(state)));
}

NatsConnector::NatsConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

NatsConnector::~NatsConnector() {
  Stop();
  natsConnection_Destroy(state_->connection);
}

void NatsConnector::Update(const std::string& function, const std::vector<std::string>& topics,
                           bool async) {
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return;
  }
  auto& subjects = state_->functions[function];
  for (auto it = subjects.begin(); it != subjects.end();) {
    if (std::find(topics.begin(), topics.end(), it->first) == topics.end()) {
      it->second->active = false;  // from now on its messages are dropped
      asio::post(state_->control, [sink = it->second] { Unsubscribe(sink); });
      it = subjects.erase(it);
    } else {
      it->second->async = async;
      ++it;
    }
  }
  for (const std::string& subject : topics) {
    if (subjects.contains(subject)) {
      continue;
    }
    auto sink = std::make_shared<Sink>();
    sink->state = state_;
    sink->function = function;
    sink->subject = subject;
    sink->async = async;
    subjects.emplace(subject, sink);
    asio::post(state_->control, [sink] { Subscribe(sink); });
  }
  if (subjects.empty()) {
    state_->functions.erase(function);
  }
}

void NatsConnector::Stop() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) {
      return;
    }
    state_->stopped = true;
    for (auto& [function, subjects] : state_->functions) {
      for (auto& [subject, sink] : subjects) {
        sink->active = false;
        asio::post(state_->control, [sink = sink] { Unsubscribe(sink); });
      }
    }
    state_->functions.clear();
  }
  state_->gate.Close();  // library threads waiting for a slot give up
  state_->control.join();
  // Every handler has returned once every subscription completed.
  std::unique_lock lock(state_->live_mu);
  if (!state_->live_cv.wait_for(lock, std::chrono::seconds(10),
                                [&] { return state_->live == 0; })) {
    Logf("nats: %d subscription(s) did not close in time", state_->live);
  }
  lock.unlock();
  natsConnection_Close(state_->connection);
}

}  // namespace funcd::triggers
