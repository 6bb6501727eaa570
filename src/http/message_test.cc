#include "http/message.h"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <string>

#include "http/client.h"

namespace funcd::http {
namespace {

// A chunked body whose end arrives a byte or two at a time ("0\r\n", "\r", "\n") is
// parsed, not an assertion failure (Boost 1.81's Beast asserts on it in debug builds; see
// src/common/boost_assert.cc). The fuzzer found it.
TEST(MessageTest, LastChunkArrivingByteByByteParses) {
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::empty_body> parser;
  std::string pending;  // bytes handed over but not consumed yet, as a reader keeps them
  auto feed = [&](std::string_view more) {
    pending.append(more);
    boost::system::error_code ec;
    for (;;) {
      std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec || used == 0 || parser.is_done()) {
        return ec;
      }
    }
  };
  EXPECT_EQ(feed("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
            bhttp::error::need_more);
  EXPECT_EQ(feed("0\r\n"), bhttp::error::need_more);
  EXPECT_EQ(feed("\r"), bhttp::error::need_more);
  EXPECT_FALSE(feed("\n"));
  EXPECT_TRUE(parser.is_done());
}

TEST(MessageTest, SerializesResponseHead) {
  ResponseHead head;
  head.version(11);
  head.result(404);
  head.set("X-A", "1");
  std::string out;
  AppendHead(out, head);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nX-A: 1\r\n\r\n");
}

TEST(MessageTest, SerializesRequestHead) {
  RequestHead head;
  head.method(Verb::post);
  head.target("/x?y=1");
  head.version(11);
  head.set(Field::host, "h");
  std::string out;
  AppendHead(out, head);
  EXPECT_EQ(out, "POST /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(MessageTest, StripsHopByHopIncludingConnectionTokens) {
  Fields fields;
  fields.set(Field::connection, "keep-alive, X-Secret");
  fields.set("X-Secret", "1");
  fields.set(Field::keep_alive, "timeout=5");
  fields.set(Field::transfer_encoding, "chunked");
  fields.set(Field::upgrade, "websocket");
  fields.set("X-Keep", "yes");
  StripHopByHop(fields);
  EXPECT_EQ(fields.find("X-Secret"), fields.end());
  EXPECT_EQ(fields.find(Field::connection), fields.end());
  EXPECT_EQ(fields.find(Field::keep_alive), fields.end());
  EXPECT_EQ(fields.find(Field::transfer_encoding), fields.end());
  EXPECT_EQ(fields.find(Field::upgrade), fields.end());
  EXPECT_EQ(FieldValue(fields, "X-Keep"), "yes");
}

TEST(MessageTest, KeepsUpgradeWhenAsked) {
  Fields fields;
  fields.set(Field::connection, "Upgrade");
  fields.set(Field::upgrade, "websocket");
  StripHopByHop(fields, true);
  EXPECT_EQ(FieldValue(fields, "Upgrade"), "websocket");
  EXPECT_EQ(FieldValue(fields, "Connection"), "Upgrade");
}

TEST(MessageTest, SplitsTargetAndDecodesPercent) {
  auto t = SplitTarget("/a/b?x=1");
  EXPECT_EQ(t.path, "/a/b");
  EXPECT_EQ(t.query, "x=1");
  EXPECT_EQ(SplitTarget("/p").query, "");
  EXPECT_EQ(*PercentDecode("/a%2e%2E/%41"), "/a../A");
  EXPECT_FALSE(PercentDecode("/bad%zz").has_value());
  EXPECT_FALSE(PercentDecode("/short%4").has_value());
}

TEST(MessageTest, ParsesUrls) {
  auto url = ParseUrl("http://127.0.0.1:8080/base?q=1");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/base?q=1");
  EXPECT_EQ(ParseUrl("http://localhost")->target, "/");
  EXPECT_EQ(ParseUrl("http://[::1]:81/")->host, "::1");
  EXPECT_EQ(ParseUrl("unix:///run/x.sock")->host, "/run/x.sock");
  EXPECT_FALSE(ParseUrl("https://x/").has_value());
  EXPECT_FALSE(ParseUrl("http://x:99999/").has_value());
  EXPECT_FALSE(ParseUrl("http://:80/").has_value());
}

}  // namespace
}  // namespace funcd::http
