#pragma once

// File-system helpers for the store's secret values: name checks that keep every path inside
// the secrets directory, private directories, and durable atomic writes. All functions are
// stateless and thread-compatible; failures of the file system are kUnavailable with the
// path and strerror text.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::store::internal {

// Temporary files of WriteFileAtomically start with this prefix (followed by six random
// characters), in the directory of the file they will replace.
inline constexpr std::string_view kTempFilePrefix = ".tmp-";

// kInvalidArgument unless `name` is usable as a single path component: non-empty, without
// '/' or NUL, and neither "." nor "..". `kind` names it in the message ("secret name").
Result<void> ValidatePathComponent(std::string_view kind, std::string_view name);

// Creates `path` and any missing parents with `mode` (before umask). Existing directories
// are left as they are. Errors: kUnavailable.
Result<void> MakeDirectories(const std::string& path, mode_t mode);

// Creates `path` with mode 0700 if missing (and fsyncs its parent, so the new entry survives
// a crash), then makes sure its mode is exactly 0700 whatever the umask or a previous owner
// did. REQUIRES: the parent exists. Errors: kUnavailable.
Result<void> EnsurePrivateDirectory(const std::string& path);

// Replaces `dir`/`name` with `value` atomically and durably: writes a 0600 temporary file in
// `dir`, fsyncs it, renames it over `name` and fsyncs `dir`. On failure the previous file
// (if any) is unchanged and the temporary file is removed. Errors: kUnavailable.
Result<void> WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::string_view value);

// The whole content of `path`. Refuses to follow a symbolic link in the last component.
// Errors: kNotFound (no such file), kUnavailable.
Result<std::string> ReadWholeFile(const std::string& path);

// Removes `dir`/`name` if present and fsyncs `dir`. Errors: kUnavailable.
Result<void> RemoveFileDurably(const std::string& dir, const std::string& name);

// An entry of a directory listing.
struct DirectoryEntry {
  std::string name;
  bool is_directory = false;
};

// The entries of `dir`, "." and ".." excluded, in no particular order. A missing `dir` has
// no entries. Errors: kUnavailable.
Result<std::vector<DirectoryEntry>> ReadDirectory(const std::string& dir);

}  // namespace funcd::store::internal
