#include "triggers/mqtt/mqtt_connector.h"

#include <map>
#include <mutex>
#include <set>

#include "common/libmosquitto.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/uuid.h"
#include "http/message.h"

namespace funcd::triggers {

struct MqttConnector::State {
  Dispatcher* dispatcher = nullptr;
  ExecutorPicker pick_executor;
  std::string url;
  mosquitto* client = nullptr;
  std::weak_ptr<State> self;  // for deliveries, which keep the state alive
  InflightGate gate{kMaxInflightDeliveries};

  std::mutex mu;
  bool stopped = false;
  bool connected = false;
  std::map<std::string, std::map<std::string, bool>> filters;  // filter -> function -> async
  std::map<std::string, std::set<std::string>> functions;      // function -> filters
  std::map<int, std::string> pending;                          // SUBSCRIBE message id -> filter
  std::set<std::string> confirmed;                             // filters the broker granted
};

namespace {

using State = MqttConnector::State;

constexpr int kQos = 1;
constexpr int kKeepAliveSeconds = 30;

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

// REQUIRES: state.mu held.
void SubscribeLocked(State& state, const std::string& filter) {
  if (!state.connected) {
    return;  // subscribed when the connection comes up
  }
  int mid = 0;
  // With the network thread running, this only queues the packet: no callback runs here.
  const int rc = mosquitto_subscribe(state.client, &mid, filter.c_str(), kQos);
  if (rc != MOSQ_ERR_SUCCESS) {
    Logf("mqtt: cannot subscribe to \"%s\": %s", filter.c_str(), mosquitto_strerror(rc));
    return;
  }
  state.pending[mid] = filter;
}

// REQUIRES: state.mu held.
void UnsubscribeLocked(State& state, const std::string& filter) {
  state.confirmed.erase(filter);
  if (state.connected) {
    mosquitto_unsubscribe(state.client, nullptr, filter.c_str());
  }
}

asio::awaitable<void> Deliver(std::shared_ptr<State> state, std::string function, bool async,
                              std::string topic, std::string payload,
                              [[maybe_unused]] GateSlot slot) {
  {
    // The function may have left the topic since the message arrived.
    std::lock_guard lock(state->mu);
    auto it = state->functions.find(function);
    if (state->stopped || it == state->functions.end()) {
      co_return;
    }
  }
  Delivery delivery;
  delivery.function = std::move(function);
  delivery.trigger = "mqtt";
  delivery.topic = std::move(topic);
  delivery.body = std::move(payload);
  delivery.async = async;
  co_await state->dispatcher->Deliver(std::move(delivery));
}

// Library callbacks, on libmosquitto's network thread. `user` is the State, which outlives
// the thread (Stop joins it).

void OnConnect(mosquitto*, void* user, int rc) {
  State& state = *static_cast<State*>(user);
  if (rc != 0) {
    Logf("mqtt: %s refused the connection: %s", state.url.c_str(), mosquitto_connack_string(rc));
    return;
  }
  std::lock_guard lock(state.mu);
  Logf("mqtt: connected to %s", state.url.c_str());
  state.connected = true;
  state.pending.clear();
  state.confirmed.clear();
  for (const auto& [filter, functions] : state.filters) {
    SubscribeLocked(state, filter);
  }
}

void OnDisconnect(mosquitto*, void* user, int rc) {
  State& state = *static_cast<State*>(user);
  std::lock_guard lock(state.mu);
  state.connected = false;
  if (!state.stopped && rc != 0) {
    Logf("mqtt: disconnected from %s (%s); reconnecting", state.url.c_str(),
         mosquitto_strerror(rc));
  }
}

void OnSubscribe(mosquitto*, void* user, int mid, int count, const int* granted) {
  State& state = *static_cast<State*>(user);
  std::lock_guard lock(state.mu);
  auto it = state.pending.find(mid);
  if (it == state.pending.end()) {
    return;
  }
  const std::string filter = std::move(it->second);
  state.pending.erase(it);
  if (count < 1 || granted[0] > 2) {
    Logf("mqtt: the broker refused the subscription to \"%s\"", filter.c_str());
    return;
  }
  state.confirmed.insert(filter);
  if (auto f = state.filters.find(filter); f != state.filters.end()) {
    for (const auto& [function, async] : f->second) {
      state.dispatcher->SetSubscribed("mqtt", filter, function, true);
    }
  }
}

void OnMessage(mosquitto*, void* user, const mosquitto_message* message) {
  auto* raw = static_cast<State*>(user);
  std::shared_ptr<State> state;
  std::map<std::string, bool> targets;  // function -> async, each once
  {
    std::lock_guard lock(raw->mu);
    if (raw->stopped) {
      return;
    }
    for (const auto& [filter, functions] : raw->filters) {
      bool match = false;
      if (mosquitto_topic_matches_sub(filter.c_str(), message->topic, &match) == MOSQ_ERR_SUCCESS &&
          match) {
        targets.insert(functions.begin(), functions.end());
      }
    }
    if (!targets.empty()) {
      state = raw->self.lock();
    }
  }
  if (!state) {
    return;
  }
  const std::string payload(static_cast<const char*>(message->payload),
                            static_cast<size_t>(message->payloadlen));
  for (const auto& [function, async] : targets) {
    if (!state->gate.Acquire()) {
      return;
    }
    GateSlot slot(state);
    asio::any_io_executor executor = state->pick_executor();
    asio::post(executor, [executor, state, function = function, async = async,
                          topic = std::string(message->topic), payload = payload,
                          slot = std::move(slot)]() mutable {
      asio::co_spawn(executor,
                     Deliver(std::move(state), std::move(function), async, std::move(topic),
                             std::move(payload), std::move(slot)),
                     LogExceptions{"mqtt trigger"});
    });
  }
}

}  // namespace

Result<MqttUrl> ParseMqttUrl(std::string_view url) {
  MqttUrl out;
  std::string_view rest = url;
  if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("tcp://")) {
    rest.remove_prefix(6);
  } else {
    return Error{
        ErrorCode::kInvalidArgument,
        StrCat("mqtt: \"", url, "\" is not an mqtt://host:port URL (TLS is not supported)")};
  }
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    rest = rest.substr(0, slash);
  }
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = http::PercentDecode(userinfo.substr(0, colon));
    auto password = colon == std::string_view::npos
                        ? std::optional<std::string>("")
                        : http::PercentDecode(userinfo.substr(colon + 1));
    if (!user || !password) {
      return Error{ErrorCode::kInvalidArgument, "mqtt: bad user or password in the URL"};
    }
    out.user = std::move(*user);
    out.password = std::move(*password);
  }
  std::string_view host = rest;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Error{ErrorCode::kInvalidArgument, StrCat("mqtt: bad host in \"", url, "\"")};
    }
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return Error{ErrorCode::kInvalidArgument, StrCat("mqtt: bad host in \"", url, "\"")};
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    rest.remove_prefix(colon);
  } else {
    rest = "";
  }
  if (rest.starts_with(':')) {
    auto port = ParseUint(rest.substr(1));
    if (!port || *port == 0 || *port > 65535) {
      return Error{ErrorCode::kInvalidArgument, StrCat("mqtt: bad port in \"", url, "\"")};
    }
    out.port = static_cast<int>(*port);
  }
  if (host.empty()) {
    return Error{ErrorCode::kInvalidArgument, StrCat("mqtt: no host in \"", url, "\"")};
  }
  out.host = std::string(host);
  return out;
}

Result<std::unique_ptr<MqttConnector>> MqttConnector::Connect(const std::string& url,
                                                              Dispatcher& dispatcher,
                                                              ExecutorPicker pick_executor) {
  FUNCD_ASSIGN_OR_RETURN(MqttUrl parsed, ParseMqttUrl(url));
  // libmosquitto is opened here, not at start-up (common/libmosquitto.h).
  if (auto loaded = libmosquitto.Load(); !loaded) {
    return Error{loaded.error().code, StrCat("mqtt: ", loaded.error().message)};
  }
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });  // process-wide, never undone

  auto state = std::make_shared<State>();
  state->self = state;
  state->dispatcher = &dispatcher;
  state->pick_executor = std::move(pick_executor);
  state->url = StrCat(parsed.host, ":", parsed.port);
  const std::string client_id = "funcd-" + NewUuid().substr(0, 18);
  state->client = mosquitto_new(client_id.c_str(), /*clean_session=*/true, state.get());
  if (state->client == nullptr) {
    return Error{ErrorCode::kInternal, "mqtt: cannot create a client"};
  }
  std::unique_ptr<MqttConnector> connector(new MqttConnector(state));
  mosquitto_connect_callback_set(state->client, OnConnect);
  mosquitto_disconnect_callback_set(state->client, OnDisconnect);
  mosquitto_subscribe_callback_set(state->client, OnSubscribe);
  mosquitto_message_callback_set(state->client, OnMessage);
  mosquitto_reconnect_delay_set(state->client, 1, 5, true);
  if (!parsed.user.empty()) {
    mosquitto_username_pw_set(state->client, parsed.user.c_str(),
                              parsed.password.empty() ? nullptr : parsed.password.c_str());
  }
  int rc =
      mosquitto_connect_async(state->client, parsed.host.c_str(), parsed.port, kKeepAliveSeconds);
  if (rc != MOSQ_ERR_SUCCESS) {
    // The network thread keeps trying (a broker that is not up yet), unless the address
    // itself is bad.
    if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_EAI) {
      return Error{ErrorCode::kInvalidArgument,
                   StrCat("mqtt: cannot connect to ", state->url, ": ", mosquitto_strerror(rc))};
    }
    Logf("mqtt: %s does not answer yet (%s); connecting in the background", state->url.c_str(),
         mosquitto_strerror(rc));
  }
  rc = mosquitto_loop_start(state->client);
  if (rc != MOSQ_ERR_SUCCESS) {
    return Error{ErrorCode::kUnavailable,
                 StrCat("mqtt: cannot start the network thread: ", mosquitto_strerror(rc))};
  }
  return connector;
}

MqttConnector::MqttConnector(std::shared_ptr<State> state) : state_(std::move(state)) {}

MqttConnector::~MqttConnector() {
  Stop();
  mosquitto_destroy(state_->client);
}

void MqttConnector::Update(const std::string& function, const std::vector<std::string>& topics,
                           bool async) {
  State& state = *state_;
  std::lock_guard lock(state.mu);
  if (state.stopped) {
    return;
  }
  std::set<std::string>& mine = state.functions[function];
  for (auto it = mine.begin(); it != mine.end();) {
    const std::string& filter = *it;
    if (std::find(topics.begin(), topics.end(), filter) != topics.end()) {
      state.filters[filter][function] = async;
      ++it;
      continue;
    }
    auto f = state.filters.find(filter);
    f->second.erase(function);
    state.dispatcher->SetSubscribed("mqtt", filter, function, false);
    Logf("mqtt: %s unsubscribed from \"%s\"", function.c_str(), filter.c_str());
    if (f->second.empty()) {
      state.filters.erase(f);
      UnsubscribeLocked(state, filter);
    }
    it = mine.erase(it);
  }
  for (const std::string& filter : topics) {
    if (mine.contains(filter)) {
      continue;
    }
    if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS) {
      Logf("mqtt: %s: \"%s\" is not a valid topic filter", function.c_str(), filter.c_str());
      continue;
    }
    mine.insert(filter);
    auto [f, added] = state.filters.try_emplace(filter);
    f->second[function] = async;
    Logf("mqtt: %s subscribed to \"%s\"%s", function.c_str(), filter.c_str(),
         async ? " (async)" : "");
    if (added) {
      SubscribeLocked(state, filter);
    } else if (state.confirmed.contains(filter)) {
      state.dispatcher->SetSubscribed("mqtt", filter, function, true);
    }
  }
  if (mine.empty()) {
    state.functions.erase(function);
  }
}

void MqttConnector::Stop() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) {
      return;
    }
    state_->stopped = true;
    state_->filters.clear();
    state_->functions.clear();
  }
  state_->gate.Close();  // the network thread must not wait for a slot while we join it
  mosquitto_disconnect(state_->client);
  mosquitto_loop_stop(state_->client, /*force=*/false);
}

}  // namespace funcd::triggers
