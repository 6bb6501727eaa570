#include "http/proxy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>
#include <thread>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "http/testing/test_server.h"

namespace funcd::http {
namespace {

using testing::FunctionHandler;
using testing::RawClient;
using testing::TestServer;
using namespace std::chrono_literals;

// The upstream: /echo streams the request body back as it reads it; /redirect answers 302;
// /slow waits 2 s; /ws switches protocols and echoes raw bytes; /sse sends two events.
asio::awaitable<void> Upstream(ServerExchange& ex) {
  auto target = SplitTarget(std::string_view(ex.head().target()));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  if (target.path == "/echo") {
    ex.response().set("X-Upstream", "yes");
    co_await ex.StartStream(ex.reader().content_length());
    for (;;) {
      auto pieces = co_await ex.ReadBody();
      if (!pieces || pieces->empty()) {
        break;
      }
      if (!co_await ex.WriteStream(*pieces)) {
        co_return;
      }
    }
    co_await ex.FinishStream();
  } else if (target.path == "/redirect") {
    ex.response().set(Field::location, "http://example.com/");
    co_await ex.Respond(302, "");
  } else if (target.path == "/slow") {
    timer.expires_after(2s);
    co_await timer.async_wait(kUseAwaitableNoThrow);
    co_await ex.Respond(200, "late");
  } else if (target.path == "/ws") {
    ex.response().result(101);
    ex.response().set(Field::upgrade, "websocket");
    ex.response().set(Field::connection, "Upgrade");
    co_await ex.StartStream(std::nullopt, {}, true);
    ex.MarkUpgraded();
    Connection& c = ex.connection();
    for (;;) {
      if (c.buffer().size() > 0) {
        auto data = c.buffer().data();
        if (!co_await c.Write(data)) {
          co_return;
        }
        c.buffer().consume(c.buffer().size());
      }
      auto n = co_await c.ReadSome();
      if (!n || *n == 0) {
        co_return;
      }
    }
  } else if (target.path == "/sse") {
    ex.response().set(Field::content_type, "text/event-stream");
    std::string_view a = "data: 1\n\n";
    asio::const_buffer piece(a.data(), a.size());
    co_await ex.StartStream(std::nullopt, std::span(&piece, 1));
    timer.expires_after(300ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
    std::string_view b = "data: 2\n\n";
    asio::const_buffer piece2(b.data(), b.size());
    co_await ex.WriteStream(std::span(&piece2, 1), true);
  } else if (target.path == "/split") {
    // Head and body in two writes with Nagle's algorithm on, as Python's http.server does:
    // the body waits until the proxy acknowledges the head.
    int zero = 0;
    ::setsockopt(ex.connection().socket().native_handle(), IPPROTO_TCP, TCP_NODELAY, &zero,
                 sizeof(zero));
    co_await ex.StartStream(2);
    std::string_view body = "ok";
    asio::const_buffer piece(body.data(), body.size());
    co_await ex.WriteStream(std::span(&piece, 1));
    co_await ex.FinishStream();
  } else {
    co_await ex.Respond(200, StrCat("path=", target.path, " query=", target.query));
  }
}

// The proxy under test: forwards everything to the upstream pool, 504/502 on errors.
struct ProxyFixture {
  ConnectionPool* pool = nullptr;
  std::chrono::nanoseconds timeout = 10s;
};
ProxyFixture g_proxy;

asio::awaitable<void> ProxyHandler(ServerExchange& ex) {
  ProxyOptions options;
  options.deadline = std::chrono::steady_clock::now() + g_proxy.timeout;
  options.on_response_head = [](ResponseHead& head) { head.set("X-Proxied", "1"); };
  ProxyResult result = co_await Proxy(ex, *g_proxy.pool, std::move(options));
  if (!result.outcome && !result.response_started) {
    unsigned status = result.outcome.error().code == ErrorCode::kDeadlineExceeded ? 504 : 502;
    co_await ex.Respond(status, result.outcome.error().message);
  } else if (!result.outcome) {
    ex.CloseAfterResponse();
  }
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<TestServer>(upstream_handler_, upstream_options_);
    proxy_ = std::make_unique<TestServer>(proxy_handler_);
    auto endpoint = ResolveBlocking(*ParseUrl(upstream_->url()));
    pool_ = std::make_unique<ConnectionPool>(proxy_->context().get_executor(), *endpoint);
    g_proxy.pool = pool_.get();
    g_proxy.timeout = 10s;
  }
  void TearDown() override {
    proxy_->Stop();
    pool_.reset();  // its sockets belong to the proxy's io_context
    proxy_.reset();
    upstream_.reset();
  }
  Result<ClientResponse> Call(std::string method, std::string path, std::string body = "") {
    return RunSync(FetchUrl(std::move(method), proxy_->url(path), {}, std::move(body), 10s));
  }

  FunctionHandler upstream_handler_{Upstream};
  FunctionHandler proxy_handler_{ProxyHandler};
  ServerOptions upstream_options_;
  std::unique_ptr<TestServer> upstream_;
  std::unique_ptr<TestServer> proxy_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(ProxyTest, ForwardsPathQueryAndHeaders) {
  auto response = Call("GET", "/a/b?x=1&y=2");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "path=/a/b query=x=1&y=2");
  EXPECT_EQ(FieldValue(response->headers, "X-Proxied"), "1");
}

TEST_F(ProxyTest, RedirectIsPassedThroughNotFollowed) {
  auto response = Call("POST", "/redirect");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 302u);
  EXPECT_EQ(FieldValue(response->headers, "Location"), "http://example.com/");
}

TEST_F(ProxyTest, LargeBodyStreamsBothWays) {
  std::string body(8 << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4096) {
    body[i] = static_cast<char>('a' + (i / 4096) % 26);
  }
  auto response = Call("POST", "/echo", body);
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body.size(), body.size());
  EXPECT_TRUE(response->body == body);
  EXPECT_EQ(FieldValue(response->headers, "X-Upstream"), "yes");
}

TEST_F(ProxyTest, ChunkedUploadIsRelayedWhileResponseStreams) {
  RawClient client(proxy_->port());
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n"));
  // The echo arrives before the upload is finished: both directions flow at once.
  ASSERT_TRUE(client.ReadUntil("hello"));
  ASSERT_TRUE(client.Send("6\r\n world\r\n0\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("0\r\n\r\n"));
  EXPECT_NE(client.received().find(" world"), std::string::npos);
}

TEST_F(ProxyTest, ServerSentEventsAreNotBuffered) {
  RawClient client(proxy_->port());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.Send("GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("data: 1"));
  EXPECT_EQ(client.received().find("data: 2"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  ASSERT_TRUE(client.ReadUntil("data: 2"));
}

TEST_F(ProxyTest, DeadlineGives504) {
  g_proxy.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto response = Call("GET", "/slow");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 504u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST_F(ProxyTest, UpstreamDownGives502) {
  upstream_.reset();
  auto response = Call("GET", "/");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 502u);
}

TEST_F(ProxyTest, UpgradeBecomesTunnel) {
  RawClient client(proxy_->port());
  ASSERT_TRUE(client.Send(
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n"));
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 101 ")) << client.received();
  EXPECT_NE(client.received().find("Upgrade: websocket"), std::string::npos);
  client.received().clear();
  ASSERT_TRUE(client.Send("ping-1"));
  ASSERT_TRUE(client.ReadUntil("ping-1"));
  ASSERT_TRUE(client.Send("ping-2"));
  ASSERT_TRUE(client.ReadUntil("ping-2"));
}

TEST_F(ProxyTest, HeadAndBodyWrittenApartDoNotWaitForDelayedAck) {
  // On a reused upstream connection the kernel delays ACKs (40 ms at least); without an
  // immediate ACK of the head each call would stall that long.
  RawClient client(proxy_->port());
  ASSERT_TRUE(client.Send("GET /split HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\nok"));
  const auto start = std::chrono::steady_clock::now();
  constexpr int kCalls = 10;
  for (int i = 0; i < kCalls; ++i) {
    client.received().clear();
    ASSERT_TRUE(client.Send("GET /split HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(client.ReadUntil("\r\n\r\nok"));
  }
  // Stalled, the calls take 10 x 40 ms; acknowledged at once, a few ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, kCalls * 20ms);
}

class StaleConnectionTest : public ProxyTest {
 protected:
  void SetUp() override {
    upstream_options_.idle_timeout = 100ms;
    ProxyTest::SetUp();
  }
};

TEST_F(StaleConnectionTest, ClosedPooledConnectionIsReplaced) {
  ASSERT_EQ(Call("GET", "/first")->status, 200u);
  std::this_thread::sleep_for(400ms);  // the upstream closes the idle pooled connection
  auto response = Call("POST", "/second", "payload");
  ASSERT_TRUE(response.has_value()) << response.error().ToString();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "path=/second query=");
}

}  // namespace
}  // namespace funcd::http
