#include "cli/package_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli/files.h"

namespace funcd::cli {
namespace {

namespace fs = std::filesystem;

class PackageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/funcd-store-XXXXXX";
    state_ = ::mkdtemp(pattern);
  }
  void TearDown() override { fs::remove_all(state_); }

  // A staging directory holding `content` in handler.sh (and a subdirectory).
  std::string Stage(PackageStore& store, const std::string& content) {
    auto staging = store.NewStaging();
    EXPECT_TRUE(staging.has_value());
    fs::create_directories(*staging + "/function");
    std::ofstream(*staging + "/function/handler.sh") << content;
    ::chmod((*staging + "/function/handler.sh").c_str(), 0700);
    std::ofstream(*staging + "/funcd.json") << R"({"fprocess":"sh function/handler.sh"})";
    ::chmod((*staging + "/funcd.json").c_str(), 0600);
    return *staging;
  }

  std::string state_;
};

TEST(ImageRefTest, NamesAndTags) {
  EXPECT_EQ(ParseImageRef("hello")->tag, "latest");
  EXPECT_EQ(ParseImageRef("hello:v1")->tag, "v1");
  auto nested = ParseImageRef("ghcr.io/team/fn:2.0");
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->name, "ghcr.io/team/fn");
  EXPECT_EQ(nested->tag, "2.0");
  auto port = ParseImageRef("localhost:5000/fn");
  ASSERT_TRUE(port.has_value());
  EXPECT_EQ(port->name, "localhost:5000/fn");
  EXPECT_EQ(port->tag, "latest");
  EXPECT_FALSE(ParseImageRef("../escape").has_value());
  EXPECT_FALSE(ParseImageRef("a//b").has_value());
  EXPECT_FALSE(ParseImageRef("fn:").has_value());
  EXPECT_FALSE(ParseImageRef("fn:..").has_value());
  EXPECT_FALSE(ParseImageRef("fn with space").has_value());
}

TEST_F(PackageStoreTest, InstallsByDigestAndTagsWithASymlink) {
  PackageStore store(state_);
  const std::string staging = Stage(store, "echo one");
  auto installed = store.Install(staging, *ParseImageRef("hello:latest"));
  ASSERT_TRUE(installed.has_value()) << installed.error().message;
  EXPECT_FALSE(installed->reused);
  EXPECT_EQ(installed->image, "hello:latest");
  EXPECT_TRUE(installed->digest.starts_with("sha256-"));
  EXPECT_EQ(installed->digest.size(), 7u + 64u);
  EXPECT_EQ(installed->path, state_ + "/packages/hello/" + installed->digest);
  EXPECT_FALSE(PathExists(staging));  // moved, not copied
  EXPECT_EQ(fs::read_symlink(state_ + "/packages/hello/latest").string(), installed->digest);
  EXPECT_EQ(*store.Resolve(*ParseImageRef("hello")), installed->path);
  // Readable by the sandbox's uid: 0755 directories, 0644 files, executables 0755.
  struct stat st {};
  ::stat((installed->path + "/funcd.json").c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  ::stat((installed->path + "/function/handler.sh").c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  ::stat(installed->path.c_str(), &st);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  // No staging directories are left behind.
  for (const auto& entry : fs::directory_iterator(state_ + "/packages")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".staging")) << entry.path();
  }
}

TEST_F(PackageStoreTest, SameContentIsStoredOnceAndTagsMove) {
  PackageStore store(state_);
  auto first = store.Install(Stage(store, "echo one"), *ParseImageRef("fn"));
  auto again = store.Install(Stage(store, "echo one"), *ParseImageRef("fn:v1"));
  ASSERT_TRUE(first.has_value() && again.has_value());
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(first->digest, again->digest);
  auto second = store.Install(Stage(store, "echo two"), *ParseImageRef("fn"));
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->digest, first->digest);
  EXPECT_EQ(*store.Resolve(*ParseImageRef("fn:latest")), second->path);
  EXPECT_EQ(*store.Resolve(*ParseImageRef("fn:v1")), first->path);  // the old tag stays
  EXPECT_TRUE(IsDirectory(first->path));  // running replicas may still use it
  EXPECT_EQ(*store.Resolve(*ParseImageRef("fn:" + first->digest)), first->path);
}

TEST_F(PackageStoreTest, StaleStagingDirectoriesAreCleanedUp) {
  PackageStore store(state_);
  auto old_staging = store.NewStaging();
  auto fresh_staging = store.NewStaging();
  ASSERT_TRUE(old_staging.has_value() && fresh_staging.has_value());
  fs::last_write_time(*old_staging, fs::file_time_type::clock::now() - std::chrono::hours(25));
  auto next = store.NewStaging();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(PathExists(*old_staging));   // a killed build's leftovers
  EXPECT_TRUE(PathExists(*fresh_staging));  // perhaps a build running now
}

TEST_F(PackageStoreTest, RefusesToReplaceADirectoryTag) {
  PackageStore store(state_);
  fs::create_directories(state_ + "/packages/manual/latest");
  auto installed = store.Install(Stage(store, "x"), *ParseImageRef("manual"));
  ASSERT_FALSE(installed.has_value());
  EXPECT_EQ(installed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(installed.error().message.find("not made by funcd build"), std::string::npos);
}

TEST_F(PackageStoreTest, DigestCoversContentNamesAndExecutableBits) {
  const std::string a = state_ + "/a";
  fs::create_directories(a + "/d");
  std::ofstream(a + "/d/f") << "x";
  auto base = DigestTree(a);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(*DigestTree(a), *base);  // stable
  ::chmod((a + "/d/f").c_str(), 0755);
  auto exec = DigestTree(a);
  EXPECT_NE(*exec, *base);
  ::chmod((a + "/d/f").c_str(), 0644);
  std::ofstream(a + "/d/f") << "y";
  EXPECT_NE(*DigestTree(a), *base);
  std::ofstream(a + "/d/f") << "x";
  fs::rename(a + "/d/f", a + "/d/g");
  EXPECT_NE(*DigestTree(a), *base);
}

TEST(HashTest, KnownVectors) {
  EXPECT_EQ(*Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(*HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace funcd::cli
