#include <gtest/gtest.h>

#include "triggers/nats/nats_connector.h"

namespace funcd::triggers {
namespace {

TEST(NatsUrlTest, AcceptsWhatLibnatsConnectsTo) {
  for (const char* good :
       {"nats://127.0.0.1:4222", "nats://127.0.0.1", "tls://nats.example:4443", "localhost:4222",
        "nats://user:secret@127.0.0.1:4222", "nats://token@h:1/", "nats://[::1]:4222",
        "nats://a:4222, nats://b:4222"}) {
    auto checked = CheckNatsUrl(good);
    EXPECT_TRUE(checked) << good << ": " << checked.error().message;
  }
}

TEST(NatsUrlTest, RefusesWhatCouldNeverConnect) {
  for (const char* bad : {"", " ", "127.0.0.1 4222", "http://127.0.0.1:4222", "nats://",
                          "nats://host:0", "nats://host:70000", "nats://host:x",
                          "nats://host:", "nats://[::1", "nats://a:4222,,", "nats://host/path"}) {
    auto checked = CheckNatsUrl(bad);
    EXPECT_FALSE(checked) << "accepted \"" << bad << "\"";
    if (!checked) {
      EXPECT_EQ(checked.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace funcd::triggers
