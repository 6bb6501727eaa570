// CgroupManager on this machine's cgroups: real limits, kills and freezing. Needs root.

#include "provider/process/cgroup.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace funcd::provider {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of "KEY N" in a flat keyed cgroup file, or -1.
long long KeyedValue(const std::string& path, const std::string& key) {
  std::istringstream lines(ReadText(path));
  std::string k;
  long long v;
  while (lines >> k >> v) {
    if (k == key) {
      return v;
    }
  }
  return -1;
}

constexpr char kRoot[] = "/sys/fs/cgroup";

// Forks a child that joins `cgroup` before it execs `argv`, as the supervisor does.
pid_t SpawnIn(const Cgroup* cgroup, const std::vector<std::string>& argv, int stdin_fd = -1,
              int stdout_fd = -1) {
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  std::vector<const char*> procs;
  if (cgroup != nullptr) {
    for (const std::string& file : cgroup->procs_files()) {
      procs.push_back(file.c_str());
    }
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const char* file : procs) {
      int fd = ::open(file, O_WRONLY);
      if (fd < 0 || ::write(fd, "0", 1) != 1) {
        ::_exit(126);
      }
      ::close(fd);
    }
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(stdin_fd >= 0 ? stdin_fd : null, STDIN_FILENO);
    ::dup2(stdout_fd >= 0 ? stdout_fd : null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// The wait status of `pid`, or nullopt when it has not exited within `timeout` (so that a
// process the code under test failed to kill fails the test instead of hanging it).
std::optional<int> WaitStatus(pid_t pid,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return status;
}

bool KilledBySigkill(std::optional<int> status) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
}

template <typename Predicate>
bool WaitUntil(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (Clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class RealCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "cgroup tests need root";
    }
    // Own parent per test process: tests run in parallel and CleanupStale empties it.
    parent_ = "funcd-test-" + std::to_string(::getpid());
    manager_ = CgroupManager::Detect(kRoot, parent_);
    if (manager_->layout() == CgroupLayout::kNone) {
      GTEST_SKIP() << "no usable cgroups: " << manager_->Describe();
    }
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      (void)WaitStatus(pid, std::chrono::seconds(1));
    }
    manager_.reset();
    if (parent_.empty() || !std::filesystem::exists(kRoot)) {
      return;
    }
    std::filesystem::path v2_parent = std::filesystem::path(kRoot) / parent_;
    ::rmdir(v2_parent.c_str());
    for (const auto& hierarchy : std::filesystem::directory_iterator(kRoot)) {
      ::rmdir((hierarchy.path() / parent_).c_str());
    }
  }

  pid_t Spawn(const Cgroup* cgroup, const std::vector<std::string>& argv, int stdin_fd = -1,
              int stdout_fd = -1) {
    pid_t pid = SpawnIn(cgroup, argv, stdin_fd, stdout_fd);
    children_.push_back(pid);
    return pid;
  }
  std::optional<int> Wait(pid_t pid) {
    std::optional<int> status = WaitStatus(pid);
    if (status) {
      std::erase(children_, pid);
    }
    return status;
  }

  // The directory of `cgroup` that holds `controller`'s files.
  std::string DirOf(const Cgroup& cgroup, const std::string& controller) const {
    for (const std::string& file : cgroup.procs_files()) {
      std::string dir = std::filesystem::path(file).parent_path();
      if (manager_->layout() == CgroupLayout::kV2 ||
          dir.rfind(std::string(kRoot) + "/" + controller + "/", 0) == 0) {
        return dir;
      }
    }
    return "";
  }
  std::string ControlFile(const Cgroup& cgroup, const std::string& controller,
                          const std::string& v1_file, const std::string& v2_file) const {
    const bool v2 = manager_->layout() == CgroupLayout::kV2;
    return DirOf(cgroup, controller) + "/" + (v2 ? v2_file : v1_file);
  }

  std::unique_ptr<Cgroup> MustCreate(const std::string& name, const ResourceLimits& limits) {
    auto cgroup = manager_->Create(name, limits);
    EXPECT_TRUE(cgroup.has_value()) << cgroup.error().message;
    return cgroup.has_value() ? std::move(*cgroup) : nullptr;
  }

  std::string parent_;
  std::unique_ptr<CgroupManager> manager_;
  std::vector<pid_t> children_;
};

TEST_F(RealCgroupTest, MemoryLimitKillsAGreedyProcess) {
  if (!manager_->Supports("memory")) {
    GTEST_SKIP() << "no memory controller: " << manager_->Describe();
  }
  auto cgroup = MustCreate("mem", {.memory_bytes = 20 << 20});
  ASSERT_NE(cgroup, nullptr);
  EXPECT_EQ(ReadText(ControlFile(*cgroup, "memory", "memory.limit_in_bytes", "memory.max")),
            "20971520\n");
  // tail keeps everything after the last newline: with none, it holds all its input.
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  pid_t tail = Spawn(cgroup.get(), {"tail", "-n", "1"}, pipe_fds[0]);
  ::close(pipe_fds[0]);
  auto old_sigpipe = ::signal(SIGPIPE, SIG_IGN);
  const std::string chunk(1 << 20, '\0');
  for (int i = 0; i < 200; ++i) {  // 200 MiB at most: ends early once tail is killed
    if (::write(pipe_fds[1], chunk.data(), chunk.size()) < 0) {
      break;
    }
  }
  ::close(pipe_fds[1]);
  ::signal(SIGPIPE, old_sigpipe);
  EXPECT_TRUE(KilledBySigkill(Wait(tail)));
  EXPECT_GE(cgroup->OomKills(), 1u);
}

TEST_F(RealCgroupTest, PidsLimitStopsAForkLoop) {
  if (!manager_->Supports("pids")) {
    GTEST_SKIP() << "no pids controller: " << manager_->Describe();
  }
  auto cgroup = MustCreate("pids", {.pids = 4});
  ASSERT_NE(cgroup, nullptr);
  const std::string dir = DirOf(*cgroup, "pids");
  EXPECT_EQ(ReadText(dir + "/pids.max"), "4\n");
  pid_t sh =
      Spawn(cgroup.get(), {"sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done"});
  std::optional<int> status = Wait(sh);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << "the shell forked 20 times";
  EXPECT_GE(KeyedValue(dir + "/pids.events", "max"), 1);
  EXPECT_LE(cgroup->Processes().size(), 4u);
  EXPECT_FALSE(cgroup->Processes().empty());
}

TEST_F(RealCgroupTest, CpuQuotaIsWrittenAndThrottles) {
  if (!manager_->Supports("cpu")) {
    GTEST_SKIP() << "no cpu controller: " << manager_->Describe();
  }
  auto cgroup = MustCreate("cpu", {.cpu_millis = 250});
  ASSERT_NE(cgroup, nullptr);
  const bool v2 = manager_->layout() == CgroupLayout::kV2;
  const std::string dir = DirOf(*cgroup, "cpu");
  if (v2) {
    EXPECT_EQ(ReadText(dir + "/cpu.max"), "25000 100000\n");
  } else {
    EXPECT_EQ(ReadText(dir + "/cpu.cfs_quota_us"), "25000\n");
    EXPECT_EQ(ReadText(dir + "/cpu.cfs_period_us"), "100000\n");
  }
  Spawn(cgroup.get(), {"sh", "-c", "while :; do :; done"});
  EXPECT_TRUE(WaitUntil([&] { return KeyedValue(dir + "/cpu.stat", "nr_throttled") > 0; }))
      << ReadText(dir + "/cpu.stat");
}

TEST_F(RealCgroupTest, KillAllKillsTheWholeTree) {
  auto cgroup = MustCreate("tree", {});
  ASSERT_NE(cgroup, nullptr);
  pid_t sh = Spawn(cgroup.get(), {"sh", "-c", "sleep 30 & sleep 30 & wait"});
  ASSERT_TRUE(WaitUntil([&] { return cgroup->Processes().size() == 3; }));
  cgroup->KillAll();
  ASSERT_TRUE(cgroup->Processes().empty());
  EXPECT_TRUE(KilledBySigkill(Wait(sh)));
}

TEST_F(RealCgroupTest, KillAllWithoutCgroupKillSignalsEveryProcess) {
  if (manager_->layout() != CgroupLayout::kV1) {
    GTEST_SKIP() << "v1 only: " << manager_->Describe();
  }
  // A root that shows the v1 hierarchies but not the v2 tree, as on a pure v1 machine.
  char root[] = "/tmp/funcd-cgroup-v1-XXXXXX";
  ASSERT_NE(::mkdtemp(root), nullptr);
  for (const char* controller : {"memory", "cpu", "pids", "freezer"}) {
    std::filesystem::create_directory_symlink(std::string(kRoot) + "/" + controller,
                                              std::string(root) + "/" + controller);
  }
  auto v1_only = CgroupManager::Detect(root, parent_);
  std::filesystem::remove_all(root);
  EXPECT_THAT(v1_only->Describe(), Not(HasSubstr("cgroup.kill")));
  auto cgroup = v1_only->Create("tree-v1", {});
  ASSERT_TRUE(cgroup.has_value()) << cgroup.error().message;
  pid_t sh = Spawn(cgroup->get(), {"sh", "-c", "sleep 30 & sleep 30 & wait"});
  ASSERT_TRUE(WaitUntil([&] { return (*cgroup)->Processes().size() == 3; }));
  (*cgroup)->KillAll();
  ASSERT_TRUE((*cgroup)->Processes().empty());
  EXPECT_TRUE(KilledBySigkill(Wait(sh)));
}

TEST_F(RealCgroupTest, AddProcessMovesARunningProcess) {
  auto cgroup = MustCreate("add", {});
  ASSERT_NE(cgroup, nullptr);
  pid_t sleeper = Spawn(nullptr, {"sleep", "30"});
  ASSERT_TRUE(cgroup->AddProcess(sleeper).has_value());
  EXPECT_THAT(cgroup->Processes(), ElementsAre(sleeper));
  for (const std::string& file : cgroup->procs_files()) {
    EXPECT_EQ(ReadText(file), std::to_string(sleeper) + "\n") << file;
  }
  EXPECT_FALSE(cgroup->AddProcess(0x3ffffff0).has_value());  // above any pid_max
}

TEST_F(RealCgroupTest, FreezeStopsProgressAndThawResumes) {
  if (!manager_->Supports("freezer")) {
    GTEST_SKIP() << "no freezer: " << manager_->Describe();
  }
  auto cgroup = MustCreate("freeze", {});
  ASSERT_NE(cgroup, nullptr);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  ASSERT_EQ(::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK), 0);  // yes must block, not fail
  pid_t yes = Spawn(cgroup.get(), {"yes"}, -1, pipe_fds[1]);
  ::close(pipe_fds[1]);
  const int out = pipe_fds[0];
  auto readable = [out](int timeout_ms) {
    struct pollfd p = {out, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  };
  auto drain = [out] {
    char buf[65536];
    while (::read(out, buf, sizeof(buf)) > 0) {
    }
  };
  ASSERT_TRUE(readable(2000));
  const std::string state = DirOf(*cgroup, "freezer") + "/freezer.state";
  const bool v1_freezer = manager_->layout() == CgroupLayout::kV1 && std::filesystem::exists(state);

  ASSERT_TRUE(cgroup->Freeze().has_value());
  if (v1_freezer) {
    EXPECT_EQ(ReadText(state), "FROZEN\n");
  }
  drain();
  EXPECT_FALSE(readable(100)) << "a frozen process wrote";

  ASSERT_TRUE(cgroup->Thaw().has_value());
  if (v1_freezer) {
    EXPECT_EQ(ReadText(state), "THAWED\n");
  }
  EXPECT_TRUE(readable(2000)) << "the thawed process did not resume";

  // A frozen cgroup can still be killed and removed.
  ASSERT_TRUE(cgroup->Freeze().has_value());
  const std::string dir = DirOf(*cgroup, "freezer");
  cgroup.reset();
  ASSERT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(KilledBySigkill(Wait(yes)));
  ::close(out);
}

TEST_F(RealCgroupTest, DestructionKillsAndRemovesTheDirectories) {
  auto cgroup = MustCreate("gone", {.memory_bytes = 64 << 20, .pids = 10});
  ASSERT_NE(cgroup, nullptr);
  std::vector<std::string> dirs;
  for (const std::string& file : cgroup->procs_files()) {
    dirs.push_back(std::filesystem::path(file).parent_path());
    EXPECT_TRUE(std::filesystem::is_directory(dirs.back()));
  }
  ASSERT_FALSE(dirs.empty());
  pid_t sleeper = Spawn(cgroup.get(), {"sleep", "30"});
  ASSERT_TRUE(WaitUntil([&] { return cgroup->Processes().size() == 1; }));
  cgroup.reset();
  for (const std::string& dir : dirs) {
    ASSERT_FALSE(std::filesystem::exists(dir)) << dir;
  }
  EXPECT_TRUE(KilledBySigkill(Wait(sleeper)));
}

TEST_F(RealCgroupTest, CleanupStaleRemovesLeftoversOfAPreviousRun) {
  // What a crashed run leaves: the replica's directories, with a process inside.
  std::vector<std::string> procs;
  std::vector<std::string> dirs;
  for (const auto& hierarchy : std::filesystem::directory_iterator(kRoot)) {
    std::filesystem::path parent = hierarchy.path() / parent_;
    if (std::filesystem::is_directory(parent)) {
      dirs.push_back(parent / "stale-1");
      ASSERT_EQ(::mkdir(dirs.back().c_str(), 0755), 0) << dirs.back();
      procs.push_back(dirs.back() + "/cgroup.procs");
    }
  }
  if (manager_->layout() == CgroupLayout::kV2) {
    dirs.push_back(std::string(kRoot) + "/" + parent_ + "/stale-1");
    ASSERT_EQ(::mkdir(dirs.back().c_str(), 0755), 0);
    procs.push_back(dirs.back() + "/cgroup.procs");
  }
  ASSERT_FALSE(dirs.empty());
  pid_t sleeper = Spawn(nullptr, {"sleep", "30"});
  for (const std::string& file : procs) {
    std::ofstream(file) << sleeper;
  }
  ASSERT_EQ(ReadText(procs.front()), std::to_string(sleeper) + "\n");

  auto restarted = CgroupManager::Detect(kRoot, parent_);
  restarted->CleanupStale();
  for (const std::string& dir : dirs) {
    ASSERT_FALSE(std::filesystem::exists(dir)) << dir;
  }
  EXPECT_TRUE(KilledBySigkill(Wait(sleeper)));
}

}  // namespace
}  // namespace funcd::provider