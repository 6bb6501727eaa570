// exec_loop: runs a command N times the way the classic watchdog runs a function per request,
// and reports how many it managed per second. It is the baseline that `fwatchdog` with
// fprocess=cat is compared against: the cost of the process itself, without HTTP.
//
// Usage: exec_loop [--count N] [--workers W] [--input TEXT] [command args...]
// Defaults: 1000 runs, 1 worker, input "hi\n", command `cat`. Each run spawns the command
// (posix_spawnp) in its own process group with stdin and stdout as pipes and stderr joined
// to stdout (the watchdog's combine_output), writes the input, reads the output to EOF and
// reaps the child. W workers (threads) share the N runs, like W concurrent HTTP clients.
// Prints one line: "execs=N seconds=S execs_per_sec=R". Exits 1 if a run fails.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "spawn_once.h"

namespace {

constexpr const char* kUsage =
    "Usage: exec_loop [--count N] [--workers W] [--input TEXT] [command args...]\n";

struct Options {
  std::uint64_t count = 1000;
  std::uint64_t workers = 1;
  std::string input = "hi\n";
  std::vector<std::string> command = {"cat"};
};

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  int i = 1;
  for (; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--count" || flag == "--workers") {
      std::optional<std::uint64_t> value = funcd::ParseUint(argv[i + 1]);
      if (!value || *value == 0) {
        return std::nullopt;
      }
      (flag == "--count" ? options.count : options.workers) = *value;
    } else if (flag == "--input") {
      options.input = argv[i + 1];
    } else {
      break;
    }
  }
  if (i < argc) {
    if (std::string_view(argv[i]).starts_with("--")) {
      return std::nullopt;
    }
    options.command.assign(argv + i, argv + argc);
  }
  if (options.input.size() > 4096) {
    return std::nullopt;  // see SpawnOnce: the input must fit in the pipe buffer
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> options = ParseOptions(argc, argv);
  if (!options) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // A command that exits without reading its input must not kill us with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<char*> command_argv;
  for (std::string& arg : options->command) {
    command_argv.push_back(arg.data());
  }
  command_argv.push_back(nullptr);

  // Workers claim runs from a shared counter, so the total is exactly `count`.
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    while (!failed.load() && next.fetch_add(1) < options->count) {
      if (std::optional<std::string> error =
              funcd::bench::SpawnOnce(command_argv.data(), options->input, nullptr)) {
        if (!failed.exchange(true)) {
          std::fprintf(stderr, "exec_loop: %s\n", error->c_str());
        }
      }
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (std::uint64_t i = 0; i < options->workers; ++i) {
    workers.emplace_back(work);
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed.load()) {
    return 1;
  }
  std::printf("execs=%llu seconds=%.3f execs_per_sec=%.1f\n",
              static_cast<unsigned long long>(options->count), seconds,
              static_cast<double>(options->count) / seconds);
  return 0;
}
