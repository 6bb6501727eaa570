#include "provider/process/image.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace funcd::provider {
namespace {

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/funcd-image-XXXXXX";
    root_ = ::mkdtemp(pattern);
    std::filesystem::create_directories(root_ + "/app");
    std::filesystem::create_directories(root_ + "/packages/hello/latest");
    std::filesystem::create_directories(root_ + "/packages/team/tool/v2");
    std::ofstream(root_ + "/packages/hello/latest/funcd.json")
        << R"({"fprocess":"./handler.sh","environment":{"mode":"streaming"}})";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

TEST_F(ImageTest, DirectoryImages) {
  auto image = ResolveImage("dir://" + root_ + "/app", root_ + "/packages", false);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(image->kind, ImageKind::kDirectory);
  EXPECT_EQ(image->app_dir, root_ + "/app");
  EXPECT_FALSE(ResolveImage("dir://relative/path", root_ + "/packages", false).has_value());
  EXPECT_FALSE(ResolveImage("dir://" + root_ + "/missing", root_ + "/packages", false).has_value());
}

TEST_F(ImageTest, PackagesWithManifest) {
  auto image = ResolveImage("hello", root_ + "/packages", false);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->kind, ImageKind::kPackage);
  EXPECT_EQ(image->fprocess, "./handler.sh");
  EXPECT_EQ(image->environment.at("mode"), "streaming");
  EXPECT_TRUE(ResolveImage("hello:latest", root_ + "/packages", false).has_value());
  EXPECT_TRUE(ResolveImage("team/tool:v2", root_ + "/packages", false).has_value());
  EXPECT_FALSE(ResolveImage("hello:v9", root_ + "/packages", false).has_value());
}

TEST_F(ImageTest, HostImagesOnlyWhenAllowed) {
  auto refused = ResolveImage("functions/alpine:latest", root_ + "/packages", false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("functions/alpine:latest"), std::string::npos);
  EXPECT_NE(refused.error().message.find("--host-images"), std::string::npos);
  auto host = ResolveImage("functions/alpine:latest", root_ + "/packages", true);
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->kind, ImageKind::kHost);
  EXPECT_TRUE(host->app_dir.empty());
}

TEST_F(ImageTest, PackageNamesCannotLeaveTheStore) {
  EXPECT_FALSE(ResolveImage("../app", root_ + "/packages", false).has_value());
  EXPECT_FALSE(ResolveImage("hello/../../app:x", root_ + "/packages", false).has_value());
}

TEST_F(ImageTest, BadManifestIsAnError) {
  std::ofstream(root_ + "/app/funcd.json") << "[1,2]";
  auto image = ResolveImage("dir://" + root_ + "/app", root_ + "/packages", false);
  ASSERT_FALSE(image.has_value());
  EXPECT_NE(image.error().message.find("funcd.json"), std::string::npos);
}

}  // namespace
TEST_F(ImageTest, TagSymlinksResolveToTheirContentAtDeploy) {
  // funcd build's layout: NAME/sha256-... holds the content, NAME/TAG links to it.
  std::filesystem::create_directories(root_ + "/packages/fn/sha256-aaa");
  std::filesystem::create_directories(root_ + "/packages/fn/sha256-bbb");
  std::ofstream(root_ + "/packages/fn/sha256-aaa/funcd.json") << R"({"fprocess":"./v1"})";
  std::ofstream(root_ + "/packages/fn/sha256-bbb/funcd.json") << R"({"fprocess":"./v2"})";
  std::filesystem::create_directory_symlink("sha256-aaa", root_ + "/packages/fn/latest");
  auto first = ResolveImage("fn:latest", root_ + "/packages", false);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->app_dir, root_ + "/packages/fn/sha256-aaa");
  EXPECT_EQ(first->fprocess, "./v1");
  // The tag moves (a rebuild): the next resolution pins the new content.
  std::filesystem::remove(root_ + "/packages/fn/latest");
  std::filesystem::create_directory_symlink("sha256-bbb", root_ + "/packages/fn/latest");
  auto second = ResolveImage("fn:latest", root_ + "/packages", false);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->app_dir, root_ + "/packages/fn/sha256-bbb");
  EXPECT_EQ(second->fprocess, "./v2");
  // Pinned by digest.
  auto pinned = ResolveImage("fn:sha256-aaa", root_ + "/packages", false);
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->app_dir, root_ + "/packages/fn/sha256-aaa");
}

TEST_F(ImageTest, TagSymlinksMayNotLeaveTheStore) {
  std::filesystem::create_directories(root_ + "/packages/escape");
  std::filesystem::create_directory_symlink(root_ + "/app", root_ + "/packages/escape/latest");
  auto image = ResolveImage("escape", root_ + "/packages", false);
  ASSERT_FALSE(image.has_value());
  EXPECT_NE(image.error().message.find("outside the package store"), std::string::npos);
}

}  // namespace funcd::provider
