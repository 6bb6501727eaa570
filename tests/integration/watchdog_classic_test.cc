// fwatchdog without `mode`: the classic OpenFaaS watchdog (contracts §5.1, §5.2).

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <future>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/harness.h"

namespace funcd::testing {
namespace {

TEST(ClassicWatchdogTest, EveryVerbSeesItsMethodQueryPathAndHeaders) {
  Watchdog wd({"fprocess=env"});
  for (std::string verb : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    Reply r = Call(wd.port(), verb, "/some/path?a=1&b=two", verb == "GET" ? "" : "body",
                   {{"X-Custom-Header", "custom"}});
    ASSERT_EQ(r.status, 200u) << verb << ": " << r.body;
    EXPECT_NE(r.body.find("Http_Method=" + verb + "\n"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Http_Query=a=1&b=two\n"), std::string::npos);
    EXPECT_NE(r.body.find("Http_Path=/some/path\n"), std::string::npos);
    EXPECT_NE(r.body.find("Http_X_Custom_Header=custom\n"), std::string::npos);
    EXPECT_NE(r.body.find("Http_Host=127.0.0.1:"), std::string::npos);
    EXPECT_FALSE(r.Header("X-Duration-Seconds").empty());
  }
}

TEST(ClassicWatchdogTest, ContentLengthVariablesAndNoQueryWhenEmpty) {
  Watchdog wd({"fprocess=env"});
  Reply r = wd.Post("/", "12345");
  EXPECT_NE(r.body.find("Http_ContentLength=5\n"), std::string::npos);
  EXPECT_NE(r.body.find("Http_Content_Length=5\n"), std::string::npos);
  EXPECT_EQ(r.body.find("Http_Query="), std::string::npos);
}

TEST(ClassicWatchdogTest, OtherMethodsAreNotAllowed) {
  Watchdog wd({"fprocess=cat"});
  EXPECT_EQ(Call(wd.port(), "OPTIONS", "/").status, 405u);
}

TEST(ClassicWatchdogTest, EchoesBodyAndContentType) {
  Watchdog wd({"fprocess=cat"});
  Reply r = Call(wd.port(), "POST", "/", "hello", {{"Content-Type", "text/x-custom"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.Header("Content-Type"), "text/x-custom");
  EXPECT_NE(wd.process().WaitForLog("Forking fprocess."), std::nullopt);
  EXPECT_NE(wd.process().WaitForLog("Wrote 5 Bytes - Duration: "), std::nullopt);
}

TEST(ClassicWatchdogTest, ContentTypeOverride) {
  Watchdog wd({"fprocess=cat", "content_type=application/json"});
  Reply r = Call(wd.port(), "POST", "/", "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
}

TEST(ClassicWatchdogTest, NonZeroExitIs500WithOutput) {
  Watchdog wd({"fprocess=" + TestData("fail.sh")});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.body, "exit status 3\noops\n");
}

TEST(ClassicWatchdogTest, MissingExecutableIs500) {
  Watchdog wd({"fprocess=/nonexistent/fn"});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 500u);
  EXPECT_NE(r.body.find("executable file not found"), std::string::npos);
}

TEST(ClassicWatchdogTest, ExecTimeoutKillsTheWholeTreeAndAnswers408) {
  TempDir dir;
  std::string pidfile = dir.File("pids");
  Watchdog wd({"fprocess=" + TestData("tree.sh"), "exec_timeout=1s", "PIDFILE=" + pidfile});
  auto start = std::chrono::steady_clock::now();
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 408u);
  EXPECT_EQ(r.body, "Killed process.\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  std::ifstream in(pidfile);
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) {
    pids.push_back(p);
  }
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t p : pids) {
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = !ProcessAlive(p);
      if (!gone) {
        std::this_thread::sleep_for(10ms);
      }
    }
    EXPECT_TRUE(gone) << "pid " << p << " survived the exec timeout";
  }
  EXPECT_NE(wd.process().WaitForLog("Killing process: "), std::nullopt);
}

TEST(ClassicWatchdogTest, MaxInflightAnswers429WithTheReferenceBody) {
  Watchdog wd({"fprocess=" + TestData("slow.sh"), "max_inflight=1"});
  auto slow = std::async(std::launch::async, [&] { return wd.Post("/", "x"); });
  // Wait until the first request is being served.
  ASSERT_NE(wd.process().WaitForLog("Forking fprocess."), std::nullopt);
  Reply second = wd.Post("/", "y");
  EXPECT_EQ(second.status, 429u);
  EXPECT_EQ(second.body, "Concurrent request limit exceeded. Max concurrent requests: 1\n");
  EXPECT_EQ(second.Header("X-OpenFaaS-Internal"), "faas-middleware");
  EXPECT_EQ(slow.get().status, 200u);
  EXPECT_EQ(wd.Post("/", "z").status, 200u);  // the slot is free again
}

TEST(ClassicWatchdogTest, MarshalRequestSendsJsonEnvelope) {
  Watchdog wd({"fprocess=cat", "marshal_request=true"});
  Reply r = Call(wd.port(), "POST", "/", "hi", {{"X-A", "1"}});
  EXPECT_NE(r.body.find("\"X-A\":[\"1\"]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"body\":{\"raw\":\"aGk=\"}"), std::string::npos) << r.body;
}

TEST(ClassicWatchdogTest, CombineOutputFalseKeepsStderrInTheLog) {
  Watchdog wd({"fprocess=" + TestData("stderr.sh"), "combine_output=false"});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.body, "to-stdout\n");
  EXPECT_NE(wd.process().WaitForLog("stderr: to-stderr"), std::nullopt);
}

TEST(ClassicWatchdogTest, CombineOutputDefaultMixesStderrIn) {
  Watchdog wd({"fprocess=" + TestData("stderr.sh")});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.body, "to-stdout\nto-stderr\n");
}

TEST(ClassicWatchdogTest, CgiHeadersFalsePassesOnlyTheEnvironment) {
  Watchdog wd({"fprocess=env", "cgi_headers=false", "CUSTOM_ENV=yes"});
  Reply r = wd.Post("/", "");
  EXPECT_NE(r.body.find("CUSTOM_ENV=yes"), std::string::npos);
  EXPECT_EQ(r.body.find("Http_Method"), std::string::npos);
}

TEST(ClassicWatchdogTest, HealthFollowsTheLockFile) {
  Watchdog wd({"fprocess=cat"});
  Reply ok = wd.Get("/_/health");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, "OK");
  EXPECT_EQ(Call(wd.port(), "POST", "/_/health").status, 405u);
  ASSERT_EQ(::unlink((wd.tmpdir() + "/.lock").c_str()), 0);
  EXPECT_EQ(wd.Get("/_/health").status, 503u);
}

TEST(ClassicWatchdogTest, SuppressLockIsHealthyWithoutLockFile) {
  Watchdog wd({"fprocess=cat", "suppress_lock=true"});
  EXPECT_EQ(wd.Get("/_/health").status, 200u);
  EXPECT_NE(::access((wd.tmpdir() + "/.lock").c_str(), F_OK), 0);
}

TEST(ClassicWatchdogTest, RunHealthcheckFlagChecksTheLockFile) {
  Watchdog wd({"fprocess=cat"});
  Process present({BinDir() + "/fwatchdog", "-run-healthcheck"}, {"TMPDIR=" + wd.tmpdir()});
  EXPECT_EQ(present.WaitExit(), 0);
  TempDir empty;
  Process absent({BinDir() + "/fwatchdog", "-run-healthcheck"}, {"TMPDIR=" + empty.path()});
  EXPECT_EQ(absent.WaitExit(), 1);
  EXPECT_NE(absent.WaitForLog("unable to find lock file."), std::nullopt);
}

TEST(ClassicWatchdogTest, SigtermMarksUnhealthyAndDrainsInFlight) {
  Watchdog wd({"fprocess=" + TestData("slow.sh"), "SLOW_SECONDS=2", "healthcheck_interval=500ms",
               "write_timeout=10s"});
  auto in_flight = std::async(std::launch::async, [&] { return wd.Post("/", "x"); });
  ASSERT_NE(wd.process().WaitForLog("Forking fprocess."), std::nullopt);
  wd.process().Signal(SIGTERM);
  ASSERT_NE(wd.process().WaitForLog("SIGTERM: no new connections in 500ms"), std::nullopt);
  EXPECT_EQ(wd.Get("/_/health").status, 503u);  // still serving during the interval
  Reply r = in_flight.get();
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "done\n");
  EXPECT_EQ(wd.process().WaitExit(), 0);
  EXPECT_NE(wd.process().Log().find("Exiting."), std::string::npos);
  EXPECT_NE(::access((wd.tmpdir() + "/.lock").c_str(), F_OK), 0);
}

TEST(ClassicWatchdogTest, MetricsCountRequestsByCodeAndMethod) {
  std::uint16_t metrics_port = FreePort();
  Watchdog wd({"fprocess=cat", "metrics_port=" + std::to_string(metrics_port)});
  wd.Post("/", "a");
  wd.Post("/", "b");
  Call(wd.port(), "GET", "/");
  // A request is counted once its response is written, so the client may see the answer
  // to the last one first.
  Reply m;
  for (int i = 0; i < 100; ++i) {
    m = Call(metrics_port, "GET", "/metrics");
    if (m.body.find("http_requests_in_flight 0\n") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(m.status, 200u);
  EXPECT_NE(m.body.find("http_requests_total{code=\"200\",method=\"post\"} 2\n"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("http_requests_total{code=\"200\",method=\"get\"} 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("http_request_duration_seconds_count{code=\"200\",method=\"post\"} 2"),
            std::string::npos);
  EXPECT_NE(m.body.find("http_requests_in_flight 0\n"), std::string::npos);
  EXPECT_EQ(m.body.find("_/health"), std::string::npos);
}

TEST(ClassicWatchdogTest, BusyMetricsPortDoesNotStopTheFunction) {
  Watchdog first({"fprocess=cat", "metrics_port=" + std::to_string(FreePort())});
  // A second watchdog on the same metrics port: the reference panics, we carry on.
  auto line = first.process().WaitForLog("Metrics listening on port: ");
  ASSERT_NE(line, std::nullopt);
  std::string taken = line->substr(line->rfind(' ') + 1);
  Watchdog second({"fprocess=cat", "metrics_port=" + taken});
  EXPECT_NE(second.process().WaitForLog("Metrics disabled"), std::nullopt);
  EXPECT_EQ(second.Post("/", "still works").body, "still works");
}

TEST(ClassicWatchdogTest, UnknownModeFailsWithAClearMessage) {
  Process p({BinDir() + "/fwatchdog"}, {"mode=bogus", "fprocess=cat", "port=0"});
  EXPECT_EQ(p.WaitExit(), 1);
  EXPECT_NE(p.Log().find("unknown mode \"bogus\""), std::string::npos);
}

TEST(ClassicWatchdogTest, MissingFprocessFails) {
  Process p({BinDir() + "/fwatchdog"}, {"port=0", "fprocess="});
  EXPECT_EQ(p.WaitExit(), 1);
  EXPECT_NE(p.Log().find("Provide a valid process via fprocess"), std::string::npos);
}

}  // namespace
}  // namespace funcd::testing
