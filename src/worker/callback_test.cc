#include "worker/callback.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <vector>

#include "common/strings.h"
#include "http/testing/test_server.h"

namespace funcd::worker {
namespace {

using namespace std::chrono_literals;

// A callback receiver that records what it gets and answers from a script.
struct Receiver {
  std::mutex mu;
  std::vector<unsigned> script;  // statuses to answer, in order; then 200
  std::vector<std::string> bodies;
  std::vector<std::string> call_ids;
  std::vector<std::string> content_lengths;
  std::set<std::string> peers;  // one per connection
};

Receiver* g_receiver = nullptr;

asio::awaitable<void> Receive(http::ServerExchange& ex) {
  auto body = co_await ex.ReadAll(1 << 20);
  unsigned status = 200;
  {
    std::lock_guard lock(g_receiver->mu);
    g_receiver->bodies.push_back(body ? *body : "");
    g_receiver->call_ids.emplace_back(http::FieldValue(ex.head(), "X-Call-Id"));
    g_receiver->content_lengths.emplace_back(http::FieldValue(ex.head(), "Content-Length"));
    g_receiver->peers.insert(ex.remote_address());
    if (!g_receiver->script.empty()) {
      status = g_receiver->script.front();
      g_receiver->script.erase(g_receiver->script.begin());
    }
  }
  co_await ex.Respond(status, "thanks");
}

class CallbackTest : public ::testing::Test {
 protected:
  void SetUp() override { g_receiver = &receiver_; }
  void TearDown() override { g_receiver = nullptr; }
  Receiver receiver_;
  http::testing::FunctionHandler handler_{Receive};
};

CallbackOptions Fast(int attempts = 4) {
  CallbackOptions options;
  options.attempts = attempts;
  options.timeout = 2s;
  options.first_backoff = 10ms;
  return options;
}

http::Fields WithCallId(std::string id) {
  http::Fields fields;
  fields.set("X-Call-Id", id);
  return fields;
}

asio::awaitable<std::vector<CallbackResult>> PostMany(std::string url, int count) {
  std::vector<CallbackResult> out;
  for (int i = 0; i < count; ++i) {
    http::Fields headers = WithCallId(StrCat("id-", i));
    std::string body = StrCat("result ", i);
    out.push_back(co_await PostCallback(url, std::move(headers), std::move(body), Fast()));
  }
  co_return out;
}

TEST_F(CallbackTest, PostsBodyAndHeadersOverOneKeptAliveConnection) {
  http::testing::TestServer server(handler_);
  auto results = RunSync(PostMany(server.url("/cb?x=1"), 5));
  for (const CallbackResult& r : results) {
    EXPECT_TRUE(r.delivered) << r.error;
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.tries, 1);
  }
  std::lock_guard lock(receiver_.mu);
  ASSERT_EQ(receiver_.bodies.size(), 5u);
  EXPECT_EQ(receiver_.bodies[3], "result 3");
  EXPECT_EQ(receiver_.call_ids[3], "id-3");
  EXPECT_EQ(receiver_.content_lengths[3], "8");
  EXPECT_EQ(receiver_.peers.size(), 1u) << "each callback opened a new connection";
}

TEST_F(CallbackTest, RetriesUnavailableReceiversThenSucceeds) {
  receiver_.script = {503, 429};
  http::testing::TestServer server(handler_);
  auto result = RunSync(PostCallback(server.url("/cb"), WithCallId("r"), "payload", Fast()));
  EXPECT_TRUE(result.delivered);
  EXPECT_EQ(result.tries, 3);
  std::lock_guard lock(receiver_.mu);
  EXPECT_EQ(receiver_.bodies, (std::vector<std::string>{"payload", "payload", "payload"}));
}

TEST_F(CallbackTest, GivesUpAfterItsAttempts) {
  receiver_.script = {500, 500, 500, 500, 500};
  http::testing::TestServer server(handler_);
  auto result = RunSync(PostCallback(server.url("/cb"), WithCallId("g"), "x", Fast(3)));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.tries, 3);
  EXPECT_EQ(result.status, 500u);
  EXPECT_NE(result.error.find("500"), std::string::npos);
}

TEST_F(CallbackTest, AClientErrorIsFinal) {
  receiver_.script = {404};
  http::testing::TestServer server(handler_);
  auto result = RunSync(PostCallback(server.url("/cb"), WithCallId("n"), "x", Fast()));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.tries, 1);
  EXPECT_EQ(result.status, 404u);
}

TEST_F(CallbackTest, UnreachableReceiverIsRetriedAndReported) {
  std::uint16_t port = 0;
  {
    http::testing::TestServer server(handler_);
    port = server.port();
  }  // closed: connections are refused now
  auto result = RunSync(
      PostCallback(StrCat("http://127.0.0.1:", port, "/cb"), WithCallId("u"), "x", Fast(2)));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.tries, 2);
  EXPECT_EQ(result.status, 0u);
  EXPECT_FALSE(result.error.empty());
}

TEST_F(CallbackTest, RejectsNonHttpUrls) {
  auto result = RunSync(PostCallback("https://example.com/cb", WithCallId("h"), "x", Fast()));
  EXPECT_FALSE(result.delivered);
  EXPECT_EQ(result.tries, 0);
  EXPECT_NE(result.error.find("http://"), std::string::npos);
}

}  // namespace
}  // namespace funcd::worker
