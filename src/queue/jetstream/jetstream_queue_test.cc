#include "queue/jetstream/jetstream_queue.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "common/asio.h"
#include "common/strings.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {
namespace {

using namespace std::chrono_literals;

std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// A real `nats-server -js` on a free loopback port with a store of its own; stopped (by its
// pid) when the test ends, and killed with the test process if that dies first.
class NatsServer {
 public:
  NatsServer() {
    char tmpl[] = "/tmp/funcd-js-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      const std::uint16_t port = FreePort();
      const std::string port_arg = std::to_string(port);
      const std::string log = dir_ + "/server.log";
      pid_ = ::fork();
      if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE* out = ::freopen(log.c_str(), "a", stderr);
        (void)out;
        ::execl("/usr/sbin/nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p",
                port_arg.c_str(), "-sd", dir_.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      for (auto deadline = std::chrono::steady_clock::now() + 10s;
           std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
        if (Accepts(port)) {
          port_ = port;
          break;
        }
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;  // lost the port to someone else: try another
          break;
        }
      }
    }
  }
  ~NatsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  std::string url() const { return StrCat("nats://127.0.0.1:", port_); }
  bool ok() const { return port_ != 0; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
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

class JetStreamQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()) << "nats-server did not start"; }

  std::unique_ptr<JetStreamQueue> Open() {
    JetStreamOptions options;
    options.url = server_.url();
    options.fetch_wait = 200ms;
    auto queue = JetStreamQueue::Open(options);
    EXPECT_TRUE(queue) << queue.error().message;
    return queue ? std::move(*queue) : nullptr;
  }

  static void Enqueue(JetStreamQueue& q, Message m) {
    auto done = RunSync(q.Enqueue(std::move(m)));
    ASSERT_TRUE(done) << done.error().message;
  }

  static CallStatus StatusOf(JetStreamQueue& q, const std::string& id) {
    auto status = RunSync(q.Status(id));
    EXPECT_TRUE(status) << status.error().message;
    return status ? *status : CallStatus{};
  }

  NatsServer server_;
};

TEST(JetStreamRecordsTest, RoundTripsAndRejectsGarbage) {
  CallStatus s;
  s.call_id = "a:b\n1";
  s.function = "fn.ns";
  s.state = CallState::kRetrying;
  s.attempts = 3;
  s.enqueued_at = 1;
  s.updated_at = 2;
  s.next_attempt_at = 3;
  s.last_status = 503;
  s.last_error = "12:34 weird\0bytes";
  auto back = DecodeCallRecord(EncodeCallRecord(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->call_id, s.call_id);
  EXPECT_EQ(back->state, CallState::kRetrying);
  EXPECT_EQ(back->attempts, 3);
  EXPECT_EQ(back->last_status, 503u);
  EXPECT_EQ(back->last_error, s.last_error);
  const std::string record = EncodeCallRecord(s);
  for (std::size_t cut = 0; cut < record.size(); ++cut) {
    EXPECT_FALSE(DecodeCallRecord(record.substr(0, cut))) << cut;
  }
  EXPECT_FALSE(DecodeCallRecord("999999999999999999999:x"));
  DeadLetter dead;
  dead.status = s;
  dead.last_body = "oops";
  dead.message = Call("c1");
  auto dead_back = DecodeDeadRecord(EncodeDeadRecord(dead), true);
  ASSERT_TRUE(dead_back) << dead_back.error().message;
  EXPECT_EQ(dead_back->message, dead.message);
  EXPECT_EQ(dead_back->last_body, "oops");
  EXPECT_EQ(CallKey("a.b"), "c612e62");
}

TEST_F(JetStreamQueueTest, DeliversWhatWasEnqueuedAndCompletes) {
  auto q = Open();
  ASSERT_TRUE(q);
  Message sent = Call("c1", "fn.openfaas-fn", std::string(100000, 'b'));
  Enqueue(*q, sent);
  EXPECT_EQ(StatusOf(*q, "c1").state, CallState::kQueued);
  auto batch = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].attempt, 0);
  EXPECT_EQ(batch[0].message, sent);
  EXPECT_EQ(StatusOf(*q, "c1").state, CallState::kRunning);
  EXPECT_FALSE(q->Cancelled(batch[0]));
  q->Complete(std::move(batch[0]), Outcome{201, "", ""});
  q->Flush();
  CallStatus done = StatusOf(*q, "c1");
  EXPECT_EQ(done.state, CallState::kDone);
  EXPECT_EQ(done.attempts, 1);
  EXPECT_EQ(done.last_status, 201u);
  EXPECT_EQ(RunSync(q->Status("nope")).error().code, ErrorCode::kNotFound);
}

TEST_F(JetStreamQueueTest, RetriesAfterTheDelayWithTheAttemptCounted) {
  auto q = Open();
  ASSERT_TRUE(q);
  Enqueue(*q, Call("r1"));
  auto first = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(first.size(), 1u);
  const auto retried_at = std::chrono::steady_clock::now();
  q->Retry(std::move(first[0]), 1500ms, Outcome{503, "busy", ""});
  q->Flush();
  CallStatus retrying = StatusOf(*q, "r1");
  EXPECT_EQ(retrying.state, CallState::kRetrying);
  EXPECT_EQ(retrying.attempts, 1);
  EXPECT_EQ(retrying.last_status, 503u);
  EXPECT_GT(retrying.next_attempt_at, UnixNanosNow());
  auto second = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - retried_at, 1400ms);
  EXPECT_EQ(second[0].attempt, 1);
  EXPECT_EQ(second[0].message.call_id, "r1");
  // Given back without counting: the next delivery has the same attempt number.
  q->Release(std::move(second[0]));
  auto third = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].attempt, 1);
  q->Complete(std::move(third[0]), Outcome{200, "", ""});
  q->Flush();
  EXPECT_EQ(StatusOf(*q, "r1").attempts, 2);
}

TEST_F(JetStreamQueueTest, BuriesListsRedrivesAndPurgesDeadLetters) {
  auto q = Open();
  ASSERT_TRUE(q);
  Enqueue(*q, Call("d1", "fn.openfaas-fn", "request body"));
  Enqueue(*q, Call("d2", "other.openfaas-fn"));
  std::vector<Delivery> batch;
  while (batch.size() < 2) {
    for (Delivery& d : RunSync(q->Next(10, AdmitAll))) {
      batch.push_back(std::move(d));
    }
  }
  for (Delivery& d : batch) {
    q->Bury(std::move(d), Outcome{500, "boom", "last body"});
  }
  q->Flush();
  auto dead = RunSync(q->ListDead({}));
  ASSERT_TRUE(dead) << dead.error().message;
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ(StatusOf(*q, "d1").state, CallState::kDead);
  auto one = RunSync(q->GetDead("d1"));
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->message.body, "request body");
  EXPECT_EQ(one->last_body, "last body");
  EXPECT_EQ(one->status.last_status, 500u);
  EXPECT_EQ(one->status.attempts, 1);
  EXPECT_EQ(RunSync(q->GetDead("zzz")).error().code, ErrorCode::kNotFound);

  DeadFilter only_d1;
  only_d1.call_id = "d1";
  auto redriven = RunSync(q->Redrive(only_d1));
  ASSERT_TRUE(redriven) << redriven.error().message;
  EXPECT_EQ(*redriven, 1u);
  auto again = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message.call_id, "d1");
  EXPECT_EQ(again[0].attempt, 0);  // a fresh attempt budget
  EXPECT_EQ(again[0].message.body, "request body");
  q->Complete(std::move(again[0]), Outcome{200, "", ""});
  q->Flush();
  EXPECT_EQ(StatusOf(*q, "d1").state, CallState::kDone);

  auto purged = RunSync(q->Purge({}));
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1u);
  auto none = RunSync(q->ListDead({}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(RunSync(q->Status("d2")).error().code, ErrorCode::kNotFound);
}

TEST_F(JetStreamQueueTest, CancelsQueuedAndRunningCalls) {
  auto q = Open();
  ASSERT_TRUE(q);
  Enqueue(*q, Call("x1"));
  auto before = RunSync(q->Cancel("x1"));
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(*before, CallState::kQueued);
  EXPECT_EQ(StatusOf(*q, "x1").state, CallState::kCancelled);
  EXPECT_EQ(RunSync(q->Cancel("x1")).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(RunSync(q->Cancel("none")).error().code, ErrorCode::kNotFound);

  Enqueue(*q, Call("x2"));
  auto batch = RunSync(q->Next(10, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);  // x1 was dropped at fetch
  EXPECT_EQ(batch[0].message.call_id, "x2");
  auto running = RunSync(q->Cancel("x2"));
  ASSERT_TRUE(running) << running.error().message;
  EXPECT_EQ(*running, CallState::kRunning);
  EXPECT_TRUE(q->Cancelled(batch[0]));
  EXPECT_FALSE(q->Finishing(batch[0]));
  q->Complete(std::move(batch[0]), Outcome{200, "", ""});
  q->Flush();
  EXPECT_EQ(StatusOf(*q, "x2").state, CallState::kCancelled);
}

TEST_F(JetStreamQueueTest, ACancelThroughAnotherQueueWinsOverTheResult) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  Enqueue(*a, Call("xb"));
  auto batch = RunSync(a->Next(10, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);
  auto before = RunSync(b->Cancel("xb"));
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(*before, CallState::kRunning);
  // Completed (most likely) before a's heartbeat saw the cancellation: the final record is
  // written compare-and-set against the running one, which fails, and it stays cancelled.
  a->Complete(std::move(batch[0]), Outcome{200, "", ""});
  a->Flush();
  EXPECT_EQ(StatusOf(*b, "xb").state, CallState::kCancelled);
  EXPECT_EQ(StatusOf(*a, "xb").state, CallState::kCancelled);

  // The same for an attempt that asks for a retry: it is not retried.
  Enqueue(*a, Call("xr"));
  batch = RunSync(a->Next(10, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_TRUE(RunSync(b->Cancel("xr")));
  a->Retry(std::move(batch[0]), 0ms, Outcome{503, "busy", ""});
  a->Flush();
  EXPECT_EQ(StatusOf(*b, "xr").state, CallState::kCancelled);
}

TEST_F(JetStreamQueueTest, CallsRefusedForTheirFunctionsLimitDoNotHoldUpOthers) {
  auto q = Open();
  ASSERT_TRUE(q);
  // More calls of a full function than are fetched ahead, then one of another function.
  for (int i = 0; i < 200; ++i) {
    Enqueue(*q, Call(StrCat("full", i), "full.ns"));
  }
  Enqueue(*q, Call("other", "other.ns"));
  auto refuse_full = [](std::string_view key, std::size_t) { return key != "full.ns"; };
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 300 && !done.load(); ++i) {
      std::this_thread::sleep_for(100ms);
    }
    q->Close();  // Next() returns empty if it is still waiting
  });
  auto batch = RunSync(q->Next(10, refuse_full));
  done = true;
  watchdog.join();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.call_id, "other");
}

TEST_F(JetStreamQueueTest, TwoQueuesShareTheStreamAndEachCallIsDeliveredOnce) {
  auto producer = Open();
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(producer && a && b);
  constexpr int kCalls = 300;
  for (int i = 0; i < kCalls; ++i) {
    Enqueue(*producer, Call(StrCat("s", i), i % 2 == 0 ? "even.ns" : "odd.ns"));
  }
  std::mutex mu;
  std::map<std::string, int> seen;
  std::atomic<int> total{0};
  std::atomic<int> by_a{0};
  auto consume = [&](JetStreamQueue& q, std::atomic<int>* mine) {
    while (total.load() < kCalls) {
      auto batch = RunSync(q.Next(8, AdmitAll));
      for (Delivery& d : batch) {
        {
          std::lock_guard lock(mu);
          ++seen[d.message.call_id];
        }
        if (mine != nullptr) {
          ++*mine;
        }
        q.Complete(std::move(d), Outcome{200, "", ""});
        ++total;
      }
      if (batch.empty()) {
        return;  // closed
      }
    }
  };
  std::thread ta([&] { consume(*a, &by_a); });
  std::thread tb([&] { consume(*b, nullptr); });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (total.load() < kCalls && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  // A little longer: a duplicate would show up now.
  std::this_thread::sleep_for(500ms);
  a->Close();
  b->Close();
  ta.join();
  tb.join();
  EXPECT_EQ(static_cast<int>(seen.size()), kCalls);
  for (const auto& [id, count] : seen) {
    EXPECT_EQ(count, 1) << id;
  }
  EXPECT_EQ(total.load(), kCalls);
  RecordProperty("delivered_by_a", by_a.load());
}

TEST_F(JetStreamQueueTest, RefusesARequestLargerThanTheServerTakes) {
  auto q = Open();
  ASSERT_TRUE(q);
  // nats-server's default max_payload is 1 MB.
  auto refused = RunSync(q->Enqueue(Call("big", "fn.openfaas-fn", std::string(2 << 20, 'x'))));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("max_payload"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(RunSync(q->Status("big")).error().code, ErrorCode::kNotFound);
}

// Not a test on its own: the child process of ADeliveryLostWithItsProcessComesBack. Takes
// one delivery, says so on stdout, and hangs until it is killed.
TEST(JetStreamChildProcess, TakeOneAndHang) {
  const char* url = std::getenv("FUNCD_JS_CHILD_URL");
  if (url == nullptr) {
    GTEST_SKIP() << "runs only as a child process of another test";
  }
  JetStreamOptions options;
  options.url = url;
  options.ack_wait = 2s;
  options.fetch_wait = 200ms;
  auto q = JetStreamQueue::Open(options);
  if (!q) {
    ::_exit(2);
  }
  auto batch = RunSync((*q)->Next(1, AdmitAll));
  if (batch.empty()) {
    ::_exit(3);
  }
  std::printf("\ntaken %s\n", batch[0].message.call_id.c_str());
  std::fflush(stdout);
  for (;;) {
    ::pause();
  }
}

TEST_F(JetStreamQueueTest, ADeliveryLostWithItsProcessComesBackAfterTheAckWait) {
  JetStreamOptions options;
  options.url = server_.url();
  options.ack_wait = 2s;  // the consumer is created here, with this ack wait
  options.fetch_wait = 200ms;
  auto opened = JetStreamQueue::Open(options);
  ASSERT_TRUE(opened) << opened.error().message;
  JetStreamQueue& q = **opened;
  Enqueue(q, Call("orphan"));

  // Another process takes it and dies (kill -9) in the middle of the attempt.
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const std::string env_url = StrCat("FUNCD_JS_CHILD_URL=", server_.url());
  char* const argv[] = {const_cast<char*>("jetstream_queue_test"),
                        const_cast<char*>("--gtest_filter=JetStreamChildProcess.TakeOneAndHang"),
                        nullptr};
  char* const envp[] = {const_cast<char*>(env_url.c_str()), nullptr};
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::execve("/proc/self/exe", argv, envp);
    ::_exit(127);
  }
  ::close(out[1]);
  std::string said;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (said.find("taken orphan") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{out[0], POLLIN, 0};
    if (::poll(&pfd, 1, 100) > 0) {
      char buffer[512];
      const ssize_t n = ::read(out[0], buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      said.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(out[0]);
  const bool taken = said.find("taken orphan") != std::string::npos;
  if (taken) {
    EXPECT_EQ(StatusOf(q, "orphan").state, CallState::kRunning);
    // Longer than the ack wait: the child's "in progress" keeps the delivery its own.
    std::this_thread::sleep_for(3s);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(taken) << "the child process said:\n" << said;

  const auto killed_at = std::chrono::steady_clock::now();
  auto batch = RunSync(q.Next(10, AdmitAll));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.call_id, "orphan");
  EXPECT_EQ(batch[0].attempt, 0);  // the lost attempt does not count
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 20s);
  q.Complete(std::move(batch[0]), Outcome{200, "", ""});
  q.Flush();
  CallStatus done = StatusOf(q, "orphan");
  EXPECT_EQ(done.state, CallState::kDone);
  EXPECT_EQ(done.attempts, 1);
}

TEST_F(JetStreamQueueTest, RefusesABadUrlAndAnAbsentServer) {
  JetStreamOptions options;
  options.url = "http://127.0.0.1:1";
  EXPECT_EQ(JetStreamQueue::Open(options).error().code, ErrorCode::kInvalidArgument);
  options.url = StrCat("nats://127.0.0.1:", FreePort());
  EXPECT_EQ(JetStreamQueue::Open(options).error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace funcd::queue::jetstream
