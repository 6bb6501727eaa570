#include "common/strings.h"

#include <gtest/gtest.h>

namespace funcd {
namespace {

TEST(StringsTest, SplitsAndTrims) {
  auto parts = Split("a,,b", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(TrimSpace("  x y \n"), "x y");
  EXPECT_EQ(TrimSpace("   "), "");
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-type"));
  EXPECT_TRUE(ContainsIgnoreCase("keep-alive, Upgrade", "upgrade"));
}

TEST(StringsTest, ConcatenatesMixedPieces) {
  EXPECT_EQ(StrCat("a", 1, '-', std::string("b"), std::string_view("c"), -5), "a1-bc-5");
}

TEST(StringsTest, ParsesIntegersStrictly) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt("4x").has_value());
  EXPECT_FALSE(ParseInt("").has_value());
  EXPECT_FALSE(ParseUint("-1").has_value());
}

TEST(StringsTest, Base64RoundTrips) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  std::string binary("\x00\xff\x10 hello", 9);
  EXPECT_EQ(*Base64Decode(Base64Encode(binary)), binary);
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("a=bc").has_value());
}

TEST(StringsTest, EscapesJson) {
  std::string out;
  AppendJsonEscaped(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\n\\u0001");
}

TEST(StringsTest, FormatsLikeGoPercentF) {
  EXPECT_EQ(FormatFixed6(0.5), "0.500000");
  EXPECT_EQ(FormatFixed6(0), "0.000000");
  EXPECT_EQ(FormatFixed6(1234.5678901), "1234.567890");
  EXPECT_EQ(FormatFixed6(0.0000004), "0.000000");
  EXPECT_EQ(FormatFixed6(12.0000006), "12.000001");
}

}  // namespace
}  // namespace funcd
