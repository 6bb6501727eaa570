#include "provider/process/image.h"

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
      resolved.kind = ImageKind::kPackage;
      resolved.app_dir = dir;
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
