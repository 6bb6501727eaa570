#include "provider/process/sandbox.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <initializer_list>
#include <string_view>

#include "common/strings.h"

namespace funcd::provider {
namespace {

constexpr std::string_view kSecretsDir = "/var/openfaas/secrets";
constexpr std::string_view kAppDir = "/home/app";
constexpr std::string_view kWatchdogPath = "/opt/funcd/fwatchdog";

// Top-level directories that merged-/usr systems (Debian 12 among them) make symlinks into
// /usr; programs and the dynamic loader expect them (/lib64/ld-linux-x86-64.so.2).
constexpr std::array<std::string_view, 6> kRootDirsIntoUsr = {"/bin",   "/sbin",  "/lib",
                                                              "/lib64", "/lib32", "/libx32"};

void Append(std::vector<std::string>& argv, std::initializer_list<std::string_view> args) {
  for (std::string_view arg : args) {
    argv.emplace_back(arg);
  }
}

// A secret name becomes one path component under kSecretsDir; anything else could place a
// file elsewhere in the sandbox (or over the directory itself).
bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

// Reproduces the host's /bin, /lib, ...: a symlink stays a symlink with the same target (so
// it resolves into the bound /usr), a real directory (a system without merged /usr) is bound
// read-only, and a missing one stays missing.
void AppendRootDirsIntoUsr(std::vector<std::string>& argv) {
  for (std::string_view dir : kRootDirsIntoUsr) {
    const std::string path(dir);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink(path.c_str(), target, sizeof(target));
      if (n > 0 && static_cast<size_t>(n) < sizeof(target)) {
        Append(argv, {"--symlink", std::string_view(target, static_cast<size_t>(n)), path});
      }
    } else if (S_ISDIR(st.st_mode)) {
      Append(argv, {"--ro-bind", path, path});
    }
  }
}

}  // namespace

Result<std::vector<std::string>> BuildBwrapArgv(const SandboxSpec& spec) {
  for (const auto& [fd, name] : spec.secret_fds) {
    if (!IsPlainFileName(name)) {
      return Unexpected(ErrorCode::kInvalidArgument,
                        StrCat("secret name \"", name, "\" is not a plain file name"));
    }
  }

  std::vector<std::string> argv;
  argv.push_back(spec.bwrap);
  Append(argv, {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"});
  if (!spec.share_network) {
    Append(argv, {"--unshare-net"});
  }
  Append(argv, {"--uid", StrCat(spec.uid), "--gid", StrCat(spec.gid)});
  Append(argv, {"--hostname", spec.hostname});

  // The root is a tmpfs that bwrap builds from these mounts, in this order.
  Append(argv, {"--ro-bind", "/usr", "/usr"});
  AppendRootDirsIntoUsr(argv);
  Append(argv, {"--ro-bind", "/etc", "/etc"});
  Append(argv, {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  if (!spec.app_dir.empty()) {
    Append(argv, {"--ro-bind", spec.app_dir, kAppDir});
  } else {
    Append(argv, {"--dir", kAppDir});  // so that the default working_dir exists
  }
  if (!spec.watchdog.empty()) {
    Append(argv, {"--ro-bind", spec.watchdog, kWatchdogPath});
  }
  for (const std::string& path : spec.extra_ro_binds) {
    Append(argv, {"--ro-bind", path, path});
  }
  for (const auto& [fd, name] : spec.secret_fds) {
    Append(argv, {"--ro-bind-data", StrCat(fd), StrCat(kSecretsDir, "/", name)});
  }

  Append(argv, {"--chdir", spec.working_dir});
  Append(argv, {"--cap-drop", "ALL", "--die-with-parent", "--new-session"});
  // Last: the remount applies to the root that the mounts above have finished populating.
  if (spec.read_only_root) {
    Append(argv, {"--remount-ro", "/"});
  }
  argv.emplace_back("--");
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  return argv;
}

}  // namespace funcd::provider
