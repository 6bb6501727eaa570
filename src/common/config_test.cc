#include "common/config.h"

#include <gtest/gtest.h>

namespace funcd {
namespace {

using namespace std::chrono_literals;

TEST(ConfigTest, ParsesGoDurations) {
  EXPECT_EQ(*ParseGoDuration("10s"), 10s);
  EXPECT_EQ(*ParseGoDuration("1m30s"), 90s);
  EXPECT_EQ(*ParseGoDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseGoDuration("1.5h"), 90min);
  EXPECT_EQ(*ParseGoDuration("2h45m"), 165min);
  EXPECT_EQ(*ParseGoDuration("0"), 0s);
  EXPECT_EQ(*ParseGoDuration("100us"), 100us);
  EXPECT_EQ(*ParseGoDuration("-1s"), -1s);
  EXPECT_FALSE(ParseGoDuration("10").has_value());  // Go requires a unit
  EXPECT_FALSE(ParseGoDuration("").has_value());
  EXPECT_FALSE(ParseGoDuration("1x").has_value());
  EXPECT_FALSE(ParseGoDuration("s").has_value());
}

TEST(ConfigTest, FormatsLikeGo) {
  EXPECT_EQ(FormatGoDuration(0s), "0s");
  EXPECT_EQ(FormatGoDuration(30s), "30s");
  EXPECT_EQ(FormatGoDuration(90s), "1m30s");
  EXPECT_EQ(FormatGoDuration(120s), "2m0s");
  EXPECT_EQ(FormatGoDuration(3600s), "1h0m0s");
  EXPECT_EQ(FormatGoDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatGoDuration(500ms), "500ms");
  EXPECT_EQ(FormatGoDuration(1500us), "1.5ms");
  EXPECT_EQ(FormatGoDuration(7ns), "7ns");
}

TEST(ConfigTest, EnvironmentReadsTypedValues) {
  Environment env({"a=1", "b=true", "c=10", "d=1m", "e=bogus", "f=-3", "noequals", "g=x=y"});
  EXPECT_TRUE(env.GetBool("a", false));
  EXPECT_TRUE(env.GetBool("b", false));
  EXPECT_FALSE(env.GetBool("e", true));
  EXPECT_TRUE(env.GetBool("missing", true));
  EXPECT_EQ(env.GetInt("c", 5), 10);
  EXPECT_EQ(env.GetInt("f", 5), 5);  // negative falls back
  EXPECT_EQ(env.GetDuration("c", 1s), 10s);
  EXPECT_EQ(env.GetDuration("d", 1s), 60s);
  EXPECT_EQ(env.GetDuration("e", 7s), 7s);
  EXPECT_EQ(env.GetOr("g", ""), "x=y");
  EXPECT_FALSE(env.Has("noequals"));
}

}  // namespace
}  // namespace funcd
