// fwatchdog mode=static: a file server compatible with Go's http.FileServer.

#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace funcd::testing {
namespace {

class StaticModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wd_ = std::make_unique<Watchdog>(
        std::vector<std::string>{"mode=static", "static_path=" + TestData("static")});
  }
  std::unique_ptr<Watchdog> wd_;
};

TEST_F(StaticModeTest, ServesIndexAndFilesWithTypes) {
  Reply index = wd_->Get("/");
  EXPECT_EQ(index.status, 200u);
  EXPECT_EQ(index.body, "<h1>hello static</h1>\n");
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  Reply css = wd_->Get("/style.css");
  EXPECT_EQ(css.Header("Content-Type"), "text/css; charset=utf-8");
  EXPECT_FALSE(css.Header("Last-Modified").empty());
}

TEST_F(StaticModeTest, MissingFileIs404) {
  Reply r = wd_->Get("/nope.txt");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body, "404 page not found\n");
}

TEST_F(StaticModeTest, DirectoryRedirectsAndListing) {
  Reply redirect = wd_->Get("/sub");
  EXPECT_EQ(redirect.status, 301u);
  EXPECT_EQ(redirect.Header("Location"), "sub/");
  Reply listing = wd_->Get("/sub/");
  EXPECT_EQ(listing.status, 200u);
  EXPECT_EQ(listing.body, "<pre>\n<a href=\"file.txt\">file.txt</a>\n</pre>\n");
  Reply index_redirect = wd_->Get("/index.html");
  EXPECT_EQ(index_redirect.status, 301u);
  EXPECT_EQ(index_redirect.Header("Location"), "./");
}

TEST_F(StaticModeTest, TraversalStaysInsideTheRoot) {
  Reply r = wd_->Get("/../../../../etc/passwd");
  EXPECT_EQ(r.status, 404u);
  Reply encoded = wd_->Get("/%2e%2e/%2e%2e/etc/passwd");
  EXPECT_EQ(encoded.status, 404u);
}

TEST_F(StaticModeTest, RangesAndConditionalRequests) {
  Reply range = Call(wd_->port(), "GET", "/sub/file.txt", "", {{"Range", "bytes=2-5"}});
  EXPECT_EQ(range.status, 206u);
  EXPECT_EQ(range.body, "2345");
  EXPECT_EQ(range.Header("Content-Range"), "bytes 2-5/20");
  Reply suffix = Call(wd_->port(), "GET", "/sub/file.txt", "", {{"Range", "bytes=-3"}});
  EXPECT_EQ(suffix.body, "hij");
  Reply bad = Call(wd_->port(), "GET", "/sub/file.txt", "", {{"Range", "bytes=50-60"}});
  EXPECT_EQ(bad.status, 416u);
  Reply full = wd_->Get("/sub/file.txt");
  Reply cached = Call(wd_->port(), "GET", "/sub/file.txt", "",
                      {{"If-Modified-Since", full.Header("Last-Modified")}});
  EXPECT_EQ(cached.status, 304u);
  EXPECT_EQ(cached.body, "");
}

TEST_F(StaticModeTest, HeadHasLengthButNoBody) {
  Reply head = Call(wd_->port(), "HEAD", "/sub/file.txt");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.Header("Content-Length"), "20");
  EXPECT_EQ(head.body, "");
}

}  // namespace
}  // namespace funcd::testing
