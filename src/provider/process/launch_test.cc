#include "provider/process/launch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"

namespace funcd::provider {
namespace {

std::string EnvOf(const LaunchPlan& plan, std::string_view key) {
  for (const std::string& entry : *plan.spawn.env) {
    if (entry.starts_with(StrCat(key, "="))) {
      return entry.substr(key.size() + 1);
    }
  }
  return "<unset>";
}

bool ArgvHas(const LaunchPlan& plan, const std::vector<std::string>& run) {
  const auto& argv = plan.spawn.argv;
  return std::search(argv.begin(), argv.end(), run.begin(), run.end()) != argv.end();
}

std::uint16_t PortOf(const http::Endpoint& endpoint) {
  const auto* in = reinterpret_cast<const sockaddr_in*>(endpoint.data());
  return ntohs(in->sin_port);
}

class LaunchTest : public ::testing::Test {
 protected:
  LaunchTest() {
    spec_.ref = {"openfaas-fn", "fn"};
    spec_.image = "functions/alpine:latest";
    spec_.env_process = "cat";
    settings_.bwrap = "/usr/bin/bwrap";
    settings_.fwatchdog = "/usr/bin/true";  // any existing file stands in
    settings_.run_dir = "/tmp/funcd-launch-test";
    settings_.read_secret = [](const std::string&, const std::string& name) -> Result<std::string> {
      if (name == "db-password") {
        return std::string("p@ss\0word", 9);
      }
      return Unexpected(ErrorCode::kNotFound, "no such secret");
    };
  }
  FunctionSpec spec_;
  ResolvedImage image_;  // a host image
  LaunchSettings settings_;
};

TEST_F(LaunchTest, WatchdogInSandboxWithItsListeningSocket) {
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(plan->spawn.argv.front(), "/usr/bin/bwrap");
  EXPECT_TRUE(ArgvHas(*plan, {"--", "/opt/funcd/fwatchdog"}));
  EXPECT_TRUE(ArgvHas(*plan, {"--ro-bind", "/usr/bin/true", "/opt/funcd/fwatchdog"}));
  if (::geteuid() == 0) {
    EXPECT_EQ(plan->spawn.run_as_uid, 12000u);  // bwrap itself runs unprivileged
    EXPECT_EQ(plan->spawn.run_as_gid, 12000u);
  }
  EXPECT_EQ(EnvOf(*plan, "fprocess"), "cat");
  EXPECT_EQ(EnvOf(*plan, "listen_fd"), "3");
  // Readiness arrives on a pipe: fwatchdog writes to fd 4, the runtime reads plan.ready_fd.
  EXPECT_EQ(EnvOf(*plan, "ready_fd"), "4");
  ASSERT_TRUE(plan->ready_fd.valid());
  auto ready = std::find_if(plan->spawn.inherit_fds.begin(), plan->spawn.inherit_fds.end(),
                            [](const auto& p) { return p.second == 4; });
  ASSERT_NE(ready, plan->spawn.inherit_fds.end());
  ASSERT_EQ(::write(ready->first, "1", 1), 1);
  char byte = 0;
  EXPECT_EQ(::read(plan->ready_fd.get(), &byte, 1), 1);
  EXPECT_EQ(byte, '1');
  EXPECT_EQ(EnvOf(*plan, "metrics_port"), "0");
  EXPECT_EQ(EnvOf(*plan, "OPENFAAS_NAME"), "fn");
  EXPECT_EQ(EnvOf(*plan, "OPENFAAS_NAMESPACE"), "openfaas-fn");
  ASSERT_GE(plan->spawn.inherit_fds.size(), 1u);
  EXPECT_EQ(plan->spawn.inherit_fds[0].second, 3);
  // The socket listens already: a unix socket in the abstract namespace, the endpoint's.
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  ASSERT_EQ(
      ::getsockname(plan->spawn.inherit_fds[0].first, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  EXPECT_EQ(addr.sun_family, AF_UNIX);
  EXPECT_EQ(addr.sun_path[0], '\0');
  ASSERT_EQ(plan->endpoint.size(), len);
  EXPECT_EQ(std::memcmp(plan->endpoint.data(), &addr, len), 0);
  EXPECT_EQ(EnvOf(*plan, "port"), "<unset>");
  // A client reaches it through the endpoint.
  int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, plan->endpoint.data(), static_cast<socklen_t>(plan->endpoint.size())),
            0);
  ::close(client);
}

TEST_F(LaunchTest, TcpTransportOnRequest) {
  spec_.annotations = {{"com.funcd.transport", "tcp"}};
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ASSERT_EQ(
      ::getsockname(plan->spawn.inherit_fds[0].first, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  EXPECT_EQ(addr.sin_family, AF_INET);
  EXPECT_EQ(ntohs(addr.sin_port), PortOf(plan->endpoint));
  EXPECT_EQ(EnvOf(*plan, "port"), std::to_string(PortOf(plan->endpoint)));
}

TEST_F(LaunchTest, DeploymentOverridesManifestDefaults) {
  image_.fprocess = "./from-manifest";
  image_.environment = {{"mode", "streaming"}, {"content_type", "text/plain"}};
  spec_.env_process = "";
  spec_.env_vars = {{"content_type", "application/json"}, {"max_inflight", "4"}};
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(EnvOf(*plan, "fprocess"), "./from-manifest");
  EXPECT_EQ(EnvOf(*plan, "mode"), "streaming");
  EXPECT_EQ(EnvOf(*plan, "content_type"), "application/json");
  EXPECT_EQ(plan->max_inflight, 4);
}

TEST_F(LaunchTest, HttpModeGetsAPortOfItsOwn) {
  spec_.env_vars = {{"mode", "http"}};
  auto first = PlanLaunch(spec_, image_, "fn-1", settings_);
  auto second = PlanLaunch(spec_, image_, "fn-2", settings_);
  ASSERT_TRUE(first.has_value() && second.has_value());
  const std::string port = EnvOf(*first, "http_port");
  EXPECT_NE(port, "<unset>");
  EXPECT_EQ(EnvOf(*first, "upstream_url"), "http://127.0.0.1:" + port);
  EXPECT_NE(EnvOf(*second, "http_port"), port);  // replicas never share a port
  spec_.env_vars["upstream_url"] = "http://127.0.0.1:5000";
  auto pinned = PlanLaunch(spec_, image_, "fn-3", settings_);
  EXPECT_EQ(EnvOf(*pinned, "upstream_url"), "http://127.0.0.1:5000");
}

TEST_F(LaunchTest, DirectWorkloadRunsTheServerItself) {
  spec_.env_process = "./server --flag";
  spec_.annotations = {{"com.funcd.watchdog", "none"}};
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(ArgvHas(*plan, {"--", "./server", "--flag"}));
  for (const auto& [from, to] : plan->spawn.inherit_fds) {
    EXPECT_NE(to, 3) << "a direct workload binds its own port";
  }
  EXPECT_EQ(EnvOf(*plan, "listen_fd"), "<unset>");
  EXPECT_EQ(EnvOf(*plan, "port"), std::to_string(PortOf(plan->endpoint)));
  EXPECT_EQ(EnvOf(*plan, "http_port"), EnvOf(*plan, "port"));
}

TEST_F(LaunchTest, SecretsArriveByDescriptor) {
  spec_.secrets = {"db-password"};
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_TRUE(ArgvHas(*plan, {"--ro-bind-data", "5", "/var/openfaas/secrets/db-password"}));
  auto it = std::find_if(plan->spawn.inherit_fds.begin(), plan->spawn.inherit_fds.end(),
                         [](const auto& p) { return p.second == 5; });
  ASSERT_NE(it, plan->spawn.inherit_fds.end());
  char buf[32];
  ssize_t n = ::pread(it->first, buf, sizeof(buf), 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))),
            std::string("p@ss\0word", 9));
  spec_.secrets = {"missing"};
  auto missing = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(LaunchTest, WithoutSandbox) {
  settings_.bwrap = "";
  image_.app_dir = "/srv/app";
  spec_.secrets = {"db-password"};
  auto plan = PlanLaunch(spec_, image_, "fn-1", settings_);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->spawn.argv, (std::vector<std::string>{"/usr/bin/true"}));
  EXPECT_FALSE(plan->spawn.run_as_uid.has_value());
  EXPECT_EQ(plan->spawn.working_dir, "/srv/app");
  EXPECT_EQ(EnvOf(*plan, "TMPDIR"), "/tmp/funcd-launch-test/fn-1/tmp");
  ASSERT_EQ(plan->warnings.size(), 1u);
}

TEST(CheckReachableTest, NamesThePrivateDirectory) {
  char pattern[] = "/tmp/funcd-reach-XXXXXX";
  std::string dir = ::mkdtemp(pattern);  // 0700
  std::string app = dir + "/app";
  ASSERT_EQ(::mkdir(app.c_str(), 0755), 0);
  auto denied = CheckReachable(app, 12000, 12000);
  ASSERT_FALSE(denied.has_value());
  EXPECT_NE(denied.error().message.find(dir + " is private (700)"), std::string::npos)
      << denied.error().message;
  ASSERT_EQ(::chmod(dir.c_str(), 0711), 0);  // search is enough on the way
  EXPECT_TRUE(CheckReachable(app, 12000, 12000).has_value());
  ASSERT_EQ(::chmod(app.c_str(), 0711), 0);  // but the directory itself must be readable
  EXPECT_FALSE(CheckReachable(app, 12000, 12000).has_value());
  EXPECT_TRUE(CheckReachable("/usr/bin", 12000, 12000).has_value());
  ::rmdir(app.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace funcd::provider
