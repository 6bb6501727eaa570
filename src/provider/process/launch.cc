#include "provider/process/launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common/strings.h"
#include "provider/process/sandbox.h"

namespace funcd::provider {

namespace {

// A loopback listening socket on a port the system picks.
Result<std::pair<UniqueFd, std::uint16_t>> ListenLoopback() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("socket: ", std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 1024) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("listen: ", std::strerror(errno)));
  }
  return std::make_pair(std::move(fd), ntohs(addr.sin_port));
}

// A listening unix socket in the abstract namespace (no file to clean up; gone with its last
// descriptor), named after the instance and made unique. Returns it with its endpoint.
Result<std::pair<UniqueFd, http::Endpoint>> ListenAbstract(const std::string& instance_name) {
  static std::atomic<std::uint64_t> counter{0};
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // "\0funcd/PID/INSTANCE/N"; the name is not NUL-terminated, its length is the address's.
  const std::string name =
      StrCat("funcd/", ::getpid(), "/", instance_name.substr(0, 60), "/", counter++);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd.get(), 1024) != 0) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("listen: ", std::strerror(errno)));
  }
  http::Endpoint endpoint;
  std::memcpy(endpoint.data(), &addr, len);
  endpoint.resize(len);
  return std::make_pair(std::move(fd), endpoint);
}

// A loopback port that is free now (bound, then released) for a server that binds it itself.
Result<std::uint16_t> FreeLoopbackPort() {
  FUNCD_ASSIGN_OR_RETURN(auto listener, ListenLoopback());
  return listener.second;
}

std::string Annotation(const FunctionSpec& spec, const std::string& key) {
  auto it = spec.annotations.find(key);
  return it == spec.annotations.end() ? "" : it->second;
}

// A read-only copy of a secret's value that bubblewrap reads into the sandbox.
Result<UniqueFd> SecretFd(const std::string& name, const std::string& value) {
  UniqueFd fd(::memfd_create(StrCat("secret-", name).c_str(), MFD_CLOEXEC));
  if (!fd.valid()) {
    return Unexpected(ErrorCode::kResourceExhausted, StrCat("memfd: ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < value.size()) {
    ssize_t n = ::write(fd.get(), value.data() + written, value.size() - written);
    if (n <= 0) {
      return Unexpected(ErrorCode::kInternal, StrCat("memfd write: ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

Error Fail(std::string message, ErrorCode code = ErrorCode::kResourceExhausted) {
  return Error{code, std::move(message)};
}

}  // namespace

Result<void> CheckReachable(const std::string& path, uid_t uid, gid_t gid) {
  std::string prefix;
  const std::vector<std::string_view> parts = Split(path, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty() && i > 0) {
      continue;
    }
    prefix = i == 0 ? "/" : StrCat(prefix == "/" ? "" : prefix, "/", parts[i]);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) != 0) {
      return Unexpected(ErrorCode::kInvalidArgument, StrCat(prefix, ": ", std::strerror(errno)));
    }
    const bool last = i + 1 == parts.size();
    // Search permission on every directory on the way, and read permission at the end.
    const mode_t need_owner = S_IXUSR | (last ? S_IRUSR : 0);
    const mode_t need_group = S_IXGRP | (last ? S_IRGRP : 0);
    const mode_t need_other = S_IXOTH | (last ? S_IROTH : 0);
    const mode_t need = st.st_uid == uid ? need_owner : st.st_gid == gid ? need_group : need_other;
    if ((st.st_mode & need) != need) {
      return Unexpected(
          ErrorCode::kInvalidArgument,
          StrCat(path, " is not readable by the sandbox user (uid ", uid, "): ", prefix,
                 " is private (", (st.st_mode & 07777) >> 6 & 7, (st.st_mode >> 3) & 7,
                 st.st_mode & 7, "); give others read and search access or move the function"));
    }
  }
  return Ok();
}

Result<LaunchPlan> PlanLaunch(const FunctionSpec& spec, const ResolvedImage& image,
                              const std::string& instance_name, const LaunchSettings& settings) {
  LaunchPlan plan;
  // com.funcd.watchdog=none runs the function's own HTTP server as the replica (it must
  // listen on $port and answer its health path); otherwise fwatchdog fronts it and gets a
  // listening socket from us: a unix socket (a cheaper hop than TCP on loopback), or with
  // com.funcd.transport=tcp a loopback port.
  const bool direct = Annotation(spec, "com.funcd.watchdog") == "none";
  const bool tcp = direct || Annotation(spec, "com.funcd.transport") == "tcp";
  int listen_fd = -1;
  std::uint16_t port = 0;
  if (direct) {
    auto free_port = FreeLoopbackPort();
    if (!free_port) {
      return Fail(free_port.error().message);
    }
    port = *free_port;
  } else if (tcp) {
    auto listener = ListenLoopback();
    if (!listener) {
      return Fail(listener.error().message);
    }
    plan.owned_fds.push_back(std::move(listener->first));
    listen_fd = plan.owned_fds.back().get();
    port = listener->second;
  } else {
    auto listener = ListenAbstract(instance_name);
    if (!listener) {
      return Fail(listener.error().message);
    }
    plan.owned_fds.push_back(std::move(listener->first));
    listen_fd = plan.owned_fds.back().get();
    plan.endpoint = listener->second;
  }
  if (tcp) {
    plan.endpoint = http::Endpoint(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
  }

  const bool sandboxed = !settings.bwrap.empty();
  const std::string run_dir = StrCat(settings.run_dir, "/", instance_name);
  std::map<std::string, std::string> env;
  env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  env["HOME"] = sandboxed ? (image.app_dir.empty() ? "/tmp" : "/home/app")
                          : (image.app_dir.empty() ? run_dir : image.app_dir);
  env["LANG"] = "C.UTF-8";
  for (const auto& [k, v] : image.environment) {
    env[k] = v;
  }
  for (const auto& [k, v] : spec.env_vars) {
    env[k] = v;
  }
  if (!spec.env_process.empty()) {
    env["fprocess"] = spec.env_process;
  } else if (!env.contains("fprocess") && !env.contains("function_process") &&
             !image.fprocess.empty()) {
    env["fprocess"] = image.fprocess;
  }
  if (!env.contains("healthcheck_interval")) {
    env["healthcheck_interval"] = "0s";  // the runtime drained the replica already
  }
  env["OPENFAAS_NAME"] = spec.ref.name;
  env["OPENFAAS_NAMESPACE"] = spec.ref.namespace_name;
  if (direct) {
    env["port"] = std::to_string(port);
    env["http_port"] = std::to_string(port);
  } else {
    env["listen_fd"] = "3";
    env["ready_fd"] = "4";
    if (tcp) {
      env["port"] = std::to_string(port);
    }
    env["bind_address"] = "127.0.0.1";
    env["metrics_port"] = "0";
    if (env["mode"] == "http") {
      // Every replica's server gets a port of its own ($http_port), so replicas and
      // functions never fight over one; upstream_url follows unless the function pins it.
      auto upstream = FreeLoopbackPort();
      if (!upstream) {
        return Fail(upstream.error().message);
      }
      env["http_port"] = std::to_string(*upstream);
      if (!env.contains("upstream_url") && !env.contains("http_upstream_url")) {
        env["upstream_url"] = StrCat("http://127.0.0.1:", *upstream);
      }
    }
  }
  env["TMPDIR"] = sandboxed ? "/tmp" : StrCat(run_dir, "/tmp");
  plan.max_inflight = std::max<std::int64_t>(0, ParseInt(env["max_inflight"]).value_or(0));
  if (env["max_inflight"].empty()) {
    env.erase("max_inflight");
  }
  std::vector<std::string> env_entries;
  for (const auto& [k, v] : env) {
    env_entries.push_back(StrCat(k, "=", v));
  }

  SpawnOptions& spawn = plan.spawn;
  spawn.env = std::move(env_entries);
  spawn.stdin_mode = Stdio::kNull;
  spawn.die_with_parent = true;
  if (listen_fd >= 0) {
    spawn.inherit_fds.emplace_back(listen_fd, 3);
    // Readiness is pushed, not polled: fwatchdog writes to fd 4 once it serves.
    int ready_pipe[2];
    if (::pipe2(ready_pipe, O_CLOEXEC) != 0) {
      return Fail(StrCat("pipe: ", std::strerror(errno)));
    }
    plan.ready_fd = UniqueFd(ready_pipe[0]);
    plan.owned_fds.emplace_back(ready_pipe[1]);
    spawn.inherit_fds.emplace_back(ready_pipe[1], 4);
  }
  std::vector<std::string> command = {sandboxed ? "/opt/funcd/fwatchdog" : settings.fwatchdog};
  if (direct) {
    command = SplitCommand(env.contains("fprocess") ? env["fprocess"] : "");
    if (command.empty()) {
      return Fail("com.funcd.watchdog=none needs fprocess: the command of the HTTP server",
                  ErrorCode::kInvalidArgument);
    }
  }
  if (sandboxed) {
    SandboxSpec sandbox;
    sandbox.bwrap = settings.bwrap;
    sandbox.app_dir = image.app_dir;
    sandbox.watchdog = settings.fwatchdog;
    sandbox.uid = settings.sandbox_uid;
    sandbox.gid = settings.sandbox_uid;
    sandbox.hostname = spec.ref.name;
    sandbox.working_dir = image.app_dir.empty() ? "/" : "/home/app";
    sandbox.read_only_root = true;
    sandbox.command = command;
    // com.funcd.network=isolated: a network namespace of its own (loopback only).
    sandbox.share_network = Annotation(spec, "com.funcd.network") != "isolated";
    int next_fd = 5;  // after the listening socket (3) and the ready pipe (4)
    for (const std::string& secret : spec.secrets) {
      auto value = settings.read_secret ? settings.read_secret(spec.ref.namespace_name, secret)
                                        : Result<std::string>(Error{ErrorCode::kNotFound, ""});
      if (!value) {
        return Fail(StrCat("secret ", secret, ": ", value.error().message), ErrorCode::kNotFound);
      }
      auto fd = SecretFd(secret, *value);
      if (!fd) {
        return Fail(fd.error().message);
      }
      spawn.inherit_fds.emplace_back(fd->get(), next_fd);
      sandbox.secret_fds.emplace_back(next_fd, secret);
      plan.owned_fds.push_back(std::move(*fd));
      ++next_fd;
    }
    // As root, bubblewrap itself runs as the sandbox uid, so that the replica is unprivileged
    // outside its user namespace too (it then needs to reach the paths it binds; Validate
    // checks that for the function's directory).
    if (::geteuid() == 0) {
      spawn.run_as_uid = static_cast<uid_t>(settings.sandbox_uid);
      spawn.run_as_gid = static_cast<gid_t>(settings.sandbox_uid);
    }
    auto argv = BuildBwrapArgv(sandbox);
    if (!argv) {
      return Fail(argv.error().message, ErrorCode::kInvalidArgument);
    }
    spawn.argv = std::move(*argv);
  } else {
    ::mkdir(settings.run_dir.c_str(), 0755);
    ::mkdir(run_dir.c_str(), 0755);
    ::mkdir(StrCat(run_dir, "/tmp").c_str(), 0700);
    spawn.argv = command;
    spawn.working_dir = image.app_dir.empty() ? run_dir : image.app_dir;
    if (!spec.secrets.empty()) {
      plan.warnings.push_back("secrets are not available without the sandbox");
    }
  }

  return plan;
}

}  // namespace funcd::provider
