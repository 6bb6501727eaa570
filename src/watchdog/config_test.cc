#include "watchdog/config.h"

#include <gtest/gtest.h>

namespace funcd::watchdog {
namespace {

using namespace std::chrono_literals;

TEST(WatchdogConfigTest, ClassicDefaults) {
  auto c = Config::FromEnvironment(Environment({"fprocess=cat"}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->mode, Mode::kClassic);
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->metrics_port, 8081);
  EXPECT_EQ(c->read_timeout, 30s);
  EXPECT_EQ(c->write_timeout, 30s);
  EXPECT_EQ(c->exec_timeout, 0s);
  EXPECT_EQ(c->healthcheck_interval, 30s);
  EXPECT_EQ(c->content_type, "");
  EXPECT_TRUE(c->combine_output);
  EXPECT_TRUE(c->cgi_headers);
  EXPECT_EQ(c->lock_path, "/tmp/.lock");
}

TEST(WatchdogConfigTest, OfWatchdogDefaultsAndOverrides) {
  auto c = Config::FromEnvironment(
      Environment({"mode=http", "fprocess=node index.js", "function_process=python3 app.py",
                   "upstream_url=http://127.0.0.1:5000", "http_upstream_url=http://127.0.0.1:6000",
                   "write_timeout=1m30s", "TMPDIR=/var/tmp/", "max_inflight=4"}));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->mode, Mode::kHttp);
  EXPECT_EQ(c->argv, (std::vector<std::string>{"python3", "app.py"}));
  EXPECT_EQ(c->upstream_url, "http://127.0.0.1:6000");
  EXPECT_EQ(c->exec_timeout, 30s);
  EXPECT_EQ(c->write_timeout, 90s);
  EXPECT_EQ(c->healthcheck_interval, 90s);
  EXPECT_EQ(c->content_type, "application/octet-stream");
  EXPECT_EQ(c->lock_path, "/var/tmp/.lock");
  EXPECT_EQ(c->max_inflight, 4);
}

TEST(WatchdogConfigTest, RejectsBadConfigurations) {
  EXPECT_FALSE(Config::FromEnvironment(Environment(std::vector<std::string>{})).has_value());
  EXPECT_FALSE(Config::FromEnvironment(Environment({"fprocess=x", "mode=bogus"})).has_value());
  EXPECT_FALSE(Config::FromEnvironment(Environment({"fprocess=x", "mode=http"})).has_value());
  EXPECT_FALSE(Config::FromEnvironment(Environment({"fprocess=x", "port=70000"})).has_value());
  EXPECT_TRUE(Config::FromEnvironment(Environment({"mode=static"})).has_value());
  EXPECT_FALSE(Config::FromEnvironment(Environment({"fprocess=x", "write_timeout=0"})).has_value());
}

TEST(WatchdogConfigTest, AcceptsIntegerSecondsAndGoDurations) {
  auto c = Config::FromEnvironment(Environment(
      {"fprocess=x", "read_timeout=5", "exec_timeout=500ms", "healthcheck_interval=2s"}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->read_timeout, 5s);
  EXPECT_EQ(c->exec_timeout, 500ms);
  EXPECT_EQ(c->healthcheck_interval, 2s);
}

}  // namespace
}  // namespace funcd::watchdog
