#include "provider/process/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <functional>
#include <set>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "provider/process/cgroup_fs.h"

namespace funcd::provider {
namespace {

using Clock = std::chrono::steady_clock;
using cgroup_fs::Canonical;
using cgroup_fs::ErrnoError;
using cgroup_fs::Exists;
using cgroup_fs::Join;
using cgroup_fs::kPollInterval;
using cgroup_fs::kSettleTimeout;
using cgroup_fs::ListSubdirs;
using cgroup_fs::MakeParentDir;
using cgroup_fs::ReadFile;
using cgroup_fs::ReadKeyed;
using cgroup_fs::ReadUint;
using cgroup_fs::ReadWords;
using cgroup_fs::RemoveCgroupDir;
using cgroup_fs::WriteFile;

constexpr std::uint64_t kDefaultCfsPeriodUs = 100000;
constexpr std::uint64_t kMinCfsQuotaUs = 1000;  // the kernel refuses less
constexpr std::uint64_t kMaxCpuMillis = 1000000000;

// Replica and parent names: one path component of a conservative alphabet.
bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name[0] == '.') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// funcd's parent directory per role; "" where the role is not usable. Immutable once detected.
struct Hierarchies {
  CgroupLayout layout = CgroupLayout::kNone;
  std::string memory, cpu, pids, freezer;  // kV2: all equal to `unified` when enabled
  // kV2: the one parent. kV1: the parent in the v2 tree mounted beside the v1 controllers,
  // used for cgroup.kill (and cgroup.freeze without a v1 freezer); "" if none.
  std::string unified;
  bool unified_kill = false;
  bool unified_freeze = false;

  bool v2() const { return layout == CgroupLayout::kV2; }
  // Distinct parent directories: each replica has one directory in each.
  std::vector<std::string> ParentDirs() const {
    std::vector<std::string> dirs;
    for (const std::string* dir : {&unified, &memory, &cpu, &pids, &freezer}) {
      if (!dir->empty() && std::find(dirs.begin(), dirs.end(), *dir) == dirs.end()) {
        dirs.push_back(*dir);
      }
    }
    return dirs;
  }
};

// ---------------------------------------------------------------- one cgroup

class CgroupImpl final : public Cgroup {
 public:
  // Makes NAME in every parent directory, then applies the limits.
  static Result<std::unique_ptr<CgroupImpl>> Create(const Hierarchies& h, std::string name,
                                                    const ResourceLimits& limits) {
    std::unique_ptr<CgroupImpl> cgroup(new CgroupImpl(h, std::move(name)));
    for (const std::string& parent : h.ParentDirs()) {
      std::string dir = Join(parent, cgroup->name_);
      if (::mkdir(dir.c_str(), 0755) != 0) {
        return ErrnoError(errno, StrCat("mkdir ", dir));  // removes the ones made so far
      }
      cgroup->Track(std::move(dir));
    }
    FUNCD_RETURN_IF_ERROR(cgroup->ApplyLimits(limits));
    return cgroup;
  }

  // Takes over whatever directories of NAME exist (a previous run's leftovers).
  static std::unique_ptr<CgroupImpl> Adopt(const Hierarchies& h, std::string name) {
    std::unique_ptr<CgroupImpl> cgroup(new CgroupImpl(h, std::move(name)));
    for (const std::string& parent : h.ParentDirs()) {
      std::string dir = Join(parent, cgroup->name_);
      if (Exists(dir)) {
        cgroup->Track(std::move(dir));
      }
    }
    return cgroup;
  }

  CgroupImpl(const CgroupImpl&) = delete;
  CgroupImpl& operator=(const CgroupImpl&) = delete;

  ~CgroupImpl() override {
    KillAll();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      RemoveCgroupDir(*it);
    }
  }

  const std::vector<std::string>& procs_files() const override { return procs_files_; }

  Result<void> AddProcess(pid_t pid) override {
    for (const std::string& file : procs_files_) {
      FUNCD_RETURN_IF_ERROR(WriteFile(file, StrCat(pid)));
    }
    return Ok();
  }

  std::vector<pid_t> Processes() const override {
    std::set<pid_t> pids;
    for (const std::string& file : procs_files_) {
      const std::string text = ReadFile(file).value_or("");
      for (std::string_view line : Split(text, '\n')) {
        auto pid = ParseInt(TrimSpace(line));
        if (pid && *pid > 0 && *pid <= INT_MAX) {  // never 0 or -1: kill() would widen
          pids.insert(static_cast<pid_t>(*pid));
        }
      }
    }
    return {pids.begin(), pids.end()};
  }

  void KillAll() override {
    bool signalled = false;
    if (h_.unified_kill && !h_.unified.empty()) {
      signalled = WriteFile(Join(Dir(h_.unified), "cgroup.kill"), "1").has_value();
    }
    // Without cgroup.kill, freeze first (v1 freezer) so that no process forks while we
    // signal. Tasks of a frozen v1 cgroup (frozen here or by the owner) die only once thawed.
    const bool v1_freezer = !h_.freezer.empty() && !h_.v2();
    if (!signalled && v1_freezer) {
      (void)Freeze();
    }
    bool thawed = !v1_freezer;
    const auto deadline = Clock::now() + kSettleTimeout;
    for (;;) {
      const std::vector<pid_t> pids = Processes();
      if (pids.empty()) {
        break;
      }
      for (pid_t pid : pids) {
        ::kill(pid, SIGKILL);
      }
      if (!thawed) {
        thawed = Thaw().has_value();
      }
      if (Clock::now() > deadline) {
        LogAt(LogLevel::kWarning, "cgroup %s: %zu processes left after SIGKILL", name_.c_str(),
              pids.size());
        break;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    if (!thawed) {
      (void)Thaw();
    }
  }

  std::uint64_t MemoryBytes() const override {
    if (h_.memory.empty()) {
      return 0;
    }
    const char* file = h_.v2() ? "memory.current" : "memory.usage_in_bytes";
    return ReadUint(Join(Dir(h_.memory), file)).value_or(0);
  }

  std::uint64_t OomKills() const override {
    if (h_.memory.empty()) {
      return 0;
    }
    const char* file = h_.v2() ? "memory.events" : "memory.oom_control";
    return ReadKeyed(Join(Dir(h_.memory), file), "oom_kill").value_or(0);
  }

  Result<void> Freeze() override { return SetFrozen(true); }
  Result<void> Thaw() override { return SetFrozen(false); }

 private:
  CgroupImpl(const Hierarchies& h, std::string name) : h_(h), name_(std::move(name)) {}

  std::string Dir(const std::string& parent) const { return Join(parent, name_); }

  void Track(std::string dir) {
    procs_files_.push_back(Join(dir, "cgroup.procs"));
    dirs_.push_back(std::move(dir));
  }

  Result<void> ApplyLimits(const ResourceLimits& limits) {
    if (limits.memory_bytes && !h_.memory.empty()) {
      const std::string dir = Dir(h_.memory);
      const std::string bytes = StrCat(*limits.memory_bytes);
      // As on Kubernetes, swap does not stretch the limit.
      if (h_.v2()) {
        FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "memory.max"), bytes));
        if (Exists(Join(dir, "memory.swap.max"))) {
          FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "memory.swap.max"), "0"));
        }
      } else {
        FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "memory.limit_in_bytes"), bytes));
        // Present with swap accounting; must not be below memory.limit_in_bytes.
        if (Exists(Join(dir, "memory.memsw.limit_in_bytes"))) {
          FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "memory.memsw.limit_in_bytes"), bytes));
        }
      }
    }
    if (limits.cpu_millis && !h_.cpu.empty()) {
      const std::string dir = Dir(h_.cpu);
      const std::uint64_t millis = std::min(*limits.cpu_millis, kMaxCpuMillis);
      if (h_.v2()) {
        const std::uint64_t quota = std::max(kMinCfsQuotaUs, millis * kDefaultCfsPeriodUs / 1000);
        FUNCD_RETURN_IF_ERROR(
            WriteFile(Join(dir, "cpu.max"), StrCat(quota, " ", kDefaultCfsPeriodUs)));
      } else {
        const std::uint64_t period =
            ReadUint(Join(dir, "cpu.cfs_period_us")).value_or(kDefaultCfsPeriodUs);
        const std::uint64_t quota = std::max(kMinCfsQuotaUs, millis * period / 1000);
        FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "cpu.cfs_quota_us"), StrCat(quota)));
      }
    }
    if (limits.pids && !h_.pids.empty()) {
      FUNCD_RETURN_IF_ERROR(WriteFile(Join(Dir(h_.pids), "pids.max"), StrCat(*limits.pids)));
    }
    return Ok();
  }

  // Freezing is asynchronous in both layouts: write the request, then wait until the kernel
  // reports the state (v1 freezer.state; v2 the "frozen" key of cgroup.events).
  Result<void> SetFrozen(bool frozen) {
    std::string state_file;
    std::function<bool()> done;
    if (!h_.freezer.empty() && !h_.v2()) {
      state_file = Join(Dir(h_.freezer), "freezer.state");
      const std::string_view want = frozen ? "FROZEN" : "THAWED";
      FUNCD_RETURN_IF_ERROR(WriteFile(state_file, want));
      done = [&state_file, want] { return TrimSpace(ReadFile(state_file).value_or("")) == want; };
    } else if (h_.unified_freeze && !h_.unified.empty()) {
      const std::string dir = Dir(h_.unified);
      FUNCD_RETURN_IF_ERROR(WriteFile(Join(dir, "cgroup.freeze"), frozen ? "1" : "0"));
      state_file = Join(dir, "cgroup.events");
      done = [&state_file, frozen] {
        auto state = ReadKeyed(state_file, "frozen");
        return !state || (*state == 1) == frozen;  // no cgroup.events: nothing to wait for
      };
    } else {
      return Unexpected(ErrorCode::kUnimplemented, "no freezer for cgroup " + name_);
    }
    const auto deadline = Clock::now() + kSettleTimeout;
    while (!done()) {
      if (Clock::now() > deadline) {
        return Unexpected(ErrorCode::kDeadlineExceeded,
                          StrCat("cgroup ", name_, ": ", frozen ? "freeze" : "thaw",
                                 " did not complete (", state_file, ")"));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    return Ok();
  }

  const Hierarchies h_;
  const std::string name_;
  std::vector<std::string> dirs_;  // directories this object removes on destruction
  std::vector<std::string> procs_files_;
};

// ---------------------------------------------------------------- manager

class CgroupManagerImpl final : public CgroupManager {
 public:
  CgroupManagerImpl(Hierarchies h, std::string description)
      : h_(std::move(h)), description_(std::move(description)) {}

  CgroupLayout layout() const override { return h_.layout; }

  bool Supports(std::string_view controller) const override {
    if (controller == "memory") {
      return !h_.memory.empty();
    }
    if (controller == "cpu") {
      return !h_.cpu.empty();
    }
    if (controller == "pids") {
      return !h_.pids.empty();
    }
    if (controller == "freezer") {
      return !h_.freezer.empty() || h_.unified_freeze;
    }
    return false;
  }

  std::string Describe() const override { return description_; }

  Result<std::unique_ptr<Cgroup>> Create(std::string_view name,
                                         const ResourceLimits& limits) override {
    if (!IsValidName(name)) {
      return Unexpected(ErrorCode::kInvalidArgument, StrCat("bad cgroup name \"", name, "\""));
    }
    if (h_.layout == CgroupLayout::kNone) {
      return Unexpected(ErrorCode::kUnavailable, description_);
    }
    FUNCD_ASSIGN_OR_RETURN(auto cgroup, CgroupImpl::Create(h_, std::string(name), limits));
    return std::unique_ptr<Cgroup>(std::move(cgroup));
  }

  void CleanupStale() override {
    std::set<std::string> names;
    for (const std::string& parent : h_.ParentDirs()) {
      for (std::string& name : ListSubdirs(parent)) {
        names.insert(std::move(name));
      }
    }
    for (const std::string& name : names) {
      Logf("cgroup: removing stale %s", name.c_str());
      CgroupImpl::Adopt(h_, name).reset();  // kills what is inside, removes the directories
    }
  }

  void RemoveParent() override {
    CleanupStale();
    for (const std::string& parent : h_.ParentDirs()) {
      ::rmdir(parent.c_str());  // fails harmlessly while a replica is still inside
    }
  }

 private:
  const Hierarchies h_;
  const std::string description_;
};

// ---------------------------------------------------------------- detection

void AddNote(std::string& notes, std::string_view note) {
  StrAppend(notes, notes.empty() ? "" : "; ", note);
}

// Enables `controllers` in a v2 cgroup.subtree_control: all at once, else one by one so
// that one refusal does not cost the others.
void EnableControllers(const std::string& file, const std::vector<std::string>& controllers,
                       std::string& notes) {
  const std::set<std::string> enabled = ReadWords(file);
  std::vector<std::string> missing;
  for (const std::string& c : controllers) {
    if (!enabled.contains(c)) {
      missing.push_back(c);
    }
  }
  std::string all;
  for (const std::string& c : missing) {
    StrAppend(all, all.empty() ? "+" : " +", c);
  }
  if (missing.empty() || WriteFile(file, all).has_value()) {
    return;
  }
  for (const std::string& c : missing) {
    if (auto written = WriteFile(file, "+" + c); !written) {
      AddNote(notes, written.error().message);
    }
  }
}

void DetectV2(const std::string& root, const std::string& parent, Hierarchies& h,
              std::string& notes) {
  const std::set<std::string> available = ReadWords(Join(root, "cgroup.controllers"));
  std::vector<std::string> wanted;
  for (const char* c : {"cpu", "memory", "pids"}) {
    if (available.contains(c)) {
      wanted.emplace_back(c);
    }
  }
  EnableControllers(Join(root, "cgroup.subtree_control"), wanted, notes);
  const std::string dir = Join(root, parent);
  if (auto made = MakeParentDir(dir); !made) {
    AddNote(notes, made.error().message);
    return;
  }
  std::erase_if(wanted, [&](const std::string& c) {
    return !ReadWords(Join(root, "cgroup.subtree_control")).contains(c);
  });
  EnableControllers(Join(dir, "cgroup.subtree_control"), wanted, notes);
  const std::set<std::string> enabled = ReadWords(Join(dir, "cgroup.subtree_control"));
  h.layout = CgroupLayout::kV2;
  h.unified = Canonical(dir);
  h.memory = enabled.contains("memory") ? h.unified : "";
  h.cpu = enabled.contains("cpu") ? h.unified : "";
  h.pids = enabled.contains("pids") ? h.unified : "";
  h.unified_kill = Exists(Join(dir, "cgroup.kill"));
  h.unified_freeze = Exists(Join(dir, "cgroup.freeze"));
}

void DetectV1(const std::string& root, const std::string& parent, Hierarchies& h,
              std::string& notes) {
  struct Controller {
    const char* name;
    const char* control_file;  // proves the controller works in a non-root cgroup
    std::string Hierarchies::*role;
  };
  static const Controller kControllers[] = {
      {"memory", "memory.limit_in_bytes", &Hierarchies::memory},
      {"cpu", "cpu.cfs_quota_us", &Hierarchies::cpu},
      {"pids", "pids.max", &Hierarchies::pids},
      {"freezer", "freezer.state", &Hierarchies::freezer}};
  for (const Controller& c : kControllers) {
    const std::string hierarchy = Join(root, c.name);
    if (!Exists(Join(hierarchy, "cgroup.procs")) || Exists(Join(hierarchy, "cgroup.controllers"))) {
      AddNote(notes, StrCat(c.name, ": not mounted"));
      continue;
    }
    const std::string dir = Join(hierarchy, parent);
    if (auto made = MakeParentDir(dir); !made) {
      AddNote(notes, made.error().message);
      continue;
    }
    if (!Exists(Join(dir, c.control_file))) {
      AddNote(notes, StrCat(c.name, ": no ", c.control_file));
      continue;
    }
    // Combined mounts (cpu -> cpu,cpuacct) resolve to one directory.
    h.*c.role = Canonical(dir);
  }
  if (h.memory.empty() && h.cpu.empty() && h.pids.empty() && h.freezer.empty()) {
    return;
  }
  h.layout = CgroupLayout::kV1;
  // The hybrid layout mounts a controller-less v2 tree beside the v1 ones; its cgroup.kill
  // kills a whole tree atomically.
  const std::string unified = Join(root, "unified");
  const std::string dir = Join(unified, parent);
  if (Exists(Join(unified, "cgroup.controllers")) && MakeParentDir(dir).has_value()) {
    h.unified_kill = Exists(Join(dir, "cgroup.kill"));
    h.unified_freeze = Exists(Join(dir, "cgroup.freeze"));
    if (h.unified_kill || h.unified_freeze) {
      h.unified = Canonical(dir);
    }
  }
}

std::string Description(const Hierarchies& h, const std::string& notes) {
  if (h.layout == CgroupLayout::kNone) {
    return StrCat("cgroups: none usable (", notes.empty() ? "nothing mounted" : notes, ")");
  }
  std::string text = h.v2() ? "cgroup v2:" : "cgroup v1:";
  for (const auto& [name, dir] : {std::pair{"memory", &h.memory}, std::pair{"cpu", &h.cpu},
                                  std::pair{"pids", &h.pids}, std::pair{"freezer", &h.freezer}}) {
    if (!dir->empty()) {
      StrAppend(text, " ", name);
    }
  }
  if (!h.unified.empty()) {
    StrAppend(text, h.v2() ? "" : " (v2 tree:", h.unified_kill ? " cgroup.kill" : "",
              h.unified_freeze ? " cgroup.freeze" : "", h.v2() ? "" : ")");
  }
  if (!notes.empty()) {
    StrAppend(text, "; ", notes);
  }
  return text;
}

}  // namespace

std::unique_ptr<CgroupManager> CgroupManager::Detect(std::string root, std::string parent) {
  Hierarchies h;
  std::string notes;
  if (!IsValidName(parent)) {
    notes = StrCat("bad parent name \"", parent, "\"");
  } else if (Exists(Join(root, "cgroup.controllers"))) {
    DetectV2(root, parent, h, notes);
  } else {
    DetectV1(root, parent, h, notes);
  }
  std::string description = Description(h, notes);
  return std::make_unique<CgroupManagerImpl>(std::move(h), std::move(description));
}

}  // namespace funcd::provider
