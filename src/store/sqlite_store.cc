#include "store/sqlite_store.h"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <utility>

#include "common/log.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "store/schema.h"
#include "store/secret_files.h"
#include "store/sqlite_db.h"

namespace funcd::store {
namespace {

using internal::Database;
using internal::Statement;
using internal::Transaction;

constexpr const char* kFunctionColumns =
    "SELECT namespace, name, spec_json, replicas, created_at, updated_at FROM functions ";

// How people name a function or secret: "figlet.openfaas-fn".
std::string Qualified(const std::string& namespace_name, const std::string& name) {
  return StrCat(name, ".", namespace_name);
}

Error AlreadyExists(std::string_view kind, const std::string& id) {
  return MakeError(ErrorCode::kAlreadyExists, StrCat(kind, " ", id, " already exists"));
}

Error NotFound(std::string_view kind, const std::string& id) {
  return MakeError(ErrorCode::kNotFound, StrCat(kind, " ", id, " not found"));
}

// Steps `stmt` to the end, converting each row with `read`.
template <typename ReadRow>
auto CollectRows(Statement& stmt, ReadRow read) -> Result<std::vector<decltype(read(stmt))>> {
  std::vector<decltype(read(stmt))> rows;
  for (;;) {
    FUNCD_ASSIGN_OR_RETURN(const bool has_row, stmt.Step());
    if (!has_row) {
      return rows;
    }
    rows.push_back(read(stmt));
  }
}

// The first row of `stmt` converted with `read`, or nullopt when there is none.
template <typename ReadRow>
auto FirstRow(Statement& stmt, ReadRow read) -> Result<std::optional<decltype(read(stmt))>> {
  FUNCD_ASSIGN_OR_RETURN(const bool has_row, stmt.Step());
  if (!has_row) {
    return std::optional<decltype(read(stmt))>();
  }
  return std::optional<decltype(read(stmt))>(read(stmt));
}

// kNotFound unless the last INSERT, UPDATE or DELETE changed a row.
Result<void> ExpectChanged(Database& db, std::string_view kind, const std::string& id) {
  if (db.Changes() == 0) {
    return NotFound(kind, id);
  }
  return Ok();
}

// After a statement whose SQL encodes `mode` (INSERT .. DO NOTHING for kCreateOnly, UPDATE
// for kReplaceOnly, INSERT .. DO UPDATE for kUpsert), no changed row means the mode refused.
Result<void> CheckPutApplied(Database& db, PutMode mode, std::string_view kind,
                             const std::string& id) {
  if (mode == PutMode::kCreateOnly && db.Changes() == 0) {
    return AlreadyExists(kind, id);
  }
  return ExpectChanged(db, kind, id);
}

FunctionRecord ReadFunctionRow(const Statement& row) {
  FunctionRecord record;
  record.namespace_name = row.ColumnText(0);
  record.name = row.ColumnText(1);
  record.spec_json = row.ColumnText(2);
  record.replicas = row.ColumnInt64(3);
  record.created_at = row.ColumnInt64(4);
  record.updated_at = row.ColumnInt64(5);
  return record;
}

NamespaceRecord ReadNamespaceRow(const Statement& row) {
  NamespaceRecord record;
  record.name = row.ColumnText(0);
  record.labels_json = row.ColumnText(1);
  record.annotations_json = row.ColumnText(2);
  record.created_at = row.ColumnInt64(3);
  return record;
}

Result<void> ValidateSecretNames(const std::string& namespace_name, const std::string& name) {
  FUNCD_RETURN_IF_ERROR(internal::ValidatePathComponent("namespace name", namespace_name));
  return internal::ValidatePathComponent("secret name", name);
}

std::int64_t SystemNowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Store over one SQLite connection (owned) and the secrets tree. Thread-safe: every method
// that touches the connection or the secret files holds mu_ for its whole duration.
class SqliteStore final : public Store {
 public:
  SqliteStore(std::string state_dir, Database db, SqliteStoreOptions options)
      : secrets_dir_(StrCat(state_dir, "/secrets")),
        now_(options.now ? std::move(options.now) : SystemNowNanos),
        db_(std::move(db)) {}

  // Removes temporary files left in secrets/<namespace>/ by a crash during PutSecret.
  // Called once by Open, before the store is shared.
  Result<void> SweepTemporaryFiles();

  Result<void> PutFunction(const FunctionRecord& record, PutMode mode) override;
  Result<std::optional<FunctionRecord>> GetFunction(const std::string& namespace_name,
                                                    const std::string& name) override;
  Result<std::vector<FunctionRecord>> ListFunctions(
      const std::optional<std::string>& namespace_name) override;
  Result<void> DeleteFunction(const std::string& namespace_name, const std::string& name) override;
  Result<void> SetReplicas(const std::string& namespace_name, const std::string& name,
                           std::int64_t replicas) override;

  Result<void> PutSecret(const std::string& namespace_name, const std::string& name,
                         const std::string& value, PutMode mode) override;
  Result<std::string> ReadSecret(const std::string& namespace_name,
                                 const std::string& name) override;
  Result<std::vector<SecretRecord>> ListSecrets(const std::string& namespace_name) override;
  Result<void> DeleteSecret(const std::string& namespace_name, const std::string& name) override;
  std::string SecretPath(const std::string& namespace_name, const std::string& name) const override;

  Result<void> PutNamespace(const NamespaceRecord& record, PutMode mode) override;
  Result<std::optional<NamespaceRecord>> GetNamespace(const std::string& name) override;
  Result<std::vector<NamespaceRecord>> ListNamespaces() override;
  Result<void> DeleteNamespace(const std::string& name) override;

  Result<std::optional<std::string>> GetSetting(const std::string& key) override;
  Result<void> PutSetting(const std::string& key, const std::string& value) override;

 private:
  std::string SecretDir(const std::string& namespace_name) const {
    return StrCat(secrets_dir_, "/", namespace_name);
  }
  // REQUIRES: mu_ held.
  Result<bool> SecretIndexed(const std::string& namespace_name, const std::string& name);
  // Inserts or touches the index row and commits. REQUIRES: mu_ held, `txn` open.
  Result<void> CommitSecretRow(Transaction& txn, const std::string& namespace_name,
                               const std::string& name);

  const std::string secrets_dir_;
  const std::function<std::int64_t()> now_;
  std::mutex mu_;
  Database db_;  // guarded by mu_
};

Result<void> SqliteStore::SweepTemporaryFiles() {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(auto namespaces, internal::ReadDirectory(secrets_dir_));
  for (const internal::DirectoryEntry& ns : namespaces) {
    if (!ns.is_directory) {
      continue;
    }
    const std::string dir = SecretDir(ns.name);
    FUNCD_ASSIGN_OR_RETURN(auto files, internal::ReadDirectory(dir));
    for (const internal::DirectoryEntry& file : files) {
      if (file.is_directory || !file.name.starts_with(internal::kTempFilePrefix)) {
        continue;
      }
      // A secret may itself be named like a temporary file; its row proves it is not one.
      FUNCD_ASSIGN_OR_RETURN(const bool indexed, SecretIndexed(ns.name, file.name));
      if (!indexed) {
        FUNCD_RETURN_IF_ERROR(internal::RemoveFileDurably(dir, file.name));
      }
    }
  }
  return Ok();
}

Result<void> SqliteStore::PutFunction(const FunctionRecord& record, PutMode mode) {
  if (record.replicas < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     StrCat("replicas must not be negative, got ", record.replicas));
  }
  const char* sql = nullptr;
  switch (mode) {
    case PutMode::kCreateOnly:
      sql =
          "INSERT INTO functions (namespace, name, spec_json, replicas, created_at, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (namespace, name) DO NOTHING";
      break;
    case PutMode::kReplaceOnly:
      sql =
          "UPDATE functions SET spec_json = ?3, replicas = ?4, updated_at = ?5 "
          "WHERE namespace = ?1 AND name = ?2";
      break;
    case PutMode::kUpsert:
      // created_at is not in the DO UPDATE list: replacement keeps the original.
      sql =
          "INSERT INTO functions (namespace, name, spec_json, replicas, created_at, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (namespace, name) DO UPDATE SET "
          "spec_json = excluded.spec_json, replicas = excluded.replicas, "
          "updated_at = excluded.updated_at";
      break;
  }
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement put, Statement::Prepare(db_, sql));
  FUNCD_RETURN_IF_ERROR(put.BindText(1, record.namespace_name));
  FUNCD_RETURN_IF_ERROR(put.BindText(2, record.name));
  FUNCD_RETURN_IF_ERROR(put.BindText(3, record.spec_json));
  FUNCD_RETURN_IF_ERROR(put.BindInt64(4, record.replicas));
  FUNCD_RETURN_IF_ERROR(put.BindInt64(5, now_()));
  FUNCD_RETURN_IF_ERROR(put.Run());
  return CheckPutApplied(db_, mode, "function", Qualified(record.namespace_name, record.name));
}

Result<std::optional<FunctionRecord>> SqliteStore::GetFunction(const std::string& namespace_name,
                                                               const std::string& name) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(
      Statement get,
      Statement::Prepare(db_,
                         StrCat(kFunctionColumns, "WHERE namespace = ?1 AND name = ?2").c_str()));
  FUNCD_RETURN_IF_ERROR(get.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(get.BindText(2, name));
  return FirstRow(get, ReadFunctionRow);
}

Result<std::vector<FunctionRecord>> SqliteStore::ListFunctions(
    const std::optional<std::string>& namespace_name) {
  // Both orders follow the primary key, so neither needs a sort.
  const std::string sql = namespace_name.has_value()
                              ? StrCat(kFunctionColumns, "WHERE namespace = ?1 ORDER BY name")
                              : StrCat(kFunctionColumns, "ORDER BY namespace, name");
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement list, Statement::Prepare(db_, sql.c_str()));
  if (namespace_name.has_value()) {
    FUNCD_RETURN_IF_ERROR(list.BindText(1, *namespace_name));
  }
  return CollectRows(list, ReadFunctionRow);
}

Result<void> SqliteStore::DeleteFunction(const std::string& namespace_name,
                                         const std::string& name) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(
      Statement remove,
      Statement::Prepare(db_, "DELETE FROM functions WHERE namespace = ?1 AND name = ?2"));
  FUNCD_RETURN_IF_ERROR(remove.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(remove.BindText(2, name));
  FUNCD_RETURN_IF_ERROR(remove.Run());
  return ExpectChanged(db_, "function", Qualified(namespace_name, name));
}

Result<void> SqliteStore::SetReplicas(const std::string& namespace_name, const std::string& name,
                                      std::int64_t replicas) {
  if (replicas < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     StrCat("replicas must not be negative, got ", replicas));
  }
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement update,
                         Statement::Prepare(db_,
                                            "UPDATE functions SET replicas = ?3, updated_at = ?4 "
                                            "WHERE namespace = ?1 AND name = ?2"));
  FUNCD_RETURN_IF_ERROR(update.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(update.BindText(2, name));
  FUNCD_RETURN_IF_ERROR(update.BindInt64(3, replicas));
  FUNCD_RETURN_IF_ERROR(update.BindInt64(4, now_()));
  FUNCD_RETURN_IF_ERROR(update.Run());
  return ExpectChanged(db_, "function", Qualified(namespace_name, name));
}

Result<bool> SqliteStore::SecretIndexed(const std::string& namespace_name,
                                        const std::string& name) {
  FUNCD_ASSIGN_OR_RETURN(
      Statement select,
      Statement::Prepare(db_, "SELECT 1 FROM secrets WHERE namespace = ?1 AND name = ?2"));
  FUNCD_RETURN_IF_ERROR(select.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(select.BindText(2, name));
  return select.Step();
}

Result<void> SqliteStore::CommitSecretRow(Transaction& txn, const std::string& namespace_name,
                                          const std::string& name) {
  FUNCD_ASSIGN_OR_RETURN(
      Statement upsert,
      Statement::Prepare(db_,
                         "INSERT INTO secrets (namespace, name, created_at, updated_at) "
                         "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (namespace, name) "
                         "DO UPDATE SET updated_at = excluded.updated_at"));
  FUNCD_RETURN_IF_ERROR(upsert.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(upsert.BindText(2, name));
  FUNCD_RETURN_IF_ERROR(upsert.BindInt64(3, now_()));
  FUNCD_RETURN_IF_ERROR(upsert.Run());
  return txn.Commit();
}

Result<void> SqliteStore::PutSecret(const std::string& namespace_name, const std::string& name,
                                    const std::string& value, PutMode mode) {
  FUNCD_RETURN_IF_ERROR(ValidateSecretNames(namespace_name, name));
  std::lock_guard lock(mu_);
  // The write lock is held from the existence check to the commit, so another process
  // cannot slip a row in between.
  FUNCD_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  FUNCD_ASSIGN_OR_RETURN(const bool existed, SecretIndexed(namespace_name, name));
  if (existed && mode == PutMode::kCreateOnly) {
    return AlreadyExists("secret", Qualified(namespace_name, name));
  }
  if (!existed && mode == PutMode::kReplaceOnly) {
    return NotFound("secret", Qualified(namespace_name, name));
  }
  // The value is durable before the row that makes it visible: a crash in between leaves at
  // worst an unlisted file, which ReadSecret never returns and the next put overwrites.
  const std::string dir = SecretDir(namespace_name);
  FUNCD_RETURN_IF_ERROR(internal::EnsurePrivateDirectory(dir));
  FUNCD_RETURN_IF_ERROR(internal::WriteFileAtomically(dir, name, value));
  Result<void> committed = CommitSecretRow(txn, namespace_name, name);
  if (!committed && !existed) {
    // Nothing references the new file. A replaced value cannot be restored: the secret keeps
    // the new value, which is what the caller asked for, under the old updated_at.
    Result<void> removed = internal::RemoveFileDurably(dir, name);
    if (!removed) {
      LogAt(LogLevel::kWarning, "store: %s", removed.error().message.c_str());
    }
  }
  return committed;
}

Result<std::string> SqliteStore::ReadSecret(const std::string& namespace_name,
                                            const std::string& name) {
  FUNCD_RETURN_IF_ERROR(ValidateSecretNames(namespace_name, name));
  std::lock_guard lock(mu_);
  // The row decides existence: a file without one is a leftover of an interrupted put.
  FUNCD_ASSIGN_OR_RETURN(const bool indexed, SecretIndexed(namespace_name, name));
  if (!indexed) {
    return NotFound("secret", Qualified(namespace_name, name));
  }
  Result<std::string> value = internal::ReadWholeFile(SecretPath(namespace_name, name));
  if (!value && value.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kInternal, StrCat("secret ", Qualified(namespace_name, name),
                                                  " is indexed but its value file is missing"));
  }
  return value;
}

Result<std::vector<SecretRecord>> SqliteStore::ListSecrets(const std::string& namespace_name) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement list,
                         Statement::Prepare(db_,
                                            "SELECT name, created_at, updated_at FROM secrets "
                                            "WHERE namespace = ?1 ORDER BY name"));
  FUNCD_RETURN_IF_ERROR(list.BindText(1, namespace_name));
  return CollectRows(list, [&namespace_name](const Statement& row) {
    return SecretRecord{.name = row.ColumnText(0),
                        .namespace_name = namespace_name,
                        .created_at = row.ColumnInt64(1),
                        .updated_at = row.ColumnInt64(2)};
  });
}

Result<void> SqliteStore::DeleteSecret(const std::string& namespace_name, const std::string& name) {
  FUNCD_RETURN_IF_ERROR(ValidateSecretNames(namespace_name, name));
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db_));
  FUNCD_ASSIGN_OR_RETURN(const bool indexed, SecretIndexed(namespace_name, name));
  if (!indexed) {
    return NotFound("secret", Qualified(namespace_name, name));
  }
  // The value goes first: if the commit then fails, the row is left pointing at no file
  // (ReadSecret says so, a retried delete succeeds), never the other way round, which
  // would leave an unlisted copy of a secret the caller believes deleted.
  FUNCD_RETURN_IF_ERROR(internal::RemoveFileDurably(SecretDir(namespace_name), name));
  FUNCD_ASSIGN_OR_RETURN(
      Statement remove,
      Statement::Prepare(db_, "DELETE FROM secrets WHERE namespace = ?1 AND name = ?2"));
  FUNCD_RETURN_IF_ERROR(remove.BindText(1, namespace_name));
  FUNCD_RETURN_IF_ERROR(remove.BindText(2, name));
  FUNCD_RETURN_IF_ERROR(remove.Run());
  return txn.Commit();
}

std::string SqliteStore::SecretPath(const std::string& namespace_name,
                                    const std::string& name) const {
  if (!ValidateSecretNames(namespace_name, name)) {
    return std::string();  // opening "" fails with ENOENT: never a path outside the tree
  }
  return StrCat(SecretDir(namespace_name), "/", name);
}

Result<void> SqliteStore::PutNamespace(const NamespaceRecord& record, PutMode mode) {
  FUNCD_RETURN_IF_ERROR(internal::ValidatePathComponent("namespace name", record.name));
  const char* sql = nullptr;
  switch (mode) {
    case PutMode::kCreateOnly:
      sql =
          "INSERT INTO namespaces (name, labels_json, annotations_json, created_at) "
          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING";
      break;
    case PutMode::kReplaceOnly:
      sql = "UPDATE namespaces SET labels_json = ?2, annotations_json = ?3 WHERE name = ?1";
      break;
    case PutMode::kUpsert:
      sql =
          "INSERT INTO namespaces (name, labels_json, annotations_json, created_at) "
          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
          "labels_json = excluded.labels_json, annotations_json = excluded.annotations_json";
      break;
  }
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement put, Statement::Prepare(db_, sql));
  FUNCD_RETURN_IF_ERROR(put.BindText(1, record.name));
  FUNCD_RETURN_IF_ERROR(put.BindText(2, record.labels_json));
  FUNCD_RETURN_IF_ERROR(put.BindText(3, record.annotations_json));
  if (mode != PutMode::kReplaceOnly) {
    FUNCD_RETURN_IF_ERROR(put.BindInt64(4, now_()));
  }
  FUNCD_RETURN_IF_ERROR(put.Run());
  return CheckPutApplied(db_, mode, "namespace", record.name);
}

Result<std::optional<NamespaceRecord>> SqliteStore::GetNamespace(const std::string& name) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement get,
                         Statement::Prepare(db_,
                                            "SELECT name, labels_json, annotations_json, "
                                            "created_at FROM namespaces WHERE name = ?1"));
  FUNCD_RETURN_IF_ERROR(get.BindText(1, name));
  return FirstRow(get, ReadNamespaceRow);
}

Result<std::vector<NamespaceRecord>> SqliteStore::ListNamespaces() {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement list,
                         Statement::Prepare(db_,
                                            "SELECT name, labels_json, annotations_json, "
                                            "created_at FROM namespaces ORDER BY name"));
  return CollectRows(list, ReadNamespaceRow);
}

Result<void> SqliteStore::DeleteNamespace(const std::string& name) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement remove,
                         Statement::Prepare(db_, "DELETE FROM namespaces WHERE name = ?1"));
  FUNCD_RETURN_IF_ERROR(remove.BindText(1, name));
  FUNCD_RETURN_IF_ERROR(remove.Run());
  return ExpectChanged(db_, "namespace", name);
}

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& key) {
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(Statement get,
                         Statement::Prepare(db_, "SELECT value FROM settings WHERE key = ?1"));
  FUNCD_RETURN_IF_ERROR(get.BindText(1, key));
  return FirstRow(get, [](const Statement& row) { return row.ColumnText(0); });
}

Result<void> SqliteStore::PutSetting(const std::string& key, const std::string& value) {
  if (key == internal::kSchemaVersionKey) {
    return MakeError(ErrorCode::kInvalidArgument,
                     StrCat("setting \"", key, "\" is owned by the store"));
  }
  std::lock_guard lock(mu_);
  FUNCD_ASSIGN_OR_RETURN(
      Statement put, Statement::Prepare(db_,
                                        "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  FUNCD_RETURN_IF_ERROR(put.BindText(1, key));
  FUNCD_RETURN_IF_ERROR(put.BindText(2, value));
  return put.Run();
}

// SQLite would create the file 0644; spec_json may carry environment values, so a new
// database (and the -wal and -shm files, which SQLite gives the same mode) is owner-only.
Result<void> CreateDatabaseFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return MakeError(ErrorCode::kUnavailable,
                     StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& state_dir,
                                               SqliteStoreOptions options) {
  FUNCD_RETURN_IF_ERROR(internal::MakeDirectories(state_dir, 0755));
  FUNCD_RETURN_IF_ERROR(internal::EnsurePrivateDirectory(StrCat(state_dir, "/secrets")));
  const std::string db_path = StrCat(state_dir, "/funcd.db");
  FUNCD_RETURN_IF_ERROR(CreateDatabaseFile(db_path));
  FUNCD_ASSIGN_OR_RETURN(Database db, Database::Open(db_path));
  FUNCD_RETURN_IF_ERROR(internal::ConfigureConnection(db, options.busy_timeout_ms));
  FUNCD_RETURN_IF_ERROR(internal::MigrateSchema(db));
  auto store = std::make_unique<SqliteStore>(state_dir, std::move(db), std::move(options));
  FUNCD_RETURN_IF_ERROR(store->SweepTemporaryFiles());
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& state_dir) {
  return OpenSqliteStore(state_dir, SqliteStoreOptions{});
}

}  // namespace funcd::store
