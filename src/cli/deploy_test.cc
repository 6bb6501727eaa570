#include "cli/deploy.h"

#include <gtest/gtest.h>

namespace funcd::cli {
namespace {

namespace json = boost::json;

StackFunction Function() {
  StackFunction fn;
  fn.name = "fn";
  fn.lang = "python3-http";
  fn.environment = {{"from_stack", "s"}, {"shared", "stack"}};
  fn.labels = StringMap{{"team", "a"}, {"tier", "stack"}};
  fn.annotations = StringMap{{"note", "stack"}};
  fn.secrets = {"db", "api"};
  fn.limits = Resources{"128Mi", ""};
  return fn;
}

LanguageTemplate Template() {
  LanguageTemplate tmpl;
  tmpl.name = "python3-http";
  tmpl.fprocess = "python3 index.py";
  tmpl.annotations = {{"com.funcd.watchdog", "none"}, {"note", "template"}};
  return tmpl;
}

TEST(DeploymentForTest, FlagsOverTheStackOverTheTemplate) {
  DeployFlags flags;
  flags.env = {"shared=flag", "extra=1"};
  flags.labels = {"tier=flag"};
  flags.annotations = {"added=yes"};
  flags.secrets = {"api", "token"};
  const LanguageTemplate tmpl = Template();
  auto deployment = DeploymentFor(Function(), flags, &tmpl, "fn:latest");
  ASSERT_TRUE(deployment.has_value()) << deployment.error().message;
  EXPECT_EQ(json::serialize(*deployment), json::serialize(json::parse(R"({
              "service": "fn", "image": "fn:latest", "envProcess": "python3 index.py",
              "envVars": {"extra": "1", "from_stack": "s", "shared": "flag"},
              "secrets": ["api", "token", "db"],
              "labels": {"team": "a", "tier": "flag"},
              "annotations": {"added": "yes", "com.funcd.watchdog": "none", "note": "stack"},
              "limits": {"memory": "128Mi"}
            })")));
}

TEST(DeploymentForTest, FprocessAndNamespacePrecedence) {
  const LanguageTemplate tmpl = Template();
  StackFunction fn = Function();
  fn.fprocess = "python3 other.py";
  fn.namespace_name = "from-stack";
  DeployFlags flags;
  auto from_stack = DeploymentFor(fn, flags, &tmpl, "fn:latest");
  ASSERT_TRUE(from_stack.has_value());
  EXPECT_EQ(from_stack->at("envProcess"), "python3 other.py");
  EXPECT_EQ(from_stack->at("namespace"), "from-stack");
  flags.fprocess = "cat";
  flags.gateway.namespace_name = "from-flag";
  auto from_flags = DeploymentFor(fn, flags, &tmpl, "fn:latest");
  ASSERT_TRUE(from_flags.has_value());
  EXPECT_EQ(from_flags->at("envProcess"), "cat");
  EXPECT_EQ(from_flags->at("namespace"), "from-flag");
}

TEST(DeploymentForTest, MinimalDeploymentHasEmptyLabelsAndAnnotations) {
  StackFunction fn;
  fn.name = "bare";
  auto deployment = DeploymentFor(fn, DeployFlags{}, nullptr, "functions/alpine:latest");
  ASSERT_TRUE(deployment.has_value());
  // Labels and annotations are always objects (clients decode them as maps); the rest is
  // left out when unset.
  EXPECT_EQ(json::serialize(*deployment),
            R"({"service":"bare","image":"functions/alpine:latest","labels":{},)"
            R"("annotations":{}})");
}

TEST(DeploymentForTest, MalformedFlagsAreErrors) {
  DeployFlags flags;
  flags.env = {"NOVALUE"};
  auto env = DeploymentFor(Function(), flags, nullptr, "fn:latest");
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().message, "env \"NOVALUE\" is not in the form KEY=VALUE");
  flags.env.clear();
  flags.labels = {"=x"};
  auto label = DeploymentFor(Function(), flags, nullptr, "fn:latest");
  ASSERT_FALSE(label.has_value());
  EXPECT_EQ(label.error().message, "empty label name in \"=x\"");
}

}  // namespace
}  // namespace funcd::cli
