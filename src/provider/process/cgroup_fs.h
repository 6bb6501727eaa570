#pragma once

// Internal to cgroup.cc: reading and writing cgroupfs files and directories. The functions
// work the same on a tree of regular files, which is how the unit tests fake a v2 machine.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::provider::cgroup_fs {

// How long to wait for the kernel to finish freezing, or for killed processes to leave, and
// how often to look meanwhile.
inline constexpr auto kSettleTimeout = std::chrono::seconds(2);
inline constexpr auto kPollInterval = std::chrono::milliseconds(1);

std::string Join(std::string_view dir, std::string_view name);
bool Exists(const std::string& path);

// An Error for errno `err`: EACCES/EPERM/EROFS/EBUSY -> kUnavailable, EINVAL/ERANGE ->
// kInvalidArgument, ENOENT/ESRCH -> kNotFound, EEXIST -> kAlreadyExists, else kInternal.
Error ErrnoError(int err, std::string_view what);

// Writes `value` with a single write(2), as cgroup control files require.
Result<void> WriteFile(const std::string& path, std::string_view value);
// nullopt when the file cannot be read.
std::optional<std::string> ReadFile(const std::string& path);
// A file holding one unsigned number.
std::optional<std::uint64_t> ReadUint(const std::string& path);
// The value of "KEY N" in a flat keyed file (memory.events, memory.oom_control).
std::optional<std::uint64_t> ReadKeyed(const std::string& path, std::string_view key);
// Whitespace-separated words without a leading '+' (cgroup.controllers, subtree_control).
std::set<std::string> ReadWords(const std::string& path);
// Names of the subdirectories of `dir` (child cgroups).
std::vector<std::string> ListSubdirs(const std::string& dir);

// Creates `dir` unless it exists. Errors: see ErrnoError.
Result<void> MakeParentDir(const std::string& dir);
// Removes a cgroup directory and its child cgroups, waiting up to kSettleTimeout for
// processes to leave; logs a warning when it cannot.
void RemoveCgroupDir(const std::string& dir);
// realpath(), or `path` itself when that fails.
std::string Canonical(const std::string& path);

}  // namespace funcd::provider::cgroup_fs
