// funcd serve: less travelled paths of the API and the proxy: full status round trips,
// failed updates, namespaced secrets, Expect: 100-continue, pipelining and keep-alive.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;
using ::testing::HasSubstr;

class EdgeTest : public GatewayTest {};

TEST_F(EdgeTest, EveryDeployedFieldIsEchoedInTheStatus) {
  ASSERT_EQ(funcd().Api("POST", "/system/secrets", R"({"name":"s1","value":"v"})").status, 202u);
  json::object fn = HostFunction("full", "cat");
  fn["namespace"] = "openfaas-fn";
  fn["envVars"] = json::object{{"A", "1"}, {"B", "two words"}};
  fn["constraints"] = json::array{"node=a"};
  fn["secrets"] = json::array{"s1"};
  fn["labels"] = json::object{{"team", "x"}, {"unicode", "\xc3\xa9t\xc3\xa9"}};
  fn["annotations"] = json::object{{"topic", "orders"}};
  fn["limits"] = json::object{{"memory", "64Mi"}, {"cpu", "500m"}};
  fn["requests"] = json::object{{"memory", "32Mi"}, {"cpu", "50m"}};
  fn["readOnlyRootFilesystem"] = true;
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  auto status = funcd().Status("full");
  ASSERT_TRUE(status);
  EXPECT_EQ(StringField(*status, "name"), "full");
  EXPECT_EQ(StringField(*status, "envProcess"), "cat");
  EXPECT_EQ(status->at("envVars"), fn["envVars"]);
  EXPECT_EQ(status->at("constraints"), fn["constraints"]);
  EXPECT_EQ(status->at("secrets"), fn["secrets"]);
  json::object labels = fn["labels"].as_object();
  labels["faas_function"] = "full";
  EXPECT_EQ(status->at("labels"), labels);
  EXPECT_EQ(status->at("annotations"), fn["annotations"]);
  EXPECT_EQ(status->at("limits"), fn["limits"]);
  EXPECT_EQ(status->at("requests"), fn["requests"]);
  EXPECT_EQ(status->at("readOnlyRootFilesystem"), true);
  EXPECT_EQ(IntField(*status, "replicas"), 1);
  EXPECT_EQ(IntField(*status, "availableReplicas"), 1);
  // The function really gets its environment.
  json::object env = HostFunction("env-echo", "env");
  env["envVars"] = fn["envVars"];
  ASSERT_TRUE(funcd().DeployAndWait(env));
  const std::string body = funcd().Invoke("env-echo").body;
  std::vector<std::string> lines;
  for (std::string_view line : Split(body, '\n')) {
    lines.emplace_back(line);
  }
  EXPECT_THAT(lines, ::testing::IsSupersetOf({"A=1", "B=two words", "OPENFAAS_NAME=env-echo",
                                              "OPENFAAS_NAMESPACE=openfaas-fn"}))
      << body;
}

// Limits that are not Kubernetes quantities are refused (faas-netes: 400), never accepted
// and then silently left unenforced.
TEST_F(EdgeTest, InvalidResourceQuantitiesAre400) {
  const std::vector<json::object> bad = {
      {{"memory", "lots"}}, {{"memory", "-5Mi"}}, {{"cpu", "fast"}}, {{"memory", "12XB"}}};
  for (const json::object& limits : bad) {
    json::object fn = HostFunction("bad-limits", "cat");
    fn["limits"] = limits;
    Reply r = funcd().Api("POST", "/system/functions", ToJson(fn));
    EXPECT_EQ(r.status, 400u) << ToJson(limits);
    if (r.status == 202u) {
      funcd().Api("DELETE", "/system/functions", R"({"functionName":"bad-limits"})");
    }
  }
}

TEST_F(EdgeTest, AFailedUpdateKeepsTheRunningVersion) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("stable", "cat")));
  json::object broken = HostFunction("stable", "cat");
  broken["secrets"] = json::array{"missing"};
  EXPECT_EQ(funcd().Update(broken), 400u);
  json::object no_image = HostFunction("stable", "cat");
  no_image["image"] = "";
  EXPECT_EQ(funcd().Update(no_image), 400u);
  auto status = funcd().Status("stable");
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->contains("secrets"));
  EXPECT_EQ(funcd().Invoke("stable", "POST", "", "still here").body, "still here");
}

TEST_F(EdgeTest, AnUpdateKeepsTheScale) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("wide", "cat")));
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/wide", R"({"serviceName":"wide","replicas":3})")
          .status,
      202u);
  json::object updated = HostFunction("wide", "cat");
  updated["envVars"] = json::object{{"v", "2"}};
  EXPECT_EQ(funcd().Update(updated), 202u);
  EXPECT_EQ(IntField(*funcd().Status("wide"), "replicas"), 3);
  EXPECT_TRUE(funcd().WaitAvailable("wide", 3));
}

TEST_F(EdgeTest, SecretsAndFunctionsAreNamespaced) {
  ASSERT_EQ(funcd().Api("POST", "/system/namespace/", R"({"name":"team-b"})").status, 201u);
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/secrets", R"({"name":"only-b","namespace":"team-b","value":"b"})")
          .status,
      202u);
  EXPECT_EQ(funcd().Api("GET", "/system/secrets").body, "[]");
  EXPECT_THAT(funcd().Api("GET", "/system/secrets?namespace=team-b").body, HasSubstr("only-b"));
  json::object in_default = HostFunction("wants-b", "cat /var/openfaas/secrets/only-b");
  in_default["secrets"] = json::array{"only-b"};
  Reply refused = funcd().Api("POST", "/system/functions", ToJson(in_default));
  EXPECT_EQ(refused.status, 400u);
  EXPECT_THAT(refused.body, HasSubstr("unable to find secret"));
  in_default["namespace"] = "team-b";
  ASSERT_TRUE(funcd().DeployAndWait(in_default));
  EXPECT_EQ(funcd().Invoke("wants-b.team-b").body, "b");
  EXPECT_EQ(funcd().Invoke("wants-b").status, 404u);
  EXPECT_EQ(funcd().Invoke("wants-b.no-such-ns").status, 404u);
  EXPECT_EQ(funcd().Api("GET", "/system/function/wants-b").status, 404u);
  EXPECT_EQ(funcd().Api("GET", "/system/function/wants-b?namespace=team-b").status, 200u);
}

// A removed function's logs are gone: 404 like a name never deployed, not an empty 200.
TEST_F(EdgeTest, LogsOfARemovedFunctionAre404) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("gone", "cat")));
  EXPECT_EQ(funcd().Api("GET", "/system/logs?name=gone&follow=false").status, 200u);
  ASSERT_EQ(funcd().Api("DELETE", "/system/functions", R"({"functionName":"gone"})").status, 202u);
  EXPECT_TRUE(Eventually(
      [&] { return funcd().Api("GET", "/system/logs?name=gone&follow=false").status == 404u; },
      std::chrono::seconds(3)));
}

TEST_F(EdgeTest, LargeButAllowedManagementBodiesAreAccepted) {
  json::object fn = HostFunction("big-annotation", "cat");
  fn["annotations"] = json::object{{"blob", std::string(1 << 20, 'a')}};
  EXPECT_EQ(funcd().Deploy(fn), 202u);
  auto status = funcd().Status("big-annotation");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->at("annotations").as_object().at("blob").as_string().size(), 1u << 20);
}

// "Expect: 100-continue" on a function call is answered by the gateway: a client that waits
// for it (curl waits 1 s) must not stall, nor a function that reads the body first.
TEST_F(EdgeTest, ExpectContinueIsAnsweredAndTheBodyArrives) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("classic", "cat")));
  RawClient client(funcd().port());
  client.Send(
      "POST /function/classic HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_TRUE(client.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", std::chrono::seconds(2)))
      << client.received();
  client.received().clear();
  client.Send("hello");
  ASSERT_TRUE(ReadWholeResponse(client)) << client.received();
  EXPECT_EQ(RawStatus(client.received()), 200u);
  EXPECT_TRUE(client.received().ends_with("\r\n\r\nhello")) << client.received();
}

TEST_F(EdgeTest, ExpectContinueOnTheApiIsAnswered) {
  RawClient client(funcd().port());
  const std::string body = ToJson(HostFunction("via-expect", "cat"));
  client.Send(StrCat(
      "POST /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: ", funcd().Authorization(),
      "\r\nContent-Length: ", body.size(), "\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", std::chrono::seconds(2)));
  client.received().clear();
  client.Send(body);
  ASSERT_TRUE(ReadWholeResponse(client)) << client.received();
  EXPECT_EQ(RawStatus(client.received()), 202u) << client.received();
}

TEST_F(EdgeTest, PipelinedAndKeptAliveCallsAnswerInOrder) {
  ASSERT_TRUE(funcd().DeployAndWait(FixtureFunction("fx")));
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("classic", "cat")));
  RawClient client(funcd().port());
  // Three requests in one write, to two functions.
  client.Send(StrCat(RawRequest("GET", "/function/fx/one"),
                     RawRequest("POST", "/function/classic", {}, "two"),
                     RawRequest("GET", "/function/fx/three?x=3")));
  ASSERT_TRUE(client.ReadUntil("path=/three query=x=3")) << client.received();
  const std::string& all = client.received();
  const size_t one = all.find("path=/one query=");
  const size_t two = all.find("\r\n\r\ntwo");
  const size_t three = all.find("path=/three query=x=3");
  ASSERT_NE(one, std::string::npos) << all;
  ASSERT_NE(two, std::string::npos) << all;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
  // The same connection keeps serving.
  for (int i = 0; i < 20; ++i) {
    client.received().clear();
    client.Send(RawRequest("GET", StrCat("/function/fx/again?i=", i)));
    ASSERT_TRUE(client.ReadUntil(StrCat("query=i=", i))) << i << ": " << client.received();
    EXPECT_EQ(RawStatus(client.received()), 200u);
  }
}

TEST_F(EdgeTest, ChunkedRequestBodiesReachClassicFunctions) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("counter", "wc -c")));
  RawClient client(funcd().port());
  client.Send(
      "POST /function/counter HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(ReadWholeResponse(client)) << client.received();
  EXPECT_EQ(RawStatus(client.received()), 200u);
  EXPECT_TRUE(client.received().ends_with("11\n")) << client.received();
}

}  // namespace
}  // namespace funcd::testing
