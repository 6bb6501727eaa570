#include "store/schema.h"

#include <array>
#include <optional>
#include <string>

#include "common/strings.h"

namespace funcd::store::internal {
namespace {

// kMigrations[v] takes the schema from version v to v + 1. Append only: a released step is
// never edited, since databases in the field have already run it. IF NOT EXISTS lets version
// 1 also repair a database whose tables exist but whose version row was lost.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    // 0 -> 1
    R"sql(
      CREATE TABLE IF NOT EXISTS functions (
        namespace  TEXT NOT NULL,
        name       TEXT NOT NULL,
        spec_json  TEXT NOT NULL,
        replicas   INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS secrets (
        namespace  TEXT NOT NULL,
        name       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS namespaces (
        name             TEXT NOT NULL PRIMARY KEY,
        labels_json      TEXT NOT NULL,
        annotations_json TEXT NOT NULL,
        created_at       INTEGER NOT NULL
      ) WITHOUT ROWID;
    )sql",
};

Result<std::optional<std::string>> ReadSchemaVersion(Database& db) {
  FUNCD_ASSIGN_OR_RETURN(Statement select,
                         Statement::Prepare(db, "SELECT value FROM settings WHERE key = ?1"));
  FUNCD_RETURN_IF_ERROR(select.BindText(1, kSchemaVersionKey));
  FUNCD_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(select.ColumnText(0));
}

Result<void> WriteSchemaVersion(Database& db, int version) {
  FUNCD_ASSIGN_OR_RETURN(
      Statement upsert,
      Statement::Prepare(db,
                         "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  FUNCD_RETURN_IF_ERROR(upsert.BindText(1, kSchemaVersionKey));
  FUNCD_RETURN_IF_ERROR(upsert.BindText(2, StrCat(version)));
  return upsert.Run();
}

}  // namespace

Result<void> ConfigureConnection(Database& db, int busy_timeout_ms) {
  // Set first, so that the pragmas below also wait for another process's lock.
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);

  // The first statement reads the file header: a file that is not a database fails here.
  FUNCD_ASSIGN_OR_RETURN(Statement wal, Statement::Prepare(db, "PRAGMA journal_mode = WAL"));
  FUNCD_ASSIGN_OR_RETURN(const bool has_row, wal.Step());
  const std::string mode = has_row ? ToLower(wal.ColumnText(0)) : std::string();
  if (mode != "wal") {
    // SQLite keeps the old mode where WAL cannot work (e.g. no shared memory on this file
    // system); readers would then block writers, so refuse rather than run degraded.
    return MakeError(ErrorCode::kUnavailable,
                     StrCat("cannot enable WAL journal mode (got \"", mode, "\")"));
  }

  // Durability: with WAL, synchronous=NORMAL syncs the log only at checkpoints, so a commit
  // that has returned can be lost (never corrupted) on power failure. Callers treat a
  // returned PutFunction/PutSecret/PutNamespace as done (the gateway answers 2xx), so every
  // commit must reach the disk: FULL syncs the WAL on each commit. This costs one fdatasync
  // per write; writes are control-plane operations (deploys, scaling, secrets), a few per
  // second at most, so one setting for the whole connection is simpler than switching the
  // pragma per statement for the cheaper-to-lose ones (SetReplicas, PutSetting).
  return db.Exec("PRAGMA synchronous = FULL");
}

Result<void> MigrateSchema(Database& db) {
  FUNCD_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  FUNCD_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS settings ("
              "  key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"));
  FUNCD_ASSIGN_OR_RETURN(std::optional<std::string> stored, ReadSchemaVersion(db));
  std::int64_t version = 0;
  if (stored.has_value()) {
    const std::optional<std::int64_t> parsed = ParseInt(*stored);
    if (!parsed.has_value() || *parsed < 0) {
      return MakeError(ErrorCode::kInternal,
                       StrCat("unreadable schema version \"", *stored, "\" in funcd.db"));
    }
    version = *parsed;
  }
  if (version > kSchemaVersion) {
    return MakeError(ErrorCode::kInternal,
                     StrCat("funcd.db has schema version ", version,
                            ", newer than this funcd supports (", kSchemaVersion, ")"));
  }
  if (version == kSchemaVersion) {
    return Ok();  // nothing to write; the transaction rolls back
  }
  for (std::int64_t step = version; step < kSchemaVersion; ++step) {
    FUNCD_RETURN_IF_ERROR(db.Exec(kMigrations[static_cast<std::size_t>(step)]));
  }
  FUNCD_RETURN_IF_ERROR(WriteSchemaVersion(db, kSchemaVersion));
  return txn.Commit();
}

}  // namespace funcd::store::internal
