#include "gateway/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"

namespace funcd::gateway {
namespace {

TEST(AuthTest, GeneratesCredentialsOnceWithPrivateFiles) {
  char pattern[] = "/tmp/funcd-auth-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  bool created = false;
  auto first = LoadOrCreateCredentials(dir + "/secrets", &created);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(created);
  EXPECT_EQ(first->user, "admin");
  EXPECT_GE(first->password.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/secrets/basic-auth-password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateCredentials(dir + "/secrets", &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(second->password, first->password);
  std::filesystem::remove_all(dir);
}

TEST(AuthTest, ReadsHandWrittenFilesTrimmed) {
  char pattern[] = "/tmp/funcd-auth-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::ofstream(dir + "/basic-auth-user") << "  ops\n";
  std::ofstream(dir + "/basic-auth-password") << "s3cret\n\n";
  bool created = true;
  auto credentials = LoadOrCreateCredentials(dir, &created);
  ASSERT_TRUE(credentials.has_value());
  EXPECT_FALSE(created);
  EXPECT_EQ(credentials->user, "ops");
  EXPECT_EQ(credentials->password, "s3cret");
  std::filesystem::remove_all(dir);
}

TEST(AuthTest, ChecksBasicHeaders) {
  Credentials c{"admin", "pa:ss"};
  EXPECT_TRUE(CheckBasicAuth(StrCat("Basic ", Base64Encode("admin:pa:ss")), c));
  EXPECT_TRUE(CheckBasicAuth(StrCat("basic  ", Base64Encode("admin:pa:ss")), c));
  EXPECT_FALSE(CheckBasicAuth(StrCat("Basic ", Base64Encode("admin:pass")), c));
  EXPECT_FALSE(CheckBasicAuth(StrCat("Basic ", Base64Encode("Admin:pa:ss")), c));
  EXPECT_FALSE(CheckBasicAuth(StrCat("Bearer ", Base64Encode("admin:pa:ss")), c));
  EXPECT_FALSE(CheckBasicAuth("Basic !!!", c));
  EXPECT_FALSE(CheckBasicAuth("", c));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace funcd::gateway
