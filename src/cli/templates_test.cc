#include "cli/templates.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "cli/gateway_client.h"

namespace funcd::cli {
namespace {

TEST(GatewayUrlTest, ResolutionOrderOfFaasCli) {
  EXPECT_EQ(ResolveGatewayUrl("", "", ""), "http://127.0.0.1:8080");
  EXPECT_EQ(ResolveGatewayUrl("", "", "http://env:1"), "http://env:1");
  EXPECT_EQ(ResolveGatewayUrl("", "http://stack:2", "http://env:1"), "http://stack:2");
  EXPECT_EQ(ResolveGatewayUrl("http://flag:3", "http://stack:2", "http://env:1"), "http://flag:3");
  // The default value in the flag or the stack does not count as a choice.
  EXPECT_EQ(ResolveGatewayUrl("http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://env:1"),
            "http://env:1");
  EXPECT_EQ(ResolveGatewayUrl("Gateway.Example:8080/", "", ""), "http://gateway.example:8080");
}

TEST(QueryEscapeTest, EscapesReservedBytes) {
  EXPECT_EQ(QueryEscape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(QueryEscape("safe-._~"), "safe-._~");
}

class TemplatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/funcd-templates-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(TemplatesTest, ParsesContractKeysAndFuncdExtensions) {
  std::filesystem::create_directories(dir_ + "/template/mine/src");
  std::ofstream(dir_ + "/template/mine/template.yml") << R"(language: mine
fprocess: ./run
welcome_message: hi
handler_folder: src
build_options:
  - name: dev
    packages: [make, gcc]
funcd:
  build: make
  environment: {mode: http}
  annotations: {com.funcd.watchdog: none}
  package: handler
)";
  auto tmpl = FindTemplate("Mine", TemplateSearchPath(dir_));
  ASSERT_TRUE(tmpl.has_value()) << tmpl.error().message;
  EXPECT_EQ(tmpl->name, "mine");
  EXPECT_EQ(tmpl->dir, dir_ + "/template/mine");
  EXPECT_EQ(tmpl->fprocess, "./run");
  EXPECT_EQ(tmpl->welcome_message, "hi");
  EXPECT_EQ(tmpl->handler_folder, "src");
  ASSERT_EQ(tmpl->build_options.size(), 1u);
  EXPECT_EQ(tmpl->build_options[0].packages.size(), 2u);
  EXPECT_EQ(tmpl->build, "make");
  EXPECT_EQ(tmpl->environment.at("mode"), "http");
  EXPECT_EQ(tmpl->annotations.at("com.funcd.watchdog"), "none");
  EXPECT_TRUE(tmpl->handler_is_package);
}

TEST_F(TemplatesTest, TheProjectsCopyWinsOverTheShippedOne) {
  std::filesystem::create_directories(dir_ + "/template/bash");
  std::ofstream(dir_ + "/template/bash/template.yml") << "language: bash\nfprocess: custom\n";
  auto tmpl = FindTemplate("bash", TemplateSearchPath(dir_));
  ASSERT_TRUE(tmpl.has_value());
  EXPECT_EQ(tmpl->fprocess, "custom");
}

TEST_F(TemplatesTest, UnknownTemplateListsWhatExists) {
  auto missing = FindTemplate("cobol", TemplateSearchPath(dir_));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("python3-http"), std::string::npos)
      << missing.error().message;
  EXPECT_FALSE(FindTemplate("../etc", TemplateSearchPath(dir_)).has_value());
}

TEST(ShippedTemplatesTest, EveryTemplateIsComplete) {
  const auto templates = ListTemplates(TemplateSearchPath("/nonexistent"));
  std::set<std::string> names;
  for (const auto& tmpl : templates) {
    names.insert(tmpl.name);
    EXPECT_EQ(tmpl.language, tmpl.name) << tmpl.dir;
    EXPECT_FALSE(tmpl.welcome_message.empty()) << tmpl.dir;
    const std::string handler = tmpl.dir + "/" + tmpl.handler_folder;
    EXPECT_TRUE(std::filesystem::is_directory(handler)) << handler;
    bool has_test = false;
    for (const auto& entry : std::filesystem::directory_iterator(handler)) {
      const std::string file = entry.path().filename().string();
      has_test = has_test || file.find("_test.") != std::string::npos ||
                 file.find(".test.") != std::string::npos;
    }
    EXPECT_TRUE(has_test) << tmpl.name << " ships no test for its handler";
    EXPECT_FALSE(tmpl.build.empty()) << tmpl.name;
  }
  for (const char* expected :
       {"bash", "python3-http", "node-http", "cpp-http", "exec", "dockerfile"}) {
    EXPECT_TRUE(names.contains(expected)) << expected;
  }
}

}  // namespace
}  // namespace funcd::cli
