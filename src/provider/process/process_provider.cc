#include "provider/process/process_provider.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <future>

#include "common/config.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "provider/process/image.h"
#include "provider/process/launch.h"
#include "provider/process/sandbox.h"

namespace funcd::provider {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// kStandby: out of the replica set, frozen (or about to be) until replicas are wanted again.
enum class State { kStarting, kReady, kStopping, kBackoff, kStandby };

std::string FormatBytes(std::uint64_t bytes) {
  if (bytes % (1 << 20) == 0) {
    return StrCat(bytes >> 20, "Mi");
  }
  return StrCat(bytes, " bytes");
}

// Copies a replica's output, line by line, into the log store.
asio::awaitable<void> PipeToLogs(asio::posix::stream_descriptor pipe, LogStore* logs,
                                 std::string key, std::string instance) {
  std::string pending;
  char buf[16 * 1024];
  constexpr size_t kMaxLine = 64 * 1024;
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), kUseAwaitableNoThrow);
    if (ec || n == 0) {
      break;
    }
    pending.append(buf, n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line = std::string_view(pending).substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      logs->Append(key, instance, std::string(line));
    }
    pending.erase(0, start);
    while (pending.size() > kMaxLine) {
      logs->Append(key, instance, pending.substr(0, kMaxLine));
      pending.erase(0, kMaxLine);
    }
  }
  if (!pending.empty()) {
    logs->Append(key, instance, pending);
  }
}

// One health check: GET path answered 200.
asio::awaitable<bool> ProbeHealth(http::ConnectionPool& pool, std::string path) {
  http::RequestHead head;
  head.method(http::Verb::get);
  head.target(path);
  head.set(http::Field::host, "localhost");
  auto response = co_await http::Fetch(pool, std::move(head), "", 2s);
  co_return response && response->status == 200;
}

}  // namespace

struct ProcessProvider::Function {
  FunctionRef ref;
  std::string key;
  std::shared_ptr<ReplicaSet> set = std::make_shared<ReplicaSet>();
  std::atomic<std::int64_t> desired{0};
  std::atomic<std::int64_t> starting{0};
  // Control thread only.
  FunctionSpec spec;
  ResolvedImage image;
  std::uint64_t generation = 0;
  bool runnable = false;  // the spec resolved; replicas can start
  bool removed = false;
  std::vector<std::shared_ptr<Instance>> instances;
};

struct ProcessProvider::Instance {
  std::uint64_t id = 0;
  std::string name;  // "figlet-3"
  std::uint64_t generation = 0;
  State state = State::kStarting;
  std::uint64_t run = 0;  // bumped on every start; coroutines of older runs stand down
  bool stopping = false;  // no restart after exit
  int restarts = 0;
  std::optional<ChildProcess> child;
  std::unique_ptr<Cgroup> cgroup;
  std::shared_ptr<Replica> routing;  // set while in the replica set
  http::Endpoint endpoint;
  std::unique_ptr<http::ConnectionPool> health_pool;
  std::unique_ptr<asio::steady_timer> backoff;
  Clock::time_point started_at;
  Clock::time_point spawned_at;
  Clock::time_point ready_at;
  // fwatchdog's readiness pipe (see LaunchPlan::ready_fd); null once read or without one.
  std::unique_ptr<asio::posix::stream_descriptor> ready_pipe;
  std::int64_t max_inflight = 0;
  std::uint64_t oom_kills_reported = 0;
  bool frozen = false;              // its cgroup is frozen
  std::uint64_t standby_epoch = 0;  // bumped by Standby and Wake; a pending freeze checks it
};

ProcessProvider::ProcessProvider(ProcessProviderOptions options,
                                 std::unique_ptr<CgroupManager> cgroups)
    : options_(std::move(options)), cgroups_(std::move(cgroups)) {
  if (cgroups_) {
    cgroups_->CleanupStale();
  }
  work_.emplace(control_.get_executor());
  thread_ = std::thread([this] { control_.run(); });
}

ProcessProvider::~ProcessProvider() { Shutdown(); }

Result<void> ProcessProvider::Validate(const FunctionSpec& spec) const {
  FUNCD_ASSIGN_OR_RETURN(ResolvedImage image,
                         ResolveImage(spec.image, options_.packages_dir, options_.host_images));
  const bool has_process =
      !spec.env_process.empty() || !image.fprocess.empty() || spec.env_vars.contains("fprocess") ||
      spec.env_vars.contains("function_process") || image.environment.contains("fprocess");
  auto mode = spec.env_vars.find("mode");
  const bool static_mode =
      (mode != spec.env_vars.end() && mode->second == "static") ||
      (image.environment.contains("mode") && image.environment.at("mode") == "static");
  if (!options_.bwrap.empty() && ::geteuid() == 0 && !image.app_dir.empty()) {
    const auto uid = static_cast<uid_t>(options_.sandbox_uid);
    FUNCD_RETURN_IF_ERROR(CheckReachable(image.app_dir, uid, uid));
  }
  if (!has_process && !static_mode) {
    return Unexpected(ErrorCode::kInvalidArgument,
                      StrCat("function ", spec.ref.name,
                             " has no process to run: set envProcess "
                             "(fprocess) or deploy a package that names one"));
  }
  return Ok();
}

void ProcessProvider::Event(const Function& fn, const std::string& instance,
                            const std::string& text) {
  Logf("%s %s: %s", fn.key.c_str(), instance.c_str(), text.c_str());
  logs_.Append(fn.key, instance, StrCat("funcd: ", text));
}

void ProcessProvider::Apply(FunctionSpec spec) {
  std::shared_ptr<Function> fn;
  {
    std::lock_guard lock(mu_);
    auto& slot = functions_[spec.ref];
    if (!slot) {
      slot = std::make_shared<Function>();
      slot->ref = spec.ref;
      slot->key = spec.ref.Key();
    }
    fn = slot;
    fn->desired = spec.replicas;
  }
  asio::post(control_, [this, fn, spec = std::move(spec)]() mutable {
    if (fn->removed) {
      return;
    }
    fn->spec = std::move(spec);
    ++fn->generation;  // every update replaces the replicas, as a rollout would
    auto image = ResolveImage(fn->spec.image, options_.packages_dir, options_.host_images);
    fn->runnable = image.has_value();
    if (!image) {
      Event(*fn, fn->spec.ref.name, StrCat("cannot start: ", image.error().message));
    } else {
      fn->image = std::move(*image);
    }
    Reconcile(fn);
  });
}

void ProcessProvider::Scale(const FunctionRef& ref, std::int64_t replicas) {
  std::shared_ptr<Function> fn;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(ref);
    if (it == functions_.end()) {
      return;
    }
    fn = it->second;
    fn->desired = std::max<std::int64_t>(replicas, 0);
  }
  asio::post(control_, [this, fn] { Reconcile(fn); });
}

void ProcessProvider::Remove(const FunctionRef& ref) {
  std::shared_ptr<Function> fn;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(ref);
    if (it == functions_.end()) {
      return;
    }
    fn = std::move(it->second);
    functions_.erase(it);
  }
  asio::post(control_, [this, fn] {
    fn->removed = true;
    fn->desired = 0;
    Reconcile(fn);
    logs_.Forget(fn->key);
  });
}

ReplicaCounts ProcessProvider::Counts(const FunctionRef& ref) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(ref);
  if (it == functions_.end()) {
    return {};
  }
  return ReplicaCounts{it->second->desired.load(),
                       static_cast<std::int64_t>(it->second->set->size()),
                       it->second->starting.load()};
}

std::shared_ptr<ReplicaSet> ProcessProvider::Replicas(const FunctionRef& ref) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(ref);
  return it == functions_.end() ? nullptr : it->second->set;
}

std::vector<int> ProcessProvider::ReplicaPids(const FunctionRef& ref) const {
  std::shared_ptr<Function> fn;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(ref);
    if (it == functions_.end()) {
      return {};
    }
    fn = it->second;
  }
  std::promise<std::vector<int>> pids;
  auto result = pids.get_future();
  asio::post(const_cast<asio::io_context&>(control_), [fn, &pids] {
    std::vector<int> out;
    for (const auto& instance : fn->instances) {
      if (instance->child && !instance->child->reaped()) {
        out.push_back(instance->child->pid());
      }
    }
    pids.set_value(std::move(out));
  });
  return result.get();
}

double ProcessProvider::CpuSeconds(const FunctionRef& ref) const {
  std::shared_ptr<Function> fn;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(ref);
    if (it == functions_.end()) {
      return 0;
    }
    fn = it->second;
  }
  std::promise<std::vector<int>> pids;
  auto result = pids.get_future();
  asio::post(const_cast<asio::io_context&>(control_), [fn, &pids] {
    std::vector<int> out;
    for (const auto& instance : fn->instances) {
      if (instance->cgroup) {
        for (pid_t pid : instance->cgroup->Processes()) {
          out.push_back(pid);
        }
      } else if (instance->child && !instance->child->reaped()) {
        out.push_back(instance->child->pid());
      }
    }
    pids.set_value(std::move(out));
  });
  // utime + stime + cutime + cstime: reaped children (forked per request) count too.
  static const double kTicks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double seconds = 0;
  for (int pid : result.get()) {
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) {
      continue;
    }
    char line[1024];
    size_t n = std::fread(line, 1, sizeof(line) - 1, f);
    std::fclose(f);
    line[n] = '\0';
    const char* close = std::strrchr(line, ')');
    if (close == nullptr) {
      continue;
    }
    unsigned long long utime = 0, stime = 0;
    long long cutime = 0, cstime = 0;
    // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
    // stime cutime cstime.
    if (std::sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
                    &utime, &stime, &cutime, &cstime) == 4) {
      seconds += static_cast<double>(utime + stime + static_cast<unsigned long long>(cutime) +
                                     static_cast<unsigned long long>(cstime)) /
                 kTicks;
    }
  }
  return seconds;
}

// ---------------------------------------------------------------------------------------
// Reconciliation (control thread)

void ProcessProvider::Reconcile(const std::shared_ptr<Function>& fn) {
  const bool live = !fn->removed && !shut_down_ && fn->runnable;
  const std::int64_t desired = live ? fn->desired.load() : 0;
  const bool standby_wanted = live && cgroups_ &&
                              fn->spec.annotations.contains("com.funcd.standby") &&
                              fn->spec.annotations.at("com.funcd.standby") == "frozen";
  std::vector<std::shared_ptr<Instance>> current, old, standby;
  for (const auto& instance : fn->instances) {
    if (instance->stopping) {
      continue;
    }
    if (instance->state == State::kStandby) {
      standby.push_back(instance);
      continue;
    }
    (instance->generation == fn->generation ? current : old).push_back(instance);
  }
  // A replica on standby wakes when replicas are wanted, and goes when it is outdated.
  for (const auto& instance : standby) {
    if (!standby_wanted || instance->generation != fn->generation) {
      StopInstance(fn, instance, "standby no longer wanted");
    } else if (static_cast<std::int64_t>(current.size()) < desired) {
      Wake(fn, instance);
      current.push_back(instance);
    }
  }
  // Grow the current generation to the desired count.
  for (auto n = static_cast<std::int64_t>(current.size()); n < desired; ++n) {
    auto instance = std::make_shared<Instance>();
    instance->id = next_id_++;
    instance->name = StrCat(fn->ref.name, "-", instance->id);
    instance->generation = fn->generation;
    fn->instances.push_back(instance);
    current.push_back(instance);
    StartInstance(fn, instance);
  }
  // Shrink it: replicas that are not serving go first, then the least busy.
  auto serving_last = [](const std::shared_ptr<Instance>& a, const std::shared_ptr<Instance>& b) {
    const bool a_ready = a->state == State::kReady;
    const bool b_ready = b->state == State::kReady;
    if (a_ready != b_ready) {
      return !a_ready;
    }
    const auto load = [](const auto& i) { return i->routing ? i->routing->inflight.load() : 0; };
    return load(a) < load(b);
  };
  if (static_cast<std::int64_t>(current.size()) > desired) {
    std::sort(current.begin(), current.end(), serving_last);
    const size_t extra = current.size() - static_cast<size_t>(std::max<std::int64_t>(desired, 0));
    // Going to zero with standby on: the last replica (a ready one, if any) stays, frozen.
    const bool keep_one =
        desired == 0 && standby_wanted && standby.empty() && current.back()->state == State::kReady;
    for (size_t i = 0; i < extra; ++i) {
      if (keep_one && i + 1 == extra) {
        Standby(fn, current[i]);
      } else {
        StopInstance(fn, current[i], "scaled down");
      }
    }
  }
  // Rolling update: an old replica stops for each new one that is ready.
  std::int64_t ready_current = 0;
  for (const auto& instance : current) {
    ready_current += (instance->state == State::kReady && !instance->stopping) ? 1 : 0;
  }
  const std::int64_t keep_old = std::max<std::int64_t>(0, desired - ready_current);
  std::sort(old.begin(), old.end(), serving_last);
  for (std::int64_t i = 0;
       i < static_cast<std::int64_t>(old.size()) -
               std::min<std::int64_t>(keep_old, static_cast<std::int64_t>(old.size()));
       ++i) {
    StopInstance(fn, old[static_cast<size_t>(i)], "replaced by an update");
  }
}

void ProcessProvider::StartInstance(const std::shared_ptr<Function>& fn,
                                    std::shared_ptr<Instance> instance) {
  const FunctionSpec& spec = fn->spec;
  instance->run++;
  instance->state = State::kStarting;
  instance->started_at = Clock::now();
  fn->starting++;
  auto fail = [&](const std::string& why) {
    fn->starting--;
    Event(*fn, instance->name, StrCat("cannot start: ", why));
    instance->state = State::kBackoff;
    instance->restarts++;
    instance->backoff = std::make_unique<asio::steady_timer>(control_, 2s);
    instance->backoff->async_wait([this, fn, instance, run = instance->run](const error_code& ec) {
      if (!ec && instance->run == run && !instance->stopping && !fn->removed) {
        StartInstance(fn, instance);
      }
    });
  };

  LaunchSettings settings;
  settings.bwrap = options_.bwrap;
  settings.fwatchdog = options_.fwatchdog;
  settings.run_dir = options_.run_dir;
  settings.sandbox_uid = options_.sandbox_uid;
  settings.read_secret = options_.read_secret;
  auto planned = PlanLaunch(spec, fn->image, instance->name, settings);
  if (!planned) {
    fail(planned.error().message);
    return;
  }
  LaunchPlan plan = std::move(*planned);
  for (const std::string& warning : plan.warnings) {
    Event(*fn, instance->name, warning);
  }
  instance->endpoint = plan.endpoint;
  instance->max_inflight = plan.max_inflight;
  SpawnOptions& spawn = plan.spawn;
  if (cgroups_ && cgroups_->layout() != CgroupLayout::kNone) {
    auto cgroup =
        cgroups_->Create(StrCat(spec.ref.namespace_name, "-", instance->name), spec.limits);
    if (!cgroup) {
      fail(StrCat("cgroup: ", cgroup.error().message));
      return;
    }
    instance->cgroup = std::move(*cgroup);
    spawn.join_cgroups = instance->cgroup->procs_files();
  }

  auto child = ChildProcess::Spawn(control_.get_executor(), spawn);
  if (!child) {
    instance->cgroup.reset();
    fail(child.error().message);
    return;
  }
  instance->child.emplace(std::move(*child));
  instance->spawned_at = Clock::now();
  instance->ready_pipe.reset();
  if (plan.ready_fd.valid()) {
    instance->ready_pipe =
        std::make_unique<asio::posix::stream_descriptor>(control_, plan.ready_fd.Release());
  }
  instance->health_pool =
      std::make_unique<http::ConnectionPool>(control_.get_executor(), instance->endpoint);
  const std::uint64_t run = instance->run;
  asio::co_spawn(
      control_,
      PipeToLogs(std::move(instance->child->stdout_pipe()), &logs_, fn->key, instance->name),
      LogExceptions{"replica stdout"});
  asio::co_spawn(
      control_,
      PipeToLogs(std::move(instance->child->stderr_pipe()), &logs_, fn->key, instance->name),
      LogExceptions{"replica stderr"});
  asio::co_spawn(control_, Supervise(fn, instance, run), LogExceptions{"replica supervise"});
  asio::co_spawn(control_, CheckHealth(fn, instance, run), LogExceptions{"replica health"});
}

void ProcessProvider::StopInstance(const std::shared_ptr<Function>& fn,
                                   const std::shared_ptr<Instance>& instance, std::string reason) {
  if (instance->stopping) {
    return;
  }
  instance->stopping = true;
  if (instance->frozen) {
    (void)instance->cgroup->Thaw();  // a frozen process cannot act on SIGTERM
    instance->frozen = false;
  }
  if (instance->state == State::kBackoff || !instance->child) {
    if (instance->backoff) {
      instance->backoff->cancel();
    }
    std::erase(fn->instances, instance);
    return;
  }
  if (instance->state == State::kStarting) {
    fn->starting--;
  }
  instance->state = State::kStopping;
  if (instance->routing) {
    fn->set->Remove(instance->routing->id);
  }
  if (!fn->removed && !shut_down_) {
    Event(*fn, instance->name, StrCat("stopping (", reason, ")"));
  }
  asio::co_spawn(control_, Drain(instance), LogExceptions{"replica drain"});
}

void ProcessProvider::Standby(const std::shared_ptr<Function>& fn,
                              const std::shared_ptr<Instance>& instance) {
  instance->state = State::kStandby;
  if (instance->routing) {
    fn->set->Remove(instance->routing->id);
  }
  Event(*fn, instance->name, "on standby (frozen until the next call)");
  asio::co_spawn(control_, FreezeWhenDrained(fn, instance, ++instance->standby_epoch),
                 LogExceptions{"replica standby"});
}

asio::awaitable<void> ProcessProvider::FreezeWhenDrained(std::shared_ptr<Function> fn,
                                                         std::shared_ptr<Instance> instance,
                                                         std::uint64_t epoch) {
  asio::steady_timer timer(control_);
  auto pending = [&] { return instance->standby_epoch == epoch && !instance->stopping; };
  const auto drain_deadline = Clock::now() + options_.drain_timeout;
  while (pending() && instance->routing && instance->routing->inflight.load() > 0 &&
         Clock::now() < drain_deadline) {
    timer.expires_after(10ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  if (!pending()) {
    co_return;  // woken or stopped meanwhile
  }
  auto frozen = instance->cgroup ? instance->cgroup->Freeze()
                                 : Result<void>(Error{ErrorCode::kUnimplemented, "no cgroup"});
  if (!frozen) {
    StopInstance(fn, instance, StrCat("cannot freeze: ", frozen.error().message));
    co_return;
  }
  instance->frozen = true;
  Event(*fn, instance->name, "cgroup frozen");
}

void ProcessProvider::Wake(const std::shared_ptr<Function>& fn,
                           const std::shared_ptr<Instance>& instance) {
  const Clock::time_point requested = Clock::now();
  ++instance->standby_epoch;  // a freeze still waiting for calls to drain stands down
  if (instance->frozen) {
    if (auto thawed = instance->cgroup->Thaw(); !thawed) {
      StopInstance(fn, instance, StrCat("cannot thaw: ", thawed.error().message));
      return;
    }
    instance->frozen = false;
  }
  instance->state = State::kReady;
  // A new routing identity: the gateway's per-replica connection pools and start-up phases
  // follow the Replica object, and this is a start as far as callers can tell.
  const Clock::time_point now = Clock::now();
  instance->routing =
      std::make_shared<Replica>(next_id_++, instance->endpoint, instance->name,
                                instance->max_inflight, StartTimes{requested, requested, now});
  // The event first: once added, the replica may answer a waiting call on another thread
  // before this one goes on.
  Event(*fn, instance->name, "woken from standby");
  fn->set->Add(instance->routing);
}

asio::awaitable<void> ProcessProvider::Drain(std::shared_ptr<Instance> instance) {
  asio::steady_timer timer(control_);
  // In-flight requests finish first (not when the server itself shuts down).
  const auto drain_deadline = Clock::now() + options_.drain_timeout;
  while (!shut_down_ && instance->routing && instance->routing->inflight.load() > 0 &&
         Clock::now() < drain_deadline) {
    timer.expires_after(10ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  if (!instance->child || instance->child->reaped()) {
    co_return;
  }
  ::kill(instance->child->pid(), SIGTERM);
  const auto kill_deadline = Clock::now() + options_.stop_grace;
  while (instance->child && !instance->child->reaped() && Clock::now() < kill_deadline) {
    timer.expires_after(10ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  if (instance->child && !instance->child->reaped()) {
    instance->child->KillTree(SIGKILL);
    if (instance->cgroup) {
      instance->cgroup->KillAll();
    }
  }
}

asio::awaitable<void> ProcessProvider::Supervise(std::shared_ptr<Function> fn,
                                                 std::shared_ptr<Instance> instance,
                                                 std::uint64_t run) {
  ExitStatus status = co_await instance->child->Wait();
  if (instance->run != run) {
    co_return;
  }
  if (instance->state == State::kStarting) {
    fn->starting--;
  }
  if (instance->routing) {
    fn->set->Remove(instance->routing->id);
    instance->routing.reset();
  }
  std::string text = StrCat("replica exited: ", status.ToString());
  if (instance->cgroup) {
    if (instance->cgroup->OomKills() > instance->oom_kills_reported &&
        fn->spec.limits.memory_bytes) {
      text += StrCat(" (out of memory: limit ", FormatBytes(*fn->spec.limits.memory_bytes), ")");
    }
    instance->cgroup->KillAll();
    instance->cgroup.reset();
  }
  instance->child.reset();
  instance->health_pool.reset();
  if (instance->stopping || fn->removed || shut_down_) {
    std::erase(fn->instances, instance);
    Reconcile(fn);
    co_return;
  }
  Event(*fn, instance->name, text);
  // A replica that served for a while starts its backoff afresh.
  if (instance->ready_at > instance->started_at && Clock::now() - instance->ready_at > 60s) {
    instance->restarts = 0;
  }
  instance->restarts++;
  const auto delay =
      std::min<std::chrono::milliseconds>(30s, 250ms * (1 << std::min(instance->restarts - 1, 7)));
  Event(*fn, instance->name,
        StrCat("restarting in ", FormatGoDuration(delay), " (restart ", instance->restarts, ")"));
  instance->state = State::kBackoff;
  instance->backoff = std::make_unique<asio::steady_timer>(control_, delay);
  auto [ec] = co_await instance->backoff->async_wait(kUseAwaitableNoThrow);
  if (ec || instance->stopping || fn->removed || shut_down_) {
    std::erase(fn->instances, instance);
    co_return;
  }
  if (instance->generation != fn->generation) {
    std::erase(fn->instances, instance);  // an update happened meanwhile: let Reconcile decide
    Reconcile(fn);
    co_return;
  }
  StartInstance(fn, instance);
}

asio::awaitable<void> ProcessProvider::CheckHealth(std::shared_ptr<Function> fn,
                                                   std::shared_ptr<Instance> instance,
                                                   std::uint64_t run) {
  std::string path = "/_/health";
  if (auto it = fn->spec.annotations.find("com.openfaas.health.http.path");
      it != fn->spec.annotations.end() && !it->second.empty() && it->second[0] == '/') {
    path = it->second;
  }
  asio::steady_timer timer(control_);
  auto alive = [&] { return instance->run == run && instance->health_pool && !instance->stopping; };
  const auto deadline = instance->started_at + options_.startup_timeout;
  bool ready = false;
  if (instance->ready_pipe) {
    // fwatchdog writes one byte once it serves: no polling, no lag. End of file without it
    // (the replica died, or an fwatchdog that does not notify) falls back to polling.
    std::shared_ptr<asio::posix::stream_descriptor> pipe = std::move(instance->ready_pipe);
    timer.expires_at(deadline);
    timer.async_wait([pipe](const boost::system::error_code& ec) {
      if (!ec) {
        pipe->cancel();
      }
    });
    char byte = 0;
    auto [ec, n] = co_await pipe->async_read_some(asio::buffer(&byte, 1), kUseAwaitableNoThrow);
    timer.cancel();
    ready = !ec && n == 1;
  }
  // Otherwise poll: every millisecond for the first 250 ms (a cold start waits for this; a
  // refused connection costs microseconds), then backing off.
  auto delay = 1ms;
  while (!ready && alive() && Clock::now() < deadline) {
    const bool healthy = co_await ProbeHealth(*instance->health_pool, path);
    if (!alive()) {
      co_return;
    }
    if (healthy) {
      ready = true;
      break;
    }
    timer.expires_after(delay);
    co_await timer.async_wait(kUseAwaitableNoThrow);
    if (Clock::now() - instance->spawned_at > 250ms) {
      delay = std::min<std::chrono::milliseconds>(delay * 3 / 2 + 1ms, 100ms);
    }
  }
  if (!alive()) {
    co_return;
  }
  if (!ready) {
    Event(*fn, instance->name,
          StrCat("not healthy after ", FormatGoDuration(options_.startup_timeout), "; restarting"));
    instance->child->KillTree(SIGKILL);
    co_return;
  }
  fn->starting--;
  instance->state = State::kReady;
  instance->ready_at = Clock::now();
  instance->routing = std::make_shared<Replica>(
      instance->id, instance->endpoint, instance->name, instance->max_inflight,
      StartTimes{instance->started_at, instance->spawned_at, instance->ready_at});
  fn->set->Add(instance->routing);
  const auto startup = std::chrono::duration_cast<std::chrono::milliseconds>(instance->ready_at -
                                                                             instance->started_at);
  FUNCD_DLOG("%s %s ready in %lld ms", fn->key.c_str(), instance->name.c_str(),
             static_cast<long long>(startup.count()));
  Reconcile(fn);  // an update may now retire an old replica

  // Liveness, and the kernel's out-of-memory kills inside the replica's cgroup (a forked
  // process can be killed while the replica itself survives).
  int failures = 0;
  const auto tick = std::min<std::chrono::milliseconds>(options_.health_interval, 1s);
  auto next_check = Clock::now() + options_.health_interval;
  while (alive()) {
    timer.expires_after(tick);
    co_await timer.async_wait(kUseAwaitableNoThrow);
    if (!alive()) {
      co_return;
    }
    if (instance->cgroup) {
      const std::uint64_t kills = instance->cgroup->OomKills();
      if (kills > instance->oom_kills_reported) {
        instance->oom_kills_reported = kills;
        Event(*fn, instance->name,
              StrCat("out of memory: the kernel killed a process of this replica (limit ",
                     fn->spec.limits.memory_bytes ? FormatBytes(*fn->spec.limits.memory_bytes)
                                                  : std::string("none"),
                     ")"));
      }
    }
    if (Clock::now() < next_check || instance->state != State::kReady) {
      continue;  // not due, or on standby (a frozen replica cannot answer)
    }
    next_check = Clock::now() + options_.health_interval;
    const bool healthy = co_await ProbeHealth(*instance->health_pool, path);
    if (!alive()) {
      co_return;
    }
    failures = healthy ? 0 : failures + 1;
    if (failures >= options_.health_failures) {
      Event(*fn, instance->name,
            StrCat("failed ", failures, " health checks in a row; restarting"));
      instance->child->KillTree(SIGKILL);
      co_return;
    }
  }
}

asio::awaitable<void> ProcessProvider::WaitForReplicasToExit() {
  asio::steady_timer timer(control_);
  const auto deadline = Clock::now() + options_.stop_grace + 2s;
  for (;;) {
    bool any = false;
    {
      std::lock_guard lock(mu_);
      for (const auto& [ref, fn] : functions_) {
        any = any || !fn->instances.empty();
      }
    }
    if (!any || Clock::now() >= deadline) {
      co_return;
    }
    timer.expires_after(10ms);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
}

void ProcessProvider::Shutdown() {
  if (shut_down_.exchange(true)) {
    return;
  }
  std::promise<void> stopped;
  auto done = stopped.get_future();
  asio::post(control_, [this] {
    std::lock_guard lock(mu_);
    for (auto& [ref, fn] : functions_) {
      auto instances = fn->instances;
      for (const auto& instance : instances) {
        StopInstance(fn, instance, "server shutting down");
      }
    }
  });
  // Wait (bounded) for every replica process to be gone, then stop the thread.
  asio::co_spawn(control_, WaitForReplicasToExit(),
                 [&stopped](std::exception_ptr) { stopped.set_value(); });
  done.wait();
  work_.reset();
  control_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (cgroups_) {
    cgroups_->RemoveParent();
  }
}

}  // namespace funcd::provider
