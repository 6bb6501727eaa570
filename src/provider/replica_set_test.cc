#include "provider/replica_set.h"

#include <gtest/gtest.h>

#include <thread>

namespace funcd::provider {
namespace {

std::shared_ptr<Replica> MakeReplica(std::uint64_t id, std::int64_t max_inflight = 0) {
  return std::make_shared<Replica>(
      id, http::Endpoint(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 1000 + id)),
      "fn-" + std::to_string(id), max_inflight);
}

TEST(ReplicaSetTest, PicksTheLeastLoadedReplica) {
  ReplicaSet set;
  EXPECT_EQ(set.Acquire(), nullptr);
  set.Add(MakeReplica(1));
  set.Add(MakeReplica(2));
  auto a = set.Acquire();
  auto b = set.Acquire();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id, b->id);  // the second call goes to the idle replica
  set.Release(a);
  auto c = set.Acquire();
  EXPECT_EQ(c->id, a->id);
  EXPECT_EQ(set.inflight(), 2);
}

TEST(ReplicaSetTest, RespectsMaxInflight) {
  ReplicaSet set;
  set.Add(MakeReplica(1, /*max_inflight=*/1));
  auto a = set.Acquire();
  ASSERT_TRUE(a);
  EXPECT_EQ(set.Acquire(), nullptr);
  set.Release(a);
  EXPECT_NE(set.Acquire(), nullptr);
}

TEST(ReplicaSetTest, AnUnreachableReplicaIsPassedOverForItsPeriod) {
  ReplicaSet set;
  set.Add(MakeReplica(1));
  set.Add(MakeReplica(2));
  auto first = set.Acquire();
  ASSERT_EQ(first->id, 1u);
  set.Release(first);
  set.MarkUnreachable(*first, std::chrono::milliseconds(50));
  for (int i = 0; i < 3; ++i) {
    auto other = set.Acquire();
    ASSERT_TRUE(other);
    EXPECT_EQ(other->id, 2u);
    set.Release(other);
  }
  set.MarkUnreachable(*set.List()[1], std::chrono::milliseconds(50));
  EXPECT_EQ(set.Acquire(), nullptr);  // both passed over: none to give
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  auto again = set.Acquire();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, 1u);  // its period is over
}

TEST(ReplicaSetTest, RemovedReplicaTakesNoMoreRequests) {
  ReplicaSet set;
  set.Add(MakeReplica(1));
  EXPECT_NE(set.Remove(1), nullptr);
  EXPECT_EQ(set.Remove(1), nullptr);
  EXPECT_EQ(set.Acquire(), nullptr);
  EXPECT_EQ(set.size(), 0u);
}

TEST(ReplicaSetTest, DemandCountsWaitingCallsAgainstCappedReplicas) {
  asio::io_context context;
  ReplicaSet set;
  EXPECT_EQ(set.Demand(), 0);
  set.Add(MakeReplica(1, /*max_inflight=*/2));
  auto a = set.Acquire();
  auto b = set.Acquire();
  EXPECT_EQ(set.Demand(), 1);  // full, nobody waiting
  std::vector<std::shared_ptr<Wakeup>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(Wakeup::Create(context.get_executor()));
    set.AddWaiter(waiters.back());
  }
  EXPECT_EQ(set.Demand(), 3);  // 2 in flight + 3 waiting, 2 per replica
  set.Add(MakeReplica(2));     // uncapped: always room
  EXPECT_EQ(set.Demand(), 0);
  set.Release(a);
  set.Release(b);
}

asio::awaitable<bool> WaitFor(std::shared_ptr<Wakeup> waiter) {
  co_return co_await waiter->Wait(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

TEST(ReplicaSetTest, AddingAReplicaWakesWaitersOnOtherThreads) {
  asio::io_context context;
  ReplicaSet set;
  auto waiter = Wakeup::Create(context.get_executor());
  set.AddWaiter(waiter);
  bool woken = false;
  auto start = std::chrono::steady_clock::now();
  asio::co_spawn(context, WaitFor(waiter),
                 [&](std::exception_ptr, bool notified) { woken = notified; });
  std::thread adder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    set.Add(MakeReplica(7));
  });
  context.run();
  adder.join();
  EXPECT_TRUE(woken);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  set.RemoveWaiter(waiter);
  EXPECT_EQ(set.waiting(), 0u);
}

TEST(WakeupTest, NotificationBeforeWaitIsNotLost) {
  asio::io_context context;
  auto waiter = Wakeup::Create(context.get_executor());
  waiter->Notify();
  bool woken = false;
  asio::co_spawn(context, WaitFor(waiter), [&](std::exception_ptr, bool n) { woken = n; });
  context.run();
  EXPECT_TRUE(woken);
}

TEST(WakeupTest, DeadlineWithoutNotification) {
  asio::io_context context;
  auto waiter = Wakeup::Create(context.get_executor());
  bool woken = true;
  asio::co_spawn(context,
                 waiter->Wait(std::chrono::steady_clock::now() + std::chrono::milliseconds(20)),
                 [&](std::exception_ptr, bool n) { woken = n; });
  context.run();
  EXPECT_FALSE(woken);
}

}  // namespace
}  // namespace funcd::provider
