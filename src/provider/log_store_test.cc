#include "provider/log_store.h"

#include <gtest/gtest.h>

namespace funcd::provider {
namespace {

TEST(LogStoreTest, QueriesByInstanceTailAndSince) {
  LogStore logs(100);
  logs.Append("fn.ns", "fn-1", "one");
  logs.Append("fn.ns", "fn-2", "two");
  const std::int64_t middle = UnixNanos();
  logs.Append("fn.ns", "fn-1", "three");
  logs.Append("other.ns", "other-1", "elsewhere");
  auto all = logs.Query("fn.ns", {});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].text, "one");
  EXPECT_EQ(all[2].text, "three");
  EXPECT_LT(all[0].sequence, all[2].sequence);
  LogQuery by_instance;
  by_instance.instance = "fn-1";
  EXPECT_EQ(logs.Query("fn.ns", by_instance).size(), 2u);
  LogQuery tail;
  tail.tail = 1;
  ASSERT_EQ(logs.Query("fn.ns", tail).size(), 1u);
  EXPECT_EQ(logs.Query("fn.ns", tail)[0].text, "three");
  LogQuery since;
  since.since = middle;
  ASSERT_EQ(logs.Query("fn.ns", since).size(), 1u);
  EXPECT_EQ(logs.After("fn.ns", all[0].sequence, "").size(), 2u);
  EXPECT_TRUE(logs.Query("missing.ns", {}).empty());
}

TEST(LogStoreTest, KeepsOnlyTheNewestLines) {
  LogStore logs(3);
  for (int i = 0; i < 10; ++i) {
    logs.Append("fn.ns", "fn-1", std::to_string(i));
  }
  auto all = logs.Query("fn.ns", {});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().text, "7");
  EXPECT_EQ(logs.LastSequence("fn.ns"), 10u);
  logs.Forget("fn.ns");
  EXPECT_TRUE(logs.Query("fn.ns", {}).empty());
}

}  // namespace
}  // namespace funcd::provider
