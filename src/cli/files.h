#pragma once

// File helpers for the client commands: whole-file reads and atomic writes, directory trees.
// Errors name the path and the system's reason.

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::cli {

// Errors: kNotFound (missing), kPermissionDenied, kInternal.
Result<std::string> ReadFile(const std::string& path);

// Writes `content` to a temporary file beside `path` with `mode`, then renames it over `path`:
// readers see the old or the new file, never a partial one.
Result<void> WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode);

// Creates `path` and missing parents with `mode` (existing directories are left alone).
Result<void> MakeDirs(const std::string& path, unsigned mode);

bool IsDirectory(const std::string& path);
bool PathExists(const std::string& path);  // without following a final symlink

// "a/b" + "c" -> "a/b/c"; an absolute `relative` is returned as is.
std::string JoinPath(std::string_view base, std::string_view relative);
// "a/b/c" -> "a/b"; "c" -> ".".
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

// Copies the tree under `from` into `to` (created if needed): regular files (with their
// permission bits), directories and symlinks (as symlinks). `skip` gets each path relative
// to `from` and may exclude it (and, for a directory, everything below).
Result<void> CopyTree(const std::string& from, const std::string& to,
                      const std::function<bool(const std::string& relative)>& skip = nullptr);

// Removes `path` and everything below it; a missing path is not an error.
void RemoveTree(const std::string& path);

// Sets directories to 0755 and files to 0755 (any execute bit) or 0644, below and at `root`
// (symlinks are left alone), so that any uid can read what is there.
Result<void> MakeWorldReadable(const std::string& root);

// A fresh directory "<parent>/<prefix>XXXXXX". Errors: kInternal.
Result<std::string> MakeTempDir(const std::string& parent, std::string_view prefix);

}  // namespace funcd::cli
