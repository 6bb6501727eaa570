#include "queue/sqlite/sqlite_queue.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/asio.h"
#include "common/strings.h"

namespace funcd::queue::sqlite {
namespace {

using namespace std::chrono_literals;

class QueueFile {
 public:
  QueueFile() {
    char tmpl[] = "/tmp/funcd-queue-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~QueueFile() { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_ + "/queue.db"; }

 private:
  std::string dir_;
};

Message Call(std::string call_id, std::string key = "fn.openfaas-fn", std::string body = "hi") {
  Message m;
  m.call_id = std::move(call_id);
  m.function = key.substr(0, key.find('.'));
  m.key = std::move(key);
  m.method = "POST";
  m.path = "/";
  m.headers = {{"X-Call-Id", m.call_id}};
  m.body = std::move(body);
  m.enqueued_at = UnixNanosNow();
  return m;
}

bool AdmitAll(std::string_view, std::size_t) { return true; }

std::unique_ptr<SqliteQueue> OpenQueue(const QueueFile& file, SqliteQueueOptions options = {}) {
  auto queue = SqliteQueue::Open(file.path(), options);
  EXPECT_TRUE(queue) << queue.error().message;
  return queue ? std::move(*queue) : nullptr;
}

void EnqueueAll(SqliteQueue& q, std::vector<Message> messages) {
  for (Message& m : messages) {
    auto done = RunSync(q.Enqueue(std::move(m)));
    ASSERT_TRUE(done) << done.error().message;
  }
}

std::vector<Delivery> NextBatch(SqliteQueue& q, std::size_t max = 100, AdmitFn admit = AdmitAll) {
  return RunSync(q.Next(max, std::move(admit)));
}

CallStatus StatusOf(SqliteQueue& q, const std::string& id) {
  auto status = RunSync(q.Status(id));
  EXPECT_TRUE(status) << status.error().message;
  return status ? *status : CallStatus{};
}

TEST(SqliteQueueTest, DeliversWhatWasEnqueuedWithTheWholeRequest) {
  QueueFile file;
  auto q = OpenQueue(file);
  Message sent = Call("c1", "fn.openfaas-fn", std::string(100000, 'b'));
  EnqueueAll(*q, {sent});
  EXPECT_EQ(StatusOf(*q, "c1").state, CallState::kQueued);
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].attempt, 0);
  EXPECT_EQ(batch[0].message, sent);
  EXPECT_EQ(StatusOf(*q, "c1").state, CallState::kRunning);
  q->Complete(std::move(batch[0]), Outcome{200, "", ""});
  q->Flush();
  CallStatus done = StatusOf(*q, "c1");
  EXPECT_EQ(done.state, CallState::kDone);
  EXPECT_EQ(done.last_status, 200u);
  EXPECT_EQ(done.attempts, 1);
  EXPECT_TRUE(q->Depths().empty());
}

TEST(SqliteQueueTest, UnknownCallIsNotFound) {
  QueueFile file;
  auto q = OpenQueue(file);
  auto status = RunSync(q->Status("nope"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
}

TEST(SqliteQueueTest, ReadsRequestsBackFromDiskWhenTheCacheIsFull) {
  QueueFile file;
  SqliteQueueOptions options;
  options.cache_bytes = 0;  // nothing stays in memory
  auto q = OpenQueue(file, options);
  std::vector<Message> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(Call(StrCat("c", i), "fn.openfaas-fn", std::string(1000 + i, 'x')));
  }
  EnqueueAll(*q, sent);
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(batch[i].message, sent[i]);
  }
}

TEST(SqliteQueueTest, RetryWaitsForItsDelayAndCountsTheAttempt) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("r1")});
  auto first = NextBatch(*q);
  ASSERT_EQ(first.size(), 1u);
  const auto retried_at = std::chrono::steady_clock::now();
  q->Retry(std::move(first[0]), 300ms, Outcome{503, "unavailable", "busy"});
  q->Flush();
  CallStatus retrying = StatusOf(*q, "r1");
  EXPECT_EQ(retrying.state, CallState::kRetrying);
  EXPECT_EQ(retrying.attempts, 1);
  EXPECT_EQ(retrying.last_status, 503u);
  EXPECT_GT(retrying.next_attempt_at, UnixNanosNow());
  auto second = NextBatch(*q);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - retried_at, 300ms);
  EXPECT_EQ(second[0].attempt, 1);
  EXPECT_EQ(second[0].message.body, "hi");  // read back from disk: the worker took the body
}

TEST(SqliteQueueTest, BuriedCallsAreListedRedrivenAndPurged) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("d1", "a.ns", "one"), Call("d2", "b.ns", "two")});
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 2u);
  for (Delivery& d : batch) {
    d.attempt = 2;  // its third attempt
    q->Bury(std::move(d), Outcome{500, "function failed", "stack trace"});
  }
  q->Flush();
  auto dead = RunSync(q->ListDead(DeadFilter{}));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[0].status.call_id, "d1");
  EXPECT_EQ((*dead)[0].status.attempts, 3);
  EXPECT_EQ((*dead)[0].status.last_status, 500u);
  EXPECT_EQ((*dead)[0].last_body, "stack trace");
  EXPECT_EQ((*dead)[0].message.path, "/");
  EXPECT_TRUE((*dead)[0].message.body.empty());  // listing leaves bodies out
  EXPECT_EQ(StatusOf(*q, "d1").state, CallState::kDead);

  auto one = RunSync(q->GetDead("d2"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->message.body, "two");
  DeadFilter by_function;
  by_function.function = "b.ns";
  auto only_b = RunSync(q->ListDead(by_function));
  ASSERT_TRUE(only_b);
  ASSERT_EQ(only_b->size(), 1u);

  DeadFilter d1;
  d1.call_id = "d1";
  auto redriven = RunSync(q->Redrive(d1));
  ASSERT_TRUE(redriven);
  EXPECT_EQ(*redriven, 1u);
  auto again = NextBatch(*q);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message.call_id, "d1");
  EXPECT_EQ(again[0].attempt, 0);  // a fresh budget
  EXPECT_EQ(again[0].message.body, "one");

  auto purged = RunSync(q->Purge(DeadFilter{}));
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  auto none = RunSync(q->ListDead(DeadFilter{}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(RunSync(q->GetDead("d2")).error().code, ErrorCode::kNotFound);
}

TEST(SqliteQueueTest, CancelRemovesAQueuedCall) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("x1"), Call("x2")});
  auto before = RunSync(q->Cancel("x1"));
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, CallState::kQueued);
  EXPECT_EQ(StatusOf(*q, "x1").state, CallState::kCancelled);
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.call_id, "x2");
  auto twice = RunSync(q->Cancel("x1"));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(RunSync(q->Cancel("missing")).error().code, ErrorCode::kNotFound);
}

TEST(SqliteQueueTest, CancelWhileRunningDiscardsTheResult) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("run1")});
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_FALSE(q->Cancelled(batch[0]));
  auto before = RunSync(q->Cancel("run1"));
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, CallState::kRunning);
  EXPECT_TRUE(q->Cancelled(batch[0]));
  q->Retry(std::move(batch[0]), 0ms, Outcome{500, "", ""});  // not retried after all
  q->Flush();
  EXPECT_EQ(StatusOf(*q, "run1").state, CallState::kCancelled);
  EXPECT_TRUE(q->Depths().empty());
}

TEST(SqliteQueueTest, AFinishingCallCannotBeCancelled) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("fin1"), Call("fin2")});
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 2u);
  ASSERT_TRUE(RunSync(q->Cancel("fin2")));  // cancelled first: Finishing says discard
  EXPECT_FALSE(q->Finishing(batch[1]));
  EXPECT_TRUE(q->Finishing(batch[0]));
  auto refused = RunSync(q->Cancel("fin1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  q->Complete(std::move(batch[0]), Outcome{200, "", ""});
  q->Complete(std::move(batch[1]), Outcome{200, "", ""});
  q->Flush();
  EXPECT_EQ(StatusOf(*q, "fin1").state, CallState::kDone);
  EXPECT_EQ(StatusOf(*q, "fin2").state, CallState::kCancelled);
}

TEST(SqliteQueueTest, PendingAndRunningCallsSurviveARestart) {
  QueueFile file;
  {
    auto q = OpenQueue(file);
    EnqueueAll(*q, {Call("p1"), Call("p2"), Call("p3")});
    auto batch = NextBatch(*q, 2);
    ASSERT_EQ(batch.size(), 2u);
    q->Complete(std::move(batch[0]), Outcome{200, "", ""});
    // batch[1] is "running" when the process goes away: it must come back.
  }
  auto q = OpenQueue(file);
  auto batch = NextBatch(*q);
  std::set<std::string> ids;
  for (const Delivery& d : batch) {
    ids.insert(d.message.call_id);
    EXPECT_EQ(d.message.body, "hi");
  }
  EXPECT_EQ(ids, (std::set<std::string>{"p2", "p3"}));
  EXPECT_EQ(StatusOf(*q, "p1").state, CallState::kDone);
}

TEST(SqliteQueueTest, ASecondProcessCannotOpenTheSameFile) {
  QueueFile file;
  auto q = OpenQueue(file);
  auto second = SqliteQueue::Open(file.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
}

TEST(SqliteQueueTest, AdmitLimitsAFunctionAndRoundRobinServesTheOthers) {
  QueueFile file;
  auto q = OpenQueue(file);
  std::vector<Message> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(Call(StrCat("a", i), "a.ns"));
  }
  calls.push_back(Call("b0", "b.ns"));
  calls.push_back(Call("c0", "c.ns"));
  EnqueueAll(*q, calls);
  // At most two of "a" at a time; the others unlimited.
  auto admit = [](std::string_view key, std::size_t taken) { return key != "a.ns" || taken < 2; };
  auto batch = NextBatch(*q, 100, admit);
  std::multiset<std::string> keys;
  for (const Delivery& d : batch) {
    keys.insert(d.message.key);
  }
  EXPECT_EQ(keys.count("a.ns"), 2u);
  EXPECT_EQ(keys.count("b.ns"), 1u);
  EXPECT_EQ(keys.count("c.ns"), 1u);
  // Depth per function.
  for (const FunctionDepth& depth : q->Depths()) {
    if (depth.function == "a.ns") {
      EXPECT_EQ(depth.waiting, 4);
      EXPECT_EQ(depth.running, 2);
    }
  }
  // A batch of three from one function with a fourth function waiting: one each first.
  QueueFile file2;
  auto q2 = OpenQueue(file2);
  EnqueueAll(*q2, {Call("a", "a.ns"), Call("a2", "a.ns"), Call("b", "b.ns"), Call("c", "c.ns")});
  auto three = NextBatch(*q2, 3);
  std::set<std::string> first_keys;
  for (const Delivery& d : three) {
    first_keys.insert(d.message.key);
  }
  EXPECT_EQ(first_keys, (std::set<std::string>{"a.ns", "b.ns", "c.ns"}));
}

TEST(SqliteQueueTest, ReleaseGivesTheCallBackWithoutAnAttempt) {
  QueueFile file;
  auto q = OpenQueue(file);
  EnqueueAll(*q, {Call("rel")});
  auto batch = NextBatch(*q);
  ASSERT_EQ(batch.size(), 1u);
  q->Release(std::move(batch[0]));
  auto again = NextBatch(*q);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 0);
  EXPECT_EQ(again[0].message.body, "hi");
}

TEST(SqliteQueueTest, NextWaitsForAnEnqueueFromAnotherThread) {
  QueueFile file;
  auto q = OpenQueue(file);
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    EnqueueAll(*q, {Call("late")});
  });
  auto batch = NextBatch(*q);
  producer.join();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.call_id, "late");
}

TEST(SqliteQueueTest, CloseEndsAWaitingNext) {
  QueueFile file;
  auto q = OpenQueue(file);
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    q->Close();
  });
  auto batch = NextBatch(*q);
  closer.join();
  EXPECT_TRUE(batch.empty());
}

// Concurrent enqueues share commits: 400 calls from 4 threads with 50 coroutines each.
asio::awaitable<void> EnqueueMany(SqliteQueue& q, int thread, int first, int count,
                                  std::atomic<int>& failures) {
  for (int i = first; i < first + count; ++i) {
    auto done = co_await q.Enqueue(Call(StrCat("t", thread, "-", i)));
    if (!done) {
      failures.fetch_add(1);
    }
  }
}

TEST(SqliteQueueTest, ConcurrentEnqueuesAreAllDurable) {
  QueueFile file;
  std::atomic<int> failures{0};
  {
    auto q = OpenQueue(file);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        asio::io_context context;
        for (int c = 0; c < 50; ++c) {
          asio::co_spawn(context, EnqueueMany(*q, t, c * 2, 2, failures), asio::detached);
        }
        context.run();
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }
  EXPECT_EQ(failures.load(), 0);
  auto q = OpenQueue(file);
  auto batch = NextBatch(*q, 1000);
  EXPECT_EQ(batch.size(), 400u);
}

TEST(SqliteQueueTest, FullQueueRejectsEnqueue) {
  QueueFile file;
  SqliteQueueOptions options;
  options.max_pending = 2;
  auto q = OpenQueue(file, options);
  EnqueueAll(*q, {Call("f1"), Call("f2")});
  auto third = RunSync(q->Enqueue(Call("f3")));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace funcd::queue::sqlite
