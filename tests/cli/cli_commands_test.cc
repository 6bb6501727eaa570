// The funcd client commands against a real `funcd serve`: login and credentials, deploy from
// a stack file, list, describe, invoke, logs, scale, secrets, namespaces, ready, version,
// remove, and the messages and exit codes of failures.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "tests/cli/cli_runner.h"

namespace funcd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A stack with a host function (fprocess env: it prints its environment and request).
constexpr std::string_view kEnvStack = R"(version: 1.0
provider:
  name: openfaas
functions:
  env-fn:
    image: functions/alpine:latest
    fprocess: env
    skip_build: true
    environment:
      from_stack: ${STACK_VALUE:-default-value}
      overridden: inline
    environment_file:
      - env.yml
    labels:
      team: a
    annotations:
      note: from-stack
)";

class CliCommandsTest : public CliTest {};

TEST_F(CliCommandsTest, LoginSavesCredentialsPrivately) {
  CliResult login = Funcd({"login", "--password-stdin"}, funcd_->password() + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.Describe();
  EXPECT_THAT(login.out,
              HasSubstr(StrCat("credentials saved for admin http://127.0.0.1:", funcd_->port())));
  struct stat file {};
  ASSERT_EQ(::stat(ConfigFile().c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  struct stat dir {};
  ASSERT_EQ(::stat(home_.File("openfaas").c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  std::ifstream in(ConfigFile());
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), StrCat("auths:\n- gateway: http://127.0.0.1:", funcd_->port(),
                               "\n  auth: basic\n  token: ",
                               Base64Encode(StrCat("admin:", funcd_->password())), "\n"));
  // The saved credentials work for management commands.
  CliResult list = Funcd({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.Describe();
  // logout removes them again.
  CliResult logout = Funcd({"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.Describe();
  CliResult denied = Funcd({"list"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("unauthorized access, run \"funcd login\""));
}

TEST_F(CliCommandsTest, LoginWithAWrongPasswordSaysSoAndSavesNothing) {
  CliResult wrong = Funcd({"login", "-u", "admin", "--password-stdin"}, "not-the-password\n");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_THAT(wrong.err, HasSubstr("unable to login, either username or password is incorrect"));
  EXPECT_FALSE(std::filesystem::exists(ConfigFile()));
  CliResult wrong_user = Funcd({"login", "-u", "root", "-p", funcd_->password()});
  EXPECT_EQ(wrong_user.exit_code, 1);
  EXPECT_THAT(wrong_user.err, HasSubstr("WARNING! Using --password is insecure"));
  EXPECT_THAT(wrong_user.err, HasSubstr("username or password is incorrect"));
  CliResult empty = Funcd({"login", "--password-stdin"}, "  \n");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, HasSubstr("non-empty password"));
}

TEST_F(CliCommandsTest, DeployFromAStackFileThenUpdate) {
  Login();
  WriteProjectFile("stack.yml", kEnvStack);
  WriteProjectFile("env.yml", "environment:\n  overridden: from-file\n  from_file: yes\n");
  env_["STACK_VALUE"] = "substituted";
  CliResult deploy =
      Funcd({"deploy", "--env", "from_flag=1", "--label", "tier=web", "--annotation", "extra=x"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.Describe();
  EXPECT_THAT(deploy.out, HasSubstr("Deploying: env-fn."));
  EXPECT_THAT(deploy.out, HasSubstr("Deployed. 202 Accepted."));
  EXPECT_THAT(deploy.out,
              HasSubstr(StrCat("URL: http://127.0.0.1:", funcd_->port(), "/function/env-fn")));
  auto status = funcd_->Status("env-fn");
  ASSERT_TRUE(status.has_value());
  const json::object& env = status->at("envVars").as_object();
  EXPECT_EQ(env.at("from_stack"), "substituted");
  EXPECT_EQ(env.at("overridden"), "from-file");  // environment_file over inline
  EXPECT_EQ(env.at("from_file"), "yes");
  EXPECT_EQ(env.at("from_flag"), "1");
  EXPECT_EQ(status->at("labels").as_object().at("team"), "a");
  EXPECT_EQ(status->at("labels").as_object().at("tier"), "web");
  EXPECT_EQ(status->at("annotations").as_object().at("note"), "from-stack");
  EXPECT_EQ(status->at("annotations").as_object().at("extra"), "x");
  EXPECT_EQ(StringField(*status, "envProcess"), "env");
  ASSERT_TRUE(funcd_->WaitAvailable("env-fn"));
  // Deploying again updates in place (PUT): the new value shows in the function.
  CliResult again = Funcd({"deploy", "-f", "stack.yml", "-e", "from_flag=2"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  status = funcd_->Status("env-fn");
  EXPECT_EQ(status->at("envVars").as_object().at("from_flag"), "2");
  ASSERT_TRUE(Eventually(
      [&] {
        return funcd_->Invoke("env-fn", "POST", "", "").body.find("from_flag=2") !=
               std::string::npos;
      },
      std::chrono::seconds(20)));
  // --replace removes and creates it again.
  CliResult replace = Funcd({"deploy", "--replace"});
  ASSERT_EQ(replace.exit_code, 0) << replace.Describe();
  EXPECT_THAT(replace.out, HasSubstr("Removing old function."));
  CliResult both = Funcd({"deploy", "--replace", "--update=true"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_THAT(both.err, HasSubstr("cannot specify --update and --replace at the same time"));
}

TEST_F(CliCommandsTest, FilterAndRegexPickTheStacksFunctionsAndSecretsReachThem) {
  Login();
  WriteProjectFile("stack.yml", R"(version: 1.0
provider:
  name: openfaas
functions:
  api-a:
    image: functions/alpine:latest
    fprocess: cat /var/openfaas/secrets/token
    skip_build: true
  api-b:
    image: functions/alpine:latest
    fprocess: cat
    skip_build: true
  worker:
    image: functions/alpine:latest
    fprocess: cat
    skip_build: true
)");
  ASSERT_EQ(Funcd({"secret", "create", "token", "--from-literal", "t0ken"}).exit_code, 0);
  CliResult apis = Funcd({"deploy", "--filter", "api-*", "--secret", "token"});
  ASSERT_EQ(apis.exit_code, 0) << apis.Describe();
  EXPECT_THAT(apis.out, HasSubstr("Deploying: api-a."));
  EXPECT_THAT(apis.out, HasSubstr("Deploying: api-b."));
  EXPECT_THAT(apis.out, Not(HasSubstr("worker")));
  EXPECT_FALSE(funcd_->Status("worker").has_value());
  ASSERT_TRUE(funcd_->WaitAvailable("api-a"));
  EXPECT_EQ(funcd_->Invoke("api-a").body, "t0ken");  // --secret mounted it
  CliResult worker = Funcd({"deploy", "--regex", "^work"});
  ASSERT_EQ(worker.exit_code, 0) << worker.Describe();
  EXPECT_TRUE(funcd_->Status("worker").has_value());
  EXPECT_EQ(Funcd({"list", "-q"}).out, "api-a\napi-b\nworker\n");
  // remove without names removes the stack's functions.
  CliResult removed = Funcd({"remove", "-f", "stack.yml"});
  ASSERT_EQ(removed.exit_code, 0) << removed.Describe();
  EXPECT_EQ(Funcd({"list", "-q"}).out, "");
  CliResult none = Funcd({"deploy", "--filter", "nothing-*"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no function in stack.yml matches --filter \"nothing-*\""));
}

TEST_F(CliCommandsTest, DeployAnImageWithoutAStackFile) {
  Login();
  CliResult deploy = Funcd(
      {"deploy", "--image", "functions/alpine:latest", "--name", "wc", "--fprocess", "wc -c"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.Describe();
  ASSERT_TRUE(funcd_->WaitAvailable("wc"));
  CliResult invoke = Funcd({"invoke", "wc"}, "12345");
  EXPECT_EQ(invoke.exit_code, 0) << invoke.Describe();
  EXPECT_EQ(std::string(TrimSpace(invoke.out)), "5");
  CliResult no_name = Funcd({"deploy", "--image", "x"});
  EXPECT_EQ(no_name.exit_code, 1);
  EXPECT_THAT(no_name.err, HasSubstr("--name"));
  CliResult no_stack = Funcd({"deploy"});
  EXPECT_EQ(no_stack.exit_code, 1);
  EXPECT_THAT(no_stack.err, HasSubstr("no stack file"));
  CliResult bad_image =
      Funcd({"deploy", "--image", "dir:///nonexistent", "--name", "nb", "--fprocess", "x"});
  EXPECT_EQ(bad_image.exit_code, 1);
  // The server's reason comes through.
  EXPECT_THAT(bad_image.err, HasSubstr("400 from the gateway: image \"dir:///nonexistent\""));
}

TEST_F(CliCommandsTest, ListDescribeAndRemove) {
  Login();
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("lister", "cat")));
  funcd_->Invoke("lister", "POST", "", "x");
  CliResult list = Funcd({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_THAT(list.out, HasSubstr("Function                      \tInvocations    \tReplicas"));
  EXPECT_THAT(list.out, HasSubstr("lister                        \t"));
  CliResult quiet = Funcd({"list", "-q"});
  EXPECT_EQ(quiet.out, "lister\n");
  CliResult verbose = Funcd({"ls", "-v"});
  EXPECT_THAT(verbose.out, HasSubstr("functions/alpine:latest"));
  CliResult describe = Funcd({"describe", "lister"});
  ASSERT_EQ(describe.exit_code, 0) << describe.Describe();
  EXPECT_THAT(describe.out, HasSubstr("Name:               lister"));
  EXPECT_THAT(describe.out, HasSubstr("Status:             Ready"));
  EXPECT_THAT(describe.out, HasSubstr("Function Process:   cat"));
  EXPECT_THAT(describe.out, HasSubstr("/function/lister"));
  CliResult missing = Funcd({"describe", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no such function: nope"));
  CliResult remove = Funcd({"remove", "lister"});
  ASSERT_EQ(remove.exit_code, 0) << remove.Describe();
  EXPECT_THAT(remove.out, HasSubstr("Deleting: lister."));
  EXPECT_FALSE(funcd_->Status("lister").has_value());
  CliResult again = Funcd({"rm", "lister"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("No existing function to remove"));
}

TEST_F(CliCommandsTest, InvokeSendsStdinMethodHeadersQueryAndSignature) {
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("echo-env", "env")));
  // No login: invocations carry no credentials and need none.
  CliResult put = Funcd({"invoke", "echo-env", "-m", "put", "-H", "X-Custom: one", "--query", "b=2",
                         "--query", "a=1 2", "--content-type", "application/json", "--sign",
                         "X-Hub-Signature", "--key", "secret"},
                        "{\"k\":1}");
  ASSERT_EQ(put.exit_code, 0) << put.Describe();
  EXPECT_THAT(put.out, HasSubstr("Http_Method=PUT"));
  EXPECT_THAT(put.out, HasSubstr("Http_X_Custom=one"));
  EXPECT_THAT(put.out, HasSubstr("Http_Query=a=1+2&b=2"));  // sorted, as url.Values
  EXPECT_THAT(put.out, HasSubstr("Http_Content_Type=application/json"));
  // HMAC-SHA256 of the body with the key, as faas-cli's --sign.
  EXPECT_THAT(put.out, HasSubstr("Http_X_Hub_Signature=sha256="));
  EXPECT_THAT(put.out, HasSubstr("Http_Path=/"));
  CliResult bad_method = Funcd({"invoke", "echo-env", "-m", "TRACE"});
  EXPECT_EQ(bad_method.exit_code, 1);
  EXPECT_THAT(bad_method.err, HasSubstr("GET, POST, PUT, PATCH, DELETE"));
  CliResult unsigned_key = Funcd({"invoke", "echo-env", "--key", "k"});
  EXPECT_EQ(unsigned_key.exit_code, 1);
  CliResult missing = Funcd({"invoke", "no-such-fn"}, "x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("non-2xx status code (404)"));
}

TEST_F(CliCommandsTest, InvokeSignatureIsTheHmacOfTheBody) {
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("sig", "env")));
  // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
  CliResult signed_call =
      Funcd({"invoke", "sig", "--sign", "X-Sig", "--key", "Jefe"}, "what do ya want for nothing?");
  ASSERT_EQ(signed_call.exit_code, 0) << signed_call.Describe();
  EXPECT_THAT(signed_call.out,
              HasSubstr("Http_X_Sig=sha256="
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST_F(CliCommandsTest, LogsShowTheFunctionsOutput) {
  Login();
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("talker", "cat")));
  ASSERT_EQ(funcd_->Invoke("talker", "POST", "", "hello logs").status, 200u);
  ASSERT_TRUE(funcd_->WaitForFunctionLog("talker", "Wrote 10 Bytes").has_value());
  CliResult logs = Funcd({"logs", "talker", "--tail=false"});
  ASSERT_EQ(logs.exit_code, 0) << logs.Describe();
  EXPECT_THAT(logs.out, HasSubstr("Forking fprocess."));
  EXPECT_THAT(logs.out, HasSubstr("Wrote 10 Bytes"));
  CliResult json_logs = Funcd({"logs", "talker", "--tail=false", "-o", "json"});
  ASSERT_EQ(json_logs.exit_code, 0);
  for (std::string_view line : Split(json_logs.out, '\n')) {
    if (!line.empty()) {
      json::value message = ParseJson(line);
      ASSERT_TRUE(message.is_object());
      EXPECT_EQ(StringField(message.as_object(), "name"), "talker");
    }
  }
  CliResult named = Funcd({"logs", "talker", "--tail=false", "--name", "--lines", "1"});
  ASSERT_EQ(named.exit_code, 0);
  EXPECT_EQ(std::count(named.out.begin(), named.out.end(), '\n'), 1) << named.out;
  EXPECT_THAT(named.out, HasSubstr(" talker "));
  CliResult missing = Funcd({"logs", "nobody", "--tail=false"});
  EXPECT_EQ(missing.exit_code, 1);
}

TEST_F(CliCommandsTest, LogsFollowStreamsNewLines) {
  Login();
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("follow", "cat")));
  ASSERT_EQ(funcd_->Invoke("follow", "POST", "", "early").status, 200u);
  ASSERT_TRUE(funcd_->WaitForFunctionLog("follow", "Wrote 5 Bytes").has_value());
  // --tail (follow, the default) prints what is there, then keeps the stream open: a call made
  // once the earlier lines have arrived shows up in the same stream.
  bool called = false;
  CliResult logs =
      RunFuncd({"logs", "follow", "--since", "1m"}, project_.path(), env_, "",
               std::chrono::seconds(60), [&](const std::string& out) {
                 if (!called && out.find("Wrote 5 Bytes") != std::string::npos) {
                   called = true;
                   EXPECT_EQ(funcd_->Invoke("follow", "POST", "", "streamed!").status, 200u);
                 }
                 return out.find("Wrote 9 Bytes") != std::string::npos;
               });
  EXPECT_TRUE(called) << logs.Describe();
  EXPECT_TRUE(logs.stopped) << logs.Describe();  // still following when it showed the new line
}

TEST_F(CliCommandsTest, ScaleAndReady) {
  Login();
  // Autoscaling off (scale.min == scale.max): the autoscaler would otherwise take an idle
  // function back to scale.min while the test looks at its replicas.
  json::object scaled = HostFunction("scaled", "cat");
  scaled["labels"] = json::object{{"com.openfaas.scale.min", "1"}, {"com.openfaas.scale.max", "1"}};
  ASSERT_TRUE(funcd_->DeployAndWait(scaled));
  CliResult scale = Funcd({"scale", "scaled", "--replicas", "2"});
  ASSERT_EQ(scale.exit_code, 0) << scale.Describe();
  EXPECT_EQ(IntField(*funcd_->Status("scaled"), "replicas"), 2);
  ASSERT_TRUE(funcd_->WaitAvailable("scaled", 2));
  CliResult ready = Funcd({"ready", "scaled", "--interval", "50ms"});
  EXPECT_EQ(ready.exit_code, 0) << ready.Describe();
  EXPECT_THAT(ready.out, HasSubstr("Function scaled is ready"));
  CliResult gateway = Funcd({"ready"});
  EXPECT_EQ(gateway.exit_code, 0);
  CliResult to_zero = Funcd({"scale", "scaled", "-r", "0"});
  ASSERT_EQ(to_zero.exit_code, 0);
  ASSERT_TRUE(Eventually(
      [&] {
        auto status = funcd_->Status("scaled");
        return status && IntField(*status, "availableReplicas") == 0;
      },
      std::chrono::seconds(20)));
  CliResult not_ready = Funcd({"ready", "scaled", "--attempts", "3", "--interval", "20ms"});
  EXPECT_EQ(not_ready.exit_code, 1);
  EXPECT_THAT(not_ready.err, HasSubstr("not ready after 3 attempts"));
  CliResult missing = Funcd({"scale", "ghost", "--replicas", "1"});
  EXPECT_EQ(missing.exit_code, 1);
  CliResult usage = Funcd({"scale", "scaled"});
  EXPECT_EQ(usage.exit_code, 2);  // --replicas is required
}

TEST_F(CliCommandsTest, SecretsCreateListUpdateRemove) {
  Login();
  ASSERT_EQ(Funcd({"secret", "create", "api-key", "--from-literal", "s3cret"}).exit_code, 0);
  ASSERT_EQ(Funcd({"secret", "create", "from-stdin"}, "piped\n").exit_code, 0);
  WriteProjectFile("key.bin", std::string("bytes\0here", 10));
  CliResult file = Funcd({"secret", "create", "from-file", "--from-file", "key.bin"});
  ASSERT_EQ(file.exit_code, 0) << file.Describe();
  CliResult list = Funcd({"secret", "list"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.out, "NAME\napi-key\nfrom-file\nfrom-stdin\n");
  // A function sees the value at /var/openfaas/secrets/NAME.
  json::object reader = HostFunction("reader", "cat /var/openfaas/secrets/api-key");
  reader["secrets"] = json::array{"api-key"};
  ASSERT_TRUE(funcd_->DeployAndWait(reader));
  EXPECT_EQ(funcd_->Invoke("reader").body, "s3cret");
  json::object file_reader = HostFunction("file-reader", "cat /var/openfaas/secrets/from-file");
  file_reader["secrets"] = json::array{"from-file"};
  ASSERT_TRUE(funcd_->DeployAndWait(file_reader));
  EXPECT_EQ(funcd_->Invoke("file-reader").body, std::string("bytes\0here", 10));
  CliResult exists = Funcd({"secret", "create", "api-key", "--from-literal", "x"});
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_THAT(exists.err, HasSubstr("already exists"));
  ASSERT_EQ(Funcd({"secret", "create", "api-key", "--from-literal", "v2", "--replace"}).exit_code,
            0);
  ASSERT_EQ(Funcd({"secret", "update", "api-key", "--from-literal", "v3"}).exit_code, 0);
  CliResult update_missing = Funcd({"secret", "update", "ghost", "--from-literal", "v"});
  EXPECT_EQ(update_missing.exit_code, 1);
  CliResult bad_name = Funcd({"secret", "create", "Bad_Name", "--from-literal", "v"});
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_THAT(bad_name.err, HasSubstr("DNS-1123"));
  ASSERT_EQ(Funcd({"secret", "remove", "from-stdin"}).exit_code, 0);
  EXPECT_THAT(Funcd({"secret", "list", "-q"}).out, Not(HasSubstr("from-stdin")));
  EXPECT_EQ(Funcd({"secret", "rm", "from-stdin"}).exit_code, 1);
}

TEST_F(CliCommandsTest, NamespacesAndVersion) {
  Login();
  CliResult list = Funcd({"namespace", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_EQ(list.out, "Namespaces:\n - openfaas-fn\n");
  CliResult create = Funcd({"namespace", "create", "team-a", "--label", "owner=me"});
  ASSERT_EQ(create.exit_code, 0) << create.Describe();
  EXPECT_THAT(Funcd({"namespaces", "list"}).out, HasSubstr(" - team-a\n"));
  CliResult get = Funcd({"namespace", "get", "team-a"});
  EXPECT_THAT(get.out, HasSubstr("\"owner\":\"me\""));
  // Functions go to the namespace with -n, and invoke finds them there.
  CliResult deploy = Funcd({"deploy", "--image", "functions/alpine:latest", "--name", "nsfn",
                            "--fprocess", "cat", "-n", "team-a"});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.Describe();
  EXPECT_THAT(deploy.out, HasSubstr("/function/nsfn.team-a"));
  ASSERT_TRUE(funcd_->WaitAvailable("nsfn", 1, std::chrono::seconds(20), "team-a"));
  CliResult invoke = Funcd({"invoke", "nsfn", "-n", "team-a"}, "in team-a");
  EXPECT_EQ(invoke.out, "in team-a");
  EXPECT_EQ(Funcd({"remove", "nsfn", "-n", "team-a"}).exit_code, 0);
  CliResult remove = Funcd({"namespace", "delete", "team-a"});
  EXPECT_EQ(remove.exit_code, 0) << remove.Describe();
  CliResult version = Funcd({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.Describe();
  EXPECT_THAT(version.out, HasSubstr("CLI:\n commit:  "));
  EXPECT_THAT(version.out, HasSubstr(StrCat(" uri:     http://127.0.0.1:", funcd_->port())));
  EXPECT_THAT(version.out, HasSubstr("Provider\n name:          "));
  EXPECT_EQ(Funcd({"version", "--short-version"}).out, "0.1.0\n");
}

TEST_F(CliCommandsTest, AsyncInvokeQueuesTheCall) {
  ASSERT_TRUE(funcd_->DeployAndWait(HostFunction("later", "cat")));
  CliResult async = Funcd({"invoke", "later", "--async"}, "queued");
  if (async.exit_code != 0 && async.err.find("(404)") != std::string::npos) {
    EXPECT_THAT(async.err, HasSubstr("this gateway has no async queue"));
    GTEST_SKIP() << "this funcd serve has no /async-function route yet";
  }
  ASSERT_EQ(async.exit_code, 0) << async.Describe();
  EXPECT_THAT(async.err, HasSubstr("Function submitted asynchronously."));
  EXPECT_THAT(async.err, HasSubstr("X-Call-Id: "));
  // With -H X-Callback-Url the result is posted there: to a function that logs its input.
  json::object sink = HostFunction("sink", "tee /dev/stderr");
  sink["envVars"] = json::object{{"combine_output", "false"}};  // stderr goes to the logs
  ASSERT_TRUE(funcd_->DeployAndWait(sink));
  CliResult with_callback =
      Funcd({"invoke", "later", "-a", "-H",
             StrCat("X-Callback-Url: http://127.0.0.1:", funcd_->port(), "/function/sink")},
            "called back");
  ASSERT_EQ(with_callback.exit_code, 0) << with_callback.Describe();
  EXPECT_TRUE(funcd_->WaitForFunctionLog("sink", "called back").has_value())
      << funcd_->RuntimeEvents("sink");
}

TEST_F(CliCommandsTest, FailuresAreActionable) {
  // A gateway that is not there.
  auto env = env_;
  env["OPENFAAS_URL"] = StrCat("http://127.0.0.1:", FreePort());
  CliResult down = RunFuncd({"list"}, project_.path(), env);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, HasSubstr("cannot reach the gateway at http://127.0.0.1:"));
  EXPECT_THAT(down.err, HasSubstr("is funcd serve running there?"));
  // Usage errors exit with 2 and say what is wrong.
  CliResult usage = Funcd({"invoke"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("name is required"));
  CliResult unknown = Funcd({"deploy", "--no-such-flag"});
  EXPECT_EQ(unknown.exit_code, 2);
  CliResult no_command = Funcd({"deplyo"});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_THAT(no_command.err, HasSubstr("unknown command \"deplyo\""));
  // --help on every command.
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"login"},
                                             {"new"},
                                             {"build"},
                                             {"deploy"},
                                             {"up"},
                                             {"invoke"},
                                             {"list"},
                                             {"describe"},
                                             {"remove"},
                                             {"logs"},
                                             {"scale"},
                                             {"secret", "create"},
                                             {"namespace", "list"},
                                             {"ready"},
                                             {"version"},
                                             {"template", "list"}}) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    CliResult help = Funcd(args);
    EXPECT_EQ(help.exit_code, 0) << command[0];
    EXPECT_THAT(help.out, HasSubstr("Usage:")) << command[0];
  }
  // A stack file with a mistake points at the line.
  WriteProjectFile("stack.yml", "provider:\n  name: openfaas\nfunctions:\n  fn:\n    labels: x\n");
  CliResult bad_stack = Funcd({"deploy"});
  EXPECT_EQ(bad_stack.exit_code, 1);
  EXPECT_THAT(bad_stack.err, HasSubstr("stack.yml:5:13: fn.labels must be a map"));
}

}  // namespace
}  // namespace funcd::testing
