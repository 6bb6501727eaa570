#pragma once

// The process runtime: each replica is fwatchdog in a bubblewrap sandbox (own user, pid,
// mount, ipc and uts namespaces; read-only root; private /tmp; secrets as read-only files;
// no capabilities; an unprivileged uid), in a cgroup of its own for memory, CPU and pid
// limits, serving on a loopback listening socket that the runtime creates and hands over
// (so it is connectable from the moment the replica is spawned). A replica is ready when
// its health path answers 200; one that exits or fails its health checks is restarted with
// exponential backoff; its output goes to the LogStore.
//
// All replica work happens on one thread owned by the provider; the Provider methods are
// thread-safe and return at once.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/asio.h"
#include "provider/process/cgroup.h"
#include "provider/provider.h"

namespace funcd::provider {

struct ProcessProviderOptions {
  std::string packages_dir;     // the package store (STATE_DIR/packages)
  std::string run_dir;          // per-replica scratch space (STATE_DIR/run)
  std::string fwatchdog;        // the fwatchdog binary
  std::string bwrap = "bwrap";  // bubblewrap; "" runs replicas without a sandbox
  bool host_images = false;
  int sandbox_uid = 12000;
  // Reads a secret's value for a replica (the state store).
  std::function<Result<std::string>(const std::string& namespace_name, const std::string& name)>
      read_secret;
  std::chrono::milliseconds startup_timeout{60000};  // not healthy by then: restarted
  std::chrono::milliseconds health_interval{5000};   // liveness checks once ready
  int health_failures = 3;                           // consecutive failures before a restart
  std::chrono::milliseconds drain_timeout{30000};    // in-flight requests of a stopping replica
  std::chrono::milliseconds stop_grace{5000};        // SIGTERM to SIGKILL
};

class ProcessProvider final : public Provider {
 public:
  // `cgroups` may be null (no limits enforced).
  ProcessProvider(ProcessProviderOptions options, std::unique_ptr<CgroupManager> cgroups);
  ~ProcessProvider() override;

  std::string_view name() const override { return "funcd"; }
  std::string_view orchestration() const override { return "process"; }
  Result<void> Validate(const FunctionSpec& spec) const override;
  void Apply(FunctionSpec spec) override;
  void Scale(const FunctionRef& fn, std::int64_t replicas) override;
  void Remove(const FunctionRef& fn) override;
  ReplicaCounts Counts(const FunctionRef& fn) const override;
  std::shared_ptr<ReplicaSet> Replicas(const FunctionRef& fn) const override;
  LogStore& logs() override { return logs_; }
  double CpuSeconds(const FunctionRef& fn) const override;
  void Shutdown() override;

  // For tests and metrics: the pids of a function's running replica processes.
  std::vector<int> ReplicaPids(const FunctionRef& fn) const;

 private:
  struct Function;
  struct Instance;

  void Reconcile(const std::shared_ptr<Function>& fn);
  void StartInstance(const std::shared_ptr<Function>& fn, std::shared_ptr<Instance> instance);
  void StopInstance(const std::shared_ptr<Function>& fn, const std::shared_ptr<Instance>& instance,
                    std::string reason);
  asio::awaitable<void> Supervise(std::shared_ptr<Function> fn, std::shared_ptr<Instance> instance,
                                  std::uint64_t run);
  asio::awaitable<void> CheckHealth(std::shared_ptr<Function> fn,
                                    std::shared_ptr<Instance> instance, std::uint64_t run);
  asio::awaitable<void> Drain(std::shared_ptr<Instance> instance);
  // Standby (annotation com.funcd.standby=frozen): at zero desired replicas one ready replica
  // leaves the replica set and is frozen once its calls are done, instead of stopped; Wake
  // thaws it and puts it back when replicas are wanted again.
  void Standby(const std::shared_ptr<Function>& fn, const std::shared_ptr<Instance>& instance);
  asio::awaitable<void> FreezeWhenDrained(std::shared_ptr<Function> fn,
                                          std::shared_ptr<Instance> instance, std::uint64_t epoch);
  void Wake(const std::shared_ptr<Function>& fn, const std::shared_ptr<Instance>& instance);
  asio::awaitable<void> WaitForReplicasToExit();
  void Event(const Function& fn, const std::string& instance, const std::string& text);

  const ProcessProviderOptions options_;
  std::unique_ptr<CgroupManager> cgroups_;
  LogStore logs_;
  asio::io_context control_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  mutable std::mutex mu_;  // guards functions_
  std::map<FunctionRef, std::shared_ptr<Function>> functions_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<bool> shut_down_{false};
};

}  // namespace funcd::provider
