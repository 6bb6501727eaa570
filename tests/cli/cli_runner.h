#pragma once

// Runs the real `funcd` client binary for the CLI tests: arguments, stdin, working directory
// and environment in; exit code, stdout and stderr out. Each test gets a private HOME and
// OPENFAAS_CONFIG, so no test reads or writes the real ~/.openfaas.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/funcd_harness.h"

namespace funcd::testing {

struct CliResult {
  int exit_code = -1;    // 128 + signal when killed; -1 when it could not run or was stopped
  bool stopped = false;  // stop_when said so while it was still running
  std::string out;
  std::string err;
  // For failure messages.
  std::string Describe() const;
};

// Sees the standard output so far after each read; true stops the command (for commands that
// run until stopped, such as logs --tail).
using OutputWatch = std::function<bool(const std::string& out)>;

// Runs BinDir()/funcd with `args` in `cwd`, `input` on stdin, the test's environment with
// `env` over it. Kills it after `timeout`, or as soon as `stop_when` returns true.
CliResult RunFuncd(const std::vector<std::string>& args, const std::string& cwd,
                   const std::map<std::string, std::string>& env, const std::string& input = "",
                   std::chrono::milliseconds timeout = std::chrono::seconds(120),
                   const OutputWatch& stop_when = nullptr);

// A `funcd serve` with a world-readable state directory (replicas, which run as uid 12000,
// must reach the packages `funcd build` stores there), a project directory, and the client's
// environment pointing at both: OPENFAAS_URL, OPENFAAS_CONFIG, FUNCD_STATE_DIR, HOME.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // `funcd ARGS...` in the project directory.
  CliResult Funcd(const std::vector<std::string>& args, const std::string& input = "");
  // `funcd login --password-stdin` with the server's password; asserts success.
  void Login();
  // The project directory's path of `name`.
  std::string Project(std::string_view name) const { return project_.File(name); }
  void WriteProjectFile(std::string_view name, std::string_view content) const;
  std::string ConfigFile() const { return home_.File("openfaas/config.yml"); }

  TempDir state_;
  TempDir project_;
  TempDir home_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<FuncdServer> funcd_;
};

}  // namespace funcd::testing
