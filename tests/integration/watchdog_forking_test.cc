// fwatchdog mode=streaming and mode=serializing: a process per request (contracts §5.3).

#include <fcntl.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "common/strings.h"
#include "http/testing/raw_client.h"
#include "tests/integration/harness.h"

namespace funcd::testing {
namespace {

using http::testing::RawClient;

TEST(StreamingWatchdogTest, EchoesWithCgiEnvironment) {
  Watchdog wd({"mode=streaming", "fprocess=env"});
  Reply r = Call(wd.port(), "PUT", "/p/q?z=9", "", {{"X-Thing", "1"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_NE(r.body.find("Http_Method=PUT\n"), std::string::npos);
  EXPECT_NE(r.body.find("Http_Path=/p/q\n"), std::string::npos);
  EXPECT_NE(r.body.find("Http_Query=z=9\n"), std::string::npos);
  EXPECT_NE(r.body.find("Http_X_Thing=1\n"), std::string::npos);
  // of-watchdog passes no Http_ContentLength and no Http_Host.
  EXPECT_EQ(r.body.find("Http_ContentLength="), std::string::npos);
  EXPECT_EQ(r.body.find("Http_Host="), std::string::npos);
}

TEST(StreamingWatchdogTest, HundredMegabytesStreamWithoutGrowingMemory) {
  Watchdog wd({"mode=streaming", "fprocess=cat", "exec_timeout=60s"});
  std::size_t growth = 0;
  const std::size_t total = 100 << 20;
  std::size_t received = StreamUpload(wd.port(), "/", total, wd.process(), &growth);
  EXPECT_GT(received, total);  // body plus chunk framing and the head
  if (kMemoryLimitsApply) {
    EXPECT_LT(growth, kStreamingGrowthLimit) << "watchdog RSS grew by " << growth << " bytes";
  }
}

TEST(StreamingWatchdogTest, EventsArriveOneByOne) {
  Watchdog wd(
      {"mode=streaming", "fprocess=" + TestData("sse.sh"), "content_type=text/event-stream"});
  RawClient client(wd.port());
  auto start = std::chrono::steady_clock::now();
  client.Send("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("data: 1"));
  EXPECT_EQ(client.received().find("data: 2"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 450ms);
  ASSERT_TRUE(client.ReadUntil("data: 2"));
  EXPECT_NE(client.received().find("Content-Type: text/event-stream"), std::string::npos);
}

TEST(StreamingWatchdogTest, TimeoutBeforeOutputIs504AndKillsTheTree) {
  TempDir dir;
  std::string pidfile = dir.File("pids");
  Watchdog wd({"mode=streaming", "fprocess=" + TestData("tree.sh"), "exec_timeout=500ms",
               "PIDFILE=" + pidfile});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "of-watchdog");
  std::ifstream in(pidfile);
  int count = 0;
  for (pid_t p; in >> p; ++count) {
    for (int i = 0; i < 200 && ProcessAlive(p); ++i) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(ProcessAlive(p)) << "pid " << p;
  }
  EXPECT_EQ(count, 3);
}

TEST(StreamingWatchdogTest, FailureBeforeOutputIs500) {
  Watchdog wd({"mode=streaming", "fprocess=false"});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.body, "exit status 1\n");
}

TEST(StreamingWatchdogTest, FailureAfterOutputCutsTheStream) {
  Watchdog wd({"mode=streaming", "fprocess=" + TestData("fail.sh")});
  RawClient client(wd.port());
  client.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_TRUE(client.received().starts_with("HTTP/1.1 200 OK")) << client.received();
  EXPECT_NE(client.received().find("oops"), std::string::npos);
  // No terminating chunk: the client can tell the output is incomplete.
  EXPECT_EQ(client.received().find("\r\n0\r\n\r\n"), std::string::npos);
}

TEST(StreamingWatchdogTest, StderrGoesToTheLogWithPrefix) {
  Watchdog wd({"mode=streaming", "fprocess=" + TestData("stderr.sh")});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.body, "to-stdout\n");
  auto line = wd.process().WaitForLog("stderr: to-stderr");
  ASSERT_NE(line, std::nullopt);
  EXPECT_EQ(line->find("stderr: to-stderr"), 20u) << *line;  // after "YYYY/MM/DD HH:MM:SS "
}

TEST(StreamingWatchdogTest, PrefixLogsFalseLogsRawLines) {
  Watchdog wd({"mode=streaming", "fprocess=" + TestData("stderr.sh"), "prefix_logs=false"});
  wd.Post("/", "");
  ASSERT_NE(wd.process().WaitForLog("to-stderr"), std::nullopt);
  EXPECT_NE(wd.process().Log().find("\nto-stderr\n"), std::string::npos);
}

TEST(SerializingWatchdogTest, BuffersOutputWithDuration) {
  Watchdog wd({"mode=serializing", "fprocess=cat"});
  Reply r = wd.Post("/", "serialize me");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "serialize me");
  EXPECT_FALSE(r.Header("X-Duration-Seconds").empty());
  EXPECT_EQ(r.Header("Content-Length"), "12");
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
}

TEST(SerializingWatchdogTest, ChunkedBodyReachesTheProcess) {
  Watchdog wd({"mode=serializing", "fprocess=cat"});
  RawClient client(wd.port());
  client.Send(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("abcdef"));
}

TEST(SerializingWatchdogTest, FailureIs500WithTheError) {
  Watchdog wd({"mode=serializing", "fprocess=" + TestData("fail.sh")});
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.body, "exit status 3");
}

TEST(SerializingWatchdogTest, TimeoutIs504) {
  Watchdog wd({"mode=serializing", "fprocess=" + TestData("slow.sh"), "SLOW_SECONDS=5",
               "exec_timeout=300ms"});
  auto start = std::chrono::steady_clock::now();
  Reply r = wd.Post("/", "");
  EXPECT_EQ(r.status, 504u);
  EXPECT_EQ(r.Header("X-OpenFaaS-Internal"), "of-watchdog");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(SerializingWatchdogTest, MaxInflightApplies) {
  Watchdog wd({"mode=serializing", "fprocess=" + TestData("slow.sh"), "max_inflight=1"});
  auto slow = std::async(std::launch::async, [&] { return wd.Post("/", "x"); });
  // /_/ready answers 429 while the limit is met: that is when the first call is in.
  bool full = false;
  for (int i = 0; i < 500 && !full; ++i) {
    full = wd.Get("/_/ready").status == 429;
    if (!full) {
      std::this_thread::sleep_for(5ms);
    }
  }
  ASSERT_TRUE(full);
  Reply second = wd.Post("/", "y");
  EXPECT_EQ(second.status, 429u);
  EXPECT_EQ(slow.get().status, 200u);
}

}  // namespace
}  // namespace funcd::testing
