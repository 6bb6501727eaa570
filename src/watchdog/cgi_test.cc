#include "watchdog/cgi.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace funcd::watchdog {
namespace {

bool Has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

http::RequestHead MakeHead(std::string_view target) {
  http::RequestHead head;
  head.method(http::Verb::post);
  head.target(target);
  head.set("host", "example.com:8080");
  head.insert("x-call-id", "abc");
  head.insert("X-CALL-ID", "second-ignored");
  head.set("content-type", "text/plain");
  head.set("Transfer-Encoding", "chunked");
  return head;
}

TEST(CgiTest, CanonicalizesHeaderKeysLikeGo) {
  EXPECT_EQ(CanonicalHeaderKey("x-call-id"), "X-Call-Id");
  EXPECT_EQ(CanonicalHeaderKey("CONTENT-TYPE"), "Content-Type");
  EXPECT_EQ(CanonicalHeaderKey("weird key"), "weird key");
}

TEST(CgiTest, ClassicEnvironmentHasHeadersAndRequestFacts) {
  auto env = BuildCgiEnvironment({"PATH=/bin", "Http_Method=stale"}, MakeHead("/a%20b/c?x=1&y=2"),
                                 -1, CgiFlavor::kClassic);
  EXPECT_TRUE(Has(env, "PATH=/bin"));
  EXPECT_TRUE(Has(env, "Http_X_Call_Id=abc"));
  EXPECT_FALSE(Has(env, "Http_X_Call_Id=second-ignored"));
  EXPECT_TRUE(Has(env, "Http_Content_Type=text/plain"));
  EXPECT_TRUE(Has(env, "Http_Method=POST"));
  EXPECT_FALSE(Has(env, "Http_Method=stale"));
  EXPECT_TRUE(Has(env, "Http_ContentLength=-1"));
  EXPECT_TRUE(Has(env, "Http_Content_Length=-1"));
  EXPECT_TRUE(Has(env, "Http_Transfer_Encoding=chunked"));
  EXPECT_TRUE(Has(env, "Http_Query=x=1&y=2"));
  EXPECT_TRUE(Has(env, "Http_Path=/a b/c"));
  EXPECT_TRUE(Has(env, "Http_Host=example.com:8080"));
  for (const auto& e : env) {
    EXPECT_FALSE(e.starts_with("Http_Host=") && e != "Http_Host=example.com:8080");
    EXPECT_NE(e, "Http_ContentType=text/plain");  // there is no such variable
  }
}

TEST(CgiTest, OfWatchdogEnvironmentOmitsLengthAndHost) {
  auto env = BuildCgiEnvironment({}, MakeHead("/p"), 5, CgiFlavor::kOfWatchdog);
  EXPECT_TRUE(Has(env, "Http_Path=/p"));
  for (const auto& e : env) {
    EXPECT_FALSE(e.starts_with("Http_ContentLength="));
    EXPECT_FALSE(e.starts_with("Http_Host="));
    EXPECT_FALSE(e.starts_with("Http_Query="));
  }
}

TEST(CgiTest, MarshalsRequestAsJson) {
  http::RequestHead head;
  head.method(http::Verb::post);
  head.target("/");
  head.set("X-B", "2");
  head.insert("x-a", "1");
  head.insert("X-A", "3");
  EXPECT_EQ(MarshalRequest(head, "hi"),
            R"({"header":{"X-A":["1","3"],"X-B":["2"]},"body":{"raw":"aGk="}})");
}

}  // namespace
}  // namespace funcd::watchdog
