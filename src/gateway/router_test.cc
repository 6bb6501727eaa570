#include "gateway/router.h"

#include <gtest/gtest.h>

namespace funcd::gateway {
namespace {

using V = http::Verb;

TEST(RouterTest, InvokeRoutesKeepTheRawRest) {
  auto m = MatchRoute(V::post, "/function/figlet.openfaas-fn/a/b%2Fc?x=1");
  EXPECT_EQ(m.route, Route::kInvoke);
  EXPECT_EQ(m.name, "figlet.openfaas-fn");
  EXPECT_EQ(m.rest, "/a/b%2Fc");
  EXPECT_EQ(m.query, "x=1");
  EXPECT_FALSE(m.needs_auth);
  EXPECT_EQ(MatchRoute(V::get, "/function/env").rest, "/");
  EXPECT_EQ(MatchRoute(V::get, "/function/env/").rest, "/");
  EXPECT_EQ(MatchRoute(V::get, "/function/.openfaas-fn").name, ".openfaas-fn");
  EXPECT_EQ(MatchRoute(V::post, "/function/").route, Route::kNotFound);
}

TEST(RouterTest, SystemRoutesAndMethods) {
  EXPECT_EQ(MatchRoute(V::get, "/system/functions").route, Route::kFunctions);
  EXPECT_TRUE(MatchRoute(V::get, "/system/functions").needs_auth);
  EXPECT_EQ(MatchRoute(V::patch, "/system/functions").route, Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute(V::get, "/system/function/figlet?namespace=x").name, "figlet");
  EXPECT_EQ(MatchRoute(V::post, "/system/scale-function/figlet").route, Route::kScale);
  EXPECT_EQ(MatchRoute(V::get, "/system/scale-function/figlet").route, Route::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute(V::post, "/system/namespace/").route, Route::kNamespace);
  EXPECT_EQ(MatchRoute(V::post, "/system/namespace/").name, "");
  EXPECT_EQ(MatchRoute(V::get, "/system/namespace/team-a").name, "team-a");
  EXPECT_EQ(MatchRoute(V::get, "/healthz").route, Route::kHealthz);
  EXPECT_FALSE(MatchRoute(V::get, "/healthz").needs_auth);
  EXPECT_EQ(MatchRoute(V::get, "/nope").route, Route::kNotFound);
  EXPECT_EQ(MatchRoute(V::get, "/async-function/x").route, Route::kMethodNotAllowed);
}

TEST(RouterTest, PathTricksStillNeedAuth) {
  for (const char* target :
       {"//system/functions", "/system/../system/functions", "/system/./functions",
        "/%73ystem/functions", "/function/x/../../system/functions", "/system//functions",
        "/x/..%2f..%2fsystem/functions"}) {
    auto m = MatchRoute(V::get, target);
    EXPECT_TRUE(m.route == Route::kNotFound || m.needs_auth) << target;
    EXPECT_NE(m.route, Route::kInvoke) << target;
  }
  EXPECT_EQ(MatchRoute(V::get, "/System/functions").route, Route::kNotFound);
  EXPECT_EQ(MatchRoute(V::get, "/system/functions.").route, Route::kNotFound);
  EXPECT_EQ(MatchRoute(V::get, "/system/functions%00").route, Route::kNotFound);
}

TEST(RouterTest, CanonicalPaths) {
  EXPECT_EQ(*CanonicalPath("/a/./b/../c"), "/a/c");
  EXPECT_EQ(*CanonicalPath("/../.."), "/");
  EXPECT_EQ(*CanonicalPath("//a//b/"), "/a/b/");
  EXPECT_EQ(*CanonicalPath("/%2e%2e/x"), "/x");
  EXPECT_FALSE(CanonicalPath("/bad%zz").has_value());
}

TEST(RouterTest, QueryParamsAndNames) {
  EXPECT_EQ(QueryParam("a=1&namespace=team+a&b", "namespace"), "team a");
  EXPECT_EQ(QueryParam("since=2024-01-01T00%3A00%3A00Z", "since"), "2024-01-01T00:00:00Z");
  bool present = true;
  EXPECT_EQ(QueryParam("a=1", "tail", &present), "");
  EXPECT_FALSE(present);
  std::string name, ns;
  SplitFunctionName("fn.a.b", &name, &ns);
  EXPECT_EQ(name, "fn.a");
  EXPECT_EQ(ns, "b");
}

}  // namespace
}  // namespace funcd::gateway
