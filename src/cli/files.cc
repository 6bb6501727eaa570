#include "cli/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace funcd::cli {

namespace fs = std::filesystem;

namespace {

Error SystemError(std::string_view what, const std::string& path, int err) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOENT || err == ENOTDIR) {
    code = ErrorCode::kNotFound;
  } else if (err == EACCES || err == EPERM) {
    code = ErrorCode::kPermissionDenied;
  }
  return Error{code, StrCat(what, " ", path, ": ", std::strerror(err))};
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return SystemError("cannot read", path, errno);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return SystemError("cannot read", path, err);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode) {
  std::string temp = StrCat(path, ".tmp-XXXXXX");
  int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    return SystemError("cannot write", path, errno);
  }
  ::fchmod(fd, static_cast<mode_t>(mode));
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return SystemError("cannot write", path, err);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return SystemError("cannot write", path, err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return SystemError("cannot write", path, err);
  }
  return Ok();
}

Result<void> MakeDirs(const std::string& path, unsigned mode) {
  std::string partial;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty()) {
      if (partial.empty()) {
        partial = "/";
      }
      continue;
    }
    if (!partial.empty() && partial.back() != '/') {
      partial.push_back('/');
    }
    partial += part;
    if (::mkdir(partial.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return SystemError("cannot create", partial, errno);
    }
  }
  if (!IsDirectory(path)) {
    return Error{ErrorCode::kInvalidArgument, StrCat(path, " exists and is not a directory")};
  }
  return Ok();
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string JoinPath(std::string_view base, std::string_view relative) {
  if (relative.empty()) {
    return std::string(base);
  }
  if (relative[0] == '/' || base.empty()) {
    return std::string(relative);
  }
  while (relative.starts_with("./")) {
    relative.remove_prefix(2);
  }
  if (relative == ".") {
    return std::string(base);
  }
  if (base.back() == '/') {
    return StrCat(base, relative);
  }
  return StrCat(base, "/", relative);
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return ".";
  }
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Result<void> CopyTree(const std::string& from, const std::string& to,
                      const std::function<bool(const std::string& relative)>& skip) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) {
    return Error{ErrorCode::kInternal, StrCat("cannot create ", to, ": ", ec.message())};
  }
  fs::recursive_directory_iterator it(from, ec);
  if (ec) {
    return Error{ErrorCode::kNotFound, StrCat("cannot read ", from, ": ", ec.message())};
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return Error{ErrorCode::kInternal, StrCat("cannot read ", from, ": ", ec.message())};
    }
    const fs::path relative = it->path().lexically_relative(from);
    if (skip && skip(relative.string())) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        it.disable_recursion_pending();
      }
      continue;
    }
    const fs::path target = fs::path(to) / relative;
    const fs::file_status status = it->symlink_status(ec);
    if (fs::is_symlink(status)) {
      fs::copy_symlink(it->path(), target, ec);
    } else if (fs::is_directory(status)) {
      fs::create_directories(target, ec);
    } else if (fs::is_regular_file(status)) {
      fs::copy_file(it->path(), target, fs::copy_options::overwrite_existing, ec);
      if (!ec) {
        fs::permissions(target, status.permissions(), ec);
      }
    }
    if (ec) {
      return Error{ErrorCode::kInternal,
                   StrCat("cannot copy ", it->path().string(), ": ", ec.message())};
    }
  }
  return Ok();
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Result<void> MakeWorldReadable(const std::string& root) {
  auto fix = [](const fs::path& path) -> Result<void> {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) {
      return Ok();
    }
    mode_t mode = 0644;
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) != 0) {
      mode = 0755;
    }
    if (::chmod(path.c_str(), mode) != 0) {
      return SystemError("cannot chmod", path.string(), errno);
    }
    return Ok();
  };
  FUNCD_RETURN_IF_ERROR(fix(root));
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    FUNCD_RETURN_IF_ERROR(fix(it->path()));
  }
  if (ec) {
    return Error{ErrorCode::kInternal, StrCat("cannot read ", root, ": ", ec.message())};
  }
  return Ok();
}

Result<std::string> MakeTempDir(const std::string& parent, std::string_view prefix) {
  std::string pattern = StrCat(parent, "/", prefix, "XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return SystemError("cannot create a directory in", parent, errno);
  }
  return pattern;
}

}  // namespace funcd::cli
