// funcd serve against the OpenFaaS certifier's assertions (contracts §10.2, §10.4), with the
// certifier's function names and shapes. Where the certifier sleeps, these tests poll.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "common/strings.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kImage = "functions/alpine:latest";

class CertifierTest : public GatewayTest {};

// A deployment as the certifier's vendored faas-cli sends it.
json::object CertifierFunction(std::string_view name, std::string_view fprocess,
                               json::object labels = {}, json::object annotations = {}) {
  json::object fn = HostFunction(name, fprocess);
  fn["image"] = kImage;
  fn["namespace"] = "openfaas-fn";
  fn["labels"] = std::move(labels);
  fn["annotations"] = std::move(annotations);
  return fn;
}

// The text of a log line without the leading date/time the watchdog prints.
std::string StripLogPrefix(std::string text) {
  const size_t start = text.find_first_not_of("0123456789/: ");
  return start == std::string::npos ? "" : text.substr(start);
}

TEST_F(CertifierTest, DeployMetaData) {
  const std::string some_json =
      "{\n  \"key\": \"value\",\n\t\"nested\": {\"list\": [1, 2, 3], \"quote\": \"\\\"x\\\"\"},\n"
      "  \"unicode\": \"caf\xc3\xa9 \xe2\x9c\x93\"\n}\n";
  std::map<std::string, json::object> deployed;
  deployed["stronghash"] = CertifierFunction("stronghash", "sha512sum");
  deployed["env-test-labels"] = CertifierFunction(
      "env-test-labels", "env", {{"upstream_uri", "example.com"}, {"canary_build", "true"}});
  deployed["env-test-annotations"] = CertifierFunction(
      "env-test-annotations", "env", {},
      {{"important-date", "Fri Aug 10 08:21:00 BST 2018"}, {"some-json", some_json}});
  deployed["memory-limit"] = CertifierFunction("memory-limit", "cat");
  deployed["memory-limit"]["limits"] = json::object{{"memory", "5Mi"}, {"cpu", "100m"}};

  for (const auto& [name, fn] : deployed) {
    ASSERT_EQ(funcd().Deploy(fn), 202u) << name;
    Reply r =
        funcd().Api("GET", StrCat("/system/function/", name, "?namespace=openfaas-fn&usage=1"));
    ASSERT_EQ(r.status, 200u) << name;
    json::object status = ParseJson(r.body).as_object();
    ASSERT_TRUE(status.at("labels").is_object()) << r.body;
    ASSERT_TRUE(status.at("annotations").is_object()) << r.body;
    for (const auto& [key, value] : fn.at("labels").as_object()) {
      EXPECT_EQ(status.at("labels").as_object().at(key), value) << name << " " << key;
    }
    for (const auto& [key, value] : fn.at("annotations").as_object()) {
      EXPECT_EQ(status.at("annotations").as_object().at(key), value) << name << " " << key;
    }
    EXPECT_EQ(StringField(status, "image"), kImage);
  }
  // The multi-line annotation comes back byte for byte.
  auto annotated = funcd().Status("env-test-annotations");
  ASSERT_TRUE(annotated);
  EXPECT_EQ(std::string(annotated->at("annotations").as_object().at("some-json").as_string()),
            some_json);

  // "test listing functions": exactly the deployed functions, with the deployed values.
  Reply list = funcd().Api("GET", "/system/functions?namespace=openfaas-fn");
  ASSERT_EQ(list.status, 200u);
  std::set<std::string> listed;
  const json::value items = ParseJson(list.body);
  for (const auto& item : items.as_array()) {
    const json::object& got = item.as_object();
    const std::string name = StringField(got, "name");
    listed.insert(name);
    ASSERT_TRUE(deployed.contains(name)) << "unexpected deployment " << name;
    const json::object& want = deployed[name];
    EXPECT_EQ(StringField(got, "image"), kImage);
    EXPECT_EQ(StringField(got, "namespace"), "openfaas-fn");
    EXPECT_EQ(StringField(got, "envProcess"), StringField(want, "envProcess"));
    EXPECT_FALSE(got.contains("envVars")) << name;  // deployed nil: absent, never {}
    EXPECT_FALSE(got.contains("requests")) << name;
    EXPECT_FALSE(got.contains("readOnlyRootFilesystem") &&
                 got.at("readOnlyRootFilesystem").as_bool())
        << name;
    EXPECT_EQ(got.at("labels").as_object().at("faas_function"), json::value(name));
    for (const auto& [key, value] : want.at("labels").as_object()) {
      EXPECT_EQ(got.at("labels").as_object().at(key), value);
    }
    for (const auto& [key, value] : want.at("annotations").as_object()) {
      EXPECT_EQ(got.at("annotations").as_object().at(key), value);
    }
    if (name == "memory-limit") {
      ASSERT_TRUE(got.contains("limits")) << list.body;
      EXPECT_EQ(got.at("limits").as_object().at("memory"), "5Mi");
      EXPECT_EQ(got.at("limits").as_object().at("cpu"), "100m");
    } else {
      EXPECT_FALSE(got.contains("limits")) << name;
    }
    EXPECT_TRUE(std::regex_match(StringField(got, "createdAt"),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)")))
        << StringField(got, "createdAt");
    EXPECT_NE(StringField(got, "createdAt"), "0001-01-01T00:00:00Z");
  }
  EXPECT_EQ(listed.size(), deployed.size());
}

TEST_F(CertifierTest, ListNamespacesHealthAndProviderInfo) {
  EXPECT_EQ(ParseJson(funcd().Api("GET", "/system/namespaces").body), json::array{"openfaas-fn"});
  EXPECT_EQ(funcd().Api("GET", "/healthz").status, 200u);
  json::object info = ParseJson(funcd().Api("GET", "/system/info").body).as_object();
  ASSERT_TRUE(info.at("provider").is_object());
  const json::object& provider = info.at("provider").as_object();
  EXPECT_FALSE(StringField(provider, "orchestration").empty());
  EXPECT_FALSE(StringField(provider, "provider").empty());
  EXPECT_NE(StringField(provider, "provider"), "faasd");  // would switch certifier checks off
  EXPECT_FALSE(StringField(provider.at("version").as_object(), "release").empty());
  EXPECT_FALSE(StringField(provider.at("version").as_object(), "sha").empty());
  EXPECT_FALSE(StringField(info.at("version").as_object(), "release").empty());
  EXPECT_FALSE(StringField(info.at("version").as_object(), "sha").empty());
}

TEST_F(CertifierTest, InvokeNotFound) {
  EXPECT_EQ(funcd().Invoke(".openfaas-fn").status, 404u);
  EXPECT_EQ(funcd().Invoke("missing.openfaas-fn").status, 404u);
}

TEST_F(CertifierTest, InvokeEnvTestVerbs) {
  ASSERT_TRUE(funcd().DeployAndWait(CertifierFunction("env-test-verbs", "env")));
  for (const char* verb : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    Reply r = funcd().Invoke("env-test-verbs.openfaas-fn", verb);
    EXPECT_EQ(r.status, 200u) << verb;
    EXPECT_THAT(r.body, HasSubstr(StrCat("Http_Method=", verb))) << verb;
    EXPECT_FALSE(r.Header("X-Call-Id").empty()) << verb;
    EXPECT_FALSE(r.Header("X-Start-Time").empty()) << verb;
  }
}

TEST_F(CertifierTest, InvokeEnvTestWithCustomEnvAndQuery) {
  json::object fn = CertifierFunction("env-test", "env");
  fn["envVars"] = json::object{{"custom_env", "custom_env_value"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  auto status = funcd().Status("env-test", "openfaas-fn");
  ASSERT_TRUE(status);
  EXPECT_EQ(StringField(*status, "image"), kImage);
  Reply plain = funcd().Invoke("env-test.openfaas-fn");
  EXPECT_EQ(plain.status, 200u);
  EXPECT_THAT(plain.body, HasSubstr("custom_env=custom_env_value"));
  Reply query = funcd().Invoke("env-test.openfaas-fn", "POST", "?testing=1");
  EXPECT_EQ(query.status, 200u);
  EXPECT_THAT(query.body, HasSubstr("Http_Query=testing=1"));
}

TEST_F(CertifierTest, FunctionLogs) {
  ASSERT_TRUE(funcd().DeployAndWait(CertifierFunction("test-logger", "cat")));
  Reply r = funcd().Invoke("test-logger.openfaas-fn", "POST", "", "openfaas-fn");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "openfaas-fn");
  bool forking = false;
  bool wrote = false;
  Eventually(
      [&] {
        for (const auto& message : funcd().Logs("test-logger", "&namespace=openfaas-fn")) {
          EXPECT_EQ(StringField(message, "name"), "test-logger");
          const std::string text = StripLogPrefix(StringField(message, "text"));
          forking = forking || text.starts_with("Forking fprocess");
          wrote = wrote || text.starts_with("Wrote 11 Bytes");
        }
        return forking && wrote;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  EXPECT_TRUE(forking);
  EXPECT_TRUE(wrote);
}

TEST_F(CertifierTest, ScaleMinimum) {
  ASSERT_EQ(
      funcd().Deploy(CertifierFunction("test-min-scale", "cat", {{"com.openfaas.scale.min", "2"}})),
      202u);
  auto status = funcd().Status("test-min-scale", "openfaas-fn");  // immediately
  ASSERT_TRUE(status);
  EXPECT_EQ(IntField(*status, "replicas"), 2);
  EXPECT_TRUE(funcd().WaitAvailable("test-min-scale", 2));
  EXPECT_EQ(funcd()
                .Api("DELETE", "/system/functions",
                     R"({"functionName":"test-min-scale","namespace":"openfaas-fn"})")
                .status,
            202u);
}

TEST_F(CertifierTest, ScaleFromZeroDuringInvoke) {
  ASSERT_TRUE(funcd().DeployAndWait(CertifierFunction("test-scale-from-zero", "cat")));
  Reply scaled = funcd().Api(
      "POST", "/system/scale-function/test-scale-from-zero",
      R"({"serviceName":"test-scale-from-zero","replicas":0,"namespace":"openfaas-fn"})");
  EXPECT_EQ(scaled.status, 202u) << scaled.body;
  auto status = funcd().Status("test-scale-from-zero", "openfaas-fn");
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->contains("replicas")) << ToJson(*status);  // 0 is omitted
  EXPECT_TRUE(Eventually([&] {
    auto s = funcd().Status("test-scale-from-zero", "openfaas-fn");
    return s && !s->contains("availableReplicas");
  }));
  Reply r = funcd().Invoke("test-scale-from-zero.openfaas-fn", "POST", "", "wake up");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "wake up");
  auto after = funcd().Status("test-scale-from-zero", "openfaas-fn");
  ASSERT_TRUE(after);
  EXPECT_EQ(IntField(*after, "replicas"), 1);
  EXPECT_EQ(IntField(*after, "availableReplicas"), 1);
}

// Test_SecretCRUD for one secret: `field` is "value" or "rawValue".
void SecretCrud(FuncdServer& funcd, const std::string& name, const std::string& field,
                const std::string& v1, const std::string& v2) {
  auto listed = [&] {
    const json::value items =
        ParseJson(funcd.Api("GET", "/system/secrets?namespace=openfaas-fn").body);
    for (const auto& item : items.as_array()) {
      if (StringField(item.as_object(), "name") == name) {
        return true;
      }
    }
    return false;
  };
  auto secret = [&](const std::string& value) {
    return ToJson(json::object{{"name", name},
                               {"namespace", "openfaas-fn"},
                               {field, field == "rawValue" ? Base64Encode(value) : value}});
  };
  EXPECT_FALSE(listed());
  Reply created = funcd.Api("POST", "/system/secrets", secret(v1));
  EXPECT_EQ(created.status, 202u) << created.body;
  json::object fn = CertifierFunction(name, StrCat("cat /var/openfaas/secrets/", name));
  fn["secrets"] = json::array{json::string(name)};
  ASSERT_TRUE(funcd.DeployAndWait(fn));
  EXPECT_EQ(funcd.Invoke(StrCat(name, ".openfaas-fn")).body, v1);
  EXPECT_TRUE(listed());

  Reply updated = funcd.Api("PUT", "/system/secrets", secret(v2));
  EXPECT_EQ(updated.status, 202u) << updated.body;
  fn["annotations"] = json::object{{"secret-hash", "v2"}};
  EXPECT_EQ(funcd.Update(fn), 202u);
  std::string last;
  EXPECT_TRUE(Eventually([&] {
    last = funcd.Invoke(StrCat(name, ".openfaas-fn")).body;
    return last == v2;
  })) << "still answers "
      << last;

  EXPECT_EQ(funcd
                .Api("DELETE", "/system/functions",
                     ToJson(json::object{{"functionName", name}, {"namespace", "openfaas-fn"}}))
                .status,
            202u);
  EXPECT_EQ(funcd
                .Api("DELETE", "/system/secrets",
                     ToJson(json::object{{"name", name}, {"namespace", "openfaas-fn"}}))
                .status,
            202u);
  EXPECT_FALSE(listed());
}

TEST_F(CertifierTest, SecretCrudWithValue) {
  SecretCrud(funcd(), "secret-string", "value", "this-is-the-secret", "this-is-the-new-secret");
}

TEST_F(CertifierTest, SecretCrudWithRawValue) {
  SecretCrud(funcd(), "secret-bytes", "rawValue", std::string("\x01\x02\x00\xfe\xff raw\n", 10),
             std::string("\x00\x00new\xff", 6));
}

}  // namespace
}  // namespace funcd::testing
