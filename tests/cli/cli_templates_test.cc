// Every shipped template end to end against a real `funcd serve`: funcd new, funcd up (build
// into the package store, then deploy), funcd invoke answers with the handler's reply,
// funcd logs shows the function's own output, funcd remove removes it. Also: rebuilding,
// failing builds, and the stack files `funcd new` writes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "tests/cli/cli_runner.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;

struct TemplateCase {
  std::string lang;
  std::string reply;     // what the sample handler answers to the body "funcd"
  std::string log_line;  // what it writes to its logs
};

// Test names show the template, not the bytes of the case.
void PrintTo(const TemplateCase& c, std::ostream* os) { *os << c.lang; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TemplateTest : public CliTest, public ::testing::WithParamInterface<TemplateCase> {};

TEST_P(TemplateTest, NewUpInvokeLogsRemove) {
  const TemplateCase& c = GetParam();
  const std::string name = StrCat("fn-", c.lang);
  Login();
  CliResult created = Funcd({"new", name, "--lang", c.lang});
  ASSERT_EQ(created.exit_code, 0) << created.Describe();
  EXPECT_THAT(created.out, HasSubstr("Stack file written: stack.yaml"));
  EXPECT_THAT(created.out, HasSubstr("Notes:"));
  EXPECT_TRUE(std::filesystem::is_directory(Project(name)));
  EXPECT_TRUE(std::filesystem::exists(Project(StrCat("template/", c.lang, "/template.yml"))));

  CliResult up = Funcd({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.Describe();
  EXPECT_THAT(up.out, HasSubstr(StrCat("[", name, "] < Stored ", name, ":latest (sha256-")));
  EXPECT_THAT(up.out, HasSubstr("Deployed. 202 Accepted."));

  CliResult ready = Funcd({"ready", name, "--interval", "100ms", "--attempts", "200"});
  ASSERT_EQ(ready.exit_code, 0) << ready.Describe() << funcd_->RuntimeEvents(name);
  CliResult invoke = Funcd({"invoke", name}, "funcd");
  ASSERT_EQ(invoke.exit_code, 0) << invoke.Describe();
  EXPECT_EQ(std::string(TrimSpace(invoke.out)), c.reply);

  ASSERT_TRUE(funcd_->WaitForFunctionLog(name, c.log_line).has_value())
      << funcd_->RuntimeEvents(name);
  CliResult logs = Funcd({"logs", name, "--tail=false"});
  ASSERT_EQ(logs.exit_code, 0) << logs.Describe();
  EXPECT_THAT(logs.out, HasSubstr(c.log_line));

  CliResult removed = Funcd({"remove", name});
  ASSERT_EQ(removed.exit_code, 0) << removed.Describe();
  EXPECT_FALSE(funcd_->Status(name).has_value());
  EXPECT_THAT(Funcd({"list", "-q"}).out, ::testing::Not(HasSubstr(name)));
}

INSTANTIATE_TEST_SUITE_P(
    Templates, TemplateTest,
    ::testing::Values(
        TemplateCase{"bash", "Hello from bash! You said: funcd", "handled 5 bytes (POST /)"},
        TemplateCase{"python3-http", "Hello from python3-http! You said: funcd",
                     "handling POST / (5 bytes)"},
        TemplateCase{"node-http", "Hello from node-http! You said: funcd", "handling POST /"},
        TemplateCase{"cpp-http", "Hello from cpp-http! You said: funcd",
                     "handling POST / (5 bytes)"},
        TemplateCase{"exec", "Hello from exec! You said: funcd", "handling POST / (5 bytes)"},
        TemplateCase{"dockerfile", "Hello from a Dockerfile! You said: funcd",
                     "handling POST / (5 bytes)"}),
    [](const ::testing::TestParamInfo<TemplateCase>& info) {
      std::string name = info.param.lang;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

class BuildTest : public CliTest {};

TEST_F(BuildTest, ARebuildIsDeployedByTheNextUp) {
  Login();
  ASSERT_EQ(Funcd({"new", "greeter", "--lang", "bash", "-q"}).exit_code, 0);
  CliResult up = Funcd({"up", "--build-arg", "TEST_ENABLED=false"});
  ASSERT_EQ(up.exit_code, 0) << up.Describe();
  ASSERT_TRUE(funcd_->WaitAvailable("greeter"));
  EXPECT_EQ(funcd_->Invoke("greeter", "POST", "", "x").body, "Hello from bash! You said: x\n");
  // The same content again is stored once.
  CliResult same = Funcd({"build", "--build-arg", "TEST_ENABLED=false"});
  ASSERT_EQ(same.exit_code, 0) << same.Describe();
  EXPECT_THAT(same.out, HasSubstr(", unchanged)"));
  // Change the handler; a build alone does not touch the running replicas...
  WriteProjectFile("greeter/handler.sh", "#!/bin/sh\necho \"version two: $(cat)\"\n");
  ASSERT_EQ(Funcd({"build", "--build-arg", "TEST_ENABLED=false"}).exit_code, 0);
  EXPECT_EQ(funcd_->Invoke("greeter", "POST", "", "x").body, "Hello from bash! You said: x\n");
  // ...the next up (a deploy) does.
  ASSERT_EQ(Funcd({"up", "--build-arg", "TEST_ENABLED=false"}).exit_code, 0);
  EXPECT_TRUE(Eventually(
      [&] { return funcd_->Invoke("greeter", "POST", "", "x").body == "version two: x\n"; },
      std::chrono::seconds(20)));
  // The package is world-readable and content-addressed; the tag is a symlink.
  const std::string tag = state_.File("packages/greeter/latest");
  EXPECT_TRUE(std::filesystem::is_symlink(tag));
  EXPECT_TRUE(std::filesystem::read_symlink(tag).string().starts_with("sha256-"));
}

TEST_F(BuildTest, AFailingHandlerTestStopsTheBuild) {
  Login();
  ASSERT_EQ(Funcd({"new", "broken", "--lang", "python3-http", "-q"}).exit_code, 0);
  WriteProjectFile("broken/handler.py",
                   "def handle(event, context):\n    return {\"statusCode\": 200, \"body\": "
                   "\"changed\"}\n");
  CliResult up = Funcd({"up"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_THAT(up.out, HasSubstr("FAILED"));  // the test's own output is shown
  EXPECT_THAT(up.err, HasSubstr("building broken failed: `sh build.sh` exited with 1"));
  EXPECT_THAT(up.err, HasSubstr("nothing was deployed"));
  EXPECT_FALSE(funcd_->Status("broken").has_value());
  EXPECT_FALSE(std::filesystem::exists(state_.File("packages/broken/latest")));
  // Nothing half-built is left in the store.
  for (const auto& entry : std::filesystem::directory_iterator(state_.File("packages"))) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".staging")) << entry.path();
  }
  // TEST_ENABLED=false skips the tests, as in OpenFaaS's templates.
  CliResult skipped = Funcd({"up", "--build-arg", "TEST_ENABLED=false"});
  ASSERT_EQ(skipped.exit_code, 0) << skipped.Describe();
}

TEST_F(BuildTest, NewWritesAndAppendsStackFiles) {
  ASSERT_EQ(Funcd({"new", "first", "--lang", "bash", "-q", "--memory-limit", "64Mi"}).exit_code, 0);
  const std::string first = ReadText(Project("stack.yaml"));
  EXPECT_EQ(first, StrCat("version: 1.0\nprovider:\n  name: openfaas\n  gateway: "
                          "http://127.0.0.1:",
                          funcd_->port(),
                          "\nfunctions:\n  first:\n    lang: bash\n    handler: ./first\n"
                          "    image: first:latest\n    limits:\n      memory: 64Mi\n\n"));
  CliResult second = Funcd({"new", "second", "--lang", "python3-http", "-q", "-p", "team"});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_THAT(second.out, HasSubstr("Stack file updated: stack.yaml"));
  EXPECT_THAT(ReadText(Project("stack.yaml")), HasSubstr("  second:\n    lang: python3-http\n"
                                                         "    handler: ./second\n"
                                                         "    image: team/second:latest\n"));
  CliResult duplicate = Funcd({"new", "first", "--lang", "bash"});
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_THAT(duplicate.err, HasSubstr("already exists in stack.yaml"));
  CliResult folder = Funcd({"new", "third", "--lang", "bash", "--handler", "first"});
  EXPECT_EQ(folder.exit_code, 1);
  EXPECT_THAT(folder.err, HasSubstr("folder: first already exists"));
  CliResult bad_name = Funcd({"new", "Bad", "--lang", "bash"});
  EXPECT_EQ(bad_name.exit_code, 1);
  CliResult unknown = Funcd({"new", "x", "--lang", "cobol"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("template \"cobol\" not found"));
  EXPECT_THAT(ReadText(Project(".gitignore")), HasSubstr("template\nbuild\n"));
  CliResult languages = Funcd({"new", "--list"});
  EXPECT_THAT(languages.out, HasSubstr("- cpp-http\n"));
  CliResult templates = Funcd({"template", "list"});
  ASSERT_EQ(templates.exit_code, 0);
  EXPECT_THAT(templates.out, HasSubstr("node-http"));
  // --shrinkwrap assembles without building or storing.
  CliResult shrinkwrap = Funcd({"build", "--shrinkwrap", "--filter", "first"});
  ASSERT_EQ(shrinkwrap.exit_code, 0) << shrinkwrap.Describe();
  EXPECT_TRUE(std::filesystem::exists(Project("build/first/function/handler.sh")));
  EXPECT_THAT(ReadText(Project("build/first/funcd.json")), HasSubstr("bash function/handler.sh"));
  EXPECT_FALSE(std::filesystem::exists(state_.File("packages/first")));
}

}  // namespace
}  // namespace funcd::testing
