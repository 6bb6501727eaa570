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
}  // namespace funcd::provider
