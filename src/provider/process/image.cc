#include "provider/process/image.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace funcd::provider {

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

// The canonical path of the package directory `dir`, which must stay inside the store.
Result<std::string> ResolveInStore(const std::string& dir, const std::string& packages_dir,
                                   std::string_view image) {
  char resolved[PATH_MAX];
  char store[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr ||
      ::realpath(packages_dir.c_str(), store) == nullptr) {
    return Invalid(StrCat("image \"", image, "\": cannot resolve ", dir));
  }
  const std::string_view path(resolved);
  const std::string_view root(store);
  if (!path.starts_with(root) || path.size() <= root.size() || path[root.size()] != '/') {
    return Invalid(StrCat("image \"", image, "\": ", dir, " points outside the package store"));
  }
  return std::string(path);
}

}  // namespace

Result<void> ReadManifest(const std::string& dir, ResolvedImage* image) {
  const std::string path = StrCat(dir, "/", kManifestFile);
  std::ifstream in(path);
  if (!in) {
    return Ok();
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) {
    return Invalid(StrCat(path, " is not a JSON object"));
  }
  const auto& object = value.as_object();
  if (const auto* fprocess = object.if_contains("fprocess")) {
    if (!fprocess->is_string()) {
      return Invalid(StrCat(path, ": \"fprocess\" must be a string"));
    }
    image->fprocess = std::string(fprocess->as_string());
  }
  if (const auto* environment = object.if_contains("environment")) {
    if (!environment->is_object()) {
      return Invalid(StrCat(path, ": \"environment\" must be an object of strings"));
    }
    for (const auto& [key, v] : environment->as_object()) {
      if (!v.is_string()) {
        return Invalid(
            StrCat(path, ": environment \"", std::string_view(key), "\" must be a string"));
      }
      image->environment[std::string(key)] = std::string(v.as_string());
    }
  }
  return Ok();
}

Result<ResolvedImage> ResolveImage(std::string_view image, const std::string& packages_dir,
                                   bool host_images) {
  ResolvedImage resolved;
  if (image.starts_with("dir://")) {
    std::string path(image.substr(6));
    if (path.empty() || path[0] != '/') {
      return Invalid(StrCat("image \"", image, "\": use dir:///absolute/path"));
    }
    if (!IsDirectory(path)) {
      return Invalid(StrCat("image \"", image, "\": ", path, " is not a directory"));
    }
    resolved.kind = ImageKind::kDirectory;
    resolved.app_dir = path;
    FUNCD_RETURN_IF_ERROR(ReadManifest(path, &resolved));
    return resolved;
  }
  // NAME[:TAG] in the package store. The tag follows the last ':' after the last '/'.
  std::string name(image);
  std::string tag = "latest";
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    tag = name.substr(colon + 1);
    name.resize(colon);
  }
  bool safe = !name.empty() && !tag.empty() && tag.find('/') == std::string::npos;
  for (std::string_view part : Split(name, '/')) {
    safe = safe && !part.empty() && part != "." && part != "..";
  }
  if (safe && tag != "." && tag != "..") {
    const std::string dir = StrCat(packages_dir, "/", name, "/", tag);
    if (IsDirectory(dir)) {
      // Tags made by `funcd build` are symlinks to content directories (sha256-...): resolve
      // them now, so that replicas keep running this content when the tag moves (a rebuild
      // takes effect on the next deploy, as a new image would).
      FUNCD_ASSIGN_OR_RETURN(std::string content, ResolveInStore(dir, packages_dir, image));
      resolved.kind = ImageKind::kPackage;
      resolved.app_dir = content;
      FUNCD_RETURN_IF_ERROR(ReadManifest(dir, &resolved));
      return resolved;
    }
  }
  if (!host_images) {
    return Invalid(StrCat("image \"", image,
                          "\" is not in the package store: build it with `funcd build`, use "
                          "dir:///absolute/path, or start funcd serve with --host-images to run "
                          "it against this machine's /usr"));
  }
  resolved.kind = ImageKind::kHost;
  return resolved;
}

}  // namespace funcd::provider
