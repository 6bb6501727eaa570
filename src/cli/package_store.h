#pragma once

// The local package store that `funcd build` writes and `funcd serve` reads
// (STATE_DIR/packages). Layout:
//
//   packages/NAME/sha256-HEX/     the package content, named by its digest (immutable)
//   packages/NAME/TAG -> sha256-HEX   a tag: a symlink to one content directory
//
// NAME may contain '/' (an image name such as ghcr.io/me/fn); the image NAME:TAG (TAG
// defaults to latest) resolves to packages/NAME/TAG, and NAME:sha256-HEX pins the content.
// Installing is atomic: content is assembled in packages/.staging-XXXXXX, renamed into place
// under its digest (identical content is stored once), then the tag symlink is replaced with a
// rename. Readers never see a partial package. Everything is world-readable (0755/0644): the
// replicas run as an unprivileged uid.

#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::cli {

// NAME and TAG of an image reference ("fn" -> {"fn", "latest"}). Errors: kInvalidArgument
// for names the store cannot hold (empty parts, "." or "..", bad characters).
struct ImageRef {
  std::string name;
  std::string tag;
};
Result<ImageRef> ParseImageRef(std::string_view image);

// The default state directory of this user: /var/lib/funcd as root, else
// ~/.local/share/funcd (the same as funcd serve's), unless $FUNCD_STATE_DIR is set.
std::string DefaultStateDirFromEnv();

// A content digest of the tree under `root`: SHA-256 over every entry's relative path, type,
// executable bit, and content (or symlink target), in path order. "sha256-<64 hex>".
// Errors: kInternal (unreadable files), kFailedPrecondition (libcrypto is not installed).
Result<std::string> DigestTree(const std::string& root);

struct InstalledPackage {
  std::string image;    // NAME:TAG
  std::string digest;   // sha256-HEX
  std::string path;     // packages/NAME/sha256-HEX
  bool reused = false;  // identical content was already stored
};

// The store under one state directory. Holds no state of its own beyond the path: several
// builds (threads or processes) may install at once; renames keep each step atomic.
class PackageStore {
 public:
  explicit PackageStore(std::string state_dir);

  const std::string& packages_dir() const { return packages_dir_; }

  // A new empty directory inside the store to assemble a package in. The caller installs it
  // with Install() or removes it.
  Result<std::string> NewStaging();

  // Moves `staging` into the store under its digest and points NAME:TAG at it. `staging`
  // is consumed (moved or removed). Errors: kInvalidArgument (image), kFailedPrecondition
  // (TAG exists and is not a symlink made by funcd build), kInternal.
  Result<InstalledPackage> Install(const std::string& staging, const ImageRef& image);

  // The content directory NAME:TAG points at; kNotFound when there is none.
  Result<std::string> Resolve(const ImageRef& image) const;

 private:
  const std::string packages_dir_;
};

// SHA-256 of `data` as 64 lower-case hex digits. Errors: kFailedPrecondition (libcrypto, opened
// at the first digest, is not installed).
Result<std::string> Sha256Hex(std::string_view data);
// HMAC-SHA256 of `data` with `key` as 64 lower-case hex digits. Errors: as Sha256Hex.
Result<std::string> HmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace funcd::cli
