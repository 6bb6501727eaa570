#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "provider/process/cgroup.h"

namespace funcd::provider {
namespace {

using ::testing::HasSubstr;

TEST(QuantityTest, ParsesMemoryQuantities) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"128Mi", 134217728},
      {"1Gi", 1073741824},
      {"2Ti", 2199023255552},
      {"1Ki", 1024},
      {"500M", 500000000},
      {"1k", 1000},
      {"1G", 1000000000},
      {"1e6", 1000000},
      {"1E3", 1000},
      {"1E", 1000000000000000000},
      {"1048576", 1048576},
      {"+64", 64},
      {"0", 0},
      {"1.5Gi", 1610612736},
      {"0.5Ki", 512},
      {"12e-1", 2},  // 1.2 bytes, rounded up as Kubernetes does
      {"100m", 1},   // 0.1 bytes: a classic typo for 100M, but valid
      {"15Ei", 17293822569102704640ull},
  };
  for (const auto& [text, bytes] : cases) {
    auto parsed = ParseMemoryQuantity(text);
    ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, bytes) << text;
  }
}

TEST(QuantityTest, RejectsBadMemoryQuantities) {
  for (const char* text :
       {"",     "-1", "-128Mi", "abc", "Mi",  "1.2.3", "1KB",  "1ki",  "1K",   " 1",     "1 ",
        "1 Mi", ".",  "1e",     "1e+", "1e-", "1ee3",  "0x10", "16Ei", "1e20", "1e99999"}) {
    auto parsed = ParseMemoryQuantity(text);
    ASSERT_FALSE(parsed.has_value()) << "accepted \"" << text << "\"";
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(parsed.error().message, HasSubstr("\"" + std::string(text) + "\""));
  }
}

TEST(QuantityTest, ParsesCpuQuantitiesToMillis) {
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"100m", 100}, {"0.5", 500},  {"2", 2000}, {"1.5", 1500}, {"250m", 250},   {".25", 250},
      {"0", 0},      {"0.0001", 1}, {"1e-3", 1}, {"1500u", 2},  {"1k", 1000000},
  };
  for (const auto& [text, millis] : cases) {
    auto parsed = ParseCpuQuantity(text);
    ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, millis) << text;
  }
  for (const char* text : {"", "-100m", "-0.5", "x", "100mm", "1.5.0", "m", "1 m", "3e2m"}) {
    auto parsed = ParseCpuQuantity(text);
    EXPECT_FALSE(parsed.has_value()) << "accepted \"" << text << "\"";
  }
}

}  // namespace
}  // namespace funcd::provider
