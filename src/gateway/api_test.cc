#include "gateway/api.h"

#include <gtest/gtest.h>

namespace funcd::gateway {
namespace {

TEST(ApiTest, ParsesMinimalAndNullFields) {
  auto d = ParseDeployment(R"({"service":"figlet","image":"alexellis2/figlet"})");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->service, "figlet");
  EXPECT_TRUE(d->labels.empty());
  auto nulls = ParseDeployment(
      R"({"service":"x","image":"i","labels":null,"annotations":null,"envVars":null,)"
      R"("limits":null,"requests":null,"secrets":null,"constraints":null,"namespace":null,)"
      R"("envProcess":null,"readOnlyRootFilesystem":null,"registryAuth":"x","network":"y"})");
  ASSERT_TRUE(nulls.has_value()) << nulls.error().message;
  EXPECT_FALSE(nulls->limits.has_value());
}

TEST(ApiTest, RejectsWrongTypesAndBadJson) {
  EXPECT_FALSE(ParseDeployment("{").has_value());
  EXPECT_FALSE(ParseDeployment("[]").has_value());
  EXPECT_FALSE(ParseDeployment("").has_value());
  auto wrong = ParseDeployment(R"({"service":1,"image":"i"})");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("service"), std::string::npos);
  EXPECT_FALSE(ParseDeployment(R"({"service":"s","image":"i","labels":{"a":1}})").has_value());
}

TEST(ApiTest, ValidatesNamesAndImage) {
  FunctionDeployment d;
  d.service = "Bad_Name";
  d.image = "i";
  EXPECT_FALSE(ValidateDeployment(d).has_value());
  d.service = std::string(64, 'a');
  EXPECT_FALSE(ValidateDeployment(d).has_value());
  d.service = "good-name";
  d.image = "";
  auto no_image = ValidateDeployment(d);
  ASSERT_FALSE(no_image.has_value());
  EXPECT_NE(no_image.error().message.find("image"), std::string::npos);
  d.image = "functions/alpine:latest";
  EXPECT_TRUE(ValidateDeployment(d).has_value());
  d.secrets = {"Not Valid"};
  EXPECT_FALSE(ValidateDeployment(d).has_value());
}

TEST(ApiTest, StatusFollowsTheCertifierRules) {
  FunctionStatus s;
  s.deployment.service = "stronghash";
  s.deployment.image = "functions/alpine:latest";
  s.deployment.namespace_name = "openfaas-fn";
  s.deployment.env_process = "sha512sum";
  s.created_at = 1700000000123456789;
  std::string json = SerializeFunctionStatus(s);
  EXPECT_NE(json.find(R"("labels":{"faas_function":"stronghash"})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("annotations":{})"), std::string::npos);
  EXPECT_EQ(json.find("envVars"), std::string::npos);
  EXPECT_EQ(json.find("limits"), std::string::npos);
  EXPECT_EQ(json.find("requests"), std::string::npos);
  EXPECT_EQ(json.find("\"replicas\""), std::string::npos);  // 0 is omitted
  EXPECT_EQ(json.find("availableReplicas"), std::string::npos);
  EXPECT_NE(json.find(R"("createdAt":"2023-11-14T22:13:20.123456789Z")"), std::string::npos);
  s.replicas = 2;
  s.available_replicas = 1;
  s.invocation_count = 5;
  s.deployment.limits = Resources{{{"memory", "5Mi"}, {"cpu", "100m"}}};
  json = SerializeFunctionStatus(s);
  EXPECT_NE(json.find(R"("replicas":2)"), std::string::npos);
  EXPECT_NE(json.find(R"("availableReplicas":1)"), std::string::npos);
  EXPECT_NE(json.find(R"("invocationCount":5)"), std::string::npos);
  EXPECT_NE(json.find(R"("limits":{"cpu":"100m","memory":"5Mi"})"), std::string::npos);
  EXPECT_EQ(SerializeFunctionList({}), "[]");
}

TEST(ApiTest, AnnotationValuesRoundTripByteForByte) {
  FunctionDeployment d;
  d.service = "env-test-annotations";
  d.image = "i";
  d.annotations["some-json"] = "{\n  \"a\": \"b\\\"c\",\n\t\"u\": \"\xc3\xa9\"\n}";
  d.annotations["important-date"] = "Fri Aug 10 08:21:00 BST 2018";
  auto back = ParseDeployment(SerializeDeployment(d));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->annotations, d.annotations);
}

TEST(ApiTest, SecretsPreferRawValue) {
  auto raw = ParseSecret(R"({"name":"s","value":"plain","rawValue":"AAEC"})");
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->value, std::string("\x00\x01\x02", 3));
  auto plain = ParseSecret(R"({"name":"s","value":"plain"})");
  EXPECT_EQ(plain->value, "plain");
  EXPECT_FALSE(ParseSecret(R"({"value":"x"})").has_value());
  EXPECT_EQ(SerializeSecretList({{"a", "ns"}}), R"([{"name":"a","namespace":"ns"}])");
}

TEST(ApiTest, OtherBodies) {
  auto del = ParseDeleteRequest(R"({"functionName":"f","namespace":"n"})");
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->function_name, "f");
  EXPECT_FALSE(ParseDeleteRequest("{}").has_value());
  auto scale = ParseScaleRequest(R"({"serviceName":"f","replicas":3})");
  ASSERT_TRUE(scale.has_value());
  EXPECT_EQ(scale->replicas, 3u);
  EXPECT_FALSE(ParseScaleRequest(R"({"replicas":-1})").has_value());
  auto alert = ParseAlert(
      R"({"receiver":"scale-up","status":"firing","alerts":[{"status":"firing",)"
      R"("labels":{"alertname":"APIHighInvocationRate","function_name":"figlet.openfaas-fn"}}]})");
  ASSERT_TRUE(alert.has_value());
  ASSERT_EQ(alert->alerts.size(), 1u);
  EXPECT_EQ(alert->alerts[0].function_name, "figlet.openfaas-fn");
  EXPECT_EQ(ParseAlert("").error().message, "A body is required for this endpoint");
  std::string info = SerializeInfo("funcd", "process", "abc", "0.1.0");
  EXPECT_NE(info.find(R"("provider":{"provider":"funcd","orchestration":"process")"),
            std::string::npos);
  EXPECT_NE(info.find(R"("arch":"amd64")"), std::string::npos);
}

TEST(ApiTest, NamesAndTimes) {
  EXPECT_TRUE(IsDns1123Label("a-b-1"));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
  EXPECT_TRUE(IsDns1123Subdomain("secret.name-1"));
  EXPECT_FALSE(IsDns1123Subdomain("a..b"));
  EXPECT_EQ(FormatRfc3339Nano(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(1500000000000000000), "2017-07-14T02:40:00Z");
  EXPECT_EQ(*ParseRfc3339("2017-07-14T02:40:00Z"), 1500000000000000000);
  EXPECT_EQ(*ParseRfc3339("2017-07-14T04:40:00.5+02:00"), 1500000000500000000);
  EXPECT_FALSE(ParseRfc3339("yesterday").has_value());
}

}  // namespace
}  // namespace funcd::gateway
