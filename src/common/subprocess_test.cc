#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace funcd {
namespace {

using namespace std::chrono_literals;

struct Captured {
  std::string out;
  ExitStatus status;
};

asio::awaitable<Captured> RunAndCapture(SpawnOptions options, std::string input) {
  auto executor = co_await asio::this_coro::executor;
  auto child = ChildProcess::Spawn(executor, options);
  if (!child) {
    co_return Captured{child.error().message, ExitStatus{-1, 0}};
  }
  if (!input.empty()) {
    co_await asio::async_write(child->stdin_pipe(), asio::buffer(input), kUseAwaitableNoThrow);
  }
  child->CloseStdin();
  Captured captured;
  char buf[4096];
  for (;;) {
    auto [ec, n] =
        co_await child->stdout_pipe().async_read_some(asio::buffer(buf), kUseAwaitableNoThrow);
    if (ec) {
      break;
    }
    captured.out.append(buf, n);
  }
  captured.status = co_await child->Wait();
  co_return captured;
}

TEST(SubprocessTest, PipesStdinToStdout) {
  SpawnOptions options;
  options.argv = {"cat"};
  options.stderr_mode = Stdio::kInherit;
  Captured c = RunSync(RunAndCapture(options, "hello cat"));
  EXPECT_EQ(c.out, "hello cat");
  EXPECT_TRUE(c.status.ok());
}

TEST(SubprocessTest, ReportsExitStatusLikeGo) {
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  options.stderr_mode = Stdio::kStdout;
  Captured c = RunSync(RunAndCapture(options, ""));
  EXPECT_EQ(c.out, "out\nerr\n");
  EXPECT_EQ(c.status.code, 3);
  EXPECT_EQ(c.status.ToString(), "exit status 3");
}

TEST(SubprocessTest, PassesEnvironment) {
  SpawnOptions options;
  options.argv = {"env"};
  options.env = std::vector<std::string>{"ONLY=this"};
  Captured c = RunSync(RunAndCapture(options, ""));
  EXPECT_EQ(c.out, "ONLY=this\n");
}

TEST(SubprocessTest, MissingExecutableIsNotFound) {
  asio::io_context context;
  SpawnOptions options;
  options.argv = {"/nonexistent/funcd-test-binary"};
  auto child = ChildProcess::Spawn(context.get_executor(), options);
  ASSERT_FALSE(child.has_value());
  EXPECT_EQ(child.error().code, ErrorCode::kNotFound);
  EXPECT_NE(child.error().message.find("executable file not found"), std::string::npos);
}

TEST(SubprocessTest, KillTreeReachesGrandchildrenThatLeftTheGroup) {
  asio::io_context context;
  SpawnOptions options;
  // The grandchild starts its own session (setsid), so only the /proc walk can find it.
  options.argv = {"sh", "-c", "setsid sleep 60 & echo $!; sleep 60"};
  options.stdin_mode = Stdio::kNull;
  auto child = ChildProcess::Spawn(context.get_executor(), options);
  ASSERT_TRUE(child.has_value());
  char buf[64] = {0};
  ssize_t n = 0;
  for (int i = 0; i < 100 && n <= 0; ++i) {
    n = ::read(child->stdout_pipe().native_handle(), buf, sizeof(buf) - 1);
    if (n <= 0) {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_GT(n, 0);
  pid_t grandchild = std::atoi(buf);
  ASSERT_GT(grandchild, 0);
  // setsid forks when called by a group leader; wait until the session leader exists.
  std::this_thread::sleep_for(100ms);
  auto descendants = DescendantsOf(child->pid());
  ASSERT_FALSE(descendants.empty());
  child->KillTree(SIGKILL);
  ExitStatus status;
  asio::co_spawn(context, child->Wait(), [&](std::exception_ptr, ExitStatus s) { status = s; });
  context.run();
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.ToString(), "signal: killed");
  for (pid_t p : descendants) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      // Reaped by init, or a zombie awaiting it: either way no longer running.
      char path[64];
      std::snprintf(path, sizeof(path), "/proc/%d/stat", p);
      FILE* f = std::fopen(path, "r");
      if (f == nullptr) {
        gone = true;
        break;
      }
      char line[512] = {0};
      std::fgets(line, sizeof(line), f);
      std::fclose(f);
      const char* close = std::strrchr(line, ')');
      gone = close != nullptr && (close[2] == 'Z' || close[2] == 'X');
      if (!gone) {
        std::this_thread::sleep_for(10ms);
      }
    }
    EXPECT_TRUE(gone) << "descendant " << p << " survived";
  }
}

TEST(SplitCommandTest, SplitsOnSpacesLikeTheWatchdog) {
  EXPECT_EQ(SplitCommand("cat"), (std::vector<std::string>{"cat"}));
  EXPECT_EQ(SplitCommand("sha512sum  -b "), (std::vector<std::string>{"sha512sum", "-b"}));
}

}  // namespace
}  // namespace funcd
