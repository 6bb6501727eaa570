#include "triggers/async_submitter.h"

#include <gtest/gtest.h>

namespace funcd::triggers {
namespace {

std::string HeaderOf(const queue::Message& m, std::string_view name) {
  for (const auto& header : m.headers) {
    if (header.name == name) {
      return header.value;
    }
  }
  return "<none>";
}

TEST(QueueMessageTest, CarriesTheTriggerCall) {
  gateway::CallRequest request;
  request.function = "orders.team-a";
  request.head.method(http::Verb::post);
  request.head.target("/");
  request.head.set("X-Call-Id", "0f5c2a34-0000-4000-8000-000000000001");
  request.head.set("X-Topic", "orders.created");
  request.head.set("X-Connector", "funcd-nats");
  request.head.set("Content-Length", "5");
  request.head.set("Connection", "keep-alive");
  request.body = "hello";
  queue::Message m = ToQueueMessage(std::move(request), "openfaas-fn", 1234);
  EXPECT_EQ(m.call_id, "0f5c2a34-0000-4000-8000-000000000001");
  EXPECT_EQ(m.function, "orders.team-a");
  EXPECT_EQ(m.key, "orders.team-a");
  EXPECT_EQ(m.method, "POST");
  EXPECT_EQ(m.path, "/");
  EXPECT_EQ(m.query, "");
  EXPECT_EQ(m.callback_url, "");
  EXPECT_EQ(m.enqueued_at, 1234);
  EXPECT_EQ(m.body, "hello");
  EXPECT_EQ(HeaderOf(m, "X-Call-Id"), "0f5c2a34-0000-4000-8000-000000000001");
  EXPECT_EQ(HeaderOf(m, "X-Topic"), "orders.created");
  EXPECT_EQ(HeaderOf(m, "X-Connector"), "funcd-nats");
  EXPECT_EQ(HeaderOf(m, "X-Start-Time"), "1234");
  EXPECT_EQ(HeaderOf(m, "Content-Length"), "<none>");
  EXPECT_EQ(HeaderOf(m, "Connection"), "<none>");
}

TEST(QueueMessageTest, FillsTheDefaultNamespaceAndACallId) {
  gateway::CallRequest request;
  request.function = "tick";
  request.head.method(http::Verb::post);
  request.head.target("/a?b=c");
  queue::Message m = ToQueueMessage(std::move(request), "openfaas-fn", 1);
  EXPECT_EQ(m.key, "tick.openfaas-fn");
  EXPECT_EQ(m.function, "tick");
  EXPECT_EQ(m.path, "/a");
  EXPECT_EQ(m.query, "b=c");
  EXPECT_EQ(m.call_id.size(), 36u);
  EXPECT_EQ(HeaderOf(m, "X-Call-Id"), m.call_id);
}

}  // namespace
}  // namespace funcd::triggers
