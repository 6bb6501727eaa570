// The options of the JetStream queue given in its URL (queue_url.h) and how they meet the
// shared stream and consumer: max_pending (queue full) and ack_wait. Against a real
// nats-server -js (tests/integration/harness.h), except the URL parsing.

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>

#include "common/asio.h"
#include "common/strings.h"
#include "queue/jetstream/jetstream_queue.h"
#include "queue/jetstream/queue_url.h"
#include "tests/integration/harness.h"

namespace funcd::queue::jetstream {
namespace {

using namespace std::chrono_literals;
using testing::NatsServer;

TEST(QueueUrlTest, TakesTheOptionsOutOfTheUrl) {
  auto plain = ParseQueueUrl("nats://127.0.0.1:4222");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->url, "nats://127.0.0.1:4222");
  EXPECT_EQ(plain->ack_wait, 30s);
  EXPECT_FALSE(plain->ack_wait_given);
  EXPECT_FALSE(plain->max_pending);

  auto both = ParseQueueUrl("nats://127.0.0.1:4222?ack_wait=5s&max_pending=100");
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->url, "nats://127.0.0.1:4222");
  EXPECT_EQ(both->ack_wait, 5s);
  EXPECT_TRUE(both->ack_wait_given);
  EXPECT_EQ(both->max_pending, 100);

  auto several = ParseQueueUrl("nats://a:1,nats://b:2?max_pending=0&ack_wait=1m30s");
  ASSERT_TRUE(several) << several.error().message;
  EXPECT_EQ(several->url, "nats://a:1,nats://b:2");
  EXPECT_EQ(several->ack_wait, 90s);
  EXPECT_EQ(several->max_pending, 0);

  auto empty_query = ParseQueueUrl("nats://h:1?");
  ASSERT_TRUE(empty_query) << empty_query.error().message;
  EXPECT_EQ(empty_query->url, "nats://h:1");
}

TEST(QueueUrlTest, RefusesUnknownOptionsAndBadValuesNamingThem) {
  const std::pair<const char*, const char*> bad[] = {
      {"nats://h:1?bogus=1", "unknown option \"bogus\""},
      {"nats://h:1?ack_wait=5s&AckWait=5s", "unknown option \"AckWait\""},
      {"nats://h:1?ack_wait=5", "ack_wait"},         // no unit
      {"nats://h:1?ack_wait=500ms", "at least 1s"},  // below the minimum
      {"nats://h:1?ack_wait=-5s", "ack_wait"},
      {"nats://h:1?ack_wait=", "ack_wait"},
      {"nats://h:1?ack_wait", "ack_wait"},
      {"nats://h:1?ack_wait=5s&ack_wait=6s", "twice"},
      {"nats://h:1?max_pending=-1", "max_pending"},
      {"nats://h:1?max_pending=ten", "max_pending"},
      {"nats://h:1?max_pending=10x", "max_pending"},
      {"nats://h:1?max_pending=", "max_pending"},
      {"nats://h:1?max_pending=99999999999999999999", "max_pending"},
      {"nats://h:1?max_pending=1&max_pending=2", "twice"},
      {"http://h:1", "nats://HOST:PORT"},
      {"nats://?ack_wait=5s", "no server"},
  };
  for (const auto& [url, why] : bad) {
    auto parsed = ParseQueueUrl(url);
    ASSERT_FALSE(parsed) << url;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_NE(parsed.error().message.find(why), std::string::npos)
        << url << ": " << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(url), std::string::npos) << parsed.error().message;
  }
}

Message Call(std::string call_id) {
  Message m;
  m.call_id = std::move(call_id);
  m.function = "fn";
  m.key = "fn.openfaas-fn";
  m.method = "POST";
  m.path = "/";
  m.headers = {{"X-Call-Id", m.call_id}};
  m.body = "hi";
  m.enqueued_at = UnixNanosNow();
  return m;
}

bool AdmitAll(std::string_view, std::size_t) { return true; }

class JetStreamOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << server_.log(); }

  // A queue on the test's server; `query` as in the queue URL ("ack_wait=2s").
  Result<std::unique_ptr<JetStreamQueue>> OpenWith(std::string_view query) {
    auto options = ParseQueueUrl(StrCat(server_.url(), "?", query));
    if (!options) {
      return options.error();
    }
    options->fetch_wait = 200ms;
    return JetStreamQueue::Open(std::move(*options));
  }

  std::unique_ptr<JetStreamQueue> Open(std::string_view query = "") {
    auto queue = OpenWith(query);
    EXPECT_TRUE(queue) << queue.error().message;
    return queue ? std::move(*queue) : nullptr;
  }

  static Result<void> Enqueue(JetStreamQueue& q, std::string call_id) {
    return RunSync(q.Enqueue(Call(std::move(call_id))));
  }

  // Takes deliveries from `q` and completes them until `count` distinct calls came, or for
  // 20 s at most (then closes `q`, which ends its Next()).
  static std::set<std::string> TakeAndComplete(JetStreamQueue& q, std::size_t count) {
    std::set<std::string> seen;
    std::mutex mu;
    std::condition_variable_any done;
    std::jthread closer([&](std::stop_token stop) {
      std::unique_lock lock(mu);
      if (!done.wait_for(lock, stop, 20s, [] { return false; })) {
        q.Close();
      }
    });
    for (bool open = true; open && seen.size() < count;) {
      std::vector<Delivery> batch = RunSync(q.Next(count, AdmitAll));
      open = !batch.empty();
      for (Delivery& d : batch) {
        seen.insert(d.message.call_id);
        q.Complete(std::move(d), Outcome{200, "", ""});
      }
    }
    closer.request_stop();
    closer.join();
    q.Flush();
    return seen;
  }

  NatsServer server_{0, NatsServer::Mode::kJetStream};
};

TEST_F(JetStreamOptionsTest, MaxPendingRefusesNewCallsUntilOneIsSettled) {
  auto q = Open("max_pending=3");
  ASSERT_TRUE(q);
  for (const char* id : {"a", "b", "c"}) {
    auto stored = Enqueue(*q, id);
    ASSERT_TRUE(stored) << stored.error().message;
  }
  auto refused = Enqueue(*q, "d");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted) << refused.error().message;
  EXPECT_NE(refused.error().message.find("full"), std::string::npos) << refused.error().message;
  // Refused calls leave no record behind.
  EXPECT_EQ(RunSync(q->Status("d")).error().code, ErrorCode::kNotFound);

  // A running call still counts; a settled one frees its place.
  auto batch = RunSync(q->Next(1, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(Enqueue(*q, "d").error().code, ErrorCode::kResourceExhausted);
  q->Complete(std::move(batch[0]), Outcome{200, "", ""});
  q->Flush();
  // The server removes the acked message from the work queue soon after the ack.
  Result<void> later = Enqueue(*q, "d");
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !later && std::chrono::steady_clock::now() < deadline; later = Enqueue(*q, "d")) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(later) << later.error().message;
}

// The number of messages in the queue's stream, read from the server.
std::int64_t StreamMessages(const std::string& url) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* info = nullptr;
  std::int64_t messages = -1;
  if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetStreamInfo(&info, js, "FUNCD_ASYNC", nullptr, nullptr) == NATS_OK) {
    messages = static_cast<std::int64_t>(info->State.Msgs);
  }
  jsStreamInfo_Destroy(info);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return messages;
}

// The limit is the shared stream's: set by one process, it applies to all. It may be raised
// or removed; lowering it is refused, because nats-server would drop the oldest stored calls
// (a limit of 2 over 5 stored messages left 2 of them).
TEST_F(JetStreamOptionsTest, MaxPendingIsSharedAndNeverLoweredOverStoredCalls) {
  auto first = Open("max_pending=3");
  ASSERT_TRUE(first);
  auto second = Open();  // no option: the stream's limit stays
  ASSERT_TRUE(second);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Enqueue(*second, StrCat("w", i)));
  }
  EXPECT_EQ(Enqueue(*second, "over").error().code, ErrorCode::kResourceExhausted);

  for (const char* lower : {"max_pending=2", "max_pending=1"}) {
    auto refused = OpenWith(lower);
    ASSERT_FALSE(refused) << lower;
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.error().message.find("has a limit of 3 calls, and funcd only raises"),
              std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find("Give max_pending=3 or more"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(StreamMessages(server_.url()), 3);

  // Raised by a third process, for all of them.
  auto raised = Open("max_pending=5");
  ASSERT_TRUE(raised);
  ASSERT_TRUE(Enqueue(*first, "w3"));
  ASSERT_TRUE(Enqueue(*second, "w4"));
  EXPECT_EQ(Enqueue(*first, "over").error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(StreamMessages(server_.url()), 5);

  // max_pending=0 removes the limit; an unlimited stream cannot be limited afterwards.
  auto lifted = Open("max_pending=0");
  ASSERT_TRUE(lifted);
  auto stored = Enqueue(*first, "w5");
  EXPECT_TRUE(stored) << stored.error().message;
  auto limiting = OpenWith("max_pending=100");
  ASSERT_FALSE(limiting);
  EXPECT_NE(limiting.error().message.find("has no limit"), std::string::npos)
      << limiting.error().message;
  EXPECT_NE(limiting.error().message.find("Give max_pending=0 or none"), std::string::npos)
      << limiting.error().message;

  const std::set<std::string> seen = TakeAndComplete(*first, 6);
  EXPECT_EQ(seen, (std::set<std::string>{"w0", "w1", "w2", "w3", "w4", "w5"}));
}

// The consumer (and its ack wait) is created by the first process and shared: a process
// given another ack_wait refuses to start; one given none adopts the consumer's, which is
// what its heartbeat must keep up with.
TEST_F(JetStreamOptionsTest, AnotherAckWaitIsRefusedAndNoneAdoptsTheConsumers) {
  auto creator = Open("ack_wait=2s");
  ASSERT_TRUE(creator);
  auto conflicting = OpenWith("ack_wait=5s");
  ASSERT_FALSE(conflicting);
  EXPECT_EQ(conflicting.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(conflicting.error().message.find("has ack_wait 2s"), std::string::npos)
      << conflicting.error().message;
  EXPECT_TRUE(OpenWith("ack_wait=2s"));  // the same value is fine

  // Adopted: with the default (30 s, "in progress" every 10 s) a delivery held for 4 s would
  // go back to the other process after 2 s; with 2 s adopted it stays.
  auto adopter = Open();
  ASSERT_TRUE(adopter);
  ASSERT_TRUE(Enqueue(*adopter, "held"));
  auto held = RunSync(adopter->Next(1, AdmitAll));
  ASSERT_EQ(held.size(), 1u);
  std::this_thread::sleep_for(4s);  // two ack waits: what is being measured
  ASSERT_TRUE(Enqueue(*creator, "marker"));
  const std::set<std::string> seen = TakeAndComplete(*creator, 1);
  EXPECT_EQ(seen, std::set<std::string>{"marker"});
  adopter->Complete(std::move(held[0]), Outcome{200, "", ""});
  adopter->Flush();
  EXPECT_EQ(RunSync(adopter->Status("held"))->state, CallState::kDone);
}

// What the refusal tells the operator to do works: with every process stopped, deleting the
// consumer lets the next process create it with its ack wait, and the waiting calls stay.
TEST_F(JetStreamOptionsTest, AfterDeletingTheConsumerANewAckWaitApplies) {
  {
    auto creator = Open("ack_wait=2s");
    ASSERT_TRUE(creator);
    ASSERT_TRUE(Enqueue(*creator, "waiting"));
  }
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  EXPECT_EQ(js_DeleteConsumer(js, "FUNCD_ASYNC", "funcd-workers", nullptr, nullptr), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  auto q = Open("ack_wait=5s");
  ASSERT_TRUE(q);
  EXPECT_TRUE(OpenWith("ack_wait=5s"));
  EXPECT_FALSE(OpenWith("ack_wait=2s"));
  EXPECT_EQ(TakeAndComplete(*q, 1), std::set<std::string>{"waiting"});
}

}  // namespace
}  // namespace funcd::queue::jetstream
