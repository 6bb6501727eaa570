#include "tests/async/async_harness.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>

#include "common/strings.h"

namespace funcd::testing {

namespace {

asio::awaitable<void> Receive(CallbackReceiver* receiver, http::ServerExchange& ex) {
  auto body = co_await ex.ReadAll(64 << 20);
  const auto now = std::chrono::steady_clock::now();
  const std::string target(ex.head().target());
  if (target == "/attempt") {
    AttemptReport report;
    report.call_id = std::string(http::FieldValue(ex.head(), "X-Call-Id"));
    report.attempt = std::atoi(std::string(http::FieldValue(ex.head(), "X-Attempt")).c_str());
    report.phase = std::string(http::FieldValue(ex.head(), "X-Phase"));
    report.at = now;
    receiver->RecordAttempt(std::move(report));
    co_await ex.Respond(200, "noted");
    co_return;
  }
  ReceivedCallback callback;
  callback.target = target;
  callback.call_id = std::string(http::FieldValue(ex.head(), "X-Call-Id"));
  callback.function_status = static_cast<unsigned>(
      std::atoi(std::string(http::FieldValue(ex.head(), "X-Function-Status")).c_str()));
  callback.headers = static_cast<const http::Fields&>(ex.head());
  callback.body = body ? std::move(*body) : std::string();
  callback.at = now;
  const unsigned status = receiver->Record(std::move(callback));
  co_await ex.Respond(status, "received");
}

}  // namespace

CallbackReceiver::CallbackReceiver() {
  handler_ = std::make_unique<http::testing::FunctionHandler>(
      [this](http::ServerExchange& ex) { return Receive(this, ex); });
  server_ = std::make_unique<http::testing::TestServer>(*handler_);
}

CallbackReceiver::~CallbackReceiver() { server_.reset(); }

std::string CallbackReceiver::Url(std::string_view path) const {
  return StrCat("http://127.0.0.1:", port(), path);
}

void CallbackReceiver::FailNext(int count, unsigned status) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
}

unsigned CallbackReceiver::Record(ReceivedCallback callback) {
  unsigned status = 200;
  {
    std::lock_guard lock(mu_);
    if (fail_count_ > 0) {
      --fail_count_;
      status = fail_status_;
    } else {
      callbacks_.push_back(std::move(callback));  // only accepted callbacks count
    }
  }
  changed_.notify_all();
  return status;
}

void CallbackReceiver::RecordAttempt(AttemptReport report) {
  {
    std::lock_guard lock(mu_);
    attempts_.push_back(std::move(report));
  }
  changed_.notify_all();
}

std::vector<ReceivedCallback> CallbackReceiver::Callbacks() const {
  std::lock_guard lock(mu_);
  return callbacks_;
}

std::size_t CallbackReceiver::CallbackCount() const {
  std::lock_guard lock(mu_);
  return callbacks_.size();
}

std::vector<AttemptReport> CallbackReceiver::Attempts(std::string_view call_id) const {
  std::lock_guard lock(mu_);
  std::vector<AttemptReport> out;
  for (const AttemptReport& report : attempts_) {
    if (report.call_id == call_id) {
      out.push_back(report);
    }
  }
  return out;
}

bool CallbackReceiver::WaitForCallbacks(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return callbacks_.size() >= count; });
}

std::optional<ReceivedCallback> CallbackReceiver::WaitForCallback(
    std::string_view call_id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<ReceivedCallback> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const ReceivedCallback& callback : callbacks_) {
      if (callback.call_id == call_id) {
        found = callback;
        return true;
      }
    }
    return false;
  });
  return found;
}

bool CallbackReceiver::WaitForAttempts(std::string_view call_id, int count,
                                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    int started = 0;
    for (const AttemptReport& report : attempts_) {
      started += report.call_id == call_id && report.phase == "start" ? 1 : 0;
    }
    return started >= count;
  });
}

json::object AsyncFixture(std::string_view name,
                          const std::map<std::string, std::string>& annotations) {
  json::object function = FixtureFunction(name, /*direct=*/true);
  json::object& all = function["annotations"].as_object();
  for (const auto& [key, value] : annotations) {
    all[key] = value;
  }
  return function;
}

Reply EnqueueAsync(FuncdServer& funcd, std::string_view name_and_path, std::string body,
                   Headers headers) {
  return funcd.Anonymous("POST", StrCat("/async-function/", name_and_path), std::move(body),
                         std::move(headers));
}

std::vector<Reply> EnqueueMany(FuncdServer& funcd, std::size_t count, std::size_t threads,
                               const std::function<AsyncRequest(std::size_t)>& make) {
  std::vector<Reply> replies(count);
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> senders;
  for (std::size_t t = 0; t < std::max<std::size_t>(threads, 1); ++t) {
    senders.emplace_back([&] {
      for (std::size_t i = next++; i < count; i = next++) {
        AsyncRequest request = make(i);
        replies[i] = EnqueueAsync(funcd, request.name_and_path, std::move(request.body),
                                  std::move(request.headers));
      }
    });
  }
  for (std::thread& sender : senders) {
    sender.join();
  }
  return replies;
}

json::object CallStatusOf(FuncdServer& funcd, std::string_view call_id) {
  Reply reply = funcd.Api("GET", StrCat("/system/async/calls/", call_id));
  if (reply.status != 200) {
    return {};
  }
  json::value value = ParseJson(reply.body);
  return value.is_object() ? value.as_object() : json::object();
}

bool WaitForState(FuncdServer& funcd, std::string_view call_id, std::string_view state,
                  std::chrono::milliseconds timeout) {
  return Eventually([&] { return StringField(CallStatusOf(funcd, call_id), "state") == state; },
                    timeout, std::chrono::milliseconds(25));
}

double MetricValue(FuncdServer& funcd, std::string_view series) {
  Reply reply = funcd.Anonymous("GET", "/metrics");
  for (std::string_view line : Split(reply.body, '\n')) {
    if (line.starts_with(series) && line.size() > series.size() && line[series.size()] == ' ') {
      return std::atof(std::string(line.substr(series.size() + 1)).c_str());
    }
  }
  return -1;
}

std::vector<std::string> AsyncArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--retry-min-wait", "100ms",
                                   "--retry-max-wait", "1s",
                                   "--async-max-body", std::to_string(kTestMaxBody)};
  for (std::string& arg : extra) {
    args.push_back(std::move(arg));
  }
  return args;
}

void AsyncTest::SetUp() {
  const char* queue = std::getenv("FUNCD_TEST_QUEUE");
  if (queue != nullptr && std::string_view(queue) == "jetstream" && ::geteuid() == 0) {
    nats_ = std::make_unique<NatsServer>(0, NatsServer::Mode::kJetStream);
    ASSERT_TRUE(nats_->ok()) << nats_->log();
  }
  GatewayTest::SetUp();
}

void AsyncTest::TearDown() {
  funcd_.reset();
  nats_.reset();
}

FuncdOptions AsyncTest::Options() const {
  FuncdOptions options;
  std::vector<std::string> extra = ExtraArgs();
  if (nats_) {
    extra.push_back("--queue");
    extra.push_back(nats_->url());
  }
  options.extra_args = AsyncArgs(std::move(extra));
  return options;
}

std::size_t NeverCalledBack(const CallbackReceiver& receiver, const std::vector<char>& accepted,
                            std::string_view prefix) {
  std::vector<char> seen(accepted.size(), 0);
  for (const ReceivedCallback& callback : receiver.Callbacks()) {
    if (callback.call_id.starts_with(prefix)) {
      const auto i = static_cast<std::size_t>(std::atoll(callback.call_id.c_str() + prefix.size()));
      if (i < seen.size()) {
        seen[i] = 1;
      }
    }
  }
  std::size_t n = 0;
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    n += accepted[i] && !seen[i] ? 1 : 0;
  }
  return n;
}

CallbackTally TallyCallbacks(const CallbackReceiver& receiver) {
  CallbackTally tally;
  std::map<std::string, int> per_call;
  for (const ReceivedCallback& callback : receiver.Callbacks()) {
    ++per_call[callback.call_id];
    tally.failed_status += callback.function_status == 200 ? 0 : 1;
  }
  for (const auto& [call_id, count] : per_call) {
    tally.duplicates += static_cast<std::size_t>(count - 1);
  }
  return tally;
}

}  // namespace funcd::testing
