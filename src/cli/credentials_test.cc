#include "cli/credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "cli/files.h"

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

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/funcd-creds-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(ConfigDirTest, FollowsFaasCli) {
  EXPECT_EQ(ConfigPath(FakeEnv({{"HOME", "/home/ada"}})), "/home/ada/.openfaas/config.yml");
  EXPECT_EQ(ConfigPath(FakeEnv({{"HOME", "/home/ada"}, {"OPENFAAS_CONFIG", "/etc/of"}})),
            "/etc/of/config.yml");
  EXPECT_EQ(ConfigDir(FakeEnv({{"HOME", "/home/ada"}, {"CI", "true"}})), ".openfaas");
  EXPECT_EQ(ConfigDir(FakeEnv({{"HOME", "/home/ada"}, {"CI", "1"}})), ".openfaas");
  EXPECT_EQ(ConfigDir(FakeEnv({{"HOME", "/home/ada"}, {"CI", "false"}})), "/home/ada/.openfaas");
  EXPECT_EQ(ConfigDir(FakeEnv({{"CI", "true"}, {"OPENFAAS_CONFIG", "/x"}})), "/x");
}

TEST_F(CredentialsTest, WritesFaasCliFormatPrivately) {
  const std::string path = dir_ + "/sub/config.yml";
  ConfigFile config;
  SetBasicAuth(config, "http://127.0.0.1:8080", "admin", "password");
  ASSERT_TRUE(WriteConfig(path, config).has_value());
  // Byte for byte what faas-cli writes (base64("admin:password")).
  EXPECT_EQ(*ReadFile(path),
            "auths:\n"
            "- gateway: http://127.0.0.1:8080\n"
            "  auth: basic\n"
            "  token: YWRtaW46cGFzc3dvcmQ=\n");
  struct stat file {};
  ASSERT_EQ(::stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  struct stat directory {};
  ASSERT_EQ(::stat((dir_ + "/sub").c_str(), &directory), 0);
  EXPECT_EQ(directory.st_mode & 0777, 0700u);
}

TEST_F(CredentialsTest, AFileWithLooserModeIsMadePrivateOnRewrite) {
  const std::string path = dir_ + "/config.yml";
  std::ofstream(path) << "auths: []\n";
  ::chmod(path.c_str(), 0644);
  ConfigFile config = *ReadConfig(path);
  SetBasicAuth(config, "http://a:8080", "u", "p");
  ASSERT_TRUE(WriteConfig(path, config).has_value());
  struct stat file {};
  ASSERT_EQ(::stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
}

TEST_F(CredentialsTest, UpdatesReplaceAndKeepOtherGateways) {
  const std::string path = dir_ + "/config.yml";
  std::ofstream(path) << "auths:\n"
                         "- gateway: https://other.example.com\n"
                         "  auth: oauth2\n"
                         "  token: abc.def\n"
                         "  options:\n"
                         "  - name: client_id\n"
                         "    value: cli\n"
                         "- gateway: http://127.0.0.1:8080\n"
                         "  auth: basic\n"
                         "  token: b2xkOm9sZA==\n";
  auto config = ReadConfig(path);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_EQ(config->auths.size(), 2u);
  EXPECT_EQ(config->auths[0].options.at(0).second, "cli");
  SetBasicAuth(*config, "http://127.0.0.1:8080", "admin", "new");
  ASSERT_TRUE(WriteConfig(path, *config).has_value());
  auto reread = ReadConfig(path);
  ASSERT_TRUE(reread.has_value());
  ASSERT_EQ(reread->auths.size(), 2u);
  EXPECT_EQ(reread->auths[0].auth, "oauth2");
  EXPECT_EQ(reread->auths[0].options.at(0).first, "client_id");
  EXPECT_EQ(reread->auths[1].token, "YWRtaW46bmV3");
  EXPECT_TRUE(RemoveAuth(*reread, "http://127.0.0.1:8080"));
  EXPECT_FALSE(RemoveAuth(*reread, "http://127.0.0.1:8080"));
  EXPECT_EQ(FindAuth(*reread, "http://127.0.0.1:8080"), nullptr);
  ConfigFile empty;
  EXPECT_EQ(SerializeConfig(empty), "auths: []\n");
}

TEST_F(CredentialsTest, AuthorizationHeaderFromConfigOrToken) {
  const std::string config_dir = dir_ + "/of";
  ConfigFile config;
  SetBasicAuth(config, "http://127.0.0.1:8080", "admin", "secret");
  config.auths.push_back(AuthEntry{"http://oauth:8080", "oauth2", "jwt-token", {}});
  ASSERT_TRUE(WriteConfig(config_dir + "/config.yml", config).has_value());
  auto env = FakeEnv({{"OPENFAAS_CONFIG", config_dir}});
  EXPECT_EQ(AuthorizationFor("http://127.0.0.1:8080", "", env)->value_or(""),
            "Basic YWRtaW46c2VjcmV0");
  EXPECT_EQ(AuthorizationFor("http://oauth:8080", "", env)->value_or(""), "Bearer jwt-token");
  EXPECT_FALSE(AuthorizationFor("http://elsewhere:8080", "", env)->has_value());
  EXPECT_EQ(AuthorizationFor("http://127.0.0.1:8080", "tok", env)->value_or(""), "Bearer tok");
}

TEST_F(CredentialsTest, MalformedFileNamesTheLine) {
  const std::string path = dir_ + "/config.yml";
  std::ofstream(path) << "auths:\n  gateway: x\n";
  auto config = ReadConfig(path);
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message.find(path + ":2:3"), std::string::npos)
      << config.error().message;
}

TEST(YamlQuotingTest, QuotesWhatWouldReadBackDifferently) {
  ConfigFile config;
  config.auths.push_back(AuthEntry{"http://h:1", "basic", "yes", {}});
  config.auths.push_back(AuthEntry{"http://h:2", "basic", "a: b", {}});
  EXPECT_EQ(SerializeConfig(config),
            "auths:\n- gateway: http://h:1\n  auth: basic\n  token: \"yes\"\n"
            "- gateway: http://h:2\n  auth: basic\n  token: \"a: b\"\n");
}

TEST(LoginAnswerTest, WrongCredentialsSayWhatIsWrong) {
  GatewayResponse accepted;
  accepted.status = 200;
  EXPECT_TRUE(CheckLoginAnswer(accepted).has_value());
  GatewayResponse rejected;
  rejected.status = 401;
  rejected.body = "Unauthorized\n";
  auto wrong = CheckLoginAnswer(rejected);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(wrong.error().message, "unable to login, either username or password is incorrect");
  // Anything else is not taken for a wrong password: the status and the server's reason show.
  GatewayResponse broken;
  broken.status = 502;
  broken.body = "upstream down";
  auto other = CheckLoginAnswer(broken);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().message,
            "validating the credentials: unexpected status 502 from the gateway: upstream down");
}

}  // namespace
}  // namespace funcd::cli
