#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/asio.h"
#include "common/strings.h"
#include "http/testing/raw_client.h"

extern char** environ;

namespace funcd::testing {

std::string BinDir() {
  const char* dir = std::getenv("FUNCD_BIN_DIR");
  return dir != nullptr ? dir : FUNCD_DEFAULT_BIN_DIR;
}

std::string SourceDir() {
  const char* dir = std::getenv("FUNCD_SOURCE_DIR");
  return dir != nullptr ? dir : FUNCD_DEFAULT_SOURCE_DIR;
}

std::string TestData(std::string_view name) {
  return StrCat(SourceDir(), "/tests/testdata/", name);
}

TempDir::TempDir() {
  char pattern[] = "/tmp/funcd-test-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  path_ = made != nullptr ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

Process::Process(std::vector<std::string> argv, std::vector<std::string> env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  // The test's own environment (PATH, FUNCD_*) plus the given entries.
  std::vector<std::string> full_env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& given : env) {
      overridden = overridden || (given.size() > key.size() && given.starts_with(key) &&
                                  given[key.size()] == '=');
    }
    if (!overridden) {
      full_env.emplace_back(entry);
    }
  }
  full_env.insert(full_env.end(), env.begin(), env.end());
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  for (auto& e : full_env) {
    cenv.push_back(e.data());
  }
  cenv.push_back(nullptr);
  int rc = ::posix_spawnp(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(fds[0]);
    ADD_FAILURE() << "spawn " << argv[0] << ": " << std::strerror(rc);
    return;
  }
  reader_ = std::thread([this, fd = fds[0]] { ReadOutput(fd); });
}

void Process::ReadOutput(int fd) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) {
      break;
    }
    std::lock_guard lock(mu_);
    log_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);  // whatever is left of its process group
  }
  if (reader_.joinable()) {
    reader_.join();
  }
}

std::string Process::Log() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::optional<std::string> Process::WaitForLog(std::string_view needle,
                                               std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t at = log_.find(needle);
    if (at != std::string::npos) {
      size_t begin = log_.rfind('\n', at);
      begin = begin == std::string::npos ? 0 : begin + 1;
      size_t end = log_.find('\n', at);
      return log_.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    }
    if (eof_ || cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (log_.find(needle) != std::string::npos) {
        continue;
      }
      return std::nullopt;
    }
  }
}

void Process::Signal(int signal) const {
  if (pid_ > 0) {
    ::kill(pid_, signal);
  }
}

std::optional<int> Process::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_code_) {
    return exit_code_;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // Let the reader drain what the process wrote before it exited (descendants that
      // still hold the pipe open are given a second at most).
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, 1s, [this] { return eof_; });
      return exit_code_;
    }
    std::this_thread::sleep_for(5ms);
  }
  return std::nullopt;
}

bool Process::running() { return !WaitExit(0ms).has_value(); }

namespace {
std::size_t StatusField(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field)) {
      return static_cast<std::size_t>(std::atoll(line.c_str() + field.size())) * 1024;
    }
  }
  return 0;
}
}  // namespace

std::size_t Process::RssBytes() const { return StatusField(pid_, "VmRSS:"); }
std::size_t Process::PeakRssBytes() const { return StatusField(pid_, "VmHWM:"); }

Reply Call(std::uint16_t port, std::string method, std::string target, std::string body,
           std::vector<std::pair<std::string, std::string>> headers,
           std::chrono::milliseconds timeout) {
  http::Fields fields;
  for (auto& [name, value] : headers) {
    fields.insert(name, value);
  }
  auto result = RunSync(http::FetchUrl(std::move(method), StrCat("http://127.0.0.1:", port, target),
                                       std::move(fields), std::move(body), timeout));
  Reply reply;
  if (!result) {
    ADD_FAILURE() << "request to port " << port << target
                  << " failed: " << result.error().ToString();
    return reply;
  }
  reply.status = result->status;
  reply.headers = std::move(result->headers);
  reply.body = std::move(result->body);
  return reply;
}

Watchdog::Watchdog(std::vector<std::string> env, bool wait_healthy) {
  auto has = [&](std::string_view key) {
    for (const auto& e : env) {
      if (e.starts_with(StrCat(key, "="))) {
        return true;
      }
    }
    return false;
  };
  if (!has("port")) {
    env.push_back("port=0");
  }
  if (!has("bind_address")) {
    env.push_back("bind_address=127.0.0.1");
  }
  if (!has("metrics_port")) {
    env.push_back("metrics_port=0");
  }
  if (!has("TMPDIR")) {
    env.push_back("TMPDIR=" + tmp_.path());
  }
  // CTest runs the http mode tests a second time on the epoll backend (tests/CMakeLists.txt).
  if (const char* io = std::getenv("FUNCD_TEST_FWATCHDOG_IO");
      io != nullptr && !has("fwatchdog_io")) {
    env.push_back(StrCat("fwatchdog_io=", io));
  }
  process_ = std::make_unique<Process>(std::vector<std::string>{BinDir() + "/fwatchdog"}, env);
  auto line = process_->WaitForLog("Listening on port: ");
  if (!line) {
    ADD_FAILURE() << "fwatchdog did not start:\n" << process_->Log();
    return;
  }
  port_ =
      static_cast<std::uint16_t>(std::atoi(line->c_str() + line->find("Listening on port: ") + 19));
  if (wait_healthy && !WaitHealth(200)) {
    ADD_FAILURE() << "fwatchdog never became healthy:\n" << process_->Log();
  }
}

bool Watchdog::WaitHealth(unsigned status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto result =
        RunSync(http::FetchUrl("GET", StrCat("http://127.0.0.1:", port_, "/_/health"), {}, "", 2s));
    if (result && result->status == status) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::size_t StreamUpload(std::uint16_t port, std::string_view path, std::size_t total,
                         const Process& watchdog, std::size_t* peak_growth) {
  http::testing::RawClient client(port);
  EXPECT_TRUE(client.connected());
  const std::size_t rss_before = watchdog.RssBytes();
  client.Send(StrCat("POST ", path, " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk(64 * 1024, 'z');
  std::string framed = StrCat("10000\r\n", chunk, "\r\n");
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t max_rss = rss_before;
  // Interleave writes and reads so that neither side's buffers fill up.
  int fd = client.fd();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string out_pending = framed;
  std::size_t out_offset = 0;
  char buf[256 * 1024];
  std::string tail;  // the last bytes, to spot the terminating chunk
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool finished_sending = false;
  std::size_t next_sample = 4 << 20;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!finished_sending) {
      ssize_t n = ::send(fd, out_pending.data() + out_offset, out_pending.size() - out_offset,
                         MSG_NOSIGNAL);
      if (n > 0) {
        out_offset += static_cast<std::size_t>(n);
        if (out_offset == out_pending.size()) {
          sent += chunk.size();
          out_offset = 0;
          if (sent >= total) {
            out_pending = "0\r\n\r\n";
            if (::send(fd, out_pending.data(), out_pending.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(out_pending.size())) {
              finished_sending = true;
            }
          }
        }
      }
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      received += static_cast<std::size_t>(n);
      tail.append(buf, static_cast<size_t>(n));
      if (tail.size() > 64) {
        tail.erase(0, tail.size() - 64);
      }
      if (finished_sending && tail.ends_with("\r\n0\r\n\r\n")) {
        break;
      }
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (received >= next_sample) {
      max_rss = std::max(max_rss, watchdog.RssBytes());
      next_sample += 4 << 20;
    }
  }
  max_rss = std::max(max_rss, watchdog.RssBytes());
  *peak_growth = max_rss > rss_before ? max_rss - rss_before : 0;
  return received;
}

std::uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool ProcessAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) {
    return false;
  }
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

std::string FindProgram(const char* name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}) {
    std::string path = StrCat(dir, "/", name);
    if (::access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return "";
}

std::vector<std::string> WithDeathSignal(std::vector<std::string> argv) {
  if (::access("/usr/bin/setpriv", X_OK) == 0) {
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  }
  return argv;
}

NatsServer::NatsServer(std::uint16_t port, Mode mode) : mode_(mode) { Start(port); }

bool NatsServer::Start(std::uint16_t port) {
  port_ = 0;
  const std::string binary = FindProgram("nats-server");
  if (binary.empty()) {
    ADD_FAILURE() << "nats-server is not installed (apt-get install nats-server)";
    return false;
  }
  // -p -1: the server picks a free port and logs it.
  std::vector<std::string> argv = {
      binary, "-a", "127.0.0.1", "-p", port == 0 ? "-1" : std::to_string(port), "-n", "funcd-test"};
  if (mode_ == Mode::kJetStream) {
    argv.insert(argv.end(), {"-js", "-sd", dir_.path()});
  }
  process_.reset();
  process_ =
      std::make_unique<Process>(WithDeathSignal(std::move(argv)), std::vector<std::string>{});
  constexpr std::string_view kListening = "Listening for client connections on 127.0.0.1:";
  auto line = process_->WaitForLog(kListening, std::chrono::seconds(10));
  if (!line || !process_->WaitForLog("Server is ready", std::chrono::seconds(10))) {
    ADD_FAILURE() << "nats-server did not start:\n" << process_->Log();
    return false;
  }
  port_ = static_cast<std::uint16_t>(
      std::atoi(line->c_str() + line->find(kListening) + kListening.size()));
  return true;
}

void NatsServer::Kill() {
  if (process_) {
    process_->Signal(SIGKILL);
    process_->WaitExit(std::chrono::seconds(10));
  }
}

bool NatsServer::Restart() {
  const std::uint16_t port = port_;
  if (port == 0) {
    ADD_FAILURE() << "nats-server was never started";
    return false;
  }
  Kill();
  return Start(port);
}

std::string NatsServer::url() const { return StrCat("nats://127.0.0.1:", port_); }

}  // namespace funcd::testing
