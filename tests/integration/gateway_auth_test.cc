// funcd serve: basic auth on /system/* and /ui (contracts §2.2), including paths that a
// normalising router could be tricked by; /function/*, /healthz and /metrics stay open.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;
using ::testing::HasSubstr;

class AuthTest : public GatewayTest {
 protected:
  // Sends exactly `target` (no client-side normalisation) and reads the whole answer.
  std::string RawGet(std::string_view target, const Headers& headers = {}) {
    RawClient client(funcd().port());
    EXPECT_TRUE(client.connected());
    client.Send(RawRequest("GET", target, headers));
    EXPECT_TRUE(ReadWholeResponse(client)) << target << ": " << client.received();
    return client.received();
  }
};

void ExpectUnauthorized(const Reply& r, std::string_view what) {
  EXPECT_EQ(r.status, 401u) << what;
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Basic realm=\"Restricted\"") << what;
  EXPECT_EQ(r.body, "invalid credentials") << what;
}

TEST_F(AuthTest, EverySystemRouteNeedsCredentials) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/system/functions"},
      {"POST", "/system/functions"},
      {"PUT", "/system/functions"},
      {"DELETE", "/system/functions"},
      {"GET", "/system/function/x"},
      {"POST", "/system/scale-function/x"},
      {"GET", "/system/secrets"},
      {"POST", "/system/secrets"},
      {"PUT", "/system/secrets"},
      {"DELETE", "/system/secrets"},
      {"GET", "/system/namespaces"},
      {"GET", "/system/namespace/x"},
      {"POST", "/system/namespace/"},
      {"PUT", "/system/namespace/x"},
      {"DELETE", "/system/namespace/x"},
      {"GET", "/system/logs?name=x&follow=false"},
      {"GET", "/system/info"},
      {"POST", "/system/alert"},
      {"GET", "/system/no-such-route"},
      {"PATCH", "/system/functions"},  // a wrong method is not told apart before auth
      {"GET", "/ui/"},
  };
  for (const auto& [method, target] : routes) {
    const std::string what = StrCat(method, " ", target);
    ExpectUnauthorized(funcd().Anonymous(method, target, method == "GET" ? "" : "{}"), what);
    ExpectUnauthorized(
        funcd().Anonymous(method, target, "", {{"Authorization", "Basic YWRtaW46d3Jvbmc="}}), what);
  }
}

TEST_F(AuthTest, PathTricksNeverServeSystemRoutesWithoutCredentials) {
  ASSERT_EQ(funcd().Deploy(HostFunction("hidden-fn", "cat")), 202u);
  ASSERT_EQ(funcd().Api("GET", "/system/functions").status, 200u);
  // Paths that normalise to a /system route: 401, like the route itself.
  for (const char* target :
       {"//system/functions", "/system/../system/functions", "/%73ystem/functions",
        "/system/./functions", "/function/x/../../system/functions",
        "/system/%2e%2e/system/functions", "/system/%2E%2E/system/functions",
        "/function/hidden-fn/%2e%2e/%2e%2e/system/functions", "/function/..%2fsystem/functions",
        "/ui/../system/functions", "/system//functions", "/system/functions/.",
        "/%2Fsystem/functions", "/./system/functions", "/healthz/../system/functions",
        "/system/functions?namespace=openfaas-fn", "/system%2ffunctions",
        "/system/function/hidden-fn", "/system/%66unction/hidden-fn"}) {
    const std::string raw = RawGet(target);
    EXPECT_EQ(RawStatus(raw), 401u) << target << "\n" << raw;
    EXPECT_THAT(raw, ::testing::Not(HasSubstr("hidden-fn"))) << target;
  }
  // Paths that are not /system routes at all: anything but data (404 is fine).
  for (const char* target :
       {"/System/functions", "/SYSTEM/FUNCTIONS", "/system./functions", "/system/functions.",
        "/system/functions..", "/system/functions%00", "/system/functions%2500",
        "/system/functions%20", "http://127.0.0.1/system/functions", "system/functions", "*"}) {
    const std::string raw = RawGet(target);
    const unsigned status = RawStatus(raw);
    EXPECT_NE(status, 200u) << target << "\n" << raw;
    EXPECT_TRUE(status == 400u || status == 401u || status == 404u) << target << "\n" << raw;
    EXPECT_THAT(raw, ::testing::Not(HasSubstr("hidden-fn"))) << target;
  }
}

TEST_F(AuthTest, FunctionsHealthAndMetricsNeedNoCredentials) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("open-fn", "cat")));
  Reply r = funcd().Anonymous("POST", "/function/open-fn", "no auth");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "no auth");
  // A caller's own (wrong for the gateway) Authorization is the function's business.
  Reply with_auth = funcd().Anonymous("POST", "/function/open-fn.openfaas-fn", "mine",
                                      {{"Authorization", "Basic YWRtaW46d3Jvbmc="}});
  EXPECT_EQ(with_auth.status, 200u);
  EXPECT_EQ(with_auth.body, "mine");
  EXPECT_EQ(funcd().Anonymous("GET", "/healthz").status, 200u);
  EXPECT_EQ(funcd().Anonymous("GET", "/metrics").status, 200u);
}

TEST_F(AuthTest, CredentialsWithSurroundingWhitespaceInTheFilesAreTrimmed) {
  // An operator edits the files (contracts §2.2: whitespace around both is trimmed).
  const std::string dir = StrCat(state_.path(), "/secrets");
  funcd().Stop();
  {
    std::FILE* user = std::fopen(StrCat(dir, "/basic-auth-user").c_str(), "w");
    std::FILE* password = std::fopen(StrCat(dir, "/basic-auth-password").c_str(), "w");
    ASSERT_NE(user, nullptr);
    ASSERT_NE(password, nullptr);
    std::fputs(" operator\n", user);
    std::fputs("  s3cret-pass \n", password);
    std::fclose(user);
    std::fclose(password);
  }
  StartFuncd();
  EXPECT_EQ(funcd().user(), "operator");
  EXPECT_EQ(funcd().password(), "s3cret-pass");
  EXPECT_EQ(funcd().Api("GET", "/system/functions").status, 200u);
  ExpectUnauthorized(
      funcd().Anonymous("GET", "/system/functions", "",
                        {{"Authorization", StrCat("Basic ", Base64Encode("admin:s3cret-pass"))}}),
      "old user");
}

class NoAuthTest : public GatewayTest {
 protected:
  FuncdOptions Options() const override { return {.basic_auth = false}; }
};

TEST_F(NoAuthTest, BasicAuthOffOpensTheApiAndWritesNoCredentials) {
  EXPECT_EQ(funcd().Anonymous("GET", "/system/functions").status, 200u);
  EXPECT_EQ(funcd().Anonymous("GET", "/system/info").status, 200u);
  struct stat info {};
  EXPECT_NE(::stat(StrCat(state_.path(), "/secrets/basic-auth-password").c_str(), &info), 0);
}

}  // namespace
}  // namespace funcd::testing
