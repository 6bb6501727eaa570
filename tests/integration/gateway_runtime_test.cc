// funcd serve: the process runtime behind the gateway: secrets inside the sandbox, the
// sandbox itself, memory limits, restart persistence, scaling from zero and rolling updates.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "common/strings.h"
#include "tests/integration/funcd_harness.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;

class RuntimeTest : public GatewayTest {
 protected:
  void CreateSecret(std::string_view name, std::string_view value,
                    std::string_view ns = "openfaas-fn") {
    json::object secret{{"name", name}, {"namespace", ns}, {"rawValue", Base64Encode(value)}};
    Reply r = funcd().Api("POST", "/system/secrets", ToJson(secret));
    ASSERT_EQ(r.status, 202u) << r.body;
  }
};

// The pids whose parent is `parent` (from /proc).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    // ") S PPID ..."
    const pid_t ppid = static_cast<pid_t>(std::atoi(stat.c_str() + close + 4));
    if (ppid == parent) {
      out.push_back(static_cast<pid_t>(std::atoi(name.c_str())));
    }
  }
  return out;
}

TEST_F(RuntimeTest, SecretsAreVisibleInsideTheFunctionByteForByte) {
  const std::string binary("line1\nline2\0\x01\x02\xfe\xff trailing space ", 31);
  CreateSecret("binary-secret", binary);
  CreateSecret("text-secret", "plain text");
  json::object fn = HostFunction("reader", "cat /var/openfaas/secrets/binary-secret");
  fn["secrets"] = json::array{"binary-secret", "text-secret"};
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  Reply r = funcd().Invoke("reader");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, binary);

  // Both secrets are mounted, read-only; none of them is visible to a function without it.
  json::object shell = HostFunction("shell", "sh");
  shell["secrets"] = json::array{"text-secret"};
  ASSERT_TRUE(funcd().DeployAndWait(shell));
  Reply seen = funcd().Invoke(
      "shell", "POST", "",
      "cat /var/openfaas/secrets/text-secret; echo; ls /var/openfaas/secrets; "
      "(echo x > /var/openfaas/secrets/text-secret) 2>/dev/null && echo writable || echo ro\n");
  EXPECT_EQ(seen.body, "plain text\ntext-secret\nro\n");

  // Stored under the state directory with mode 0600, never in the database in clear.
  bool found = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(state_.path())) {
    if (entry.path().filename() == "binary-secret" && entry.is_regular_file()) {
      found = true;
      struct stat info {};
      ASSERT_EQ(::stat(entry.path().c_str(), &info), 0);
      EXPECT_EQ(info.st_mode & 0777, 0600u) << entry.path();
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RuntimeTest, TheFunctionRunsSandboxed) {
  json::object fn = HostFunction("probe", "sh");
  ASSERT_TRUE(funcd().DeployAndWait(fn));
  const std::string script = StrCat(
      "id -u; id -g\n"
      "(touch /usr/funcd-probe) 2>/dev/null && echo usr-writable || echo usr-readonly\n"
      "(touch /funcd-probe) 2>/dev/null && echo root-writable || echo root-readonly\n"
      "echo tmp-data > /tmp/probe && cat /tmp/probe\n"
      "test -e ",
      state_.path(),
      " && echo host-tmp-visible || echo tmp-private\n"
      "grep CapEff /proc/self/status\n"
      "ls /proc | grep -c '^[0-9]' | awk '{print ($1 < 20) ? \"pid-ns\" : \"host-pids\"}'\n");
  Reply r = funcd().Invoke("probe", "POST", "", script);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body,
            "12000\n12000\nusr-readonly\nroot-readonly\ntmp-data\ntmp-private\n"
            "CapEff:\t0000000000000000\npid-ns\n");
  Reply id = funcd().Invoke("probe", "POST", "", "id -u\n");
  EXPECT_EQ(id.body, "12000\n");
  // "id -u" as the fprocess itself, as the brief has it.
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("whoami", "id -u")));
  EXPECT_EQ(funcd().Invoke("whoami").body, "12000\n");
}

TEST_F(RuntimeTest, AMemoryLimitKillsAGreedyFunctionAndTheReplicaRestarts) {
  // tail buffers an endless line from /dev/zero until the kernel kills it at the limit; the
  // watchdog (http mode) then exits, and the runtime restarts the replica with backoff.
  json::object fn = HostFunction("greedy", "tail /dev/zero");
  fn["envVars"] = json::object{{"mode", "http"}};
  fn["limits"] = json::object{{"memory", "64Mi"}};
  ASSERT_EQ(funcd().Deploy(fn), 202u);
  // The kill is in the logs as a "funcd: " line, and a restart follows it; it keeps being
  // killed and restarted (a second restart).
  std::string events;
  EXPECT_TRUE(Eventually(
      [&] {
        events = funcd().RuntimeEvents("greedy");
        const size_t oom = events.find("out of memory");
        return oom != std::string::npos && events.find("restarting", oom) != std::string::npos &&
               events.find("(restart 2)") != std::string::npos;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50)))
      << events;
  EXPECT_THAT(events, HasSubstr("64Mi"));
  EXPECT_THAT(events, ::testing::ContainsRegex("funcd: [^\n]*out of memory"));
  // A well-behaved function under the same limit runs fine (the limit leaves room for an
  // ASan+UBSan build of fwatchdog, whose shadow memory counts against it).
  json::object modest = HostFunction("modest", "cat");
  modest["limits"] = json::object{{"memory", "64Mi"}};
  ASSERT_TRUE(funcd().DeployAndWait(modest));
  EXPECT_EQ(funcd().Invoke("modest", "POST", "", "fits").body, "fits");
}

TEST_F(RuntimeTest, StateSurvivesKillDashNine) {
  CreateSecret("kept-secret", "kept-value");
  ASSERT_EQ(funcd().Api("POST", "/system/namespace/", R"({"name":"kept-ns"})").status, 201u);
  json::object fn = HostFunction("kept-fn", "cat /var/openfaas/secrets/kept-secret");
  fn["secrets"] = json::array{"kept-secret"};
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));
  json::object other = HostFunction("kept-echo", "cat");
  other["namespace"] = "kept-ns";
  ASSERT_TRUE(funcd().DeployAndWait(other));
  const std::string created_at = StringField(*funcd().Status("kept-fn"), "createdAt");

  const pid_t old_pid = funcd().process().pid();
  const std::vector<pid_t> replicas = ChildrenOf(old_pid);
  EXPECT_GE(replicas.size(), 3u);
  funcd().Kill();
  // kill -9 leaves no replica behind.
  EXPECT_TRUE(Eventually([&] {
    for (pid_t pid : replicas) {
      if (ProcessAlive(pid)) {
        return false;
      }
    }
    return true;
  })) << "replicas outlived funcd";

  StartFuncd();
  json::value list = ParseJson(funcd().Api("GET", "/system/functions").body);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.as_array().size(), 1u) << list;
  EXPECT_EQ(StringField(list.as_array()[0].as_object(), "name"), "kept-fn");
  EXPECT_EQ(StringField(list.as_array()[0].as_object(), "createdAt"), created_at);
  EXPECT_THAT(funcd().Api("GET", "/system/secrets").body, HasSubstr("\"kept-secret\""));
  EXPECT_EQ(ParseJson(funcd().Api("GET", "/system/namespaces").body),
            (json::array{"openfaas-fn", "kept-ns"}));
  EXPECT_THAT(funcd().Api("GET", "/system/functions?namespace=kept-ns").body,
              HasSubstr("\"kept-echo\""));
  // Replicas start again, as many as before, and answer.
  EXPECT_TRUE(funcd().WaitAvailable("kept-fn", 2));
  EXPECT_EQ(IntField(*funcd().Status("kept-fn"), "replicas"), 2);
  EXPECT_EQ(funcd().Invoke("kept-fn").body, "kept-value");
  EXPECT_TRUE(funcd().WaitAvailable("kept-echo", 1, std::chrono::seconds(20), "kept-ns"));
  EXPECT_EQ(funcd().Invoke("kept-echo.kept-ns", "POST", "", "back").body, "back");
}

TEST_F(RuntimeTest, ScaleChangesSurviveARestart) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("sized", "cat")));
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("parked", "cat")));
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/sized", R"({"serviceName":"sized","replicas":3})")
          .status,
      202u);
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/parked", R"({"serviceName":"parked","replicas":0})")
          .status,
      202u);
  ASSERT_TRUE(funcd().WaitAvailable("sized", 3));
  ASSERT_EQ(funcd().Stop(), 0);
  StartFuncd();
  EXPECT_EQ(IntField(*funcd().Status("sized"), "replicas"), 3);
  EXPECT_TRUE(funcd().WaitAvailable("sized", 3));
  // Scaled to zero stays at zero, and still wakes up on a call.
  auto parked = funcd().Status("parked");
  ASSERT_TRUE(parked);
  EXPECT_FALSE(parked->contains("replicas")) << ToJson(*parked);
  EXPECT_FALSE(parked->contains("availableReplicas")) << ToJson(*parked);
  EXPECT_EQ(funcd().Invoke("parked", "POST", "", "up").body, "up");
}

TEST_F(RuntimeTest, SigtermStopsFuncdAndItsReplicas) {
  json::object fn = HostFunction("stopped", "cat");
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));
  const std::vector<pid_t> replicas = ChildrenOf(funcd().process().pid());
  EXPECT_GE(replicas.size(), 2u);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(funcd().Stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (pid_t pid : replicas) {
    EXPECT_FALSE(ProcessAlive(pid)) << pid;
  }
  EXPECT_THAT(funcd().process().Log(), HasSubstr("funcd serve stopped"));
}

// A second funcd on the host (another state directory) neither kills the first one's
// replicas when it starts nor collides with it over a function of the same name: each
// state directory has a cgroup subtree of its own.
TEST_F(RuntimeTest, TwoServersOnOneHostDoNotDisturbEachOther) {
  ASSERT_TRUE(funcd().DeployAndWait(HostFunction("twin", "cat")));
  TempDir other_state;
  FuncdServer other(other_state.path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.DeployAndWait(HostFunction("twin", "cat"), 1, std::chrono::seconds(5)))
      << other.RuntimeEvents("twin");
  EXPECT_EQ(other.Invoke("twin", "POST", "", "second").body, "second");
  EXPECT_EQ(funcd().Invoke("twin", "POST", "", "first", {}, std::chrono::seconds(5)).body, "first");
  // The first server's replica was never killed.
  EXPECT_EQ(funcd().RuntimeEvents("twin"), "");
}

TEST_F(RuntimeTest, ConcurrentCallsScaleFromZeroOnce) {
  ASSERT_TRUE(funcd().DeployAndWait(FixtureFunction("sleepy")));
  ASSERT_EQ(
      funcd()
          .Api("POST", "/system/scale-function/sleepy", R"({"serviceName":"sleepy","replicas":0})")
          .status,
      202u);
  ASSERT_TRUE(Eventually([&] { return !funcd().Status("sleepy")->contains("availableReplicas"); }));
  std::vector<std::future<Reply>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return funcd().Invoke("sleepy", "GET", StrCat("/call?i=", i));
    }));
  }
  for (int i = 0; i < 8; ++i) {
    Reply r = calls[static_cast<size_t>(i)].get();
    EXPECT_EQ(r.status, 200u) << i;
    EXPECT_EQ(r.body, StrCat("path=/call query=i=", i));
  }
  auto status = funcd().Status("sleepy");
  EXPECT_EQ(IntField(*status, "replicas"), 1);
  EXPECT_EQ(IntField(*status, "availableReplicas"), 1);
}

TEST_F(RuntimeTest, RollingUpdateFailsNoCall) {
  json::object fn = FixtureFunction("rolling");
  fn["labels"] = json::object{{"com.openfaas.scale.min", "2"}};
  ASSERT_TRUE(funcd().DeployAndWait(fn, 2));

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::mutex mu;
  std::map<unsigned, int> statuses;  // guarded by mu
  auto load = [&] {
    while (!stop.load()) {
      auto r =
          TryCall(funcd().port(), "GET", "/function/rolling/x", "", {}, std::chrono::seconds(10));
      std::lock_guard lock(mu);
      ++statuses[r ? r->status : 0];
      ++calls;
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back(load);
  }
  ASSERT_TRUE(Eventually([&] { return calls.load() > 50; }));
  fn["envVars"].as_object()["version"] = "2";
  fn["annotations"] = json::object{{"rollout", "2"}};
  EXPECT_EQ(funcd().Update(fn), 202u);
  // Both old replicas are replaced, one by one, while the calls go on.
  EXPECT_TRUE(Eventually(
      [&] {
        int replaced = 0;
        for (const auto& m : funcd().Logs("rolling")) {
          replaced += StringField(m, "text").find("replaced by an update") != std::string::npos;
        }
        return replaced >= 2;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50)));
  const int after_rollout = calls.load();
  EXPECT_TRUE(Eventually([&] { return calls.load() > after_rollout + 50; }));
  stop = true;
  for (auto& worker : workers) {
    worker.join();
  }
  std::lock_guard lock(mu);
  std::string counts;
  for (const auto& [status, count] : statuses) {
    StrAppend(counts, " ", status, ":", count);
  }
  EXPECT_EQ(statuses[200], calls.load()) << "status:count (0 = transport error):" << counts;
  auto status = funcd().Status("rolling");
  EXPECT_EQ(status->at("annotations").as_object().at("rollout"), "2");
  EXPECT_TRUE(funcd().WaitAvailable("rolling", 2));
}

}  // namespace
}  // namespace funcd::testing
