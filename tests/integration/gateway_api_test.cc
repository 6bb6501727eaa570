// funcd serve: every route of the REST API and its status codes (contracts §2.1, §2.4),
// including the 4xx answers for bad input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;
using ::testing::HasSubstr;

class ApiTest : public GatewayTest {};

TEST_F(ApiTest, HealthzMetricsAndRootNeedNoCredentials) {
  Reply health = funcd().Anonymous("GET", "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "");
  EXPECT_EQ(funcd().Anonymous("HEAD", "/healthz").status, 200u);
  Reply metrics = funcd().Anonymous("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_THAT(metrics.Header("Content-Type"), HasSubstr("text/plain"));
  Reply root = funcd().Anonymous("GET", "/");
  EXPECT_EQ(root.status, 307u);
  EXPECT_EQ(root.Header("Location"), "/ui/");
}

TEST_F(ApiTest, UiNeedsCredentials) {
  EXPECT_EQ(funcd().Anonymous("GET", "/ui/").status, 401u);
  Reply ui = funcd().Api("GET", "/ui/");
  EXPECT_EQ(ui.status, 200u);
  EXPECT_THAT(ui.Header("Content-Type"), HasSubstr("text/html"));
  EXPECT_FALSE(ui.body.empty());
}

TEST_F(ApiTest, EmptyListIsAnEmptyArrayAndMissingStatusIs404WithEmptyBody) {
  Reply list = funcd().Api("GET", "/system/functions");
  EXPECT_EQ(list.status, 200u);
  EXPECT_EQ(list.body, "[]");
  EXPECT_THAT(list.Header("Content-Type"), HasSubstr("application/json"));
  Reply missing = funcd().Api("GET", "/system/function/nope?namespace=openfaas-fn");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.body, "");
  EXPECT_EQ(funcd().Api("GET", "/system/functions?namespace=no-such-ns").status, 400u);
}

TEST_F(ApiTest, BadJsonIs400WithAMessage) {
  for (const char* body : {"{not json", "[1,2]", "", "{\"service\":42,\"image\":\"x\"}"}) {
    Reply r = funcd().Api("POST", "/system/functions", body);
    EXPECT_EQ(r.status, 400u) << body;
    EXPECT_FALSE(r.body.empty()) << body;
  }
  EXPECT_THAT(funcd().Api("POST", "/system/functions", "{not json").body, HasSubstr("JSON"));
  EXPECT_EQ(funcd().Api("PUT", "/system/functions", "{oops").status, 400u);
  EXPECT_EQ(funcd().Api("DELETE", "/system/functions", "{oops").status, 400u);
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", "{oops").status, 400u);
  EXPECT_EQ(funcd().Api("POST", "/system/namespace/", "{oops").status, 400u);
}

TEST_F(ApiTest, InvalidFunctionNamesAre400) {
  const std::string too_long(64, 'a');
  for (const std::string& name : {std::string("Bad_Name"), too_long, std::string("-lead"),
                                  std::string("trail-"), std::string("a.b"), std::string("")}) {
    Reply r = funcd().Api("POST", "/system/functions", ToJson(HostFunction(name, "cat")));
    EXPECT_EQ(r.status, 400u) << name;
    EXPECT_FALSE(r.body.empty()) << name;
  }
  EXPECT_THAT(
      funcd().Api("POST", "/system/functions", ToJson(HostFunction("Bad_Name", "cat"))).body,
      HasSubstr("Bad_Name"));
  // 63 characters is the limit, not over it.
  const std::string longest(63, 'a');
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction(longest, "cat")));
  EXPECT_EQ(funcd().Invoke(longest, "POST", "", "long").body, "long");
  EXPECT_EQ(funcd().Api("GET", "/system/functions").body.find("Bad_Name"), std::string::npos);
}

TEST_F(ApiTest, MissingImageAndMissingProcessAre400) {
  json::object no_image = HostFunction("no-image", "cat");
  no_image.erase("image");
  Reply r = funcd().Api("POST", "/system/functions", ToJson(no_image));
  EXPECT_EQ(r.status, 400u);
  EXPECT_THAT(r.body, HasSubstr("image"));
  json::object no_process = HostFunction("no-process", "cat");
  no_process.erase("envProcess");
  EXPECT_EQ(funcd().Api("POST", "/system/functions", ToJson(no_process)).status, 400u);
  EXPECT_EQ(funcd().Api("GET", "/system/functions").body, "[]");
}

TEST_F(ApiTest, UnknownSecretIs400) {
  json::object fn = HostFunction("needs-secret", "cat");
  fn["secrets"] = json::array{"no-such-secret"};
  Reply r = funcd().Api("POST", "/system/functions", ToJson(fn));
  EXPECT_EQ(r.status, 400u);
  EXPECT_THAT(r.body, HasSubstr("unable to find secret"));
  EXPECT_THAT(r.body, HasSubstr("no-such-secret"));
  EXPECT_EQ(funcd().Api("GET", "/system/function/needs-secret").status, 404u);
}

TEST_F(ApiTest, DuplicateDeployIs409AndUpdateOfUnknownIs404) {
  EXPECT_EQ(funcd().Deploy(HostFunction("dup", "cat")), 202u);
  EXPECT_EQ(funcd().Api("POST", "/system/functions", ToJson(HostFunction("dup", "cat"))).status,
            409u);
  Reply put = funcd().Api("PUT", "/system/functions", ToJson(HostFunction("other", "cat")));
  EXPECT_EQ(put.status, 404u);
  EXPECT_EQ(funcd().Api("GET", "/system/function/other").status, 404u);
}

TEST_F(ApiTest, NullOptionalFieldsAreAccepted) {
  const std::string body =
      R"({"service":"nulls","image":"functions/alpine:latest","envProcess":"cat",)"
      R"("namespace":null,"envVars":null,"constraints":null,"secrets":null,"labels":null,)"
      R"("annotations":null,"limits":null,"requests":null,"readOnlyRootFilesystem":null})";
  Reply r = funcd().Api("POST", "/system/functions", body);
  ASSERT_EQ(r.status, 202u) << r.body;
  // Deprecated and unknown fields are ignored, as Go's decoder does.
  const std::string extra =
      R"({"service":"extras","image":"functions/alpine:latest","envProcess":"cat",)"
      R"("registryAuth":"eA==","network":"func_functions","futureField":{"a":[1,2]}})";
  EXPECT_EQ(funcd().Api("POST", "/system/functions", extra).status, 202u);
  auto status = funcd().Status("nulls");
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->at("labels").is_object());
  EXPECT_TRUE(status->at("annotations").is_object());
  EXPECT_FALSE(status->contains("envVars"));
  EXPECT_FALSE(status->contains("limits"));
  EXPECT_FALSE(status->contains("requests"));
  EXPECT_EQ(StringField(*status, "namespace"), "openfaas-fn");
}

TEST_F(ApiTest, OversizedBodiesAre413) {
  for (const char* target : {"/system/functions", "/system/secrets", "/system/alert"}) {
    RawClient client(funcd().port());
    ASSERT_TRUE(client.connected());
    // Only the head: the gateway must refuse on the declared length, without the body.
    client.Send(
        StrCat("POST ", target, " HTTP/1.1\r\nHost: x\r\nAuthorization: ", funcd().Authorization(),
               "\r\nContent-Type: application/json\r\nContent-Length: ", 64 << 20, "\r\n\r\n"));
    ASSERT_TRUE(client.ReadUntil("\r\n\r\n")) << target;
    EXPECT_EQ(RawStatus(client.received()), 413u) << target << ": " << client.received();
  }
  // A chunked body that grows past the limit is refused too.
  RawClient chunked(funcd().port());
  chunked.Send(StrCat("PUT /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: ",
                      funcd().Authorization(), "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string piece(1 << 20, ' ');
  for (int i = 0; i < 8 && !chunked.closed(); ++i) {
    if (!chunked.Send(StrCat("100000\r\n", piece, "\r\n"))) {
      break;
    }
  }
  ASSERT_TRUE(chunked.ReadUntil("\r\n\r\n"));
  EXPECT_EQ(RawStatus(chunked.received()), 413u) << chunked.received();
}

TEST_F(ApiTest, WrongMethodIs405WithEmptyBody) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PATCH", "/system/functions"},
      {"GET", "/system/alert"},
      {"GET", "/system/scale-function/x"},
      {"POST", "/system/info"},
      {"DELETE", "/system/namespaces"},
      {"POST", "/system/logs"},
      {"PATCH", "/system/secrets"},
      {"POST", "/system/function/x"},
      {"PATCH", "/system/namespace/x"},
      {"POST", "/metrics"},
      {"PUT", "/healthz"},
  };
  for (const auto& [method, target] : cases) {
    Reply r = funcd().Api(method, target);
    EXPECT_EQ(r.status, 405u) << method << " " << target;
    EXPECT_EQ(r.body, "") << method << " " << target;
  }
}

TEST_F(ApiTest, UnknownPathsAre404) {
  for (const char* target : {"/nothing", "/system/nothing", "/system/function/",
                             "/system/functions/extra", "/functions/x", "/system"}) {
    Reply r = funcd().Api("GET", target);
    EXPECT_EQ(r.status, 404u) << target;
    EXPECT_EQ(r.body, "404 page not found\n") << target;
  }
  Reply unknown_fn = funcd().Invoke("no-such-function");
  EXPECT_EQ(unknown_fn.status, 404u);
}

TEST_F(ApiTest, ScaleFunction) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("scaled", "cat")));
  Reply missing =
      funcd().Api("POST", "/system/scale-function/nope", R"({"serviceName":"nope","replicas":2})");
  EXPECT_EQ(missing.status, 404u);
  Reply bad = funcd().Api("POST", "/system/scale-function/scaled", "{bad");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_THAT(bad.body, HasSubstr("Error unmarshalling request body"));
  EXPECT_EQ(funcd().Api("POST", "/system/scale-function/scaled", "").status, 400u);
  Reply ok = funcd().Api("POST", "/system/scale-function/scaled",
                         R"({"serviceName":"scaled","replicas":3,"namespace":"openfaas-fn"})");
  EXPECT_EQ(ok.status, 202u) << ok.body;
  auto status = funcd().Status("scaled");
  ASSERT_TRUE(status);
  EXPECT_EQ(IntField(*status, "replicas"), 3);
  EXPECT_TRUE(funcd().WaitAvailable("scaled", 3));
  // Down again; the namespace may also come from the query string.
  EXPECT_EQ(funcd()
                .Api("POST", "/system/scale-function/scaled?namespace=openfaas-fn",
                     R"({"serviceName":"scaled","replicas":1})")
                .status,
            202u);
  EXPECT_TRUE(Eventually([&] {
    auto s = funcd().Status("scaled");
    return s && IntField(*s, "replicas") == 1 && IntField(*s, "availableReplicas") == 1;
  }));
}

TEST_F(ApiTest, DeleteFunctionErrors) {
  EXPECT_EQ(funcd().Api("DELETE", "/system/functions", R"({"functionName":"nope"})").status, 404u);
  Reply empty_name = funcd().Api("DELETE", "/system/functions", R"({"namespace":"openfaas-fn"})");
  EXPECT_EQ(empty_name.status, 400u);
  EXPECT_FALSE(empty_name.body.empty());
  EXPECT_EQ(funcd().Api("DELETE", "/system/functions", "").status, 400u);
}

TEST_F(ApiTest, NamespaceLifecycle) {
  EXPECT_EQ(funcd().Api("GET", "/system/namespaces").body, R"(["openfaas-fn"])");
  Reply created =
      funcd().Api("POST", "/system/namespace/", R"({"name":"team-a","labels":{"openfaas":"1"}})");
  EXPECT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(funcd().Api("POST", "/system/namespace/", R"({"name":"team-a"})").status, 409u);
  EXPECT_EQ(funcd().Api("POST", "/system/namespace/", R"({"name":"Bad_NS"})").status, 400u);
  json::value list = ParseJson(funcd().Api("GET", "/system/namespaces").body);
  EXPECT_EQ(list, (json::array{"openfaas-fn", "team-a"}));

  Reply got = funcd().Api("GET", "/system/namespace/team-a");
  ASSERT_EQ(got.status, 200u);
  json::object ns = ParseJson(got.body).as_object();
  EXPECT_EQ(StringField(ns, "name"), "team-a");
  EXPECT_EQ(ns.at("labels").as_object().at("openfaas"), "1");
  EXPECT_EQ(funcd().Api("GET", "/system/namespace/").status, 400u);
  EXPECT_EQ(funcd().Api("GET", "/system/namespace/nope").status, 404u);

  Reply updated = funcd().Api("PUT", "/system/namespace/team-a",
                              R"({"name":"team-a","annotations":{"owner":"ops"}})");
  EXPECT_EQ(updated.status, 202u) << updated.body;
  json::object after = ParseJson(funcd().Api("GET", "/system/namespace/team-a").body).as_object();
  EXPECT_EQ(after.at("annotations").as_object().at("owner"), "ops");
  EXPECT_EQ(funcd().Api("PUT", "/system/namespace/nope", R"({"name":"nope"})").status, 404u);
  EXPECT_EQ(funcd().Api("PUT", "/system/namespace/team-a", R"({"name":"team-b"})").status, 400u);

  // Functions live in it; it cannot go while they do.
  json::object fn = HostFunction("in-team", "cat");
  fn["namespace"] = "team-a";
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  EXPECT_EQ(funcd().Invoke("in-team.team-a", "POST", "", "hi").body, "hi");
  EXPECT_EQ(funcd().Invoke("in-team", "POST", "", "hi").status, 404u);  // not in openfaas-fn
  EXPECT_EQ(funcd().Api("GET", "/system/functions?namespace=team-a").status, 200u);
  EXPECT_EQ(funcd().Api("GET", "/system/functions").body, "[]");
  EXPECT_EQ(funcd().Api("DELETE", "/system/namespace/team-a").status, 409u);
  EXPECT_EQ(
      funcd()
          .Api("DELETE", "/system/functions", R"({"functionName":"in-team","namespace":"team-a"})")
          .status,
      202u);
  EXPECT_EQ(funcd().Api("DELETE", "/system/namespace/team-a").status, 202u);
  EXPECT_EQ(funcd().Api("GET", "/system/namespace/team-a").status, 404u);
  EXPECT_EQ(funcd().Api("DELETE", "/system/namespace/team-a").status, 404u);
  EXPECT_EQ(funcd().Api("DELETE", "/system/namespace/openfaas-fn").status, 400u);
  // Deploying into a namespace that does not exist is refused.
  fn["service"] = "orphan";
  EXPECT_EQ(funcd().Api("POST", "/system/functions", ToJson(fn)).status, 400u);
}

TEST_F(ApiTest, SecretErrors) {
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", R"({"value":"x"})").status, 400u);
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", R"({"name":"Bad/Name","value":"x"})").status,
            400u);
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", R"({"name":"..","value":"x"})").status, 400u);
  EXPECT_EQ(funcd().Api("POST", "/system/secrets", R"({"name":"s","rawValue":"%%%"})").status,
            400u);
  EXPECT_EQ(funcd().Api("PUT", "/system/secrets", R"({"name":"nope","value":"x"})").status, 404u);
  EXPECT_EQ(funcd().Api("DELETE", "/system/secrets", R"({"name":"nope"})").status, 404u);
  EXPECT_EQ(funcd().Api("GET", "/system/secrets?namespace=nope").status, 400u);
  EXPECT_EQ(funcd()
                .Api("POST", "/system/secrets", R"({"name":"s","namespace":"nope","value":"x"})")
                .status,
            400u);
}

TEST_F(ApiTest, LogsRequestErrors) {
  EXPECT_EQ(funcd().Api("GET", "/system/logs").status, 400u);
  EXPECT_EQ(funcd().Api("GET", "/system/logs?name=nope&follow=false").status, 404u);
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("logged", "cat")));
  EXPECT_EQ(funcd().Api("GET", "/system/logs?name=logged&tail=abc&follow=false").status, 422u);
  EXPECT_EQ(funcd().Api("GET", "/system/logs?name=logged&since=yesterday&follow=false").status,
            422u);
  Reply ok = funcd().Api("GET", "/system/logs?name=logged&follow=false");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.Header("Content-Type"), "application/x-ndjson");
}

TEST_F(ApiTest, InfoDescribesProviderAndGateway) {
  Reply r = funcd().Api("GET", "/system/info");
  ASSERT_EQ(r.status, 200u);
  EXPECT_THAT(r.Header("Content-Type"), HasSubstr("application/json"));
  json::object info = ParseJson(r.body).as_object();
  const json::object& provider = info.at("provider").as_object();
  EXPECT_EQ(StringField(provider, "provider"), "funcd");
  EXPECT_EQ(StringField(provider, "orchestration"), "process");
  EXPECT_FALSE(StringField(provider.at("version").as_object(), "sha").empty());
  EXPECT_FALSE(StringField(provider.at("version").as_object(), "release").empty());
  EXPECT_FALSE(StringField(info.at("version").as_object(), "sha").empty());
  EXPECT_FALSE(StringField(info.at("version").as_object(), "release").empty());
  EXPECT_FALSE(StringField(info, "arch").empty());
}

TEST_F(ApiTest, AlertScalesUpAndBackToMinimum) {
  EXPECT_EQ(funcd().Api("POST", "/system/alert", "").body, "A body is required for this endpoint");
  Reply bad = funcd().Api("POST", "/system/alert", "{nope");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.body, "Unable to parse alert, bad format.");
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("alerted", "cat")));
  const std::string firing =
      R"({"receiver":"scale-up","status":"firing","alerts":[{"status":"firing","labels":)"
      R"({"alertname":"APIHighInvocationRate","function_name":"alerted.openfaas-fn"}}]})";
  Reply fired = funcd().Api("POST", "/system/alert", firing);
  EXPECT_EQ(fired.status, 200u) << fired.body;
  EXPECT_EQ(fired.body, "");
  // Defaults: scale.max 20, factor 10% → steps of 2.
  EXPECT_EQ(IntField(*funcd().Status("alerted"), "replicas"), 3);
  std::string resolved = firing;
  for (size_t at; (at = resolved.find("firing")) != std::string::npos;) {
    resolved.replace(at, 6, "resolved");
  }
  EXPECT_EQ(funcd().Api("POST", "/system/alert", resolved).status, 200u);
  EXPECT_EQ(IntField(*funcd().Status("alerted"), "replicas"), 1);
}

// The value of the sample of `metric` whose labels contain every one of `labels`, from
// Prometheus text; nullopt when there is none.
std::optional<double> MetricValue(const std::string& text, std::string_view metric,
                                  std::vector<std::string> labels) {
  for (std::string_view line : Split(text, '\n')) {
    if (!line.starts_with(StrCat(metric, "{")) && !line.starts_with(StrCat(metric, " "))) {
      continue;
    }
    bool all = true;
    for (const std::string& label : labels) {
      all = all && line.find(label) != std::string_view::npos;
    }
    if (all) {
      return std::atof(std::string(line.substr(line.rfind(' ') + 1)).c_str());
    }
  }
  return std::nullopt;
}

TEST_F(ApiTest, MetricsCountInvocationsPerFunction) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("counted", "cat")));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(funcd().Invoke("counted", "POST", "", "x").status, 200u);
  }
  EXPECT_EQ(funcd().Invoke("counted", "POST", "/", "y").status, 200u);
  const std::string fn = "function_name=\"counted.openfaas-fn\"";
  // A call is counted once its response is written, which may be just after the client has
  // read it.
  std::string text;
  EXPECT_TRUE(Eventually([&] {
    text = funcd().Anonymous("GET", "/metrics").body;
    return MetricValue(text, "gateway_function_invocation_total", {fn, "code=\"200\""}) == 4.0;
  }));
  EXPECT_EQ(MetricValue(text, "gateway_function_invocation_total", {fn, "code=\"200\""}), 4.0)
      << text;
  EXPECT_EQ(MetricValue(text, "gateway_function_invocation_started", {fn}), 4.0);
  EXPECT_EQ(MetricValue(text, "gateway_functions_seconds_count", {fn, "code=\"200\""}), 4.0);
  EXPECT_EQ(MetricValue(text, "gateway_function_invocation_inflight", {fn}), 0.0);
  EXPECT_EQ(MetricValue(text, "gateway_service_count", {fn}), 1.0);
  EXPECT_EQ(MetricValue(text, "gateway_service_ready_count", {fn}), 1.0);
  auto status = funcd().Status("counted");
  ASSERT_TRUE(status);
  EXPECT_EQ(IntField(*status, "invocationCount"), 4);
  // Listed counts come from the same counters.
  const json::value list = ParseJson(funcd().Api("GET", "/system/functions").body);
  EXPECT_EQ(IntField(list.as_array().at(0).as_object(), "invocationCount"), 4);
}

TEST_F(ApiTest, CallsThatWaitForAReplicaCountAsColdStarts) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("cold", "cat")));
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/cold", R"({"serviceName":"cold","replicas":0})")
          .status,
      202u);
  ASSERT_TRUE(Eventually([&] { return !funcd().Status("cold")->contains("availableReplicas"); }));
  EXPECT_EQ(funcd().Invoke("cold", "POST", "", "brr").body, "brr");
  const std::string text = funcd().Anonymous("GET", "/metrics").body;
  EXPECT_EQ(MetricValue(text, "gateway_function_cold_starts_total",
                        {"function_name=\"cold.openfaas-fn\""}),
            1.0)
      << text;
}

}  // namespace
}  // namespace funcd::testing
