#pragma once

// funcd's durable state in SQLite (WAL) under the state directory: functions, namespaces
// and the secrets index. Secret values live in files beside the database (one file per
// secret, mode 0600, in a 0700 directory) and are never returned by listings.
//
// Thread-safe (one internal mutex). Every call blocks on SQLite and the disk: call it from a
// blocking-work thread, never from an I/O thread.
//
// Besides the errors listed per method, any call may fail with kUnavailable (disk, permissions,
// a lock held beyond the busy timeout) or kInternal (a corrupt database), with SQLite's or the
// OS's message.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace funcd::store {

// A deployed function. The store keeps the deployment JSON as given (the gateway owns its
// format) plus the fields it must query or update on its own.
struct FunctionRecord {
  std::string name;
  std::string namespace_name;
  std::string spec_json;        // the FunctionDeployment, canonical JSON
  std::int64_t replicas = 1;    // desired replica count
  std::int64_t created_at = 0;  // Unix nanoseconds, set on first insert and kept on update
  std::int64_t updated_at = 0;  // Unix nanoseconds of the last PutFunction/SetReplicas
};

struct SecretRecord {
  std::string name;
  std::string namespace_name;
  std::int64_t created_at = 0;  // Unix nanoseconds
  std::int64_t updated_at = 0;
};

struct NamespaceRecord {
  std::string name;
  std::string labels_json = "{}";       // JSON object
  std::string annotations_json = "{}";  // JSON object
  std::int64_t created_at = 0;
};

enum class PutMode {
  kUpsert,       // create or replace
  kCreateOnly,   // kAlreadyExists if present
  kReplaceOnly,  // kNotFound if absent
};

class Store {
 public:
  // Opens (creating when missing) STATE_DIR/funcd.db and STATE_DIR/secrets/. Creates the
  // directories (state dir 0755, secrets 0700), enables WAL, creates or migrates the schema.
  // Errors: kUnavailable (cannot create or open), kInternal (schema).
  static Result<std::unique_ptr<Store>> Open(const std::string& state_dir);

  virtual ~Store() = default;

  // Functions. created_at is set by the store on creation and preserved by replacement.
  // The record's created_at/updated_at are ignored. Errors: kAlreadyExists / kNotFound per
  // mode, kInvalidArgument (negative replicas).
  virtual Result<void> PutFunction(const FunctionRecord& record, PutMode mode) = 0;
  virtual Result<std::optional<FunctionRecord>> GetFunction(const std::string& namespace_name,
                                                            const std::string& name) = 0;
  // All functions, or those of one namespace; ordered by namespace, then name.
  virtual Result<std::vector<FunctionRecord>> ListFunctions(
      const std::optional<std::string>& namespace_name) = 0;
  // kNotFound when absent.
  virtual Result<void> DeleteFunction(const std::string& namespace_name,
                                      const std::string& name) = 0;
  // kNotFound when absent; kInvalidArgument when `replicas` is negative.
  virtual Result<void> SetReplicas(const std::string& namespace_name, const std::string& name,
                                   std::int64_t replicas) = 0;

  // Secrets. The value is written to its file atomically (temporary file + rename, fsync)
  // before the index row is committed. Errors: kAlreadyExists / kNotFound per mode.
  // Every secret call (but ListSecrets) returns kInvalidArgument for a namespace or secret
  // name that is empty, "." or "..", or contains '/' or NUL.
  virtual Result<void> PutSecret(const std::string& namespace_name, const std::string& name,
                                 const std::string& value, PutMode mode) = 0;
  // kNotFound when not indexed; kInternal when indexed but its file is missing.
  virtual Result<std::string> ReadSecret(const std::string& namespace_name,
                                         const std::string& name) = 0;
  virtual Result<std::vector<SecretRecord>> ListSecrets(const std::string& namespace_name) = 0;
  // kNotFound when absent.
  virtual Result<void> DeleteSecret(const std::string& namespace_name, const std::string& name) = 0;
  // The file that holds the value (for opening it to pass into a sandbox). Empty when a name
  // is invalid (see above), so that it can never point outside the secrets directory.
  virtual std::string SecretPath(const std::string& namespace_name,
                                 const std::string& name) const = 0;

  // Namespaces (the default namespace need not be stored). PutNamespace validates the name as
  // secret names are (kInvalidArgument). Deleting a namespace leaves its functions and
  // secrets alone: the caller decides whether a namespace in use may be deleted.
  virtual Result<void> PutNamespace(const NamespaceRecord& record, PutMode mode) = 0;
  virtual Result<std::optional<NamespaceRecord>> GetNamespace(const std::string& name) = 0;
  virtual Result<std::vector<NamespaceRecord>> ListNamespaces() = 0;
  // kNotFound when absent.
  virtual Result<void> DeleteNamespace(const std::string& name) = 0;

  // Small key-value settings (e.g. schema version, generated credentials' creation time).
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  // kInvalidArgument for "schema_version", which the store owns.
  virtual Result<void> PutSetting(const std::string& key, const std::string& value) = 0;
};

}  // namespace funcd::store
