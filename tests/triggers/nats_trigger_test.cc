// NATS triggers against a real nats-server started by the test: a published message calls
// the subscribed function with its payload, a request gets the function's response, a
// removed function stops receiving.

#include <gtest/gtest.h>

#include "common/strings.h"
#include "tests/triggers/brokers.h"

namespace funcd::testing {
namespace {

namespace json = boost::json;

class NatsTriggerTest : public GatewayTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
    }
    nats_ = std::make_unique<NatsServer>();
    ASSERT_TRUE(nats_->ok());
    GatewayTest::SetUp();
  }
  void TearDown() override {
    if (funcd_) {
      ExpectCleanExit(funcd());
    }
  }
  FuncdOptions Options() const override {
    FuncdOptions options;
    options.extra_args = {"--nats", nats_->url()};
    return options;
  }

  // Deploys a recording function subscribed to `topics` and waits until NATS confirmed each
  // subscription (funcd_trigger_subscribed).
  void DeploySubscribed(std::string_view name, std::vector<std::string> subjects,
                        bool async = false) {
    std::string topic;
    for (const std::string& subject : subjects) {
      StrAppend(topic, topic.empty() ? "" : ",", "nats:", subject);
    }
    json::object annotations{{"topic", topic}};
    if (async) {
      annotations["com.openfaas.trigger.async"] = "true";
    }
    ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction(name, annotations)));
    for (const std::string& subject : subjects) {
      WaitSubscribed(name, subject);
    }
  }

  void WaitSubscribed(std::string_view name, std::string_view subject) {
    const std::vector<std::string> labels = {R"(trigger="nats")", StrCat("topic=\"", subject, "\""),
                                             StrCat("function_name=\"", name, ".openfaas-fn\"")};
    ASSERT_TRUE(
        Eventually([&] { return MetricSum(funcd(), "funcd_trigger_subscribed", labels) == 1; },
                   std::chrono::seconds(10)))
        << name << " never subscribed to " << subject << "\n"
        << funcd().process().Log();
  }

  double Invocations(std::string_view name, std::string_view code = "") {
    std::vector<std::string> labels = {R"(trigger="nats")",
                                       StrCat("function_name=\"", name, ".openfaas-fn\"")};
    if (!code.empty()) {
      labels.push_back(StrCat("code=\"", code, "\""));
    }
    return MetricSum(funcd(), "funcd_trigger_invocations_total", labels);
  }

  std::unique_ptr<NatsServer> nats_;
};

TEST_F(NatsTriggerTest, PublishedMessageCallsTheFunctionWithItsBody) {
  DeploySubscribed("orders", {"orders.*"});
  NatsPublish(nats_->url(), "orders.created", "hello nats", {{"Content-Type", "text/x-order"}});
  auto records = WaitForRecords(funcd(), "orders", 1);
  ASSERT_EQ(records.size(), 1u) << funcd().process().Log();
  EXPECT_EQ(StringField(records[0], "method"), "POST");
  EXPECT_EQ(StringField(records[0], "body"), "hello nats");
  EXPECT_EQ(StringField(records[0], "X-Topic"), "orders.created");
  EXPECT_EQ(StringField(records[0], "X-Connector"), "funcd-nats");
  EXPECT_EQ(StringField(records[0], "Content-Type"), "text/x-order");  // NATS headers pass
  EXPECT_EQ(StringField(records[0], "X-Call-Id").size(), 36u);

  // Wildcards are the broker's: orders.* does not match orders.created.late.
  NatsPublish(nats_->url(), "orders.created.late", "no", {});
  NatsPublish(nats_->url(), "orders.shipped", "second", {});
  records = WaitForRecords(funcd(), "orders", 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(StringField(records[1], "body"), "second");
  EXPECT_EQ(Invocations("orders", "200"), 2);
}

TEST_F(NatsTriggerTest, RequestGetsTheFunctionsResponse) {
  DeploySubscribed("quote", {"quote.>"});
  auto reply = NatsRequest(nats_->url(), "quote.eur.usd", "ping");
  ASSERT_TRUE(reply) << funcd().process().Log();
  EXPECT_EQ(reply->data, "reply:ping");
  EXPECT_EQ(reply->function_status, "200");
  auto records = Records(funcd(), "quote");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(reply->call_id, StringField(records[0], "X-Call-Id"));

  // A failing call is answered with its status, and logged with its call id.
  json::object failing = HostFunction("failing", "false");
  failing["annotations"] = json::object{{"topic", "nats:fail"}};
  ASSERT_TRUE(funcd().DeployAndWait(failing));
  WaitSubscribed("failing", "fail");
  auto failed = NatsRequest(nats_->url(), "fail", "x");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->function_status, "500");
  ASSERT_EQ(failed->call_id.size(), 36u);
  EXPECT_TRUE(funcd().process().WaitForLog(StrCat("call ", failed->call_id, " to failing")));
}

TEST_F(NatsTriggerTest, AsyncFunctionIsAnsweredAtOnceAndCalledLater) {
  DeploySubscribed("jobs", {"jobs"}, /*async=*/true);
  auto reply = NatsRequest(nats_->url(), "jobs", "work item");
  ASSERT_TRUE(reply) << funcd().process().Log();
  EXPECT_EQ(reply->function_status, "202");
  EXPECT_EQ(reply->data, "");
  ASSERT_EQ(reply->call_id.size(), 36u);
  auto records = WaitForRecords(funcd(), "jobs", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(StringField(records[0], "body"), "work item");
  EXPECT_EQ(StringField(records[0], "X-Call-Id"), reply->call_id);
  EXPECT_EQ(Invocations("jobs", "202"), 1);
  // It went through the durable async queue: the call is known there, and finishes.
  ASSERT_TRUE(Eventually(
      [&] {
        Reply status = funcd().Api("GET", StrCat("/system/async/calls/", reply->call_id));
        return status.status == 200 && ParseJson(status.body).is_object() &&
               StringField(ParseJson(status.body).as_object(), "state") == "done";
      },
      std::chrono::seconds(10)))
      << funcd().Api("GET", StrCat("/system/async/calls/", reply->call_id)).body;
  auto call = ParseJson(funcd().Api("GET", StrCat("/system/async/calls/", reply->call_id)).body);
  ASSERT_TRUE(call.is_object());
  EXPECT_EQ(StringField(call.as_object(), "function"), "jobs.openfaas-fn");
}

TEST_F(NatsTriggerTest, FunctionDeployedLaterSubscribesAtOnce) {
  DeploySubscribed("first", {"news"});
  // No polling: the deploy itself subscribes (OpenFaaS connectors look every 10 s).
  const auto deployed = std::chrono::steady_clock::now();
  ASSERT_EQ(funcd().Deploy(RecordingFunction("later", json::object{{"topic", "nats:news"}})), 202u);
  WaitSubscribed("later", "news");
  EXPECT_LT(std::chrono::steady_clock::now() - deployed, std::chrono::seconds(5));
  // A request made before the replica is ready is held until it is, then answered.
  auto reply = NatsRequest(nats_->url(), "news", "extra");
  ASSERT_TRUE(reply) << funcd().process().Log();
  EXPECT_EQ(reply->data, "reply:extra");  // the queue group of either function answers
  EXPECT_EQ(WaitForRecords(funcd(), "later", 1).size(), 1u);
  EXPECT_EQ(WaitForRecords(funcd(), "first", 1).size(), 1u);
}

TEST_F(NatsTriggerTest, RemovedFunctionStopsReceiving) {
  DeploySubscribed("leaving", {"events"});
  DeploySubscribed("staying", {"events"});
  NatsPublish(nats_->url(), "events", "one", {});
  ASSERT_EQ(WaitForRecords(funcd(), "leaving", 1).size(), 1u);
  ASSERT_EQ(WaitForRecords(funcd(), "staying", 1).size(), 1u);

  ASSERT_EQ(DeleteFunction(funcd(), "leaving"), 202u);
  NatsPublish(nats_->url(), "events", "two", {});
  auto records = WaitForRecords(funcd(), "staying", 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(StringField(records[1], "body"), "two");
  // Not delivered to the removed function: it would have shown up as a 404.
  EXPECT_EQ(Invocations("leaving"), 1);
  EXPECT_EQ(Invocations("leaving", "404"), 0);
  EXPECT_TRUE(Eventually([&] {
    return MetricSum(funcd(), "funcd_trigger_subscribed",
                     {R"(function_name="leaving.openfaas-fn")"}) == 0;
  }));

  // An update that drops the topic unsubscribes too.
  json::object quiet = RecordingFunction("staying", json::object{{"topic", "payments"}});
  ASSERT_EQ(funcd().Update(quiet), 202u);
  DeploySubscribed("witness", {"events"});
  NatsPublish(nats_->url(), "events", "three", {});
  ASSERT_EQ(WaitForRecords(funcd(), "witness", 1).size(), 1u);
  EXPECT_EQ(Invocations("staying"), 2);
}

TEST_F(NatsTriggerTest, ResubscribesWhenTheServerComesBack) {
  DeploySubscribed("steady", {"steady"});
  const std::uint16_t port = nats_->port();
  nats_.reset();  // the server goes away
  ASSERT_TRUE(funcd().process().WaitForLog("nats: disconnected"));
  nats_ = std::make_unique<NatsServer>(port);
  ASSERT_TRUE(nats_->ok());
  // Core NATS drops what nobody is subscribed to: ask until funcd is back and answers.
  std::optional<NatsReply> reply;
  ASSERT_TRUE(Eventually(
      [&] {
        reply = TryNatsRequest(nats_->url(), "steady", "back", std::chrono::milliseconds(500));
        return reply.has_value();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)))
      << funcd().process().Log();
  EXPECT_EQ(reply->data, "reply:back");
  EXPECT_EQ(reply->function_status, "200");
}

}  // namespace
}  // namespace funcd::testing
