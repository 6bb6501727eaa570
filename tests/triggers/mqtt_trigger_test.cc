// MQTT triggers against a real mosquitto started by the test: a message published with QoS 1
// calls the functions whose topic filter matches, with its payload; a removed function stops
// receiving.

#include <gtest/gtest.h>

#include "common/strings.h"
#include "tests/triggers/brokers.h"

namespace funcd::testing {
namespace {

namespace json = boost::json;

class MqttTriggerTest : public GatewayTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "funcd serve runs replicas in cgroups and bubblewrap: run as root";
    }
    broker_ = std::make_unique<MosquittoBroker>();
    ASSERT_TRUE(broker_->ok());
    GatewayTest::SetUp();
  }
  void TearDown() override {
    if (funcd_) {
      ExpectCleanExit(funcd());
    }
  }
  FuncdOptions Options() const override {
    FuncdOptions options;
    options.extra_args = {"--mqtt", broker_->url()};
    return options;
  }

  // Deploys a recording function on `filter` and waits for the broker's SUBACK.
  void DeploySubscribed(std::string_view name, std::string_view filter, bool async = false) {
    json::object annotations{{"topic", StrCat("mqtt:", filter)}};
    if (async) {
      annotations["com.openfaas.trigger.async"] = "true";
    }
    ASSERT_TRUE(funcd().DeployAndWait(RecordingFunction(name, annotations)));
    const std::vector<std::string> labels = {R"(trigger="mqtt")", StrCat("topic=\"", filter, "\""),
                                             StrCat("function_name=\"", name, ".openfaas-fn\"")};
    ASSERT_TRUE(
        Eventually([&] { return MetricSum(funcd(), "funcd_trigger_subscribed", labels) == 1; },
                   std::chrono::seconds(10)))
        << name << " never subscribed to " << filter << "\n"
        << funcd().process().Log();
  }

  double Invocations(std::string_view name, std::string_view code = "") {
    std::vector<std::string> labels = {R"(trigger="mqtt")",
                                       StrCat("function_name=\"", name, ".openfaas-fn\"")};
    if (!code.empty()) {
      labels.push_back(StrCat("code=\"", code, "\""));
    }
    return MetricSum(funcd(), "funcd_trigger_invocations_total", labels);
  }

  std::unique_ptr<MosquittoBroker> broker_;
};

TEST_F(MqttTriggerTest, PublishedMessageCallsTheFunctionWithItsPayload) {
  DeploySubscribed("thermometer", "sensors/+/temp");
  ASSERT_TRUE(MqttPublish(broker_->port(), "sensors/kitchen/temp", "21.5"));
  auto records = WaitForRecords(funcd(), "thermometer", 1);
  ASSERT_EQ(records.size(), 1u) << funcd().process().Log();
  EXPECT_EQ(StringField(records[0], "method"), "POST");
  EXPECT_EQ(StringField(records[0], "body"), "21.5");
  EXPECT_EQ(StringField(records[0], "X-Topic"), "sensors/kitchen/temp");
  EXPECT_EQ(StringField(records[0], "X-Connector"), "funcd-mqtt");
  EXPECT_EQ(StringField(records[0], "X-Call-Id").size(), 36u);

  // The filter decides: humidity does not match, the hall's temperature does.
  ASSERT_TRUE(MqttPublish(broker_->port(), "sensors/kitchen/humidity", "40"));
  ASSERT_TRUE(MqttPublish(broker_->port(), "sensors/hall/temp", "19.0"));
  records = WaitForRecords(funcd(), "thermometer", 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(StringField(records[1], "body"), "19.0");
  EXPECT_EQ(StringField(records[1], "X-Topic"), "sensors/hall/temp");
  EXPECT_EQ(Invocations("thermometer", "200"), 2);
}

TEST_F(MqttTriggerTest, RemovedFunctionStopsReceiving) {
  DeploySubscribed("leaving", "home/#");
  DeploySubscribed("staying", "home/#");
  ASSERT_TRUE(MqttPublish(broker_->port(), "home/door", "open"));
  ASSERT_EQ(WaitForRecords(funcd(), "leaving", 1).size(), 1u);
  ASSERT_EQ(WaitForRecords(funcd(), "staying", 1).size(), 1u);

  ASSERT_EQ(DeleteFunction(funcd(), "leaving"), 202u);
  ASSERT_TRUE(MqttPublish(broker_->port(), "home/door", "closed"));
  auto records = WaitForRecords(funcd(), "staying", 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(StringField(records[1], "body"), "closed");
  // Not delivered to the removed function: it would have shown up as a 404.
  EXPECT_EQ(Invocations("leaving"), 1);
  EXPECT_EQ(Invocations("leaving", "404"), 0);
  EXPECT_EQ(
      MetricSum(funcd(), "funcd_trigger_subscribed", {R"(function_name="leaving.openfaas-fn")"}),
      0);

  // The last function on a filter leaving unsubscribes; a new one subscribes again.
  ASSERT_EQ(DeleteFunction(funcd(), "staying"), 202u);
  DeploySubscribed("returning", "home/#");
  ASSERT_TRUE(MqttPublish(broker_->port(), "home/window", "open"));
  records = WaitForRecords(funcd(), "returning", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(StringField(records[0], "body"), "open");
  EXPECT_EQ(Invocations("staying"), 2);
}

TEST_F(MqttTriggerTest, AsyncFunctionIsCalledThroughTheQueue) {
  DeploySubscribed("logger", "logs/#", /*async=*/true);
  ASSERT_TRUE(MqttPublish(broker_->port(), "logs/app", "line 1"));
  auto records = WaitForRecords(funcd(), "logger", 1);
  ASSERT_EQ(records.size(), 1u) << funcd().process().Log();
  EXPECT_EQ(StringField(records[0], "body"), "line 1");
  EXPECT_EQ(StringField(records[0], "X-Topic"), "logs/app");
  EXPECT_EQ(StringField(records[0], "X-Connector"), "funcd-mqtt");
  EXPECT_EQ(Invocations("logger", "202"), 1);
  // The function saw the call id the async queue stored.
  const std::string call_id = StringField(records[0], "X-Call-Id");
  ASSERT_EQ(call_id.size(), 36u);
  Reply status = funcd().Api("GET", StrCat("/system/async/calls/", call_id));
  ASSERT_EQ(status.status, 200u) << status.body;
  EXPECT_EQ(StringField(ParseJson(status.body).as_object(), "function"), "logger.openfaas-fn");
}

TEST_F(MqttTriggerTest, ResubscribesWhenTheBrokerComesBack) {
  DeploySubscribed("steady", "steady/#");
  const std::uint16_t port = broker_->port();
  broker_.reset();  // the broker goes away, and with it the (clean) session
  ASSERT_TRUE(funcd().process().WaitForLog("mqtt: disconnected"));
  broker_ = std::make_unique<MosquittoBroker>(port);
  ASSERT_TRUE(broker_->ok());
  // Messages published before funcd subscribed again are not kept: publish until one arrives.
  ASSERT_TRUE(Eventually(
      [&] {
        MqttPublish(broker_->port(), "steady/state", "back");
        return !Records(funcd(), "steady").empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(500)))
      << funcd().process().Log();
  EXPECT_EQ(StringField(Records(funcd(), "steady")[0], "body"), "back");
  EXPECT_EQ(StringField(Records(funcd(), "steady")[0], "X-Topic"), "steady/state");
}

// A broker URL that cannot work stops funcd serve at start, saying why; a broker that is
// only down is not an error (the connectors keep trying, see the Resubscribes tests).
TEST(TriggerFlagsTest, BadBrokerUrlsAreRefusedAtStart) {
  const std::pair<std::string, std::string> cases[] = {
      {"--mqtt", "http://127.0.0.1:1883"},
      {"--mqtt", "mqtt://127.0.0.1:99999"},
      {"--nats", "127.0.0.1 4222"},
  };
  for (const auto& [flag, url] : cases) {
    TempDir state;
    Process funcd({StrCat(BinDir(), "/funcd"), "serve", "--listen", "127.0.0.1:0", "--state-dir",
                   state.path(), "--sandbox", "none", flag, url},
                  {});
    EXPECT_EQ(funcd.WaitExit(std::chrono::seconds(20)), 1) << flag << " " << url;
    EXPECT_NE(funcd.Log().find(StrCat("funcd serve: ", flag.substr(2), ":")), std::string::npos)
        << funcd.Log();
  }
}

}  // namespace
}  // namespace funcd::testing
