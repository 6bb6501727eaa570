#include "gateway/api.h"

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <limits>

#include "common/strings.h"
#include "provider/process/cgroup.h"

namespace funcd::gateway {

namespace json = boost::json;

namespace {

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  if (TrimSpace(text).empty()) {
    return Invalid(StrCat("a JSON ", what, " body is required"));
  }
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) {
    return Invalid(StrCat("invalid JSON in the ", what, ": ", ec.message()));
  }
  if (!value.is_object()) {
    return Invalid(StrCat("the ", what, " must be a JSON object"));
  }
  return std::move(value.as_object());
}

// A missing or null field reads as empty, as Go's decoder leaves it at its zero value.
const json::value* Field(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

Result<std::string> GetString(const json::object& object, std::string_view key) {
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return std::string();
  }
  if (!v->is_string()) {
    return Invalid(StrCat("field \"", key, "\" must be a string"));
  }
  return std::string(v->as_string());
}

Result<StringMap> GetStringMap(const json::object& object, std::string_view key) {
  StringMap out;
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_object()) {
    return Invalid(StrCat("field \"", key, "\" must be an object of strings"));
  }
  for (const auto& [k, item] : v->as_object()) {
    if (!item.is_string()) {
      return Invalid(StrCat("field \"", key, ".", std::string_view(k), "\" must be a string"));
    }
    out.emplace(std::string(k), std::string(item.as_string()));
  }
  return out;
}

Result<std::vector<std::string>> GetStringArray(const json::object& object, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    return Invalid(StrCat("field \"", key, "\" must be an array of strings"));
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) {
      return Invalid(StrCat("field \"", key, "\" must contain only strings"));
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<bool> GetBool(const json::object& object, std::string_view key) {
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return false;
  }
  if (!v->is_bool()) {
    return Invalid(StrCat("field \"", key, "\" must be true or false"));
  }
  return v->as_bool();
}

Result<std::uint64_t> GetUint(const json::object& object, std::string_view key) {
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return std::uint64_t{0};
  }
  if (v->is_uint64()) {
    return v->as_uint64();
  }
  if (v->is_int64() && v->as_int64() >= 0) {
    return static_cast<std::uint64_t>(v->as_int64());
  }
  if (v->is_double() && v->as_double() >= 0 && v->as_double() < 1e18 &&
      v->as_double() == static_cast<double>(static_cast<std::uint64_t>(v->as_double()))) {
    return static_cast<std::uint64_t>(v->as_double());
  }
  return Invalid(StrCat("field \"", key, "\" must be a non-negative integer"));
}

Result<std::optional<Resources>> GetResources(const json::object& object, std::string_view key) {
  const json::value* v = Field(object, key);
  if (v == nullptr) {
    return std::optional<Resources>();
  }
  FUNCD_ASSIGN_OR_RETURN(StringMap values, GetStringMap(object, key));
  // Go drops empty strings (omitempty): "memory":"" is the same as no memory limit.
  for (auto it = values.begin(); it != values.end();) {
    it = it->second.empty() ? values.erase(it) : std::next(it);
  }
  return std::optional<Resources>(Resources{std::move(values)});
}

json::object MapToObject(const StringMap& map) {
  json::object out;
  for (const auto& [k, v] : map) {
    out.emplace(k, v);
  }
  return out;
}

json::array ToArray(const std::vector<std::string>& values) {
  json::array out;
  for (const auto& v : values) {
    out.emplace_back(json::string(v));
  }
  return out;
}

}  // namespace

Result<FunctionDeployment> ParseDeployment(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "function deployment"));
  FunctionDeployment d;
  FUNCD_ASSIGN_OR_RETURN(d.service, GetString(o, "service"));
  FUNCD_ASSIGN_OR_RETURN(d.image, GetString(o, "image"));
  FUNCD_ASSIGN_OR_RETURN(d.namespace_name, GetString(o, "namespace"));
  FUNCD_ASSIGN_OR_RETURN(d.env_process, GetString(o, "envProcess"));
  FUNCD_ASSIGN_OR_RETURN(d.env_vars, GetStringMap(o, "envVars"));
  FUNCD_ASSIGN_OR_RETURN(d.constraints, GetStringArray(o, "constraints"));
  FUNCD_ASSIGN_OR_RETURN(d.secrets, GetStringArray(o, "secrets"));
  FUNCD_ASSIGN_OR_RETURN(d.labels, GetStringMap(o, "labels"));
  FUNCD_ASSIGN_OR_RETURN(d.annotations, GetStringMap(o, "annotations"));
  FUNCD_ASSIGN_OR_RETURN(d.limits, GetResources(o, "limits"));
  FUNCD_ASSIGN_OR_RETURN(d.requests, GetResources(o, "requests"));
  FUNCD_ASSIGN_OR_RETURN(d.read_only_root_filesystem, GetBool(o, "readOnlyRootFilesystem"));
  return d;
}

bool IsDns1123Label(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!alnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsDns1123Subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (std::string_view label : Split(name, '.')) {
    if (!IsDns1123Label(label)) {
      return false;
    }
  }
  return true;
}

Result<void> ValidateDeployment(const FunctionDeployment& d) {
  if (d.service.empty()) {
    return Invalid("service (the function name) is required");
  }
  if (!IsDns1123Label(d.service)) {
    return Invalid(StrCat("invalid function name \"", d.service,
                          "\": use at most 63 lower-case letters, digits and '-', starting and "
                          "ending with a letter or digit"));
  }
  if (TrimSpace(d.image).empty()) {
    return Invalid(StrCat("image is required for function \"", d.service, "\""));
  }
  if (!d.namespace_name.empty() && !IsDns1123Label(d.namespace_name)) {
    return Invalid(StrCat("invalid namespace \"", d.namespace_name, "\""));
  }
  for (const auto* map : {&d.labels, &d.annotations, &d.env_vars}) {
    for (const auto& [key, value] : *map) {
      if (TrimSpace(key).empty()) {
        return Invalid("label, annotation and environment keys must not be empty");
      }
    }
  }
  for (const auto& [key, value] : d.env_vars) {
    if (key.find('=') != std::string::npos || key.find('\0') != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Invalid(StrCat("invalid environment variable \"", key, "\""));
    }
  }
  for (const std::string& secret : d.secrets) {
    if (!IsDns1123Subdomain(secret)) {
      return Invalid(StrCat("invalid secret name \"", secret, "\""));
    }
  }
  for (const auto* resources : {&d.limits, &d.requests}) {
    if (!*resources) {
      continue;
    }
    const char* which = resources == &d.limits ? "limits" : "requests";
    if (auto it = (*resources)->values.find("memory"); it != (*resources)->values.end()) {
      if (auto bytes = provider::ParseMemoryQuantity(it->second); !bytes) {
        return Invalid(StrCat(which, ".memory: ", bytes.error().message));
      }
    }
    if (auto it = (*resources)->values.find("cpu"); it != (*resources)->values.end()) {
      if (auto millis = provider::ParseCpuQuantity(it->second); !millis) {
        return Invalid(StrCat(which, ".cpu: ", millis.error().message));
      }
    }
  }
  return Ok();
}

std::string SerializeDeployment(const FunctionDeployment& d) {
  json::object o;
  o["service"] = d.service;
  o["image"] = d.image;
  o["namespace"] = d.namespace_name;
  o["envProcess"] = d.env_process;
  o["envVars"] = MapToObject(d.env_vars);
  o["constraints"] = ToArray(d.constraints);
  o["secrets"] = ToArray(d.secrets);
  o["labels"] = MapToObject(d.labels);
  o["annotations"] = MapToObject(d.annotations);
  if (d.limits) {
    o["limits"] = MapToObject(d.limits->values);
  }
  if (d.requests) {
    o["requests"] = MapToObject(d.requests->values);
  }
  o["readOnlyRootFilesystem"] = d.read_only_root_filesystem;
  return json::serialize(o);
}

namespace {

json::object StatusObject(const FunctionStatus& s) {
  const FunctionDeployment& d = s.deployment;
  json::object o;
  o["name"] = d.service;
  o["image"] = d.image;
  o["namespace"] = d.namespace_name.empty() ? std::string(kDefaultNamespace) : d.namespace_name;
  if (!d.env_process.empty()) {
    o["envProcess"] = d.env_process;
  }
  if (!d.env_vars.empty()) {
    o["envVars"] = MapToObject(d.env_vars);
  }
  if (!d.constraints.empty()) {
    o["constraints"] = ToArray(d.constraints);
  }
  if (!d.secrets.empty()) {
    o["secrets"] = ToArray(d.secrets);
  }
  json::object labels = MapToObject(d.labels);
  labels["faas_function"] = d.service;
  o["labels"] = std::move(labels);
  o["annotations"] = MapToObject(d.annotations);
  if (d.limits && !d.limits->empty()) {
    o["limits"] = MapToObject(d.limits->values);
  }
  if (d.requests && !d.requests->empty()) {
    o["requests"] = MapToObject(d.requests->values);
  }
  if (d.read_only_root_filesystem) {
    o["readOnlyRootFilesystem"] = true;
  }
  if (s.invocation_count > 0) {
    // Go writes float64 counts without a fraction when they are whole.
    double whole = static_cast<double>(static_cast<std::int64_t>(s.invocation_count));
    if (whole == s.invocation_count) {
      o["invocationCount"] = static_cast<std::int64_t>(s.invocation_count);
    } else {
      o["invocationCount"] = s.invocation_count;
    }
  }
  if (s.replicas > 0) {
    o["replicas"] = s.replicas;
  }
  if (s.available_replicas > 0) {
    o["availableReplicas"] = s.available_replicas;
  }
  o["createdAt"] = FormatRfc3339Nano(s.created_at);
  return o;
}

}  // namespace

std::string SerializeFunctionStatus(const FunctionStatus& status) {
  return json::serialize(StatusObject(status));
}

std::string SerializeFunctionList(const std::vector<FunctionStatus>& list) {
  json::array out;
  for (const auto& status : list) {
    out.emplace_back(StatusObject(status));
  }
  return json::serialize(out);
}

Result<DeleteFunctionRequest> ParseDeleteRequest(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "delete request"));
  DeleteFunctionRequest r;
  FUNCD_ASSIGN_OR_RETURN(r.function_name, GetString(o, "functionName"));
  FUNCD_ASSIGN_OR_RETURN(r.namespace_name, GetString(o, "namespace"));
  if (r.function_name.empty()) {
    return Invalid("functionName is required");
  }
  return r;
}

Result<ScaleServiceRequest> ParseScaleRequest(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "scale request"));
  ScaleServiceRequest r;
  FUNCD_ASSIGN_OR_RETURN(r.service_name, GetString(o, "serviceName"));
  FUNCD_ASSIGN_OR_RETURN(r.replicas, GetUint(o, "replicas"));
  FUNCD_ASSIGN_OR_RETURN(r.namespace_name, GetString(o, "namespace"));
  return r;
}

Result<SecretRequest> ParseSecret(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "secret"));
  SecretRequest r;
  FUNCD_ASSIGN_OR_RETURN(r.name, GetString(o, "name"));
  FUNCD_ASSIGN_OR_RETURN(r.namespace_name, GetString(o, "namespace"));
  FUNCD_ASSIGN_OR_RETURN(std::string value, GetString(o, "value"));
  FUNCD_ASSIGN_OR_RETURN(std::string raw, GetString(o, "rawValue"));
  if (!raw.empty()) {
    auto decoded = Base64Decode(raw);
    if (!decoded) {
      return Invalid("rawValue must be base64");
    }
    r.value = std::move(*decoded);
    r.has_value = true;
  } else if (Field(o, "value") != nullptr) {
    r.value = std::move(value);
    r.has_value = true;
  }
  if (r.name.empty()) {
    return Invalid("secret name is required");
  }
  return r;
}

std::string SerializeSecretList(const std::vector<SecretListItem>& secrets) {
  json::array out;
  for (const auto& s : secrets) {
    json::object o;
    o["name"] = s.name;
    o["namespace"] = s.namespace_name;
    out.emplace_back(std::move(o));
  }
  return json::serialize(out);
}

Result<FunctionNamespace> ParseNamespace(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "namespace"));
  FunctionNamespace ns;
  FUNCD_ASSIGN_OR_RETURN(ns.name, GetString(o, "name"));
  FUNCD_ASSIGN_OR_RETURN(ns.labels, GetStringMap(o, "labels"));
  FUNCD_ASSIGN_OR_RETURN(ns.annotations, GetStringMap(o, "annotations"));
  return ns;
}

std::string SerializeNamespace(const FunctionNamespace& ns) {
  json::object o;
  o["name"] = ns.name;
  if (!ns.annotations.empty()) {
    o["annotations"] = MapToObject(ns.annotations);
  }
  if (!ns.labels.empty()) {
    o["labels"] = MapToObject(ns.labels);
  }
  return json::serialize(o);
}

std::string SerializeStringArray(const std::vector<std::string>& values) {
  return json::serialize(ToArray(values));
}

std::string SerializeStringMap(const StringMap& map) { return json::serialize(MapToObject(map)); }

Result<StringMap> ParseStringMap(std::string_view text) {
  FUNCD_ASSIGN_OR_RETURN(json::object o, ParseObject(text, "map"));
  StringMap out;
  for (const auto& [k, v] : o) {
    if (!v.is_string()) {
      return Invalid(StrCat("\"", std::string_view(k), "\" must be a string"));
    }
    out.emplace(std::string(k), std::string(v.as_string()));
  }
  return out;
}

std::string SerializeInfo(std::string_view provider, std::string_view orchestration,
                          std::string_view sha, std::string_view release) {
  json::object version;
  version["sha"] = sha;
  version["release"] = release;
  json::object provider_info;
  provider_info["provider"] = provider;
  provider_info["orchestration"] = orchestration;
  provider_info["version"] = version;
  json::object o;
  o["provider"] = std::move(provider_info);
  o["version"] = std::move(version);
  o["arch"] = "amd64";
  return json::serialize(o);
}

std::string SerializeLogMessage(std::string_view name, std::string_view namespace_name,
                                std::string_view instance, std::int64_t timestamp_nanos,
                                std::string_view text) {
  json::object o;
  o["name"] = name;
  o["namespace"] = namespace_name;
  o["instance"] = instance;
  o["timestamp"] = FormatRfc3339Nano(timestamp_nanos);
  o["text"] = text;
  std::string line = json::serialize(o);
  line.push_back('\n');
  return line;
}

Result<AlertBatch> ParseAlert(std::string_view text) {
  if (TrimSpace(text).empty()) {
    return Invalid("A body is required for this endpoint");
  }
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !value.is_object()) {
    return Invalid("Unable to parse alert, bad format.");
  }
  const json::object& o = value.as_object();
  AlertBatch batch;
  FUNCD_ASSIGN_OR_RETURN(batch.status, GetString(o, "status"));
  FUNCD_ASSIGN_OR_RETURN(batch.receiver, GetString(o, "receiver"));
  if (const json::value* alerts = Field(o, "alerts")) {
    if (!alerts->is_array()) {
      return Invalid("Unable to parse alert, bad format.");
    }
    for (const auto& item : alerts->as_array()) {
      if (!item.is_object()) {
        return Invalid("Unable to parse alert, bad format.");
      }
      Alert alert;
      FUNCD_ASSIGN_OR_RETURN(alert.status, GetString(item.as_object(), "status"));
      if (const json::value* labels = Field(item.as_object(), "labels");
          labels != nullptr && labels->is_object()) {
        FUNCD_ASSIGN_OR_RETURN(alert.alert_name, GetString(labels->as_object(), "alertname"));
        FUNCD_ASSIGN_OR_RETURN(alert.function_name,
                               GetString(labels->as_object(), "function_name"));
      }
      batch.alerts.push_back(std::move(alert));
    }
  }
  return batch;
}

std::string FormatRfc3339Nano(std::int64_t unix_nanos) {
  if (unix_nanos == 0) {
    return "0001-01-01T00:00:00Z";
  }
  std::int64_t seconds = unix_nanos / 1000000000;
  std::int64_t nanos = unix_nanos % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (nanos > 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nanos));
    std::string fraction(frac);
    while (fraction.back() == '0') {
      fraction.pop_back();
    }
    out += fraction;
  }
  out += "Z";
  return out;
}

Result<std::int64_t> ParseRfc3339(std::string_view text) {
  std::string s(TrimSpace(text));
  struct tm tm {};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return Invalid(StrCat("invalid RFC 3339 time \"", text, "\""));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::int64_t nanos = 0;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::int64_t scale = 100000000;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        nanos += (s[i] - '0') * scale;
        scale /= 10;
      }
      ++digits;
      ++i;
    }
    if (digits == 0) {
      return Invalid(StrCat("invalid RFC 3339 time \"", text, "\""));
    }
  }
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
    offset = 0;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    auto hours = ParseInt(std::string_view(s).substr(i + 1, 2));
    auto minutes = ParseInt(std::string_view(s).substr(i + 4, 2));
    if (!hours || !minutes) {
      return Invalid(StrCat("invalid RFC 3339 time \"", text, "\""));
    }
    offset = (*hours * 3600 + *minutes * 60) * (s[i] == '+' ? 1 : -1);
  } else {
    return Invalid(StrCat("invalid RFC 3339 time \"", text, "\""));
  }
  std::int64_t seconds = static_cast<std::int64_t>(timegm(&tm)) - offset;
  // Unix nanoseconds run out in 2262: later times saturate instead of wrapping around.
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000000000 - 1;
  if (seconds > kMaxSeconds) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (seconds < -kMaxSeconds) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return seconds * 1000000000 + nanos;
}

}  // namespace funcd::gateway
