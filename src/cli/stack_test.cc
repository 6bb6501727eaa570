#include "cli/stack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace funcd::cli {
namespace {

using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/funcd-stack-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  Result<Stack> Parse(const std::string& text, std::map<std::string, std::string> env = {}) {
    StackOptions options;
    options.lookup = FakeEnv(std::move(env));
    return ParseStack(text, dir_ + "/stack.yml", options);
  }
  std::string dir_;
};

constexpr const char* kFull = R"(version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello:
    lang: Dockerfile
    handler: ./hello
    image: ${REGISTRY:-local}/hello:${TAG:-latest}
    fprocess: ./handler
    namespace: team
    environment:
      write_debug: true
      port: 8080
      empty:
    secrets: [api-key, db]
    labels:
      com.openfaas.scale.min: "2"
    annotations:
      topic: orders
    limits: {memory: 128Mi, cpu: 500m}
    requests:
      memory: 64Mi
    constraints:
      - node=a
    build_args:
      GO111MODULE: on
    build_options: [dev]
    skip_build: false
    readonly_root_filesystem: yes
  second:
    image: second:latest
    skip_build: true
configuration:
  templates:
    - name: golang-middleware
      source: https://github.com/openfaas/golang-http-template
)";

TEST_F(StackTest, ParsesEveryField) {
  auto stack = Parse(kFull, {{"TAG", "v2"}});
  ASSERT_TRUE(stack.has_value()) << stack.error().message;
  EXPECT_EQ(stack->version, "1.0");
  EXPECT_EQ(stack->provider_name, "openfaas");
  EXPECT_EQ(stack->gateway, "http://127.0.0.1:8080");
  ASSERT_EQ(stack->functions.size(), 2u);
  const StackFunction& fn = stack->functions[0];
  EXPECT_EQ(fn.name, "hello");
  EXPECT_EQ(fn.line, 6);
  EXPECT_EQ(fn.lang, "dockerfile");  // normalised
  EXPECT_EQ(fn.handler, "./hello");
  EXPECT_EQ(fn.image, "local/hello:v2");
  EXPECT_EQ(fn.fprocess, "./handler");
  EXPECT_EQ(fn.namespace_name, "team");
  EXPECT_EQ(fn.environment.at("write_debug"), "true");  // scalars as written
  EXPECT_EQ(fn.environment.at("port"), "8080");
  EXPECT_EQ(fn.environment.at("empty"), "");
  EXPECT_EQ(fn.secrets, (std::vector<std::string>{"api-key", "db"}));
  EXPECT_EQ(fn.labels->at("com.openfaas.scale.min"), "2");
  EXPECT_EQ(fn.annotations->at("topic"), "orders");
  EXPECT_EQ(fn.limits->memory, "128Mi");
  EXPECT_EQ(fn.limits->cpu, "500m");
  EXPECT_EQ(fn.requests->memory, "64Mi");
  EXPECT_EQ(fn.constraints, (std::vector<std::string>{"node=a"}));
  EXPECT_EQ(fn.build_args.at("GO111MODULE"), "on");
  EXPECT_EQ(fn.build_options, (std::vector<std::string>{"dev"}));
  EXPECT_FALSE(fn.skip_build);
  EXPECT_TRUE(fn.readonly_root_filesystem);
  EXPECT_TRUE(stack->functions[1].skip_build);
  EXPECT_FALSE(stack->functions[1].labels.has_value());
  ASSERT_EQ(stack->templates.size(), 1u);
  EXPECT_EQ(stack->templates[0].name, "golang-middleware");
  EXPECT_TRUE(stack->warnings.empty());
}

TEST_F(StackTest, EnvsubstCanBeTurnedOff) {
  StackOptions options;
  options.envsubst = false;
  options.lookup = FakeEnv({{"TAG", "v2"}});
  auto stack = ParseStack(kFull, dir_ + "/stack.yml", options);
  ASSERT_TRUE(stack.has_value()) << stack.error().message;
  EXPECT_EQ(stack->functions[0].image, "${REGISTRY:-local}/hello:${TAG:-latest}");
}

TEST_F(StackTest, AcceptsFuncdAsProviderName) {
  auto stack = Parse("provider: {name: funcd}\nfunctions: {a: {image: a}}\n");
  ASSERT_TRUE(stack.has_value()) << stack.error().message;
  EXPECT_EQ(stack->functions[0].image, "a");
}

TEST_F(StackTest, EnvironmentFilesWinOverInlineAndLaterFilesWin) {
  Write("base.yml", "environment:\n  shared: base\n  only_base: b\n  inline_too: file\n");
  Write("override.yml", "environment:\n  shared: override\n");
  auto stack = Parse(R"(provider: {name: openfaas}
functions:
  fn:
    image: fn
    environment:
      inline_too: inline
      only_inline: i
    environment_file:
      - base.yml
      - override.yml
)");
  ASSERT_TRUE(stack.has_value()) << stack.error().message;
  const auto& env = stack->functions[0].environment;
  EXPECT_EQ(env.at("shared"), "override");
  EXPECT_EQ(env.at("only_base"), "b");
  EXPECT_EQ(env.at("inline_too"), "file");
  EXPECT_EQ(env.at("only_inline"), "i");
}

TEST_F(StackTest, MissingEnvironmentFileNamesTheLine) {
  auto stack = Parse(
      "provider: {name: openfaas}\nfunctions:\n  fn:\n    environment_file:\n"
      "      - nope.yml\n");
  ASSERT_FALSE(stack.has_value());
  EXPECT_THAT(stack.error().message, HasSubstr("stack.yml:5:9"));
  EXPECT_THAT(stack.error().message, HasSubstr("nope.yml"));
}

TEST_F(StackTest, BadEnvironmentFileNamesItsOwnLine) {
  Write("bad.yml", "environment:\n  a: 1\n  b: [1, 2]\n");
  auto stack = Parse(
      "provider: {name: openfaas}\nfunctions:\n  fn:\n    environment_file: "
      "[bad.yml]\n");
  ASSERT_FALSE(stack.has_value());
  EXPECT_THAT(stack.error().message, HasSubstr("bad.yml:3:6"));
  EXPECT_THAT(stack.error().message, HasSubstr("environment.b must be a string"));
}

TEST_F(StackTest, ErrorsPointAtTheLine) {
  struct Case {
    std::string text;
    std::string where;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    labels: [a, b]\n", "stack.yml:4:13",
       "fn.labels must be a map"},
      {"provider:\n  name: faas\nfunctions: {}\n", "stack.yml:2:9",
       "provider.name must be openfaas"},
      {"version: 2.0\nprovider: {name: openfaas}\n", "stack.yml:1:10", "version 2.0"},
      {"provider: {name: openfaas}\nfunctions:\n  Bad_Name:\n    image: x\n", "stack.yml:3:3",
       "not valid"},
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    skip_build: maybe\n", "stack.yml:4:17",
       "fn.skip_build must be true or false"},
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    limits: {memory: 1Mi, disk: 2}\n",
       "stack.yml:4:27", "unknown key \"disk\""},
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    image: [\n", "stack.yml:5:1", ""},
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    image: a\n    image: b\n",
       "stack.yml:5:5", "set twice"},
      {"provider: {name: openfaas}\nfunctions:\n  fn: {}\n  fn: {}\n", "stack.yml:4:3",
       "defined twice"},
      {"provider: {name: openfaas}\nfunctions:\n  fn:\n    image: ${BROKEN\n",
       "stack.yml:4: ", "unterminated ${"},
  };
  for (const Case& c : cases) {
    auto stack = Parse(c.text);
    ASSERT_FALSE(stack.has_value()) << c.text;
    EXPECT_THAT(stack.error().message, HasSubstr(dir_ + "/" + c.where)) << c.text;
    EXPECT_THAT(stack.error().message, HasSubstr(c.what)) << c.text;
  }
}

TEST_F(StackTest, ProviderIsRequired) {
  auto stack = Parse("functions:\n  fn: {image: x}\n");
  ASSERT_FALSE(stack.has_value());
  EXPECT_THAT(stack.error().message, HasSubstr("provider.name is missing"));
}

TEST_F(StackTest, UnknownKeysAreWarnings) {
  auto stack = Parse(
      "provider: {name: openfaas}\nfunctions:\n  fn:\n    image: x\n"
      "    enviroment: {a: b}\n");
  ASSERT_TRUE(stack.has_value()) << stack.error().message;
  ASSERT_EQ(stack->warnings.size(), 1u);
  EXPECT_THAT(stack->warnings[0], HasSubstr("stack.yml:5:5: unknown key \"fn.enviroment\""));
}

TEST_F(StackTest, FilterAndRegexSelectFunctions) {
  const std::string text =
      "provider: {name: openfaas}\nfunctions:\n  api-a: {image: a}\n  api-b: {image: b}\n"
      "  worker: {image: c}\n";
  StackOptions options;
  options.lookup = FakeEnv({});
  options.filter = "api-*";
  auto filtered = ParseStack(text, "stack.yml", options);
  ASSERT_TRUE(filtered.has_value());
  ASSERT_EQ(filtered->functions.size(), 2u);
  EXPECT_EQ(filtered->functions[1].name, "api-b");
  options.filter.clear();
  options.regex = "^work";
  auto regex = ParseStack(text, "stack.yml", options);
  ASSERT_TRUE(regex.has_value());
  ASSERT_EQ(regex->functions.size(), 1u);
  EXPECT_EQ(regex->functions[0].name, "worker");
  options.regex = "nothing";
  auto none = ParseStack(text, "stack.yml", options);
  ASSERT_FALSE(none.has_value());
  EXPECT_THAT(none.error().message, HasSubstr("no function"));
}

TEST_F(StackTest, LoadStackReportsAMissingFile) {
  auto stack = LoadStack(dir_ + "/absent.yml");
  ASSERT_FALSE(stack.has_value());
  EXPECT_EQ(stack.error().code, ErrorCode::kNotFound);
  const std::string path = Write("stack.yml", "provider: {name: openfaas}\nfunctions: {}\n");
  auto loaded = LoadStack(path);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->dir, dir_);
}

TEST(FunctionNameTest, Rfc1123Labels) {
  EXPECT_TRUE(IsValidFunctionName("hello"));
  EXPECT_TRUE(IsValidFunctionName("a-1"));
  EXPECT_FALSE(IsValidFunctionName("-a"));
  EXPECT_FALSE(IsValidFunctionName("a-"));
  EXPECT_FALSE(IsValidFunctionName("Hello"));
  EXPECT_FALSE(IsValidFunctionName("a.b"));
  EXPECT_FALSE(IsValidFunctionName(std::string(64, 'a')));
  EXPECT_TRUE(IsValidFunctionName(std::string(63, 'a')));
}

}  // namespace
}  // namespace funcd::cli
