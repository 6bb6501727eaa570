#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/strings.h"
#include "http/client.h"
#include "http/testing/raw_client.h"
#include "http/testing/test_server.h"

namespace funcd::http {
namespace {

using testing::FunctionHandler;
using testing::RawClient;
using testing::TestServer;
using namespace std::chrono_literals;

// Echoes the request: status 200, body = method + " " + target + "\n" + request body.
asio::awaitable<void> Echo(ServerExchange& ex) {
  auto body = co_await ex.ReadAll(1 << 30);
  if (!body) {
    co_await ex.Respond(400, body.error().message);
    co_return;
  }
  std::string out = StrCat(std::string_view(ex.head().method_string()), " ",
                           std::string_view(ex.head().target()), "\n", *body);
  ex.response().set("X-Echo", "1");
  co_await ex.Respond(200, out);
}

std::atomic<bool> g_release_second_chunk{false};

// Streams "first" as one chunk, waits for the test to release it, then sends "second".
asio::awaitable<void> TwoChunks(ServerExchange& ex) {
  std::string_view first = "data: first\n\n";
  std::string_view second = "data: second\n\n";
  ex.response().set(Field::content_type, "text/event-stream");
  asio::const_buffer a(first.data(), first.size());
  co_await ex.StartStream(std::nullopt, std::span(&a, 1));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!g_release_second_chunk.load()) {
    timer.expires_after(5ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  asio::const_buffer b(second.data(), second.size());
  co_await ex.WriteStream(std::span(&b, 1), true);
}

Result<ClientResponse> Get(const std::string& url, std::string body = "",
                           std::string method = "GET") {
  return RunSync(FetchUrl(method, url, {}, std::move(body), 5s));
}

TEST(ServerTest, EchoesRequestWithContentLength) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  auto response = Get(server.url("/a/b?x=1"), "hello", "POST");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "POST /a/b?x=1\nhello");
  EXPECT_EQ(FieldValue(response->headers, "X-Echo"), "1");
  EXPECT_FALSE(FieldValue(response->headers, "Date").empty());
}

TEST(ServerTest, KeepAliveReusesOneConnection) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("GET /one\n"));
  ASSERT_TRUE(client.Send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("GET /two\n"));
  EXPECT_FALSE(client.closed());
  EXPECT_EQ(server.server().connections(), 1);
}

TEST(ServerTest, PipelinedRequestsAnsweredInOrder) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(
      client.Send("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                  "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("GET /2\n"));
  size_t first = client.received().find("POST /1\nabc");
  size_t second = client.received().find("GET /2\n");
  ASSERT_NE(first, std::string::npos);
  EXPECT_LT(first, second);
}

TEST(ServerTest, ChunkedRequestBodyIsDecoded) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(
      client.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("POST /c\nhello world"));
}

TEST(ServerTest, MalformedRequestGets400AndClose) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GARBAGE\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 400 Bad Request\r\n")) << client.received();
}

TEST(ServerTest, OversizedHeaderGets431) {
  FunctionHandler handler(Echo);
  ServerOptions options;
  options.header_limit = 1024;
  TestServer server(handler, options);
  RawClient client(server.port());
  ASSERT_TRUE(client.Send(StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(4000, 'a'), "\r\n\r\n")));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 431 ")) << client.received();
}

TEST(ServerTest, SendsContinueBeforeReadingBody) {
  FunctionHandler handler(Echo);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(client.Send(
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("HTTP/1.1 100 Continue\r\n\r\n"));
  ASSERT_TRUE(client.Send("body"));
  ASSERT_TRUE(client.ReadUntil("POST /e\nbody"));
}

TEST(ServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  FunctionHandler handler(Echo);
  ServerOptions options;
  options.idle_timeout = 200ms;
  TestServer server(handler, options);
  RawClient client(server.port());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.ReadUntilClosed(3s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ServerTest, StreamedChunksArriveOneByOne) {
  g_release_second_chunk = false;
  FunctionHandler handler(TwoChunks);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
  // The first event must arrive while the handler still holds back the second.
  ASSERT_TRUE(client.ReadUntil("data: first\n\n"));
  EXPECT_EQ(client.received().find("second"), std::string::npos);
  EXPECT_NE(client.received().find("Transfer-Encoding: chunked"), std::string::npos);
  g_release_second_chunk = true;
  ASSERT_TRUE(client.ReadUntil("0\r\n\r\n"));
  EXPECT_NE(client.received().find("data: second\n\n"), std::string::npos);
}

TEST(ServerTest, Http10ClientGetsCloseDelimitedStream) {
  g_release_second_chunk = true;
  FunctionHandler handler(TwoChunks);
  TestServer server(handler);
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GET /sse HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_EQ(client.received().find("chunked"), std::string::npos);
  EXPECT_NE(client.received().find("data: first\n\ndata: second\n\n"), std::string::npos);
}

TEST(ServerTest, ShutdownWaitsForInFlightRequest) {
  g_release_second_chunk = false;
  FunctionHandler handler(TwoChunks);
  auto server = std::make_unique<TestServer>(handler);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("data: first"));
  std::thread release([] {
    std::this_thread::sleep_for(100ms);
    g_release_second_chunk = true;
  });
  server.reset();  // drains: the in-flight stream completes before the server goes away
  release.join();
  client.ReadUntilClosed();
  EXPECT_NE(client.received().find("data: second"), std::string::npos);
}

}  // namespace
}  // namespace funcd::http
