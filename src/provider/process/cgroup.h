#pragma once

// Resource limits of a replica through Linux cgroups: memory, CPU quota and pid count.
// Supports the v1 layout (one hierarchy per controller, as on the development machines) and
// the v2 unified layout; detects which controllers are usable. A replica's process tree is
// tracked and killed as a whole through its cgroup.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::provider {

struct ResourceLimits {
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> cpu_millis;  // 1000 = one CPU
  std::optional<std::uint64_t> pids;
};

// Kubernetes quantities. Memory: "128Mi", "1Gi", "500M", "1e6", "1048576" -> bytes.
// CPU: "100m", "0.5", "2" -> millicpus. Fractions round up, as Kubernetes' Value() and
// MilliValue() do. Errors: kInvalidArgument naming the bad text (also negative, empty, or
// beyond 2^64-1).
Result<std::uint64_t> ParseMemoryQuantity(std::string_view text);
Result<std::uint64_t> ParseCpuQuantity(std::string_view text);

enum class CgroupLayout { kNone, kV1, kV2 };

// One replica's cgroup (one directory per v1 controller, or one v2 directory). Move-only.
// Destruction kills every process still inside and removes the directories. Methods only
// read and write cgroup files; use from one thread at a time. KillAll, Freeze, Thaw and
// destruction wait for the kernel to finish (normally well under a millisecond; at most
// about 2 s).
class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // The cgroup.procs files a new process must be written into (before it execs, so that
  // nothing it starts escapes the limits).
  virtual const std::vector<std::string>& procs_files() const = 0;
  virtual Result<void> AddProcess(pid_t pid) = 0;
  virtual std::vector<pid_t> Processes() const = 0;
  // SIGKILLs every process (v2: cgroup.kill when present; otherwise until none are left).
  virtual void KillAll() = 0;
  // Current memory use in bytes, and how often the memory limit killed a process (OOM kills)
  // since creation; 0 when unknown.
  virtual std::uint64_t MemoryBytes() const = 0;
  virtual std::uint64_t OomKills() const = 0;
  // Freezes / thaws every process (freezer controller or v2 cgroup.freeze). kUnimplemented
  // when neither exists.
  virtual Result<void> Freeze() = 0;
  virtual Result<void> Thaw() = 0;
};

class CgroupManager {
 public:
  // Looks at `root` (normally /sys/fs/cgroup) and `parent` (the subtree funcd owns, created
  // under each controller, e.g. "funcd"; one path component). Creates the parent directories
  // and, on v2, enables the memory, cpu and pids controllers in root's and parent's
  // cgroup.subtree_control. Never fails: what is unusable shows in layout(), Supports() and
  // Describe(). The manager is immutable afterwards and thread-safe.
  static std::unique_ptr<CgroupManager> Detect(std::string root = "/sys/fs/cgroup",
                                               std::string parent = "funcd");
  virtual ~CgroupManager() = default;

  virtual CgroupLayout layout() const = 0;
  // Which limits can be enforced here ("memory", "cpu", "pids", "freezer").
  virtual bool Supports(std::string_view controller) const = 0;
  // A one-line description for the start-up log ("cgroup v1: memory cpu pids freezer").
  virtual std::string Describe() const = 0;
  // Creates PARENT/NAME under every usable controller and applies the limits that apply.
  // Limits whose controller is missing are skipped (Supports() tells). Errors: kUnavailable
  // (no permission, or layout() is kNone), kInvalidArgument (bad name, or a limit the kernel
  // refuses), kAlreadyExists (NAME exists: a live replica, or a leftover CleanupStale removes).
  // Names are one path component of [A-Za-z0-9._-], not starting with '.'.
  virtual Result<std::unique_ptr<Cgroup>> Create(std::string_view name,
                                                 const ResourceLimits& limits) = 0;
  // Removes leftover replica cgroups from a previous run (after a crash), killing what is
  // inside.
  virtual void CleanupStale() = 0;
  // Kills what is left and removes the parent directories themselves (at shutdown).
  virtual void RemoveParent() = 0;
};

}  // namespace funcd::provider
