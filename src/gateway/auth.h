#pragma once

// Basic authentication of the management API, as the OpenFaaS gateway: credentials in
// SECRETS_DIR/basic-auth-user and basic-auth-password (whitespace trimmed), the user name
// compared exactly and the password in constant time; failures answer 401 with
// `WWW-Authenticate: Basic realm="Restricted"` and `invalid credentials`.

#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::gateway {

struct Credentials {
  std::string user;
  std::string password;
};

// Reads the credentials from `secrets_dir`, generating them first when both files are
// missing (user "admin", a random 40-character password, files 0600). `created` tells
// whether they were generated. Errors: kUnavailable (cannot read or write the files).
Result<Credentials> LoadOrCreateCredentials(const std::string& secrets_dir, bool* created);

// True when `authorization` ("Basic base64(user:password)") carries these credentials.
bool CheckBasicAuth(std::string_view authorization, const Credentials& expected);

// Compares in time independent of where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace funcd::gateway
