#include "provider/process/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"

namespace funcd::provider::cgroup_fs {

std::string Join(std::string_view dir, std::string_view name) { return StrCat(dir, "/", name); }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Error ErrnoError(int err, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
    case EBUSY:
      code = ErrorCode::kUnavailable;
      break;
    case EINVAL:
    case ERANGE:
      code = ErrorCode::kInvalidArgument;
      break;
    case ENOENT:
    case ESRCH:
      code = ErrorCode::kNotFound;
      break;
    case EEXIST:
      code = ErrorCode::kAlreadyExists;
      break;
    default:
      break;
  }
  return Error{code, StrCat(what, ": ", std::strerror(err))};
}

// O_CREAT lets unit tests run against a tree of regular
// files; cgroupfs refuses to create files, so a missing control file still fails (EACCES).
Result<void> WriteFile(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return ErrnoError(errno, StrCat("open ", path));
  }
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) {
    return ErrnoError(errno, StrCat("write \"", value, "\" to ", path));
  }
  return Ok();
}

std::optional<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return n < 0 ? std::nullopt : std::optional<std::string>(std::move(out));
}

std::optional<std::uint64_t> ReadUint(const std::string& path) {
  auto text = ReadFile(path);
  return text ? ParseUint(TrimSpace(*text)) : std::nullopt;
}

std::optional<std::uint64_t> ReadKeyed(const std::string& path, std::string_view key) {
  auto text = ReadFile(path);
  if (!text) {
    return std::nullopt;
  }
  for (std::string_view line : Split(*text, '\n')) {
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return ParseUint(TrimSpace(line.substr(key.size() + 1)));
    }
  }
  return std::nullopt;
}

std::set<std::string> ReadWords(const std::string& path) {
  std::set<std::string> words;
  auto text = ReadFile(path);
  if (!text) {
    return words;
  }
  for (char& c : *text) {
    c = (c == '\n' || c == '\t') ? ' ' : c;
  }
  for (std::string_view word : Split(*text, ' ')) {
    if (!word.empty() && word[0] == '+') {
      word.remove_prefix(1);
    }
    if (!word.empty()) {
      words.emplace(word);
    }
  }
  return words;
}

std::vector<std::string> ListSubdirs(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return names;
  }
  while (struct dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    struct stat st;
    if (name != "." && name != ".." && ::stat(Join(dir, name).c_str(), &st) == 0 &&
        S_ISDIR(st.st_mode)) {
      names.emplace_back(name);
    }
  }
  ::closedir(d);
  return names;
}

// Removes a cgroup directory and any child cgroups. cgroupfs lets rmdir remove a directory
// with its control files once no process is left; EBUSY means one is still leaving.
void RemoveCgroupDir(const std::string& dir) {
  for (const std::string& child : ListSubdirs(dir)) {
    RemoveCgroupDir(Join(dir, child));
  }
  const auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (::rmdir(dir.c_str()) != 0) {
    if (errno == ENOENT) {
      return;
    }
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
      LogAt(LogLevel::kWarning, "cgroup: rmdir %s: %s", dir.c_str(), std::strerror(errno));
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<void> MakeParentDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError(errno, StrCat("mkdir ", dir));
  }
  return Ok();
}

std::string Canonical(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : path;
}

}  // namespace funcd::provider::cgroup_fs
