#include "store/secret_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/strings.h"
#include "common/unique_fd.h"

namespace funcd::store::internal {
namespace {

constexpr mode_t kPrivateDirMode = 0700;
constexpr mode_t kSecretFileMode = 0600;

Error ErrnoError(std::string_view what, const std::string& path, int err) {
  return MakeError(ErrorCode::kUnavailable, StrCat(what, " ", path, ": ", std::strerror(err)));
}

std::string ParentOf(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A new or removed directory entry is durable only once the directory itself is synced.
Result<void> SyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError("open", dir, errno);
  }
  if (::fsync(fd.get()) != 0) {
    return ErrnoError("fsync", dir, errno);
  }
  return Ok();
}

Result<void> WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok();
}

// Everything after the temporary file exists, so that the caller can unlink it on failure.
Result<void> FillAndPublish(int fd, const std::string& temp_path, const std::string& final_path,
                            std::string_view value) {
  // Explicit because mkostemp's 0600 is further restricted by the umask.
  if (::fchmod(fd, kSecretFileMode) != 0) {
    return ErrnoError("chmod", temp_path, errno);
  }
  FUNCD_RETURN_IF_ERROR(WriteAll(fd, value, temp_path));
  if (::fsync(fd) != 0) {
    return ErrnoError("fsync", temp_path, errno);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return ErrnoError("rename to", final_path, errno);
  }
  return Ok();
}

}  // namespace

Result<void> ValidatePathComponent(std::string_view kind, std::string_view name) {
  if (name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, StrCat(kind, " must not be empty"));
  }
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    // Quoted without the NUL so that the message stays printable.
    std::string printable(name.substr(0, name.find('\0')));
    return MakeError(ErrorCode::kInvalidArgument,
                     StrCat("invalid ", kind, " \"", printable,
                            "\": must not be \".\" or \"..\" or contain '/' or NUL"));
  }
  return Ok();
}

Result<void> MakeDirectories(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0) {
    return Ok();
  }
  int err = errno;
  if (err == ENOENT) {
    const std::string parent = ParentOf(path);
    if (parent == path) {
      return ErrnoError("mkdir", path, err);
    }
    FUNCD_RETURN_IF_ERROR(MakeDirectories(parent, mode));
    if (::mkdir(path.c_str(), mode) == 0) {
      return Ok();
    }
    err = errno;
  }
  if (err == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return Ok();
    }
    return ErrnoError("mkdir", path, ENOTDIR);
  }
  return ErrnoError("mkdir", path, err);
}

Result<void> EnsurePrivateDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), kPrivateDirMode) == 0) {
    FUNCD_RETURN_IF_ERROR(SyncDirectory(ParentOf(path)));
  } else if (errno != EEXIST) {
    return ErrnoError("mkdir", path, errno);
  }
  // O_NOFOLLOW: a symbolic link planted here would lead secret values out of the tree.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError("open directory", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoError("stat", path, errno);
  }
  if ((st.st_mode & 07777) != kPrivateDirMode && ::fchmod(fd.get(), kPrivateDirMode) != 0) {
    return ErrnoError("chmod", path, errno);
  }
  return Ok();
}

Result<void> WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::string_view value) {
  std::string temp_path = StrCat(dir, "/", kTempFilePrefix, "XXXXXX");
  // O_EXCL (implied by mkostemp) also keeps it from clobbering a file that happens to have a
  // temporary-looking name.
  UniqueFd fd(::mkostemp(temp_path.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError("create temporary file in", dir, errno);
  }
  const std::string final_path = StrCat(dir, "/", name);
  Result<void> published = FillAndPublish(fd.get(), temp_path, final_path, value);
  fd.Reset();
  if (!published) {
    ::unlink(temp_path.c_str());  // best effort; Store::Open sweeps leftovers
    return published;
  }
  return SyncDirectory(dir);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) {
      return MakeError(ErrorCode::kNotFound, StrCat("no such file ", path));
    }
    return ErrnoError("open", path, err);
  }
  std::string content;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("read", path, errno);
    }
    if (n == 0) {
      return content;
    }
    content.append(buf, static_cast<std::size_t>(n));
  }
}

Result<void> RemoveFileDurably(const std::string& dir, const std::string& name) {
  const std::string path = StrCat(dir, "/", name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Ok();
    }
    return ErrnoError("remove", path, errno);
  }
  return SyncDirectory(dir);
}

Result<std::vector<DirectoryEntry>> ReadDirectory(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (handle == nullptr) {
    if (errno == ENOENT) {
      return std::vector<DirectoryEntry>{};
    }
    return ErrnoError("open directory", dir, errno);
  }
  std::vector<DirectoryEntry> entries;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(handle.get());
    if (entry == nullptr) {
      if (errno != 0) {
        return ErrnoError("read directory", dir, errno);
      }
      return entries;
    }
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    bool is_directory = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {  // some file systems do not fill d_type
      struct stat st {};
      is_directory =
          ::fstatat(::dirfd(handle.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode);
    }
    entries.push_back(DirectoryEntry{std::string(name), is_directory});
  }
}

}  // namespace funcd::store::internal
