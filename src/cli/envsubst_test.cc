#include "cli/envsubst.h"

#include <gtest/gtest.h>

#include <map>

namespace funcd::cli {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

TEST(EnvSubstTest, ExpandsBracedAndBareVariables) {
  auto env = FakeEnv({{"USER", "ada"}, {"PORT", "8080"}});
  EXPECT_EQ(*EnvSubst("gateway: http://127.0.0.1:${PORT}", env), "gateway: http://127.0.0.1:8080");
  EXPECT_EQ(*EnvSubst("image: $USER/fn:latest", env), "image: ada/fn:latest");
  EXPECT_EQ(*EnvSubst("${MISSING}|$MISSING|", env), "||");
}

TEST(EnvSubstTest, DefaultsApplyWhenUnsetOrEmpty) {
  auto env = FakeEnv({{"EMPTY", ""}, {"SET", "x"}});
  EXPECT_EQ(*EnvSubst("${UNSET:-fallback}", env), "fallback");
  EXPECT_EQ(*EnvSubst("${EMPTY:-fallback}", env), "fallback");
  EXPECT_EQ(*EnvSubst("${EMPTY-fallback}", env), "");  // only when unset
  EXPECT_EQ(*EnvSubst("${UNSET-fallback}", env), "fallback");
  EXPECT_EQ(*EnvSubst("${SET:-fallback}", env), "x");
  EXPECT_EQ(*EnvSubst("${UNSET:=assigned}", env), "assigned");
  EXPECT_EQ(*EnvSubst("${UNSET:-http://127.0.0.1:8080}", env), "http://127.0.0.1:8080");
  // A default may itself use variables.
  EXPECT_EQ(*EnvSubst("${UNSET:-${SET}y}", env), "xy");
}

TEST(EnvSubstTest, DollarEscapesAndLiterals) {
  auto env = FakeEnv({{"A", "1"}});
  EXPECT_EQ(*EnvSubst("cost: $$5 and $A", env), "cost: $5 and 1");
  EXPECT_EQ(*EnvSubst("a $ b $1 $-", env), "a $ b $1 $-");
  EXPECT_EQ(*EnvSubst("trailing $", env), "trailing $");
}

TEST(EnvSubstTest, ErrorsNameTheLine) {
  auto env = FakeEnv({});
  auto unterminated = EnvSubst("a: 1\nb: 2\nc: ${OOPS\n", env);
  ASSERT_FALSE(unterminated.has_value());
  EXPECT_EQ(unterminated.error().message, "line 3: unterminated ${");
  auto bad = EnvSubst("x\n${1abc}", env);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos);
  auto unsupported = EnvSubst("${A/b/c}", env);
  ASSERT_FALSE(unsupported.has_value());
  EXPECT_NE(unsupported.error().message.find("unsupported"), std::string::npos);
}

}  // namespace
}  // namespace funcd::cli
