#pragma once

// Runs function replicas. The gateway drives it (deploy, update, scale, remove) and reads
// from it (replica counts, the replica set requests are routed to, logs). Implementations
// run their work on a thread of their own; every method here is thread-safe and returns
// without waiting for replicas to start or stop.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/result.h"
#include "provider/log_store.h"
#include "provider/process/cgroup.h"
#include "provider/replica_set.h"

namespace funcd::provider {

struct FunctionRef {
  std::string namespace_name;
  std::string name;
  // "name.namespace", the key of metrics and logs.
  std::string Key() const { return name + "." + namespace_name; }
  bool operator<(const FunctionRef& o) const {
    return std::tie(namespace_name, name) < std::tie(o.namespace_name, o.name);
  }
  bool operator==(const FunctionRef& o) const = default;
};

// What a replica runs, derived from the deployment.
struct FunctionSpec {
  FunctionRef ref;
  std::string image;
  std::string env_process;
  std::map<std::string, std::string> env_vars;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> secrets;
  ResourceLimits limits;
  bool read_only_root_filesystem = false;
  std::int64_t replicas = 1;  // desired
};

struct ReplicaCounts {
  std::int64_t desired = 0;
  std::int64_t ready = 0;     // in the replica set
  std::int64_t starting = 0;  // started, not ready yet
};

class Provider {
 public:
  virtual ~Provider() = default;

  // "funcd" and "process" (contracts: ProviderInfo).
  virtual std::string_view name() const = 0;
  virtual std::string_view orchestration() const = 0;

  // Checks what only the runtime can (the image resolves to something runnable, limits are
  // enforceable, secrets exist). Errors: kInvalidArgument with a message for the caller.
  virtual Result<void> Validate(const FunctionSpec& spec) const = 0;
  // Creates the function or replaces its replicas with ones of the new spec, one by one
  // (each new replica ready before an old one stops).
  virtual void Apply(FunctionSpec spec) = 0;
  virtual void Scale(const FunctionRef& fn, std::int64_t replicas) = 0;
  // Stops and forgets every replica of the function.
  virtual void Remove(const FunctionRef& fn) = 0;

  virtual ReplicaCounts Counts(const FunctionRef& fn) const = 0;
  // The set requests for `fn` are routed to; the same object for the life of the function.
  // nullptr when the provider does not know the function.
  virtual std::shared_ptr<ReplicaSet> Replicas(const FunctionRef& fn) const = 0;
  virtual LogStore& logs() = 0;
  // CPU time used so far by the function's running replicas, in seconds (0 when unknown).
  virtual double CpuSeconds(const FunctionRef& fn) const = 0;

  // Stops every replica; waits (bounded) for them to exit. Call once, at shutdown.
  virtual void Shutdown() = 0;
};

}  // namespace funcd::provider
