#pragma once

// What a deployment's `image` means on the process runtime:
//   dir:///abs/path      a directory on this machine (bound read-only at /home/app)
//   NAME[:TAG]           a package in the package store (STATE_DIR/packages/NAME/TAG),
//                        as `funcd build` makes them
//   anything else        with --host-images, an "image" that runs against the host's /usr
//                        (fprocess such as cat, env, sha512sum), like the OpenFaaS store's
//                        functions/alpine
// A directory may hold funcd.json: {"fprocess": "...", "environment": {"K": "V"}}, the
// defaults that the deployment's envProcess and envVars override.

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::provider {

enum class ImageKind { kDirectory, kPackage, kHost };

struct ResolvedImage {
  ImageKind kind = ImageKind::kHost;
  std::string app_dir;  // "" for host images
  std::string fprocess;
  std::map<std::string, std::string> environment;
};

inline constexpr std::string_view kManifestFile = "funcd.json";

// Errors: kInvalidArgument naming the image (missing directory, bad manifest, unknown image
// without host images, a package name that leaves the store).
Result<ResolvedImage> ResolveImage(std::string_view image, const std::string& packages_dir,
                                   bool host_images);

// Reads DIR/funcd.json when present (absence is not an error).
Result<void> ReadManifest(const std::string& dir, ResolvedImage* image);

}  // namespace funcd::provider
