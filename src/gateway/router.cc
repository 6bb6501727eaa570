#include "gateway/router.h"

#include <vector>

#include "common/strings.h"

namespace funcd::gateway {

std::optional<std::string> CanonicalPath(std::string_view raw_path) {
  // The common case has nothing to canonicalize: no escapes, dot segments or empty segments.
  if (!raw_path.empty() && raw_path[0] == '/' && raw_path.find('%') == std::string_view::npos &&
      raw_path.find("//") == std::string_view::npos &&
      raw_path.find("/.") == std::string_view::npos) {
    return std::string(raw_path);
  }
  auto decoded = http::PercentDecode(raw_path);
  if (!decoded || decoded->find('\0') != std::string::npos) {
    return std::nullopt;
  }
  std::vector<std::string_view> parts;
  for (std::string_view part : Split(*decoded, '/')) {
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) {
    out.push_back('/');
    out.append(part);
  }
  // Keep a trailing slash: "/system/namespace/" and "/function/x/" are distinct routes.
  if (!decoded->empty() && decoded->back() == '/' && !parts.empty()) {
    out.push_back('/');
  }
  return out.empty() ? std::string("/") : out;
}

std::string QueryParam(std::string_view query, std::string_view key, bool* present) {
  if (present != nullptr) {
    *present = false;
  }
  for (std::string_view pair : Split(query, '&')) {
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) {
      continue;
    }
    if (present != nullptr) {
      *present = true;
    }
    std::string value(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    for (char& c : value) {
      if (c == '+') {
        c = ' ';
      }
    }
    return http::PercentDecode(value).value_or(value);
  }
  return "";
}

void SplitFunctionName(std::string_view full, std::string* name, std::string* namespace_name) {
  size_t dot = full.rfind('.');
  if (dot == std::string_view::npos) {
    *name = std::string(full);
    namespace_name->clear();
    return;
  }
  *name = std::string(full.substr(0, dot));
  *namespace_name = std::string(full.substr(dot + 1));
}

namespace {

bool IsFunctionNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// /function/NAME[/rest] on the raw path; the canonical path must agree on the name.
bool MatchInvoke(std::string_view prefix, std::string_view raw, std::string_view canonical,
                 RouteMatch* match) {
  if (!raw.starts_with(prefix) || !canonical.starts_with(prefix)) {
    return false;
  }
  std::string_view after = raw.substr(prefix.size());
  size_t slash = after.find('/');
  std::string_view name = after.substr(0, slash);
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!IsFunctionNameChar(c)) {
      return false;
    }
  }
  std::string_view canonical_after = canonical.substr(prefix.size());
  if (canonical_after.substr(0, canonical_after.find('/')) != name) {
    return false;  // dot segments moved the call elsewhere: do not guess
  }
  match->name = std::string(name);
  match->rest = slash == std::string_view::npos ? "/" : std::string(after.substr(slash));
  return true;
}

}  // namespace

RouteMatch MatchRoute(http::Verb method, std::string_view target) {
  RouteMatch match;
  http::Target parts = http::SplitTarget(target);
  match.query = std::string(parts.query);
  auto canonical_or = CanonicalPath(parts.path);
  if (!canonical_or || parts.path.empty() || parts.path.front() != '/') {
    return match;
  }
  const std::string& path = *canonical_or;
  auto allow = [&](Route route, std::initializer_list<http::Verb> verbs) {
    for (http::Verb v : verbs) {
      if (v == method) {
        match.route = route;
        return;
      }
    }
    match.route = Route::kMethodNotAllowed;
  };
  match.needs_auth = path.starts_with("/system/") || path == "/system" || path.starts_with("/ui");

  if (path.starts_with("/function/")) {
    if (MatchInvoke("/function/", parts.path, path, &match)) {
      match.route = Route::kInvoke;
    }
    return match;
  }
  if (path.starts_with("/async-function/")) {
    if (MatchInvoke("/async-function/", parts.path, path, &match)) {
      allow(Route::kInvokeAsync, {http::Verb::post, http::Verb::delete_});
      match.needs_auth = method == http::Verb::delete_;  // cancelling is management
    }
    return match;
  }
  using V = http::Verb;
  if (path == "/") {
    allow(Route::kRoot, {V::get, V::head});
  } else if (path == "/ui" || path.starts_with("/ui/")) {
    match.name = path;
    allow(Route::kUi, {V::get, V::head});
  } else if (path == "/healthz") {
    allow(Route::kHealthz, {V::get, V::head});
  } else if (path == "/metrics") {
    allow(Route::kMetrics, {V::get});
  } else if (path == "/system/info") {
    allow(Route::kInfo, {V::get});
  } else if (path == "/system/alert") {
    allow(Route::kAlert, {V::post});
  } else if (path == "/system/functions") {
    allow(Route::kFunctions, {V::get, V::post, V::put, V::delete_});
  } else if (path.starts_with("/system/function/") && path.size() > 17 &&
             path.find('/', 17) == std::string::npos) {
    match.name = path.substr(17);
    allow(Route::kFunctionStatus, {V::get});
  } else if (path.starts_with("/system/scale-function/") && path.size() > 23 &&
             path.find('/', 23) == std::string::npos) {
    match.name = path.substr(23);
    allow(Route::kScale, {V::post});
  } else if (path == "/system/secrets") {
    allow(Route::kSecrets, {V::get, V::post, V::put, V::delete_});
  } else if (path.starts_with("/system/async/")) {
    match.name = path.substr(14);
    allow(Route::kAsyncSystem, {V::get, V::post, V::delete_});
  } else if (path == "/system/logs") {
    allow(Route::kLogs, {V::get});
  } else if (path == "/system/namespaces") {
    allow(Route::kNamespaces, {V::get});
  } else if (path == "/system/namespace" || path.starts_with("/system/namespace/")) {
    std::string rest = path.size() > 18 ? path.substr(18) : "";
    if (!rest.empty() && rest.back() == '/') {
      rest.pop_back();
    }
    if (rest.find('/') == std::string::npos) {
      match.name = rest;
      allow(Route::kNamespace, {V::get, V::post, V::put, V::delete_});
    }
  }
  return match;
}

}  // namespace funcd::gateway
