#include "common/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/uuid.h"

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

// Wait on a child that exited before anyone waited (no pidfd needed) and on one still
// running (through the pidfd): both report the status and reap.
TEST(SubprocessTest, WaitReportsAChildThatExitedBeforeAndOneThatExitsLater) {
  asio::io_context context;
  SpawnOptions quick;
  quick.argv = {"sh", "-c", "exit 4"};
  quick.stdin_mode = quick.stdout_mode = quick.stderr_mode = Stdio::kNull;
  SpawnOptions slow = quick;
  slow.argv = {"sh", "-c", "sleep 0.3; exit 5"};
  auto early = ChildProcess::Spawn(context.get_executor(), quick);
  ASSERT_TRUE(early.has_value());
  const pid_t early_pid = early->pid();
  // Until it is a zombie.
  for (int i = 0; i < 500; ++i) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(early_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == early_pid) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  auto late = ChildProcess::Spawn(context.get_executor(), slow);
  ASSERT_TRUE(late.has_value());
  ExitStatus early_status, late_status;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        early_status = co_await early->Wait();
        late_status = co_await late->Wait();
      },
      asio::detached);
  context.run_for(10s);
  EXPECT_EQ(early_status.code, 4);
  EXPECT_EQ(late_status.code, 5);
  EXPECT_TRUE(early->reaped());
  EXPECT_TRUE(late->reaped());
  EXPECT_NE(::kill(early_pid, 0), 0);  // reaped: the pid is gone
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

namespace funcd {
namespace {

TEST(SubprocessForkTest, InheritedDescriptorsLandAtTheirNumbers) {
  asio::io_context context;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // not close-on-exec on purpose: only fd 3 may reach the child
  ASSERT_EQ(::write(fds[1], "via-fd-3\n", 9), 9);
  ::close(fds[1]);
  SpawnOptions options;
  options.argv = {"sh", "-c", "cat <&3; ls /proc/self/fd | wc -l"};
  options.inherit_fds = {{fds[0], 3}};
  options.die_with_parent = true;
  auto child = ChildProcess::Spawn(context.get_executor(), options);
  ::close(fds[0]);
  ASSERT_TRUE(child.has_value()) << child.error().message;
  std::string out;
  char buf[256];
  for (;;) {
    ssize_t n = ::read(child->stdout_pipe().native_handle(), buf, sizeof(buf));
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  // stdin, stdout, stderr, fd 3, and the one `ls` opens for /proc/self/fd.
  EXPECT_EQ(out, "via-fd-3\n5\n") << out;
}

TEST(SubprocessForkTest, CgroupJoinFailureIsASpawnError) {
  asio::io_context context;
  SpawnOptions options;
  options.argv = {"true"};
  options.join_cgroups = {"/nonexistent/cgroup.procs"};
  auto child = ChildProcess::Spawn(context.get_executor(), options);
  ASSERT_FALSE(child.has_value());
  EXPECT_EQ(child.error().code, ErrorCode::kUnavailable);
}

TEST(SubprocessForkTest, MissingProgramIsNotFound) {
  asio::io_context context;
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  options.die_with_parent = true;
  auto child = ChildProcess::Spawn(context.get_executor(), options);
  ASSERT_FALSE(child.has_value());
  EXPECT_EQ(child.error().code, ErrorCode::kNotFound);
}

TEST(UuidTest, VersionFourFormat) {
  std::string a = NewUuid();
  std::string b = NewUuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
  EXPECT_EQ(a[8], '-');
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace funcd
