#pragma once

// Request routing for the gateway. Routes are matched on the canonical path (percent
// decoded, "." and ".." resolved, repeated slashes collapsed) so that no spelling of a path
// reaches a protected route without authentication; function calls keep their raw path.

#include <string>
#include <string_view>

#include "http/message.h"

namespace funcd::gateway {

enum class Route {
  kNotFound,
  kMethodNotAllowed,
  kRoot,            // "/" -> redirect to the UI
  kUi,              // /ui/...
  kHealthz,         // /healthz
  kMetrics,         // /metrics
  kInvoke,          // /function/NAME[.NS][/rest]
  kInvokeAsync,     // POST /async-function/NAME[.NS][/rest]; DELETE /async-function/CALL_ID
  kAsyncSystem,     // GET|POST|DELETE /system/async/... (name: the rest of the path)
  kInfo,            // GET /system/info
  kAlert,           // POST /system/alert
  kFunctionStatus,  // GET /system/function/NAME
  kFunctions,       // GET|POST|PUT|DELETE /system/functions
  kScale,           // POST /system/scale-function/NAME
  kSecrets,         // GET|POST|PUT|DELETE /system/secrets
  kLogs,            // GET /system/logs
  kNamespaces,      // GET /system/namespaces
  kNamespace,       // GET|POST|PUT|DELETE /system/namespace/[NAME]
};

struct RouteMatch {
  Route route = Route::kNotFound;
  bool needs_auth = false;  // /system/* and /ui
  std::string name;         // function name (with ".namespace" if given) or namespace
  std::string rest;         // invoke: the raw path after the name ("/", "/a/b"), no query
  std::string query;        // the raw query (without '?')
};

// Percent-decodes, collapses slashes, resolves dot segments. Always starts with '/'.
// nullopt for malformed escapes or encoded NUL.
std::optional<std::string> CanonicalPath(std::string_view raw_path);

RouteMatch MatchRoute(http::Verb method, std::string_view target);

// The decoded value of `key` in a raw query string ('+' as space); "" when absent.
std::string QueryParam(std::string_view query, std::string_view key, bool* present = nullptr);

// Splits "name.namespace" at the last dot. Without a dot the namespace is empty.
void SplitFunctionName(std::string_view full, std::string* name, std::string* namespace_name);

}  // namespace funcd::gateway
