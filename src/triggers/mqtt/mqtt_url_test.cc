#include <gtest/gtest.h>

#include "triggers/mqtt/mqtt_connector.h"

namespace funcd::triggers {
namespace {

TEST(MqttUrlTest, ParsesHostPortAndCredentials) {
  auto plain = ParseMqttUrl("mqtt://127.0.0.1");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 1883);
  EXPECT_TRUE(plain->user.empty());

  auto full = ParseMqttUrl("tcp://funcd:p%40ss@broker.local:11883/");
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->host, "broker.local");
  EXPECT_EQ(full->port, 11883);
  EXPECT_EQ(full->user, "funcd");
  EXPECT_EQ(full->password, "p@ss");

  auto v6 = ParseMqttUrl("mqtt://[::1]:1884");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 1884);
}

TEST(MqttUrlTest, RefusesOtherSchemesAndBadPorts) {
  for (const char* bad : {"", "127.0.0.1:1883", "mqtts://host", "http://host", "mqtt://",
                          "mqtt://host:0", "mqtt://host:70000", "mqtt://host:x", "mqtt://[::1"}) {
    auto url = ParseMqttUrl(bad);
    EXPECT_FALSE(url) << bad;
    if (!url) {
      EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace funcd::triggers
