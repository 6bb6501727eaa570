#include "cli/package_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "cli/files.h"
#include "common/libcrypto.h"
#include "common/strings.h"

namespace funcd::cli {

namespace fs = std::filesystem;

namespace {

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using MdContext = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;

// libcrypto is opened at the first digest, not at start-up (common/libcrypto.h).
Result<void> LoadLibCrypto() {
  if (auto loaded = libcrypto.Load(); !loaded) {
    return Error{loaded.error().code,
                 StrCat("package digests need libcrypto: ", loaded.error().message)};
  }
  return Ok();
}

bool ValidNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

}  // namespace

Result<std::string> Sha256Hex(std::string_view data) {
  FUNCD_RETURN_IF_ERROR(LoadLibCrypto());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

Result<std::string> HmacSha256Hex(std::string_view key, std::string_view data) {
  FUNCD_RETURN_IF_ERROR(LoadLibCrypto());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size);
  return Hex(digest, size);
}

Result<ImageRef> ParseImageRef(std::string_view image) {
  ImageRef ref;
  std::string name(image);
  ref.tag = "latest";
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = name.substr(colon + 1);
    name.resize(colon);
  }
  ref.name = std::move(name);
  auto invalid = [&](std::string_view why) {
    return Error{ErrorCode::kInvalidArgument,
                 StrCat("image \"", image, "\" cannot name a package: ", why)};
  };
  if (ref.name.empty() || ref.tag.empty()) {
    return invalid("use NAME[:TAG]");
  }
  for (std::string_view part : Split(ref.name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return invalid("empty, \".\" or \"..\" path parts");
    }
    if (!std::all_of(part.begin(), part.end(),
                     [](char c) { return ValidNameChar(c) || c == ':'; })) {
      return invalid("use letters, digits, '.', '-', '_' and '/'");
    }
  }
  if (ref.tag == "." || ref.tag == ".." ||
      !std::all_of(ref.tag.begin(), ref.tag.end(), ValidNameChar)) {
    return invalid("the tag may hold letters, digits, '.', '-' and '_'");
  }
  return ref;
}

std::string DefaultStateDirFromEnv() {
  if (const char* dir = std::getenv("FUNCD_STATE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (::geteuid() == 0) {
    return "/var/lib/funcd";
  }
  const char* home = std::getenv("HOME");
  return StrCat(home != nullptr ? home : "/tmp", "/.local/share/funcd");
}

Result<std::string> DigestTree(const std::string& root) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path().lexically_relative(root));
  }
  if (ec) {
    return Error{ErrorCode::kInternal, StrCat("cannot read ", root, ": ", ec.message())};
  }
  std::sort(entries.begin(), entries.end());
  FUNCD_RETURN_IF_ERROR(LoadLibCrypto());
  MdContext context(EVP_MD_CTX_new());
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  auto feed = [&](std::string_view bytes) {
    EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
  };
  for (const fs::path& relative : entries) {
    const std::string path = JoinPath(root, relative.string());
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      return Error{ErrorCode::kInternal, StrCat("cannot stat ", path, ": ", std::strerror(errno))};
    }
    const std::string name = relative.string();
    if (S_ISDIR(st.st_mode)) {
      feed(StrCat("d ", name, '\0'));
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code link_ec;
      const std::string target = fs::read_symlink(path, link_ec).string();
      feed(StrCat("l ", name, '\0', target, '\0'));
    } else if (S_ISREG(st.st_mode)) {
      FUNCD_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
      feed(StrCat((st.st_mode & 0111) != 0 ? "x " : "f ", name, '\0', content.size(), '\0'));
      feed(content);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(context.get(), digest, &size);
  return StrCat("sha256-", Hex(digest, size));
}

PackageStore::PackageStore(std::string state_dir)
    : packages_dir_(JoinPath(state_dir, "packages")) {}

Result<std::string> PackageStore::NewStaging() {
  FUNCD_RETURN_IF_ERROR(MakeDirs(packages_dir_, 0755));
  // Builds that were killed leave their staging directories; a day later they are garbage.
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(24);
  for (fs::directory_iterator it(packages_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(".staging-") &&
        it->last_write_time(ec) < cutoff && !ec) {
      RemoveTree(it->path().string());
    }
  }
  return MakeTempDir(packages_dir_, ".staging-");
}

Result<InstalledPackage> PackageStore::Install(const std::string& staging, const ImageRef& image) {
  InstalledPackage out;
  out.image = StrCat(image.name, ":", image.tag);
  auto fail = [&](Error error) {
    RemoveTree(staging);
    return error;
  };
  if (auto readable = MakeWorldReadable(staging); !readable) {
    return fail(readable.error());
  }
  auto digest = DigestTree(staging);
  if (!digest) {
    return fail(digest.error());
  }
  out.digest = *digest;
  const std::string name_dir = JoinPath(packages_dir_, image.name);
  if (auto made = MakeDirs(name_dir, 0755); !made) {
    return fail(made.error());
  }
  out.path = JoinPath(name_dir, out.digest);
  if (IsDirectory(out.path)) {
    out.reused = true;
    RemoveTree(staging);
  } else if (::rename(staging.c_str(), out.path.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {  // another build stored it meanwhile
      out.reused = true;
      RemoveTree(staging);
    } else {
      return fail(Error{ErrorCode::kInternal, StrCat("cannot move the package to ", out.path, ": ",
                                                     std::strerror(errno))});
    }
  }
  // Point the tag at the content: a new symlink renamed over the old one.
  const std::string tag_path = JoinPath(name_dir, image.tag);
  struct stat st {};
  if (image.tag != out.digest && ::lstat(tag_path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
    return Error{ErrorCode::kFailedPrecondition,
                 StrCat(tag_path,
                        " exists and was not made by funcd build; remove it to store the package "
                        "under that tag")};
  }
  if (image.tag == out.digest) {
    return out;  // pinned by digest: the content directory is the tag
  }
  const std::string link_temp = StrCat(name_dir, "/.tag-", image.tag, "-", ::getpid());
  ::unlink(link_temp.c_str());
  if (::symlink(out.digest.c_str(), link_temp.c_str()) != 0 ||
      ::rename(link_temp.c_str(), tag_path.c_str()) != 0) {
    const int err = errno;
    ::unlink(link_temp.c_str());
    return Error{ErrorCode::kInternal,
                 StrCat("cannot tag ", out.image, " at ", tag_path, ": ", std::strerror(err))};
  }
  return out;
}

Result<std::string> PackageStore::Resolve(const ImageRef& image) const {
  const std::string path = JoinPath(JoinPath(packages_dir_, image.name), image.tag);
  std::error_code ec;
  const fs::path resolved = fs::canonical(path, ec);
  if (ec || !IsDirectory(resolved.string())) {
    return Error{ErrorCode::kNotFound,
                 StrCat("no package ", image.name, ":", image.tag, " in ", packages_dir_)};
  }
  return resolved.string();
}

}  // namespace funcd::cli
