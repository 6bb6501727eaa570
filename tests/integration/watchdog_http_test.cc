// fwatchdog mode=http: fork once, proxy every request (contracts §5.3).

#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;

// A watchdog in http mode in front of tests/integration/fixture_function.cc.
class HttpModeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Watchdog> Start(std::vector<std::string> extra = {}) {
    std::uint16_t upstream = FreePort();
    std::vector<std::string> env = {
        "mode=http",
        StrCat("fprocess=", BinDir(), "/fixture_function --port ", upstream),
        StrCat("upstream_url=http://127.0.0.1:", upstream),
    };
    env.insert(env.end(), extra.begin(), extra.end());
    return std::make_unique<Watchdog>(env);
  }
};

TEST_F(HttpModeTest, ForwardsOriginalUriHostHeadersAndBody) {
  auto wd = Start();
  Reply r = Call(wd->port(), "PATCH", "/echo?x=1&y=2", "payload", {{"Host", "fn.example"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "payload");
  EXPECT_EQ(r.Header("X-Fixture-Method"), "PATCH");
  EXPECT_EQ(r.Header("X-Fixture-Target"), "/echo?x=1&y=2");
  EXPECT_EQ(r.Header("X-Fixture-Host"), "fn.example");
  EXPECT_FALSE(r.Header("X-Duration-Seconds").empty());
  Reply headers = Call(wd->port(), "GET", "/headers", "", {{"X-Call-Id", "call-1"}});
  EXPECT_NE(headers.body.find("X-Call-Id: call-1\n"), std::string::npos) << headers.body;
}

TEST_F(HttpModeTest, PassesStatusCodesAndRedirects) {
  auto wd = Start();
  EXPECT_EQ(wd->Get("/status/418").status, 418u);
  Reply redirect = wd->Post("/redirect", "");
  EXPECT_EQ(redirect.status, 302u);
  EXPECT_EQ(redirect.Header("Location"), "http://example.com/");
}

TEST_F(HttpModeTest, UpstreamUrlBasePathIsPrepended) {
  std::uint16_t upstream = FreePort();
  Watchdog wd({"mode=http", StrCat("fprocess=", BinDir(), "/fixture_function --port ", upstream),
               StrCat("upstream_url=http://127.0.0.1:", upstream, "/base/")});
  EXPECT_EQ(wd.Get("/x?q=1").body, "path=/base/x query=q=1");
}

TEST_F(HttpModeTest, ExecTimeoutIs504AndXTimeoutShortensIt) {
  auto wd = Start({"exec_timeout=1s"});
  auto start = std::chrono::steady_clock::now();
  Reply r = wd->Get("/slow?ms=3000");
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "of-watchdog");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 2500ms);
  start = std::chrono::steady_clock::now();
  Reply shortened = Call(wd->port(), "GET", "/slow?ms=3000", "", {{"X-Timeout", "200ms"}});
  EXPECT_EQ(shortened.status, 504u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 800ms);
  // X-Timeout cannot extend the limit.
  start = std::chrono::steady_clock::now();
  Reply extended = Call(wd->port(), "GET", "/slow?ms=3000", "", {{"X-Timeout", "10s"}});
  EXPECT_EQ(extended.status, 504u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
  EXPECT_EQ(wd->Get("/slow?ms=10").status, 200u);  // still serving after timeouts
}

TEST_F(HttpModeTest, UpstreamConnectionErrorIs500) {
  auto wd = Start();
  Reply r = wd->Post("/reset", "x");
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "of-watchdog");
}

TEST_F(HttpModeTest, HundredMegabyteResponseStreamsInConstantMemory) {
  auto wd = Start({"exec_timeout=60s"});
  const std::size_t before = wd->process().RssBytes();
  RawClient client(wd->port());
  client.Send("GET /big?mb=100 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::size_t max_rss = before;
  std::size_t bytes = 0;
  char buf[256 * 1024];
  std::string tail;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::size_t next_sample = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(client.fd(), buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    bytes += static_cast<std::size_t>(n);
    tail.append(buf, static_cast<size_t>(n));
    if (tail.size() > 16) {
      tail.erase(0, tail.size() - 16);
    }
    if (bytes >= next_sample) {
      max_rss = std::max(max_rss, wd->process().RssBytes());
      next_sample += 4 << 20;
    }
    if (tail.ends_with("\r\n0\r\n\r\n")) {
      break;
    }
  }
  EXPECT_GT(bytes, std::size_t{100} << 20);
  if (kMemoryLimitsApply) {
    EXPECT_LT(max_rss - before, kStreamingGrowthLimit);
  }
}

TEST_F(HttpModeTest, HundredMegabyteUploadStreamsInConstantMemory) {
  auto wd = Start({"exec_timeout=60s"});
  std::size_t growth = 0;
  const std::size_t total = 100 << 20;
  std::size_t received = StreamUpload(wd->port(), "/echo", total, wd->process(), &growth);
  EXPECT_GT(received, total);  // the echo, plus head and chunk framing
  if (kMemoryLimitsApply) {
    EXPECT_LT(growth, kStreamingGrowthLimit) << "watchdog RSS grew by " << growth << " bytes";
  }
}

TEST_F(HttpModeTest, ServerSentEventsAreNotBuffered) {
  auto wd = Start();
  RawClient client(wd->port());
  auto start = std::chrono::steady_clock::now();
  client.Send("GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("data: 1"));
  EXPECT_EQ(client.received().find("data: 2"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 450ms);
  ASSERT_TRUE(client.ReadUntil("data: 2"));
}

TEST_F(HttpModeTest, WebSocketUpgradePassesThrough) {
  auto wd = Start();
  RawClient client(wd->port());
  client.Send(
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n"));
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 101 ")) << client.received();
  client.received().clear();
  client.Send("frame-bytes");
  EXPECT_TRUE(client.ReadUntil("frame-bytes"));
}

TEST_F(HttpModeTest, MaxInflightAnswers429) {
  auto wd = Start({"max_inflight=1"});
  auto slow = std::async(std::launch::async, [&] { return wd->Get("/slow?ms=1000"); });
  bool full = false;
  for (int i = 0; i < 500 && !full; ++i) {
    full = wd->Get("/_/ready").status == 429;
    if (!full) {
      std::this_thread::sleep_for(5ms);
    }
  }
  ASSERT_TRUE(full);
  Reply second = wd->Get("/");
  EXPECT_EQ(second.status, 429u);
  EXPECT_EQ(second.Header("X-OpenFaaS-Internal"), "faas-middleware");
  EXPECT_EQ(slow.get().status, 200u);
}

TEST_F(HttpModeTest, ReadyPathAsksTheFunction) {
  auto ok = Start({"ready_path=/status/200"});
  EXPECT_EQ(ok->Get("/_/ready").status, 200u);
  auto failing = Start({"ready_path=/status/503"});
  EXPECT_EQ(failing->Get("/_/ready").status, 503u);
  EXPECT_EQ(failing->Get("/_/health").status, 200u);  // health does not ask the function
}

TEST_F(HttpModeTest, NotHealthyUntilTheUpstreamListens) {
  std::uint16_t upstream = FreePort();
  // The function is `sleep`: it never listens, so the watchdog never becomes healthy.
  Watchdog wd({"mode=http", "fprocess=sleep 30", StrCat("upstream_url=http://127.0.0.1:", upstream),
               "exec_timeout=300ms"},
              /*wait_healthy=*/false);
  EXPECT_FALSE(wd.WaitHealth(200, 500ms));
  EXPECT_EQ(wd.Get("/_/health").status, 503u);
  EXPECT_EQ(wd.Get("/").status, 503u);
}

TEST_F(HttpModeTest, WatchdogExitsWhenTheFunctionDies) {
  auto wd = Start();
  // The function dies mid-request: whatever the caller gets, the watchdog must exit.
  (void)RunSync(
      http::FetchUrl("GET", StrCat("http://127.0.0.1:", wd->port(), "/exit"), {}, "", 2s));
  EXPECT_EQ(wd->process().WaitExit(), 1) << wd->process().Log();
  EXPECT_NE(wd->process().Log().find("Forked function has terminated: exit status 3"),
            std::string::npos)
      << wd->process().Log();
}

TEST_F(HttpModeTest, SigtermStopsTheFunctionToo) {
  auto wd = Start({"healthcheck_interval=100ms"});
  wd->process().Signal(SIGTERM);
  EXPECT_EQ(wd->process().WaitExit(), 0);
  EXPECT_NE(wd->process().Log().find("fixture got SIGTERM"), std::string::npos);
}

TEST_F(HttpModeTest, FunctionOutputIsLoggedWithStreamPrefix) {
  auto wd = Start();
  EXPECT_NE(wd->process().WaitForLog("stderr: "), std::nullopt);  // "fixture listening on"
  EXPECT_NE(wd->process().Log().find("fixture listening on"), std::string::npos);
}

// The forked function does not outlive its watchdog, even one killed with SIGKILL (which
// cannot stop it first): nothing is left listening on the upstream port.
TEST_F(HttpModeTest, FunctionDiesWithAKilledWatchdog) {
  auto wd = Start();
  auto forked = wd->process().WaitForLog("(pid ");
  ASSERT_NE(forked, std::nullopt);
  const std::size_t at = forked->find("(pid ");
  const pid_t function_pid = std::atoi(forked->c_str() + at + 5);
  ASSERT_GT(function_pid, 0) << *forked;
  ASSERT_EQ(::kill(function_pid, 0), 0);
  wd->process().Signal(SIGKILL);  // the watchdog alone, not its process group
  ASSERT_NE(wd->process().WaitExit(), std::nullopt);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::kill(function_pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);  // polling: the kernel gives no exit event for a non-child
  }
  EXPECT_NE(::kill(function_pid, 0), 0)
      << "the function (pid " << function_pid << ") survived its watchdog";
}

TEST_F(HttpModeTest, AccessLogWhenAskedFor) {
  auto wd = Start({"log_requests=true", "log_callid=true"});
  Call(wd->port(), "GET", "/status/201", "", {{"X-Call-Id", "abc-123"}});
  EXPECT_NE(wd->process().WaitForLog("GET /status/201 - 201"), std::nullopt);
  EXPECT_NE(wd->process().WaitForLog("[abc-123]"), std::nullopt);
}

// Whether this kernel lets a process create an io_uring (what fwatchdog_io=auto looks at).
bool KernelAllowsIoUring() {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 8, &params);
  if (fd < 0) {
    return false;
  }
  ::close(static_cast<int>(fd));
  return true;
}

// Not an HttpModeTest: CTest runs those a second time with fwatchdog_io=epoll.
class IoBackendTest : public HttpModeTest {};

// fwatchdog_io picks the I/O backend: by default io_uring in http mode where the kernel
// allows it, epoll otherwise; both serve the same.
TEST_F(IoBackendTest, IoBackendIsIoUringByDefaultAndEpollOnRequest) {
  auto automatic = Start({"fwatchdog_io=auto"});
  EXPECT_EQ(automatic->Get("/status/200").status, 200u);
  if (KernelAllowsIoUring()) {
    EXPECT_NE(automatic->process().Log().find("I/O: io_uring\n"), std::string::npos)
        << automatic->process().Log();
  } else {
    EXPECT_NE(automatic->process().Log().find("I/O: epoll (io_uring is not available here"),
              std::string::npos)
        << automatic->process().Log();
  }
  auto epoll = Start({"fwatchdog_io=epoll"});
  EXPECT_EQ(epoll->Post("/echo", "over epoll").body, "over epoll");
  EXPECT_NE(epoll->process().Log().find("I/O: epoll (fwatchdog_io=epoll)"), std::string::npos)
      << epoll->process().Log();
}

// Where io_uring cannot be set up, http mode falls back to epoll and says why, and
// fwatchdog_io=io_uring refuses to start. Here: an unprivileged user without locked memory
// (the kernel charges io_uring rings to RLIMIT_MEMLOCK).
TEST_F(IoBackendTest, WithoutIoUringHttpModeFallsBackToEpoll) {
  if (::geteuid() != 0 || FindProgram("prlimit").empty() || FindProgram("setpriv").empty()) {
    GTEST_SKIP() << "needs root, prlimit and setpriv";
  }
  const std::vector<std::string> argv = {
      FindProgram("prlimit"), "--memlock=0",    FindProgram("setpriv"), "--reuid=65534",
      "--regid=65534",        "--clear-groups", BinDir() + "/fwatchdog"};
  const std::uint16_t upstream = FreePort();
  std::vector<std::string> env = {
      "mode=http",
      StrCat("fprocess=", BinDir(), "/fixture_function --port ", upstream),
      StrCat("upstream_url=http://127.0.0.1:", upstream),
      "port=0",
      "bind_address=127.0.0.1",
      "metrics_port=0",
      "suppress_lock=true",
  };
  Process fallback(argv, env);
  auto listening = fallback.WaitForLog("Listening on port: ");
  ASSERT_NE(listening, std::nullopt) << fallback.Log();
  EXPECT_NE(fallback.Log().find("I/O: epoll (io_uring is not available here: "), std::string::npos)
      << fallback.Log();
  const auto port =
      static_cast<std::uint16_t>(std::atoi(listening->c_str() + listening->find("port: ") + 6));
  ASSERT_NE(fallback.WaitForLog("Upstream ready"), std::nullopt) << fallback.Log();
  EXPECT_EQ(Call(port, "POST", "/echo", "still served").body, "still served");

  env.push_back("fwatchdog_io=io_uring");
  Process required(argv, env);
  EXPECT_EQ(required.WaitExit(), 1);
  EXPECT_NE(required.Log().find("fwatchdog_io=io_uring: io_uring is not available here"),
            std::string::npos)
      << required.Log();
}

TEST_F(IoBackendTest, ClassicModeStaysOnEpoll) {
  Watchdog wd({"fprocess=cat", "fwatchdog_io=auto"});
  EXPECT_EQ(wd.Post("/", "cat").body, "cat");
  EXPECT_NE(wd.process().Log().find("I/O: epoll\n"), std::string::npos) << wd.process().Log();
}

TEST_F(IoBackendTest, AnUnknownIoBackendIsAStartError) {
  Process wd({BinDir() + "/fwatchdog"}, {"mode=http", "fprocess=cat", "fwatchdog_io=kqueue"});
  EXPECT_EQ(wd.WaitExit(), 1);
  EXPECT_NE(wd.Log().find("fwatchdog_io=kqueue: expected auto, io_uring or epoll"),
            std::string::npos)
      << wd.Log();
}

}  // namespace
}  // namespace funcd::testing
