#pragma once

// Child processes driven from an io_context: spawned with posix_spawn (vfork-fast), in their
// own process group, with pipes wrapped as Asio descriptors and exit observed through a pidfd
// (opened only when the child is still running once its owner waits for it).

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"

namespace funcd {

// How a process ended, formatted as Go's os/exec does ("exit status 1", "signal: killed").
struct ExitStatus {
  int code = 0;    // exit code when `signal` is 0
  int signal = 0;  // the signal that ended the process, or 0
  bool ok() const { return signal == 0 && code == 0; }
  std::string ToString() const;
};

enum class Stdio {
  kInherit,  // the parent's descriptor
  kPipe,     // a pipe to the parent
  kNull,     // /dev/null
  kStdout,   // stderr only: the same descriptor as stdout
};

struct SpawnOptions {
  std::vector<std::string> argv;                // argv[0] is looked up in PATH
  std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits ours
  Stdio stdin_mode = Stdio::kPipe;
  Stdio stdout_mode = Stdio::kPipe;
  Stdio stderr_mode = Stdio::kPipe;
  std::string working_dir;  // empty: ours
  // Descriptors handed to the child at fixed numbers: {parent fd, child fd}, child fds >= 3.
  std::vector<std::pair<int, int>> inherit_fds;
  // Files (cgroup.procs) the child writes its pid into before it execs, so that nothing it
  // starts escapes the cgroup. A failure to join is a spawn error.
  std::vector<std::string> join_cgroups;
  // The child is killed (SIGKILL) if the thread that spawned it exits.
  bool die_with_parent = false;
  // Switch to this uid and gid (no supplementary groups) after joining the cgroups, before
  // exec. REQUIRES: the caller may change credentials (root).
  std::optional<uid_t> run_as_uid;
  std::optional<gid_t> run_as_gid;
};

// A running (or exited) child process. Move-only. Not thread-safe: use it from the thread
// that runs its executor.
//
// Destruction of a child that has not been reaped kills its whole process group with
// SIGKILL and reaps it (a short blocking wait), so no process outlives its owner.
class ChildProcess {
 public:
  using Pipe = asio::posix::stream_descriptor;

  // Uses posix_spawn, or fork + exec when inherit_fds, join_cgroups or die_with_parent ask
  // for work between the two. Errors: kNotFound (no such executable), kPermissionDenied,
  // kUnavailable (cannot join a cgroup), kInternal.
  static Result<ChildProcess> Spawn(const asio::any_io_executor& executor,
                                    const SpawnOptions& options);

  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The pipes requested with Stdio::kPipe; others are closed descriptors.
  Pipe& stdin_pipe() { return *stdin_; }
  Pipe& stdout_pipe() { return *stdout_; }
  Pipe& stderr_pipe() { return *stderr_; }
  void CloseStdin();

  // Completes when the child has exited; reaps it. Kills what is left of its process group
  // first (a request's processes do not outlive it). Call at most once.
  asio::awaitable<ExitStatus> Wait();
  bool reaped() const { return reaped_; }

  // Sends `signal` to the child's process group and to every descendant that left it.
  void KillTree(int signal);

 private:
  ChildProcess(asio::any_io_executor executor, pid_t pid);
  static Result<ChildProcess> SpawnForked(const asio::any_io_executor& executor,
                                          const SpawnOptions& options);
  void ReapBlocking();

  asio::any_io_executor executor_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<Pipe> stdin_;
  std::optional<Pipe> stdout_;
  std::optional<Pipe> stderr_;
};

// Pids of all descendants of `root` (children, grandchildren, ...), from /proc.
std::vector<pid_t> DescendantsOf(pid_t root);

// Splits a command line on single spaces, as the OpenFaaS watchdogs do (no shell, no quotes).
std::vector<std::string> SplitCommand(std::string_view command);

}  // namespace funcd
