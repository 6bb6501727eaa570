#pragma once

// The JSON bodies of the OpenFaaS REST API (contracts §2.3, §10.4): parsing with the
// leniency clients rely on (null for every optional field, unknown fields ignored) and
// serialization with Go's omitempty rules where clients depend on them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::gateway {

inline constexpr std::string_view kDefaultNamespace = "openfaas-fn";

using StringMap = std::map<std::string, std::string>;

// FunctionResources: "memory", "cpu" and vendor keys such as "nvidia.com/gpu" (all strings).
struct Resources {
  StringMap values;
  bool empty() const { return values.empty(); }
};

struct FunctionDeployment {
  std::string service;
  std::string image;
  std::string namespace_name;  // empty: the default namespace
  std::string env_process;
  StringMap env_vars;
  std::vector<std::string> constraints;
  std::vector<std::string> secrets;
  StringMap labels;
  StringMap annotations;
  std::optional<Resources> limits;
  std::optional<Resources> requests;
  bool read_only_root_filesystem = false;
};

// Errors: kInvalidArgument ("invalid JSON: ...", "field \"x\" must be a string", ...).
Result<FunctionDeployment> ParseDeployment(std::string_view json);
// Name rules (DNS-1123 label, at most 63 characters), image present, label and annotation
// keys non-empty. Errors: kInvalidArgument with a message for the caller.
Result<void> ValidateDeployment(const FunctionDeployment& deployment);
// Canonical JSON that ParseDeployment reads back unchanged (stored in the state database).
std::string SerializeDeployment(const FunctionDeployment& deployment);

struct FunctionStatus {
  FunctionDeployment deployment;  // namespace_name filled in
  double invocation_count = 0;
  std::uint64_t replicas = 0;
  std::uint64_t available_replicas = 0;
  std::int64_t created_at = 0;  // Unix nanoseconds
};

// FunctionStatus as OpenFaaS clients expect: labels and annotations always objects (labels
// with faas_function), envVars/limits/requests/constraints/secrets omitted when empty,
// replicas/availableReplicas/invocationCount omitted at 0, createdAt always present.
std::string SerializeFunctionStatus(const FunctionStatus& status);
// A JSON array ("[]" when empty, never null).
std::string SerializeFunctionList(const std::vector<FunctionStatus>& list);

struct DeleteFunctionRequest {
  std::string function_name;
  std::string namespace_name;
};
Result<DeleteFunctionRequest> ParseDeleteRequest(std::string_view json);

struct ScaleServiceRequest {
  std::string service_name;
  std::uint64_t replicas = 0;
  std::string namespace_name;
};
Result<ScaleServiceRequest> ParseScaleRequest(std::string_view json);

struct SecretRequest {
  std::string name;
  std::string namespace_name;
  std::string value;  // rawValue (decoded) when present, else value
  bool has_value = false;
};
// The name is required; value or rawValue may be absent (deletes carry only the name).
Result<SecretRequest> ParseSecret(std::string_view json);
struct SecretListItem {
  std::string name;
  std::string namespace_name;
};
std::string SerializeSecretList(const std::vector<SecretListItem>& secrets);

struct FunctionNamespace {
  std::string name;
  StringMap labels;
  StringMap annotations;
};
Result<FunctionNamespace> ParseNamespace(std::string_view json);
std::string SerializeNamespace(const FunctionNamespace& ns);
std::string SerializeStringArray(const std::vector<std::string>& values);
// A JSON object of strings; ParseStringMap reads one back (kInvalidArgument otherwise).
std::string SerializeStringMap(const StringMap& map);
Result<StringMap> ParseStringMap(std::string_view json);

// GatewayInfo with the provider's info inside.
std::string SerializeInfo(std::string_view provider, std::string_view orchestration,
                          std::string_view sha, std::string_view release);

// One NDJSON log line (with the trailing newline).
std::string SerializeLogMessage(std::string_view name, std::string_view namespace_name,
                                std::string_view instance, std::int64_t timestamp_nanos,
                                std::string_view text);

// An AlertManager webhook (contracts §6.2): only the fields the gateway reads.
struct Alert {
  std::string status;  // "firing" or "resolved"
  std::string alert_name;
  std::string function_name;  // "name.namespace" or "name"
};
struct AlertBatch {
  std::string status;
  std::string receiver;
  std::vector<Alert> alerts;
};
Result<AlertBatch> ParseAlert(std::string_view json);

bool IsDns1123Label(std::string_view name);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63
bool IsDns1123Subdomain(std::string_view name);  // labels joined by '.', <= 253

// "2006-01-02T15:04:05.999999999Z" in UTC with trailing zeros of the fraction removed, as
// Go marshals a time.Time; the zero time for 0.
std::string FormatRfc3339Nano(std::int64_t unix_nanos);
// Parses RFC 3339 (with or without fraction, Z or an offset). Errors: kInvalidArgument.
Result<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace funcd::gateway
