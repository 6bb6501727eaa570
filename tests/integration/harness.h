#pragma once

// Runs the real funcd binaries as child processes for integration tests: captures their
// output, finds the port they listen on, and talks HTTP to them.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"

namespace funcd::testing {

using namespace std::chrono_literals;

// Memory-growth limits only mean something without AddressSanitizer, whose quarantine keeps
// freed memory resident on purpose.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kMemoryLimitsApply = false;
#else
inline constexpr bool kMemoryLimitsApply = true;
#endif
// The most a watchdog's RSS may grow while 100 MB stream through it.
inline constexpr std::size_t kStreamingGrowthLimit = 8u << 20;

// The directory with the built binaries (FUNCD_BIN_DIR, set by CTest).
std::string BinDir();
// The source tree (FUNCD_SOURCE_DIR), for tests/testdata.
std::string SourceDir();
std::string TestData(std::string_view name);

// A temporary directory removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// A child process with stdout and stderr captured into one log. Killed (SIGKILL, whole
// process group) and reaped on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> env);
  Process(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // The whole output so far.
  std::string Log() const;
  // Waits until the output contains `needle`; returns the line that contains it.
  std::optional<std::string> WaitForLog(std::string_view needle,
                                        std::chrono::milliseconds timeout = 10s) const;
  void Signal(int signal) const;
  // Waits for exit and returns the exit code (128+signal when killed); nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout = 10s);
  bool running();
  // Resident set size now and at its peak, in bytes (from /proc/PID/status).
  std::size_t RssBytes() const;
  std::size_t PeakRssBytes() const;

 private:
  void ReadOutput(int fd);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
  std::thread reader_;
};

// An HTTP response as the tests see it.
struct Reply {
  unsigned status = 0;
  http::Fields headers;
  std::string body;
  std::string Header(std::string_view name) const {
    return std::string(http::FieldValue(headers, name));
  }
};

// One request on a new connection; aborts the test on transport errors (returns status 0).
Reply Call(std::uint16_t port, std::string method, std::string target, std::string body = "",
           std::vector<std::pair<std::string, std::string>> headers = {},
           std::chrono::milliseconds timeout = 30s);

// fwatchdog started with `env` plus port=0, bind_address=127.0.0.1, metrics_port=0 (unless
// given) and TMPDIR=<a temp dir of its own> (unless given).
class Watchdog {
 public:
  explicit Watchdog(std::vector<std::string> env, bool wait_healthy = true);
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  const std::string& tmpdir() const { return tmp_.path(); }
  Reply Get(std::string target) { return Call(port_, "GET", std::move(target)); }
  Reply Post(std::string target, std::string body) {
    return Call(port_, "POST", std::move(target), std::move(body));
  }
  // Polls /_/health until it answers `status`; false on timeout.
  bool WaitHealth(unsigned status, std::chrono::milliseconds timeout = 10s);

 private:
  TempDir tmp_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

// Uploads `total` bytes to `path` as a chunked request while reading the streamed echo,
// so that neither side's buffers fill up. Returns the bytes received back (head and chunk
// framing included) and sets `peak_growth` to how much `watchdog`'s RSS grew meanwhile.
std::size_t StreamUpload(std::uint16_t port, std::string_view path, std::size_t total,
                         const Process& watchdog, std::size_t* peak_growth);

// A free TCP port on 127.0.0.1 (bound and released; for programs that must be told a port).
std::uint16_t FreePort();

// True while a process with this pid exists and is not a zombie.
bool ProcessAlive(pid_t pid);

// The path of an installed program (/usr/sbin, /usr/bin, /usr/local/...); "" when missing.
std::string FindProgram(const char* name);
// `argv` run under `setpriv --pdeathsig KILL` where available: it dies with the test.
std::vector<std::string> WithDeathSignal(std::vector<std::string> argv);

// nats-server -a 127.0.0.1 -p <free> (or `port`, to stand in for a server that went away),
// with JetStream and a store of its own in kJetStream mode. Not thread-safe. Killed on
// destruction.
class NatsServer {
 public:
  enum class Mode { kCore, kJetStream };
  explicit NatsServer(std::uint16_t port = 0, Mode mode = Mode::kCore);
  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url() const;
  std::string log() const { return process_ ? process_->Log() : ""; }
  // SIGKILL (kill -9), then waits for its exit; the store stays.
  void Kill();
  // Starts it again on the same port and store (after Kill). Adds a test failure and returns
  // false when it does not come up.
  bool Restart();

 private:
  // Starts nats-server on `port` (0: a free one); sets port_ once it is ready.
  bool Start(std::uint16_t port);

  Mode mode_;
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace funcd::testing
