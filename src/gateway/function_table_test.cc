#include "gateway/function_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace funcd::gateway {
namespace {

std::shared_ptr<const FunctionEntry> Entry(std::string key, std::string topic = "") {
  auto entry = std::make_shared<FunctionEntry>();
  entry->key = std::move(key);
  if (!topic.empty()) {
    entry->deployment.annotations["topic"] = std::move(topic);
  }
  return entry;
}

struct Change {
  std::string key;
  bool present;
  std::string topic;  // the entry's topic annotation as the listener saw it through Find
};

TEST(FunctionTableTest, ListenersSeePutsAndErasesAfterTheTableChanged) {
  FunctionTable table;
  std::vector<Change> changes;
  const std::uint64_t id = table.AddListener(
      [&](const std::string& key, const std::shared_ptr<const FunctionEntry>& entry) {
        // Find from inside the listener: it runs after the change and outside the lock (a
        // listener called under the table's exclusive lock would deadlock here).
        auto found = table.Find(key);
        EXPECT_EQ(found, entry) << key;
        changes.push_back(
            {key, entry != nullptr, found ? found->deployment.annotations.at("topic") : ""});
      });
  table.Put(Entry("a.openfaas-fn", "nats:one"));
  table.Put(Entry("a.openfaas-fn", "nats:two"));  // an update replaces and notifies again
  EXPECT_NE(table.Erase("a.openfaas-fn"), nullptr);
  EXPECT_EQ(table.Erase("a.openfaas-fn"), nullptr);  // nothing removed: no notification
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_TRUE(changes[0].present);
  EXPECT_EQ(changes[0].topic, "nats:one");
  EXPECT_EQ(changes[1].topic, "nats:two");
  EXPECT_EQ(changes[2].key, "a.openfaas-fn");
  EXPECT_FALSE(changes[2].present);

  table.RemoveListener(id);
  table.Put(Entry("b.openfaas-fn", "x"));
  EXPECT_EQ(changes.size(), 3u);
  table.RemoveListener(id);  // unknown ids are ignored
}

TEST(FunctionTableTest, EveryListenerIsCalled) {
  FunctionTable table;
  int first = 0;
  int second = 0;
  const std::uint64_t a = table.AddListener([&](const auto&, const auto&) { ++first; });
  const std::uint64_t b = table.AddListener([&](const auto&, const auto&) { ++second; });
  EXPECT_NE(a, b);
  table.Put(Entry("f.openfaas-fn", "x"));
  table.RemoveListener(a);
  table.Put(Entry("f.openfaas-fn", "y"));
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
}

TEST(FunctionTableTest, ChangesFromManyThreadsAreAllReported) {
  FunctionTable table;
  std::atomic<int> notified{0};
  table.AddListener([&](const auto&, const auto&) { notified.fetch_add(1); });
  constexpr int kThreads = 4;
  constexpr int kChanges = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&table, t] {
      const std::string key = "f" + std::to_string(t) + ".openfaas-fn";
      for (int i = 0; i < kChanges; ++i) {
        table.Put(Entry(key, "x"));
        table.Erase(key);
      }
    });
  }
  // Listeners come and go meanwhile; the first one must see every change.
  for (int i = 0; i < 100; ++i) {
    table.RemoveListener(table.AddListener([](const auto&, const auto&) {}));
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(notified.load(), kThreads * kChanges * 2);
  EXPECT_TRUE(table.List("").empty());
}

}  // namespace
}  // namespace funcd::gateway
