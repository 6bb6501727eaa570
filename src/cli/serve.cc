#include "cli/serve.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/thread_pool.hpp>
#include <climits>
#include <cstdlib>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "common/version.h"
#include "gateway/gateway.h"
#include "provider/process/process_provider.h"
#include "store/store.h"
#include "triggers/async_submitter.h"
#include "triggers/trigger_manager.h"
#include "worker/async_service.h"

namespace funcd::cli {

namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? Dirname(std::string(buf, static_cast<size_t>(n))) : ".";
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (std::string_view dir : Split(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = StrCat(dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

bool SplitHostPort(const std::string& listen, std::string* host, std::uint16_t* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  auto value = ParseUint(listen.substr(colon + 1));
  if (!value || *value > 65535 || host->empty()) {
    return false;
  }
  *port = static_cast<std::uint16_t>(*value);
  return true;
}

// Creates `path` and its parents with `mode`.
bool MakeDirs(const std::string& path, mode_t mode) {
  std::string partial;
  for (std::string_view part : Split(path, '/')) {
    partial += part.empty() ? "" : StrCat("/", part);
    if (!partial.empty() && ::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return false;
    }
  }
  return true;
}

// SIGTERM: stops accepting and drains the HTTP requests while the async attempts in progress
// finish (no new ones start), so that they are settled rather than delivered again.
asio::awaitable<void> DrainForShutdown(http::Server& server, worker::AsyncService& async) {
  using asio::experimental::awaitable_operators::operator&&;
  co_await (server.Shutdown(std::chrono::seconds(10)) && async.Drain(std::chrono::seconds(10)));
}

Result<std::unique_ptr<worker::AsyncService>> MakeAsyncService(const ServeOptions& options,
                                                               const std::string& state_dir,
                                                               gateway::Gateway& gateway) {
  worker::AsyncOptions async;
  async.queue = options.queue;
  async.state_dir = state_dir;
  async.workers = static_cast<std::size_t>(std::max(options.async_workers, 1));
  async.max_body = options.async_max_body;
  async.retention = options.async_retention;
  async.retry.attempts = std::max(options.retry_attempts, 1);
  async.retry.min_wait = options.retry_min_wait;
  async.retry.max_wait = std::max(options.retry_max_wait, options.retry_min_wait);
  auto codes = worker::ParseStatusList(options.retry_codes);
  if (!codes) {
    return MakeError(ErrorCode::kInvalidArgument, StrCat("--retry-codes: ", codes.error().message));
  }
  async.retry.codes = std::move(*codes);
  return worker::AsyncService::Create(std::move(async), gateway);
}

}  // namespace

std::string DefaultStateDir() {
  if (::geteuid() == 0) {
    return "/var/lib/funcd";
  }
  const char* home = std::getenv("HOME");
  return StrCat(home != nullptr ? home : "/tmp", "/.local/share/funcd");
}

int Serve(const ServeOptions& options) {
  std::string host;
  std::uint16_t port = 0;
  if (!SplitHostPort(options.listen, &host, &port)) {
    std::fprintf(stderr, "funcd serve: --listen wants ADDRESS:PORT, got \"%s\"\n",
                 options.listen.c_str());
    return 2;
  }
  std::string state_dir = options.state_dir.empty() ? DefaultStateDir() : options.state_dir;
  if (!MakeDirs(state_dir, 0755)) {
    std::fprintf(stderr, "funcd serve: cannot create the state directory %s: %s\n",
                 state_dir.c_str(), std::strerror(errno));
    return 1;
  }
  if (char resolved[PATH_MAX]; ::realpath(state_dir.c_str(), resolved) != nullptr) {
    state_dir = resolved;  // one canonical name: it identifies this instance's cgroups
  }
  std::string fwatchdog = options.fwatchdog.empty() ? SelfDir() + "/fwatchdog" : options.fwatchdog;
  if (::access(fwatchdog.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "funcd serve: fwatchdog not found at %s (use --fwatchdog PATH)\n",
                 fwatchdog.c_str());
    return 1;
  }
  std::string bwrap;
  if (options.sandbox == "bwrap") {
    bwrap = FindOnPath("bwrap");
    if (bwrap.empty()) {
      std::fprintf(stderr,
                   "funcd serve: bubblewrap (bwrap) is not installed; install it (apt-get install "
                   "bubblewrap) or run without a sandbox with --sandbox none\n");
      return 1;
    }
  } else if (options.sandbox != "none") {
    std::fprintf(stderr, "funcd serve: --sandbox is bwrap or none\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  Logf("funcd %s (%s) starting; state in %s", Version(), GitSha(), state_dir.c_str());

  auto store = store::Store::Open(state_dir);
  if (!store) {
    std::fprintf(stderr, "funcd serve: %s\n", store.error().message.c_str());
    return 1;
  }
  gateway::GatewayOptions gateway_options;
  if (options.basic_auth) {
    bool created = false;
    auto credentials = gateway::LoadOrCreateCredentials(state_dir + "/secrets", &created);
    if (!credentials) {
      std::fprintf(stderr, "funcd serve: %s\n", credentials.error().message.c_str());
      return 1;
    }
    if (created) {
      Logf("generated admin credentials in %s/secrets (basic-auth-user, basic-auth-password)",
           state_dir.c_str());
    }
    Logf(
        "basic auth on /system: log in with  funcd login -g http://%s -u %s --password-stdin "
        "< %s/secrets/basic-auth-password",
        options.listen.c_str(), credentials->user.c_str(), state_dir.c_str());
    gateway_options.credentials = std::move(*credentials);
  }
  gateway_options.invoker.upstream_timeout = options.upstream_timeout;
  gateway_options.invoker.max_queue = options.max_queue;

  // One cgroup subtree per state directory: a second funcd on this machine (or a test) must
  // neither see nor clean up this one's replicas.
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a of the state directory
  for (unsigned char c : state_dir) {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  char parent[32];
  std::snprintf(parent, sizeof(parent), "funcd-%012llx",
                static_cast<unsigned long long>(hash & 0xffffffffffffULL));
  auto cgroups = provider::CgroupManager::Detect("/sys/fs/cgroup", parent);
  Logf("runtime: %s, %s", bwrap.empty() ? "no sandbox" : "bubblewrap sandbox",
       cgroups->Describe().c_str());
  provider::ProcessProviderOptions runtime;
  runtime.packages_dir = state_dir + "/packages";
  runtime.run_dir = state_dir + "/run";
  runtime.fwatchdog = fwatchdog;
  runtime.bwrap = bwrap;
  runtime.host_images = options.host_images;
  store::Store* state = store->get();
  runtime.read_secret = [state](const std::string& ns, const std::string& name) {
    return state->ReadSecret(ns, name);
  };
  provider::ProcessProvider provider(std::move(runtime), std::move(cgroups));

  asio::thread_pool blocking(1);
  gateway::Gateway gateway(std::move(gateway_options), **store, provider, blocking);
  if (auto restored = gateway.Restore(); !restored) {
    std::fprintf(stderr, "funcd serve: cannot restore state: %s\n",
                 restored.error().message.c_str());
    return 1;
  }
  // Asynchronous invocation: the durable queue, /async-function, the workers. Declared before
  // the I/O contexts so that it outlives the coroutines they hold.
  auto async = MakeAsyncService(options, state_dir, gateway);
  if (!async) {
    std::fprintf(stderr, "funcd serve: %s\n", async.error().message.c_str());
    provider.Shutdown();
    return 1;
  }

  // By default half the CPUs: the replicas run on the same machine and need the rest. On 2
  // CPUs one I/O thread proxies more calls per second than two, which spend their time
  // preempting the replicas and each other (bench/README.md, "I/O threads").
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> context_ptrs;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    context_ptrs.push_back(contexts.back().get());
  }
  http::ServerOptions server_options;
  server_options.read_timeout = options.read_timeout;
  server_options.write_timeout = options.write_timeout;
  auto server = std::make_unique<http::Server>(context_ptrs, gateway, server_options);
  auto bound = server->Listen(host, port);
  if (!bound) {
    std::fprintf(stderr, "funcd serve: cannot listen on %s: %s\n", options.listen.c_str(),
                 bound.error().message.c_str());
    provider.Shutdown();
    return 1;
  }
  // Event triggers: cron, NATS, MQTT. Async trigger calls (com.openfaas.trigger.async) go
  // into the durable async queue, as /async-function calls do.
  triggers::QueueAsyncSubmitter trigger_async((*async)->queue());
  triggers::TriggerOptions trigger_options;
  trigger_options.nats_url = options.nats_url;
  trigger_options.mqtt_url = options.mqtt_url;
  auto trigger_manager = std::make_unique<triggers::TriggerManager>(
      gateway.functions(), gateway.invoker(), trigger_async, gateway.metrics().registry,
      context_ptrs, std::move(trigger_options));
  if (auto started = trigger_manager->Start(); !started) {
    std::fprintf(stderr, "funcd serve: %s\n", started.error().message.c_str());
    trigger_manager.reset();
    provider.Shutdown();
    return 1;
  }
  server->Start();
  (*async)->Start(context_ptrs);
  gateway.StartAutoscaler(*contexts[0]);
  if (!options.basic_auth) {
    Logf("basic auth is off: anyone who can reach %s:%d can deploy functions", host.c_str(),
         *bound);
  }
  Logf("funcd serve listening on http://%s:%d (%d I/O threads)", host.c_str(), *bound, threads);

  asio::signal_set signals(*contexts[0], SIGTERM, SIGINT);
  signals.async_wait([&](const error_code& ec, int signal) {
    if (ec) {
      return;
    }
    Logf("%s: draining requests, stopping replicas", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    trigger_manager->Stop();  // no trigger call starts from here on
    asio::co_spawn(*contexts[0], DrainForShutdown(*server, **async), [&](std::exception_ptr) {
      for (auto& context : contexts) {
        context->stop();
      }
    });
  });
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) {
    workers.emplace_back([context = contexts[static_cast<size_t>(i)].get()] {
      auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
  contexts[0]->run();
  for (auto& context : contexts) {
    context->stop();
  }
  for (auto& worker : workers) {
    worker.join();
  }
  trigger_manager.reset();  // closes the broker connections before the contexts go
  (*async)->Shutdown();     // commits the queue's pending writes before the contexts go
  provider.Shutdown();
  blocking.join();
  server.reset();
  Logf("funcd serve stopped");
  return 0;
}

}  // namespace funcd::cli
