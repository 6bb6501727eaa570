#pragma once

// OpenSSL's libcrypto, opened on first use (common/lazy_library.h): only the package store's
// digests (cli/package_store.h) use it, so `funcd serve` does not map it unless it builds.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/lazy_library.h"

// Every function of libcrypto that funcd calls; Load() resolves them all. A new call needs its
// name here.
#define FUNCD_LIBCRYPTO_FUNCTIONS(X) \
  X(EVP_Digest)                      \
  X(EVP_DigestFinal_ex)              \
  X(EVP_DigestInit_ex)               \
  X(EVP_DigestUpdate)                \
  X(EVP_MD_CTX_free)                 \
  X(EVP_MD_CTX_new)                  \
  X(EVP_sha256)                      \
  X(HMAC)

namespace funcd {
// Defined in common/lazy_libraries.cc with the soname found at configure time.
extern LazyLibrary libcrypto;
}  // namespace funcd

#define FUNCD_LIBCRYPTO_FUNCTION_(name) FUNCD_LAZY_FUNCTION(::funcd::libcrypto, name)
FUNCD_LIBCRYPTO_FUNCTIONS(FUNCD_LIBCRYPTO_FUNCTION_)
