// CgroupManager against temporary trees of regular files shaped like /sys/fs/cgroup: the v2
// code path (which this machine cannot run for real) and layout detection.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "provider/process/cgroup.h"

namespace funcd::provider {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// A temporary directory of regular files standing in for /sys/fs/cgroup. The kernel's part
// (control files appearing in new directories) is played by the test where it matters.
class FakeTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/funcd-cgroup-fake-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    root_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }
  std::string Read(const std::string& relative) const { return ReadText(Path(relative)); }
  void Write(const std::string& relative, const std::string& text) {
    WriteText(Path(relative), text);
  }
  bool Exists(const std::string& relative) const { return std::filesystem::exists(Path(relative)); }

  // A v2 root offering `controllers`, with funcd's parent already holding the core files
  // that the kernel creates in every non-root cgroup.
  void MakeV2Tree(const std::string& controllers, const std::string& enabled = "") {
    Write("cgroup.controllers", controllers + "\n");
    Write("cgroup.subtree_control", enabled);
    Write("funcd/cgroup.kill", "");
    Write("funcd/cgroup.freeze", "0\n");
  }

  std::string root_;
};

TEST_F(FakeTreeTest, V2EnablesControllersInRootAndParent) {
  MakeV2Tree("cpuset cpu io memory hugetlb pids rdma misc");
  auto manager = CgroupManager::Detect(root_, "funcd");
  EXPECT_EQ(manager->layout(), CgroupLayout::kV2);
  EXPECT_EQ(Read("cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(Read("funcd/cgroup.subtree_control"), "+cpu +memory +pids");
  for (const char* controller : {"memory", "cpu", "pids", "freezer"}) {
    EXPECT_TRUE(manager->Supports(controller)) << controller;
  }
  EXPECT_FALSE(manager->Supports("io"));
  EXPECT_THAT(manager->Describe(), StartsWith("cgroup v2: memory cpu pids"));
}

TEST_F(FakeTreeTest, V2LeavesEnabledControllersAlone) {
  MakeV2Tree("cpu io memory pids", "cpu io memory pids\n");
  Write("funcd/cgroup.subtree_control", "memory\n");
  auto manager = CgroupManager::Detect(root_, "funcd");
  EXPECT_EQ(Read("cgroup.subtree_control"), "cpu io memory pids\n");  // not written
  EXPECT_EQ(Read("funcd/cgroup.subtree_control"), "+cpu +pids");      // only what was missing
}

TEST_F(FakeTreeTest, V2CreateWritesLimitsAndDrivesTheCoreFiles) {
  MakeV2Tree("cpu memory pids");
  auto manager = CgroupManager::Detect(root_, "funcd");
  ResourceLimits limits{.memory_bytes = 64 << 20, .cpu_millis = 1500, .pids = 50};
  auto cgroup = manager->Create("fn-1", limits);
  ASSERT_TRUE(cgroup.has_value()) << cgroup.error().message;
  EXPECT_EQ(Read("funcd/fn-1/memory.max"), "67108864");
  EXPECT_EQ(Read("funcd/fn-1/cpu.max"), "150000 100000");
  EXPECT_EQ(Read("funcd/fn-1/pids.max"), "50");
  EXPECT_THAT((*cgroup)->procs_files(), ElementsAre(Path("funcd/fn-1/cgroup.procs")));

  ASSERT_TRUE((*cgroup)->AddProcess(4242).has_value());
  EXPECT_EQ(Read("funcd/fn-1/cgroup.procs"), "4242");
  Write("funcd/fn-1/cgroup.procs", "");  // 4242 is not ours to kill

  Write("funcd/fn-1/memory.events", "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\n");
  Write("funcd/fn-1/memory.current", "123456\n");
  EXPECT_EQ((*cgroup)->OomKills(), 2u);
  EXPECT_EQ((*cgroup)->MemoryBytes(), 123456u);

  Write("funcd/fn-1/cgroup.events", "populated 1\nfrozen 1\n");
  ASSERT_TRUE((*cgroup)->Freeze().has_value());
  EXPECT_EQ(Read("funcd/fn-1/cgroup.freeze"), "1");
  Write("funcd/fn-1/cgroup.events", "populated 1\nfrozen 0\n");
  ASSERT_TRUE((*cgroup)->Thaw().has_value());
  EXPECT_EQ(Read("funcd/fn-1/cgroup.freeze"), "0");

  (*cgroup)->KillAll();
  EXPECT_EQ(Read("funcd/fn-1/cgroup.kill"), "1");
}

TEST_F(FakeTreeTest, V2SkipsLimitsOfMissingControllers) {
  MakeV2Tree("cpu pids");
  auto manager = CgroupManager::Detect(root_, "funcd");
  EXPECT_FALSE(manager->Supports("memory"));
  auto cgroup = manager->Create("fn-1", {.memory_bytes = 1 << 20, .cpu_millis = 250});
  ASSERT_TRUE(cgroup.has_value()) << cgroup.error().message;
  EXPECT_FALSE(Exists("funcd/fn-1/memory.max"));
  EXPECT_EQ(Read("funcd/fn-1/cpu.max"), "25000 100000");
  EXPECT_EQ((*cgroup)->OomKills(), 0u);
}

TEST_F(FakeTreeTest, CreateRejectsBadAndDuplicateNames) {
  MakeV2Tree("cpu memory pids");
  auto manager = CgroupManager::Detect(root_, "funcd");
  for (const char* name : {"", "../escape", "a/b", ".hidden", "..", "sp ace"}) {
    auto cgroup = manager->Create(name, {});
    ASSERT_FALSE(cgroup.has_value()) << "accepted \"" << name << "\"";
    EXPECT_EQ(cgroup.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(Exists("escape"));
  auto first = manager->Create("fn-1", {});
  ASSERT_TRUE(first.has_value());
  auto second = manager->Create("fn-1", {});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(FakeTreeTest, V1WritesPerControllerFilesAndUsesTheV2TreeToKill) {
  Write("memory/cgroup.procs", "");
  Write("memory/funcd/memory.limit_in_bytes", "9223372036854771712\n");
  Write("cpu/cgroup.procs", "");
  Write("cpu/funcd/cpu.cfs_quota_us", "-1\n");
  Write("pids/cgroup.procs", "");
  Write("pids/funcd/pids.max", "max\n");
  Write("unified/cgroup.controllers", "");
  Write("unified/funcd/cgroup.kill", "");
  auto manager = CgroupManager::Detect(root_, "funcd");
  EXPECT_EQ(manager->layout(), CgroupLayout::kV1);
  EXPECT_TRUE(manager->Supports("memory"));
  EXPECT_TRUE(manager->Supports("cpu"));
  EXPECT_TRUE(manager->Supports("pids"));
  EXPECT_FALSE(manager->Supports("freezer"));
  EXPECT_THAT(manager->Describe(), StartsWith("cgroup v1: memory cpu pids (v2 tree: cgroup.kill)"));
  EXPECT_THAT(manager->Describe(), HasSubstr("freezer: not mounted"));

  auto cgroup = manager->Create("fn", {.memory_bytes = 20 << 20, .cpu_millis = 5, .pids = 10});
  ASSERT_TRUE(cgroup.has_value()) << cgroup.error().message;
  EXPECT_EQ(Read("memory/funcd/fn/memory.limit_in_bytes"), "20971520");
  EXPECT_EQ(Read("cpu/funcd/fn/cpu.cfs_quota_us"), "1000");  // 5m is below the kernel's minimum
  EXPECT_EQ(Read("pids/funcd/fn/pids.max"), "10");
  EXPECT_EQ((*cgroup)->procs_files().size(), 4u);
  EXPECT_EQ((*cgroup)->Freeze().error().code, ErrorCode::kUnimplemented);
  (*cgroup)->KillAll();
  EXPECT_EQ(Read("unified/funcd/fn/cgroup.kill"), "1");
}

TEST_F(FakeTreeTest, NothingMountedMeansNoCgroups) {
  auto manager = CgroupManager::Detect(root_, "funcd");
  EXPECT_EQ(manager->layout(), CgroupLayout::kNone);
  EXPECT_THAT(manager->Describe(), HasSubstr("none usable"));
  auto cgroup = manager->Create("fn", {});
  ASSERT_FALSE(cgroup.has_value());
  EXPECT_EQ(cgroup.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace funcd::provider
