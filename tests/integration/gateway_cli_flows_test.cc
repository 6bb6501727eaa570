// funcd serve: the exact HTTP sequences faas-cli sends (contracts §7.3, §7.4): deploy, login,
// remove, secret create/list/update/remove, logs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;
using ::testing::HasSubstr;

class CliFlowTest : public GatewayTest {};

// faas-cli's headers on every management call.
Headers CliHeaders(const FuncdServer& funcd) {
  return {{"User-Agent", "faas-cli/0.16.x"}, {"Authorization", funcd.Authorization()}};
}

TEST_F(CliFlowTest, DeployIsPutThen404ThenPost) {
  // faas-cli deploy: PUT first; exactly 404 makes it re-send the same body as POST.
  json::object fn = HostFunction("cli-fn", "cat");
  fn["labels"] = json::object{};
  fn["annotations"] = json::object{};
  fn["envVars"] = json::object{};
  fn["namespace"] = "openfaas-fn";
  const std::string body = ToJson(fn);
  Reply put = funcd().Api("PUT", "/system/functions", body, CliHeaders(funcd()));
  EXPECT_EQ(put.status, 404u);
  Reply post = funcd().Api("POST", "/system/functions", body, CliHeaders(funcd()));
  EXPECT_EQ(post.status, 202u) << post.body;
  ASSERT_TRUE(funcd().WaitAvailable("cli-fn"));
  // faas-cli invoke always names the namespace.
  EXPECT_EQ(funcd().Invoke("cli-fn.openfaas-fn", "POST", "", "hello").body, "hello");
  // The next deploy is an update: PUT answers 202 and no POST follows.
  fn["envVars"] = json::object{{"version", "2"}};
  Reply again = funcd().Api("PUT", "/system/functions", ToJson(fn), CliHeaders(funcd()));
  EXPECT_EQ(again.status, 202u) << again.body;
  auto status = funcd().Status("cli-fn", "openfaas-fn");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->at("envVars").as_object().at("version"), "2");
}

TEST_F(CliFlowTest, LoginValidatesWithTheFunctionList) {
  Reply ok = funcd().Anonymous("GET", "/system/functions", "",
                               {{"Authorization", funcd().Authorization()}});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(funcd().user(), "admin");
  EXPECT_GE(funcd().password().size(), 16u);
  const std::vector<std::string> wrong = {
      StrCat("admin:", funcd().password(), "x"), StrCat("root:", funcd().password()),
      StrCat("admin:", funcd().password().substr(1)), "admin:", ":"};
  for (const std::string& credentials : wrong) {
    Reply r = funcd().Anonymous("GET", "/system/functions", "",
                                {{"Authorization", StrCat("Basic ", Base64Encode(credentials))}});
    EXPECT_EQ(r.status, 401u) << credentials;
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Basic realm=\"Restricted\"");
    EXPECT_EQ(r.body, "invalid credentials");
  }
  EXPECT_EQ(funcd()
                .Anonymous("GET", "/system/functions", "",
                           {{"Authorization", StrCat("Bearer ", funcd().password())}})
                .status,
            401u);
}

TEST_F(CliFlowTest, CredentialsAreGeneratedPrivateAndStable) {
  const std::string dir = StrCat(state_.path(), "/secrets");
  struct stat info {};
  ASSERT_EQ(::stat(StrCat(dir, "/basic-auth-password").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::string password = funcd().password();
  StartFuncd();  // a restart keeps the credentials
  EXPECT_EQ(funcd().password(), password);
  EXPECT_EQ(funcd().Api("GET", "/system/functions").status, 200u);
}

TEST_F(CliFlowTest, RemoveThen404) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("doomed", "cat")));
  Reply removed =
      funcd().Api("DELETE", "/system/functions",
                  R"({"functionName":"doomed","namespace":"openfaas-fn"})", CliHeaders(funcd()));
  EXPECT_EQ(removed.status, 202u) << removed.body;
  EXPECT_EQ(funcd().Api("GET", "/system/function/doomed?namespace=openfaas-fn").status, 404u);
  EXPECT_EQ(funcd().Api("GET", "/system/functions").body, "[]");
  EXPECT_EQ(funcd().Invoke("doomed.openfaas-fn").status, 404u);
  // faas-cli prints "No existing function to remove" on this 404.
  EXPECT_EQ(funcd()
                .Api("DELETE", "/system/functions",
                     R"({"functionName":"doomed","namespace":"openfaas-fn"})")
                .status,
            404u);
  // The name is free again.
  EXPECT_TRUE(funcd().DeployAndWait(HostFunction("doomed", "cat")));
}

TEST_F(CliFlowTest, SecretCreateListUpdateRemove) {
  Reply before = funcd().Api("GET", "/system/secrets?namespace=openfaas-fn");
  EXPECT_EQ(before.status, 200u);
  EXPECT_EQ(before.body, "[]");
  // --from-literal sends value; --from-file sends both value and rawValue.
  EXPECT_EQ(funcd()
                .Api("POST", "/system/secrets",
                     R"({"name":"api-key","namespace":"openfaas-fn","value":"literal-v1"})")
                .status,
            202u);
  const std::string binary("bin\0\xff\x01\n\"end", 12);
  json::object from_file{{"name", "cert.pem"},
                         {"namespace", "openfaas-fn"},
                         {"value", "ignored when rawValue is set"},
                         {"rawValue", Base64Encode(binary)}};
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", ToJson(from_file)).status, 202u);
  // Creating again is 409 (faas-cli --replace then PUTs).
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", R"({"name":"api-key","value":"x"})").status,
            409u);

  Reply list = funcd().Api("GET", "/system/secrets?namespace=openfaas-fn");
  EXPECT_EQ(list.status, 200u);
  json::value items = ParseJson(list.body);
  ASSERT_TRUE(items.is_array());
  std::vector<std::string> names;
  for (const auto& item : items.as_array()) {
    const json::object& o = item.as_object();
    names.push_back(StringField(o, "name"));
    EXPECT_EQ(StringField(o, "namespace"), "openfaas-fn");
    EXPECT_FALSE(o.contains("value"));
    EXPECT_FALSE(o.contains("rawValue"));
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("api-key", "cert.pem"));
  EXPECT_EQ(list.body.find("literal-v1"), std::string::npos);
  EXPECT_EQ(list.body.find(Base64Encode(binary)), std::string::npos);

  EXPECT_EQ(funcd()
                .Api("PUT", "/system/secrets",
                     R"({"name":"api-key","namespace":"openfaas-fn","value":"literal-v2"})")
                .status,
            202u);
  EXPECT_EQ(funcd()
                .Api("DELETE", "/system/secrets", R"({"name":"api-key","namespace":"openfaas-fn"})")
                .status,
            202u);
  json::value remaining = ParseJson(funcd().Api("GET", "/system/secrets").body);
  EXPECT_EQ(remaining,
            (json::array{json::object{{"name", "cert.pem"}, {"namespace", "openfaas-fn"}}}));
  EXPECT_EQ(funcd().Api("DELETE", "/system/secrets", R"({"name":"api-key"})").status, 404u);
}

TEST_F(CliFlowTest, LogsWithoutFollowEndByThemselves) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("chatty", "cat")));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(funcd().Invoke("chatty", "POST", "", "12345").status, 200u);
  }
  // faas-cli logs --tail=false: follow=false, tail=-1, the namespace when set.
  // The replica's output reaches the log store asynchronously: wait for all three calls.
  ASSERT_TRUE(Eventually([&] {
    int wrote = 0;
    for (const auto& m : funcd().Logs("chatty")) {
      wrote += StringField(m, "text").find("Wrote 5 Bytes") != std::string::npos ? 1 : 0;
    }
    return wrote == 3;
  }));
  auto start = std::chrono::steady_clock::now();
  Reply r =
      funcd().Api("GET", "/system/logs?name=chatty&namespace=openfaas-fn&follow=false&tail=-1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.Header("Content-Type"), "application/x-ndjson");
  int forks = 0;
  for (std::string_view line : Split(r.body, '\n')) {
    if (line.empty()) {
      continue;
    }
    json::object m = ParseJson(line).as_object();
    EXPECT_EQ(StringField(m, "name"), "chatty");
    EXPECT_EQ(StringField(m, "namespace"), "openfaas-fn");
    EXPECT_THAT(StringField(m, "instance"), HasSubstr("chatty"));
    EXPECT_FALSE(StringField(m, "timestamp").empty());
    forks += StringField(m, "text").find("Forking fprocess") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(forks, 3);
  // tail=N keeps the last N lines; since= in the future keeps none.
  EXPECT_EQ(funcd().Logs("chatty", "&tail=2").size(), 2u);
  const auto last = funcd().Logs("chatty", "&tail=1");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_THAT(StringField(last[0], "text"), HasSubstr("Wrote 5 Bytes"));
  EXPECT_TRUE(funcd().Logs("chatty", "&since=2100-01-01T00:00:00Z").empty());
  EXPECT_FALSE(funcd().Logs("chatty", "&since=2000-01-01T00:00:00Z").empty());
}

TEST_F(CliFlowTest, LogsCanBeLimitedToOneInstance) {
  json::object fn = HostFunction("multi", "cat");
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));
  std::set<std::string> instances;
  for (const auto& m : funcd().Logs("multi")) {
    instances.insert(StringField(m, "instance"));
  }
  ASSERT_EQ(instances.size(), 2u);
  const std::string one = *instances.begin();
  const auto only = funcd().Logs("multi", StrCat("&instance=", one));
  EXPECT_FALSE(only.empty());
  for (const auto& m : only) {
    EXPECT_EQ(StringField(m, "instance"), one);
  }
}

// A `since` past what int64 nanoseconds hold (after 2262) must not wrap into the past.
TEST_F(CliFlowTest, LogsSinceFarFutureReturnNothing) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("future", "cat")));
  EXPECT_EQ(funcd().Invoke("future", "POST", "", "x").status, 200u);
  ASSERT_TRUE(funcd().WaitForFunctionLog("future", "Wrote 1 Bytes"));
  EXPECT_TRUE(funcd().Logs("future", "&since=2999-01-01T00:00:00Z").empty());
}

TEST_F(CliFlowTest, LogsWithFollowStreamNewLines) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("followed", "cat")));
  RawClient client(funcd().port());
  ASSERT_TRUE(client.connected());
  client.Send(RawRequest("GET", "/system/logs?name=followed&follow=true&tail=1",
                         {{"Authorization", funcd().Authorization()}}));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n"));
  EXPECT_EQ(RawStatus(client.received()), 200u) << client.received();
  EXPECT_EQ(client.received().find("Forking fprocess"), std::string::npos);
  EXPECT_EQ(funcd().Invoke("followed", "POST", "", "abc").status, 200u);
  // The line arrives on the open stream while the stream stays open.
  EXPECT_TRUE(client.ReadUntil("Wrote 3 Bytes", std::chrono::seconds(10))) << client.received();
  EXPECT_FALSE(client.closed());
  // Removing the function ends the stream.
  EXPECT_EQ(funcd().Api("DELETE", "/system/functions", R"({"functionName":"followed"})").status,
            202u);
  EXPECT_TRUE(client.ReadUntilClosed(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace funcd::testing
