#include "provider/process/sandbox.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace funcd::provider {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------- argv shape

// True when `needle` occurs in `argv` as consecutive elements.
bool HasSequence(const std::vector<std::string>& argv, const std::vector<std::string>& needle) {
  return std::search(argv.begin(), argv.end(), needle.begin(), needle.end()) != argv.end();
}

long IndexOf(const std::vector<std::string>& argv, const std::string& arg) {
  auto it = std::find(argv.begin(), argv.end(), arg);
  return it == argv.end() ? -1 : it - argv.begin();
}

SandboxSpec SpecWithCommand(std::vector<std::string> command) {
  SandboxSpec spec;
  spec.command = std::move(command);
  return spec;
}

TEST(BuildBwrapArgvTest, IsolatesIdentityAndEndsWithTheCommand) {
  auto argv = BuildBwrapArgv(SpecWithCommand({"/opt/funcd/fwatchdog", "-flag"}));
  ASSERT_TRUE(argv.has_value()) << argv.error().message;
  EXPECT_EQ(argv->front(), "bwrap");
  for (const char* flag : {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                           "--die-with-parent", "--new-session"}) {
    EXPECT_GE(IndexOf(*argv, flag), 0) << flag;
  }
  EXPECT_EQ(IndexOf(*argv, "--unshare-net"), -1);
  EXPECT_TRUE(HasSequence(*argv, {"--uid", "12000", "--gid", "12000"}));
  EXPECT_TRUE(HasSequence(*argv, {"--hostname", "function"}));
  EXPECT_TRUE(HasSequence(*argv, {"--cap-drop", "ALL"}));
  EXPECT_TRUE(HasSequence(*argv, {"--chdir", "/home/app"}));
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind", "/usr", "/usr"}));
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind", "/etc", "/etc"}));
  EXPECT_TRUE(HasSequence(*argv, {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"}));
  // The read-only remount comes after every mount, and the command after "--".
  const long remount = IndexOf(*argv, "--remount-ro");
  const long separator = IndexOf(*argv, "--");
  ASSERT_GE(remount, 0);
  EXPECT_EQ((*argv)[remount + 1], "/");
  EXPECT_GT(separator, remount);
  for (long i = remount; i < separator; ++i) {
    EXPECT_NE((*argv)[i].rfind("--ro-bind", 0), 0u) << "mount after --remount-ro";
  }
  EXPECT_EQ(std::vector<std::string>(argv->begin() + separator + 1, argv->end()),
            (std::vector<std::string>{"/opt/funcd/fwatchdog", "-flag"}));
}

TEST(BuildBwrapArgvTest, OptionsChangeNetworkRootAndIdentity) {
  SandboxSpec spec = SpecWithCommand({"true"});
  spec.share_network = false;
  spec.read_only_root = false;
  spec.uid = 1001;
  spec.gid = 1002;
  spec.hostname = "fn-x";
  spec.bwrap = "/usr/local/bin/bwrap";
  auto argv = BuildBwrapArgv(spec);
  ASSERT_TRUE(argv.has_value());
  EXPECT_EQ(argv->front(), "/usr/local/bin/bwrap");
  EXPECT_GE(IndexOf(*argv, "--unshare-net"), 0);
  EXPECT_EQ(IndexOf(*argv, "--remount-ro"), -1);
  EXPECT_TRUE(HasSequence(*argv, {"--uid", "1001", "--gid", "1002"}));
  EXPECT_TRUE(HasSequence(*argv, {"--hostname", "fn-x"}));
}

TEST(BuildBwrapArgvTest, BindsAppWatchdogExtrasAndSecrets) {
  SandboxSpec spec = SpecWithCommand({"/opt/funcd/fwatchdog"});
  spec.app_dir = "/srv/functions/echo";
  spec.watchdog = "/usr/local/libexec/fwatchdog";
  spec.extra_ro_binds = {"/opt/models"};
  spec.secret_fds = {{7, "db-password"}, {9, "api.key"}};
  spec.working_dir = "/home/app/src";
  auto argv = BuildBwrapArgv(spec);
  ASSERT_TRUE(argv.has_value());
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind", "/srv/functions/echo", "/home/app"}));
  EXPECT_TRUE(
      HasSequence(*argv, {"--ro-bind", "/usr/local/libexec/fwatchdog", "/opt/funcd/fwatchdog"}));
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind", "/opt/models", "/opt/models"}));
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind-data", "7", "/var/openfaas/secrets/db-password"}));
  EXPECT_TRUE(HasSequence(*argv, {"--ro-bind-data", "9", "/var/openfaas/secrets/api.key"}));
  EXPECT_TRUE(HasSequence(*argv, {"--chdir", "/home/app/src"}));
  EXPECT_GT(IndexOf(*argv, "--remount-ro"), IndexOf(*argv, "/var/openfaas/secrets/api.key"));
}

TEST(BuildBwrapArgvTest, EmptyAppDirAndWatchdogAreNotBound) {
  auto argv = BuildBwrapArgv(SpecWithCommand({"true"}));
  ASSERT_TRUE(argv.has_value());
  EXPECT_TRUE(HasSequence(*argv, {"--dir", "/home/app"}));
  EXPECT_FALSE(HasSequence(*argv, {"--ro-bind", "", "/home/app"}));
  EXPECT_EQ(IndexOf(*argv, "/opt/funcd/fwatchdog"), -1);
}

TEST(BuildBwrapArgvTest, MirrorsTheHostsMergedUsrLinks) {
  auto argv = BuildBwrapArgv(SpecWithCommand({"true"}));
  ASSERT_TRUE(argv.has_value());
  for (const std::string path : {"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      EXPECT_EQ(IndexOf(*argv, path), -1) << path << " is missing on the host";
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink(path.c_str(), target, sizeof(target));
      ASSERT_GT(n, 0);
      EXPECT_TRUE(HasSequence(*argv, {"--symlink", std::string(target, n), path})) << path;
    } else {
      EXPECT_TRUE(HasSequence(*argv, {"--ro-bind", path, path})) << path;
    }
  }
}

TEST(BuildBwrapArgvTest, RejectsSecretNamesThatLeaveTheSecretsDirectory) {
  for (const char* name : {"../etc/passwd", "a/b", "..", ".", "", "/abs"}) {
    SandboxSpec spec = SpecWithCommand({"true"});
    spec.secret_fds = {{3, name}};
    auto argv = BuildBwrapArgv(spec);
    ASSERT_FALSE(argv.has_value()) << "accepted \"" << name << "\"";
    EXPECT_EQ(argv.error().code, ErrorCode::kInvalidArgument);
  }
  SandboxSpec spec = SpecWithCommand({"true"});
  spec.secret_fds = {{3, std::string("nul\0name", 8)}};
  EXPECT_FALSE(BuildBwrapArgv(spec).has_value());
  spec.secret_fds = {{3, "..dotted-but-plain"}};
  EXPECT_TRUE(BuildBwrapArgv(spec).has_value());
}

// ---------------------------------------------------------------- real bubblewrap

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Runs `argv` with stdout and stderr captured; `keep_fds` stay open in the child under their
// own numbers (as bwrap needs for --ro-bind-data).
RunResult RunCaptured(const std::vector<std::string>& argv, const std::vector<int>& keep_fds = {}) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return {};
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    for (int fd : keep_fds) {
      ::fcntl(fd, F_SETFD, 0);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  RunResult result;
  result.out = ReadAll(out[0]);  // outputs here are small: no risk of a full stderr pipe
  result.err = ReadAll(err[0]);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

RunResult RunSandboxed(const SandboxSpec& spec, const std::vector<int>& keep_fds = {}) {
  auto argv = BuildBwrapArgv(spec);
  if (!argv) {
    return RunResult{-1, "", argv.error().message};
  }
  return RunCaptured(*argv, keep_fds);
}

SandboxSpec ShellSpec(const std::string& script) {
  return SpecWithCommand({"/bin/sh", "-c", script});
}

// A memfd holding `data`, positioned at its start (bwrap reads from the current offset).
int SecretFd(const std::string& data) {
  int fd = ::memfd_create("secret", MFD_CLOEXEC);
  if (fd >= 0 && (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
                  ::lseek(fd, 0, SEEK_SET) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::set<std::string> NetworkInterfaces(const std::string& proc_net_dev) {
  std::set<std::string> names;
  std::istringstream lines(proc_net_dev);
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto start = line.find_first_not_of(' ');
      names.insert(line.substr(start, colon - start));
    }
  }
  return names;
}

class BwrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Independent of BuildBwrapArgv, so that a broken command line fails rather than skips.
    static const RunResult probe =
        RunCaptured({"bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "true"});
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "bubblewrap cannot create a sandbox here (needs bwrap and user "
                      "namespaces): "
                   << probe.err;
    }
    char dir[] = "/tmp/funcd-sandbox-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }
  void WriteHostFile(const std::string& path, const std::string& content, mode_t mode = 0644) {
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
  }

  std::string dir_;
};

TEST_F(BwrapTest, RunsAsTheUnprivilegedUidAndGid) {
  RunResult r = RunSandboxed(ShellSpec("id -u; id -g"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "12000\n12000\n");
}

TEST_F(BwrapTest, UsrEtcAppAndRootAreReadOnly) {
  SandboxSpec spec =
      ShellSpec("for p in /usr/p /etc/p /home/app/p /p; do touch $p 2>&1; done; true");
  spec.app_dir = dir_;
  RunResult r = RunSandboxed(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* path : {"'/usr/p'", "'/etc/p'", "'/home/app/p'", "'/p'"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(path) + ": Read-only file system"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/p"));

  spec.read_only_root = false;  // the root becomes writable, /usr stays read-only
  spec.command = {"/bin/sh", "-c", "touch /p && echo root-writable; touch /usr/p 2>&1; true"};
  r = RunSandboxed(spec);
  EXPECT_THAT(r.out, HasSubstr("root-writable"));
  EXPECT_THAT(r.out, HasSubstr("'/usr/p': Read-only file system"));
}

TEST_F(BwrapTest, TmpIsWritableAndPrivate) {
  const std::string host_marker = dir_ + "-host-marker";
  const std::string inside_file = "/tmp/funcd-inside-" + std::to_string(::getpid());
  WriteHostFile(host_marker, "host");
  RunResult r = RunSandboxed(ShellSpec("test ! -e " + host_marker + " && echo private > " +
                                       inside_file + " && cat " + inside_file));
  ::unlink(host_marker.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "private\n");
  EXPECT_FALSE(std::filesystem::exists(inside_file)) << "the sandbox's /tmp leaked to the host";
}

TEST_F(BwrapTest, SecretsHaveExactBytesAndAreReadOnly) {
  int key = SecretFd("s3cr3t");  // no trailing newline
  int cert = SecretFd("line one\nline two\n");
  ASSERT_GE(key, 0);
  ASSERT_GE(cert, 0);
  SandboxSpec spec = ShellSpec(
      "cd /var/openfaas/secrets && cat api-key && printf '|' && cat cert && printf '|' && ls; "
      "echo x >> api-key && echo WRITABLE; rm api-key 2>/dev/null && echo REMOVABLE; true");
  spec.secret_fds = {{key, "api-key"}, {cert, "cert"}};
  RunResult r = RunSandboxed(spec, {key, cert});
  ::close(key);
  ::close(cert);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "s3cr3t|line one\nline two\n|api-key\ncert\n");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

TEST_F(BwrapTest, PidNamespaceHidesHostProcesses) {
  // `echo` is a shell builtin: the sandbox holds only bwrap's init and the shell.
  RunResult r = RunSandboxed(ShellSpec("echo /proc/[0-9]*; echo $$"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/proc/1 /proc/2\n2\n");
  size_t host_processes = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    host_processes += std::all_of(name.begin(), name.end(), ::isdigit) ? 1 : 0;
  }
  EXPECT_GT(host_processes, 2u);
}

TEST_F(BwrapTest, SetsTheHostname) {
  SandboxSpec spec = ShellSpec("cat /proc/sys/kernel/hostname");
  spec.hostname = "fn-probe";
  RunResult r = RunSandboxed(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "fn-probe\n");
}

TEST_F(BwrapTest, HasNoCapabilitiesEvenAsRootInside) {
  const std::string script = "grep -E '^Cap(Prm|Eff|Bnd|Amb)' /proc/self/status";
  const std::string none =
      "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
      "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n";
  RunResult r = RunSandboxed(ShellSpec(script));
  EXPECT_EQ(r.out, none) << r.err;
  // uid 0 inside would keep every capability of its namespace without --cap-drop ALL.
  SandboxSpec spec = ShellSpec(script);
  spec.uid = 0;
  spec.gid = 0;
  r = RunSandboxed(spec);
  EXPECT_EQ(r.out, none) << r.err;
}

TEST_F(BwrapTest, OwnNetworkNamespaceHasOnlyLoopback) {
  SandboxSpec spec = ShellSpec("cat /proc/net/dev");
  spec.share_network = false;
  RunResult r = RunSandboxed(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(NetworkInterfaces(r.out), std::set<std::string>{"lo"});

  std::ifstream host_file("/proc/net/dev");
  std::stringstream host;
  host << host_file.rdbuf();
  spec.share_network = true;
  r = RunSandboxed(spec);
  EXPECT_EQ(NetworkInterfaces(r.out), NetworkInterfaces(host.str()));
}

TEST_F(BwrapTest, RunsTheWatchdogInTheAppDirWithExtraBinds) {
  const std::string app = dir_ + "/app";
  const std::string extra = dir_ + "/models";
  std::filesystem::create_directories(app);
  std::filesystem::create_directories(extra);
  WriteHostFile(app + "/handler.txt", "hello from app");
  WriteHostFile(extra + "/model.bin", "weights");
  WriteHostFile(
      dir_ + "/fwatchdog",
      "#!/bin/sh\necho \"watchdog:$(pwd):$(cat handler.txt):$(cat " + extra + "/model.bin)\"\n",
      0755);
  SandboxSpec spec = SpecWithCommand({"/opt/funcd/fwatchdog"});
  spec.app_dir = app;
  spec.watchdog = dir_ + "/fwatchdog";
  spec.extra_ro_binds = {extra};
  RunResult r = RunSandboxed(spec);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "watchdog:/home/app:hello from app:weights\n");
}

}  // namespace
}  // namespace funcd::provider
