// At-least-once delivery across crashes with the JetStream queue (--queue nats://): calls are
// enqueued for a slow function while funcd serve is killed with SIGKILL at random moments and
// restarted, several times, and then nats-server itself is killed with SIGKILL and restarted
// on the same port and store. Every call that was answered 202 must reach the callback
// receiver (in this process, so it survives the kills) at least once; duplicates are counted
// and reported. The queue URL's ack_wait=2s brings the calls that were in flight in a killed
// funcd back quickly.
//
// FUNCD_DURABILITY_CALLS overrides the number of calls (default 5000).

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "common/strings.h"
#include "tests/async/async_harness.h"

namespace funcd::testing {
namespace {

std::size_t CallCount() {
  const char* value = std::getenv("FUNCD_DURABILITY_CALLS");
  const int n = value != nullptr ? std::atoi(value) : 0;
  return n > 0 ? static_cast<std::size_t>(n) : 5000;
}

class AsyncJetStreamDurabilityTest : public AsyncTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
    }
    nats_ = std::make_unique<NatsServer>(0, NatsServer::Mode::kJetStream);
    ASSERT_TRUE(nats_->ok()) << nats_->log();
    GatewayTest::SetUp();
  }

  // Fewer workers than senders: a backlog builds up, so that kills find calls waiting in the
  // stream as well as calls in flight.
  FuncdOptions Options() const override {
    FuncdOptions options;
    options.extra_args =
        AsyncArgs({"--async-workers", "24", "--queue", StrCat(nats_->url(), "?ack_wait=2s")});
    return options;
  }
};

TEST_F(AsyncJetStreamDurabilityTest, EveryAcceptedCallIsDeliveredAcrossKillNine) {
  constexpr int kFuncdKills = 4;
  constexpr std::size_t kSenders = 6;  // acceptance spread over several kills
  const std::size_t calls = CallCount();
  const auto started = std::chrono::steady_clock::now();
  // Slow: 25 ms per call, so that many calls are in flight or waiting at each kill.
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("slow")));

  std::atomic<std::uint16_t> port{funcd().port()};
  std::vector<char> accepted(calls, 0);
  std::atomic<std::size_t> accepted_count{0};
  std::atomic<std::size_t> lost_replies{0};  // transport errors: stored or not, unknown
  std::atomic<std::size_t> refusals{0};      // answered, not 202 (nats-server away: 500)
  std::atomic<std::size_t> next{0};
  std::atomic<bool> give_up{false};  // set when the test ends early
  auto send = [&] {
    for (std::size_t i = next++; i < calls && !give_up; i = next++) {
      while (!give_up) {
        const std::uint16_t target = port.load();
        if (target == 0) {  // funcd is down: wait for the restart
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        auto reply =
            TryCall(target, "POST", "/async-function/slow/slow?ms=25", "",
                    {{"X-Call-Id", StrCat("durable-", i)}, {"X-Callback-Url", receiver_.Url()}},
                    std::chrono::seconds(10));
        if (reply && reply->status == 202) {
          accepted[i] = 1;
          ++accepted_count;
          break;
        }
        if (!reply) {
          ++lost_replies;  // killed mid-request: send again with the same call id
        } else {
          ++refusals;  // not stored (or not known to be): send again, same call id
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    }
  };
  std::vector<std::thread> senders;
  // Joins the senders however the test ends (an ASSERT returns early).
  struct JoinOnExit {
    std::vector<std::thread>& threads;
    std::atomic<bool>& give_up;
    ~JoinOnExit() {
      give_up = true;
      for (std::thread& thread : threads) {
        if (thread.joinable()) {
          thread.join();
        }
      }
    }
  } join_on_exit{senders, give_up};
  for (std::size_t t = 0; t < kSenders; ++t) {
    senders.emplace_back(send);
  }

  // Kill at random moments: while calls are being accepted, and while they are processed.
  // funcd, nats-server (funcd stays up and reconnects), funcd three times more.
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(200, 1500);
  for (int kill = 0; kill <= kFuncdKills; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));  // fault injection
    const std::size_t before = receiver_.CallbackCount();
    if (kill == 1) {
      nats_->Kill();
      std::cout << "kill -9 nats-server: " << accepted_count.load() << " accepted, " << before
                << " callbacks so far" << std::endl;
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));  // server away
      ASSERT_TRUE(nats_->Restart());
      continue;
    }
    port = 0;
    funcd().Kill();
    std::cout << "kill -9 funcd: " << accepted_count.load() << " accepted, " << before
              << " callbacks so far" << std::endl;
    StartFuncd(Options());
    ASSERT_TRUE(funcd().ok());
    port = funcd().port();
  }
  for (std::thread& sender : senders) {
    sender.join();
  }
  ASSERT_EQ(accepted_count.load(), calls);

  // Every accepted call id is called back at least once.
  auto missing = [&] { return NeverCalledBack(receiver_, accepted, "durable-"); };
  EXPECT_TRUE(Eventually([&] { return missing() == 0; }, std::chrono::seconds(90),
                         std::chrono::milliseconds(200)))
      << missing() << " accepted calls never called back (seed " << seed << ")\n"
      << "funcd:\n"
      << funcd().process().Log().substr(0, 20000);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);

  const auto [duplicates, failed_status] = TallyCallbacks(receiver_);
  std::cout << calls << " calls accepted, " << kFuncdKills
            << " kills of funcd and 1 of nats-server (seed " << seed << "), "
            << receiver_.CallbackCount() << " callbacks, " << duplicates << " duplicate callbacks, "
            << lost_replies.load() << " enqueues sent again after a lost reply, " << refusals.load()
            << " after a refusal, " << failed_status
            << " callbacks with a status other than 200; all called back after " << seconds.count()
            << " s" << std::endl;
  RecordProperty("calls", static_cast<int>(calls));
  RecordProperty("duplicates", static_cast<int>(duplicates));
  // A call can only end badly if its replica was unreachable for its whole retry budget.
  EXPECT_EQ(failed_status, 0u);
}

}  // namespace
}  // namespace funcd::testing
