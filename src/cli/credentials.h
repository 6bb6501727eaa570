#pragma once

// faas-cli's credentials file (contracts §7.3): CONFIG_DIR/config.yml, where CONFIG_DIR is
// $OPENFAAS_CONFIG, else ./.openfaas when CI=true or CI=1, else ~/.openfaas. The directory is
// 0700 and the file 0600; it is rewritten atomically. Format, as faas-cli writes it:
//
//   auths:
//   - gateway: http://127.0.0.1:8080
//     auth: basic
//     token: YWRtaW46cGFzc3dvcmQ=        # base64("user:password")
//
// The same file works with faas-cli and funcd.

#include <optional>
#include <string>
#include <vector>

#include "cli/envsubst.h"
#include "cli/gateway_client.h"
#include "common/result.h"

namespace funcd::cli {

struct AuthEntry {
  std::string gateway;
  std::string auth;   // "basic", "oauth2", ...
  std::string token;  // basic: base64(user:password); otherwise a bearer token
  // options: [{name, value}] as faas-cli keeps them (for oauth2); preserved on rewrite.
  std::vector<std::pair<std::string, std::string>> options;
};

struct ConfigFile {
  std::vector<AuthEntry> auths;
};

// The directory and file faas-cli would use with this environment.
std::string ConfigDir(const EnvLookup& lookup);
std::string ConfigPath(const EnvLookup& lookup);

// Reads the file; a missing file is an empty config. Errors: kInvalidArgument (not the format
// above, with the line), kPermissionDenied.
Result<ConfigFile> ReadConfig(const std::string& path);

// Serializes as faas-cli does (see above).
std::string SerializeConfig(const ConfigFile& config);

// Creates the directory (0700) and writes the file (0600).
Result<void> WriteConfig(const std::string& path, const ConfigFile& config);

// Adds or replaces the basic-auth entry of `gateway`.
void SetBasicAuth(ConfigFile& config, const std::string& gateway, const std::string& user,
                  const std::string& password);
// Removes the entry of `gateway`; false when there was none.
bool RemoveAuth(ConfigFile& config, const std::string& gateway);
const AuthEntry* FindAuth(const ConfigFile& config, const std::string& gateway);

// The Authorization header for `gateway`: an explicit token wins ("Bearer TOKEN"); else the
// config entry ("Basic ..." or "Bearer ..."); nullopt when there is none. A config file that
// cannot be read is an error.
Result<std::optional<std::string>> AuthorizationFor(const std::string& gateway,
                                                    const std::string& token,
                                                    const EnvLookup& lookup);

// faas-cli's verdict on a login attempt, from the answer to GET /system/functions with the
// credentials: 200 accepts them. Errors: kUnauthenticated "unable to login, either username or
// password is incorrect" (401), kInternal naming the status and body (anything else).
Result<void> CheckLoginAnswer(const GatewayResponse& response);

}  // namespace funcd::cli
