// At-least-once delivery across crashes: calls are enqueued for a slow function while funcd
// serve is killed with SIGKILL at random moments and restarted on the same state directory,
// several times. Every call that was answered 202 must reach the callback receiver (in this
// process, so it survives the kills) at least once; duplicates are counted and reported.
//
// FUNCD_DURABILITY_CALLS overrides the number of calls (default 5000).

#include <gtest/gtest.h>

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

class AsyncDurabilityTest : public AsyncTest {
 protected:
  // Fewer workers than senders: a backlog builds up, so that kills find calls waiting on
  // disk as well as calls in flight.
  std::vector<std::string> ExtraArgs() const override { return {"--async-workers", "24"}; }
};

TEST_F(AsyncDurabilityTest, EveryAcceptedCallIsDeliveredAcrossKillNine) {
  constexpr int kKills = 4;
  constexpr std::size_t kSenders = 16;
  const std::size_t calls = CallCount();
  // Slow: 25 ms per call, so that many calls are in flight or waiting at each kill.
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("slow")));

  std::atomic<std::uint16_t> port{funcd().port()};
  std::vector<char> accepted(calls, 0);
  std::atomic<std::size_t> accepted_count{0};
  std::atomic<std::size_t> lost_replies{0};  // transport errors: stored or not, unknown
  std::atomic<std::size_t> next{0};
  std::atomic<bool> give_up{false};
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
        }
      }
    }
  };
  std::vector<std::thread> senders;
  for (std::size_t t = 0; t < kSenders; ++t) {
    senders.emplace_back(send);
  }

  // Kill at random moments: while calls are being accepted, and while they are processed.
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(200, 1500);
  for (int kill = 0; kill < kKills; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));  // fault injection
    const std::size_t before = receiver_.CallbackCount();
    port = 0;
    funcd().Kill();
    std::cout << "kill " << kill + 1 << ": " << accepted_count.load() << " accepted, " << before
              << " callbacks so far" << std::endl;
    StartFuncd(Options());
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
      << missing() << " accepted calls never called back (seed " << seed << ")";

  const auto [duplicates, failed_status] = TallyCallbacks(receiver_);
  std::cout << calls << " calls accepted, " << kKills << " kills (seed " << seed << "), "
            << receiver_.CallbackCount() << " callbacks, " << duplicates << " duplicate callbacks, "
            << lost_replies.load() << " enqueues sent again after a lost reply, " << failed_status
            << " callbacks with a status other than 200" << std::endl;
  RecordProperty("calls", static_cast<int>(calls));
  RecordProperty("duplicates", static_cast<int>(duplicates));
  // A call can only end badly if its replica was unreachable for its whole retry budget.
  EXPECT_EQ(failed_status, 0u);
}

// SIGTERM (unlike SIGKILL) lets the attempts in progress finish: they are called back once,
// settled, and not delivered again after the restart.
TEST_F(AsyncDurabilityTest, SigtermLetsRunningAttemptsFinish) {
  ASSERT_TRUE(funcd().DeployAndWait(AsyncFixture("graceful")));
  Reply call = EnqueueAsync(funcd(), StrCat("graceful/attempt?hold=1500&report=", receiver_.port()),
                            "", {{"X-Callback-Url", receiver_.Url()}});
  ASSERT_EQ(call.status, 202u);
  const std::string call_id = call.Header("X-Call-Id");
  ASSERT_TRUE(receiver_.WaitForAttempts(call_id, 1, std::chrono::seconds(20)));
  EXPECT_EQ(funcd().Stop(std::chrono::seconds(30)), 0);
  // Called back before funcd exited.
  auto callback = receiver_.WaitForCallback(call_id, std::chrono::milliseconds(100));
  ASSERT_TRUE(callback) << "the running attempt was cut off by SIGTERM";
  EXPECT_EQ(callback->function_status, 200u);

  StartFuncd(Options());
  EXPECT_EQ(StringField(CallStatusOf(funcd(), call_id), "state"), "done");
  // A call queued after the restart is called back; the first one was not attempted again.
  Reply marker = EnqueueAsync(funcd(), "graceful", "", {{"X-Callback-Url", receiver_.Url()}});
  ASSERT_EQ(marker.status, 202u);
  ASSERT_TRUE(receiver_.WaitForCallback(marker.Header("X-Call-Id"), std::chrono::seconds(20)));
  EXPECT_EQ(receiver_.Attempts(call_id).size(), 2u);  // one start, one end
  int callbacks = 0;
  for (const ReceivedCallback& received : receiver_.Callbacks()) {
    callbacks += received.call_id == call_id ? 1 : 0;
  }
  EXPECT_EQ(callbacks, 1);
}

}  // namespace
}  // namespace funcd::testing
