// Shutting the JetStream queue down when its nats-server is gone (kill -9): settlements still
// queued must not hold the destructor for libnats' request timeouts one after another.

#include <gtest/gtest.h>

#include <cstdio>

#include "common/asio.h"
#include "common/strings.h"
#include "queue/jetstream/jetstream_queue.h"
#include "tests/integration/harness.h"

namespace funcd::queue::jetstream {
namespace {

using namespace std::chrono_literals;
using testing::NatsServer;

bool AdmitAll(std::string_view, std::size_t) { return true; }

Message Call(std::string call_id) {
  Message m;
  m.call_id = std::move(call_id);
  m.function = "fn";
  m.key = "fn.openfaas-fn";
  m.method = "POST";
  m.path = "/";
  m.headers = {{"X-Call-Id", m.call_id}};
  m.enqueued_at = UnixNanosNow();
  return m;
}

// Enqueues `count` calls ("<prefix><i>") and takes every one of them, as running attempts;
// none (and a test failure) if an enqueue fails.
std::vector<Delivery> EnqueueAndTake(JetStreamQueue& q, std::string_view prefix,
                                     std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    auto stored = RunSync(q.Enqueue(Call(StrCat(prefix, i))));
    if (!stored) {
      ADD_FAILURE() << stored.error().message;
      return {};
    }
  }
  std::vector<Delivery> taken;
  while (taken.size() < count) {
    for (Delivery& d : RunSync(q.Next(count, AdmitAll))) {
      taken.push_back(std::move(d));
    }
  }
  return taken;
}

TEST(JetStreamShutdownTest, ShutdownIsBoundedWhenTheServerIsGone) {
  NatsServer server(0, NatsServer::Mode::kJetStream);
  ASSERT_TRUE(server.ok()) << server.log();
  JetStreamOptions options;
  options.url = server.url();
  options.fetch_wait = 200ms;
  options.threads = 8;  // few threads: many settlements queue behind each other
  auto opened = JetStreamQueue::Open(options);
  ASSERT_TRUE(opened) << opened.error().message;
  std::unique_ptr<JetStreamQueue> q = std::move(*opened);

  // More calls in flight than threads, as a busy funcd has at shutdown.
  constexpr std::size_t kCalls = 64;
  std::vector<Delivery> taken = EnqueueAndTake(*q, "s", kCalls);
  ASSERT_FALSE(HasFailure());

  server.Kill();
  // Each settlement is a record read and write: with the server gone, each waits for
  // libnats' timeout (5 s); 64 on 8 threads would take a minute or more one after another.
  for (Delivery& d : taken) {
    q->Complete(std::move(d), Outcome{200, "", ""});
  }
  const auto start = std::chrono::steady_clock::now();
  q.reset();
  const auto took = std::chrono::steady_clock::now() - start;
  std::printf("shutdown without a server took %.2f s\n",
              std::chrono::duration<double>(took).count());
  // 81 s before the bound (3 s of grace, then the connection is closed).
  EXPECT_LT(took, 10s);
}

// With the server gone, an enqueue is refused once its record's pub ack is overdue (5 s) and
// the delete that follows has timed out, even while many attempts run here: the heartbeat,
// which gives up on overdue pub acks, also reads the records of running attempts, each read
// waiting for libnats' timeout.
TEST(JetStreamShutdownTest, AnEnqueueIsRefusedInTimeWhileManyAttemptsRunWithoutAServer) {
  NatsServer server(0, NatsServer::Mode::kJetStream);
  ASSERT_TRUE(server.ok()) << server.log();
  JetStreamOptions options;
  options.url = server.url();
  options.fetch_wait = 200ms;
  auto opened = JetStreamQueue::Open(options);
  ASSERT_TRUE(opened) << opened.error().message;
  std::unique_ptr<JetStreamQueue> q = std::move(*opened);
  constexpr std::size_t kCalls = 16;
  std::vector<Delivery> taken = EnqueueAndTake(*q, "r", kCalls);
  ASSERT_FALSE(HasFailure());
  server.Kill();
  const auto start = std::chrono::steady_clock::now();
  auto refused = RunSync(q->Enqueue(Call("during")));
  const auto took = std::chrono::steady_clock::now() - start;
  std::printf("enqueue refused after %.2f s with %zu attempts running\n",
              std::chrono::duration<double>(took).count(), kCalls);
  EXPECT_FALSE(refused);
  // The pub ack's 5 s (swept every second), then the delete's 5 s request timeout.
  EXPECT_LT(took, 15s);
  for (Delivery& d : taken) {
    q->Release(std::move(d));
  }
}

}  // namespace
}  // namespace funcd::queue::jetstream
