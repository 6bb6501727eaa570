#pragma once

// Connection settings and the versioned schema of funcd.db.

#include <string_view>

#include "common/result.h"
#include "store/sqlite_db.h"

namespace funcd::store::internal {

// The settings key that holds the schema version. Owned by the store: PutSetting refuses it.
inline constexpr std::string_view kSchemaVersionKey = "schema_version";

// The version this build writes.
inline constexpr int kSchemaVersion = 1;

// Sets busy_timeout, WAL journal mode and synchronous=FULL on a fresh connection.
// Errors: kUnavailable (WAL unsupported here, or the file cannot be read), kInternal (the file
// is not a database or is corrupt).
Result<void> ConfigureConnection(Database& db, int busy_timeout_ms);

// Creates the tables if missing and migrates an older schema to kSchemaVersion, in one
// transaction. Errors: kInternal (a newer or unreadable schema version), kUnavailable.
Result<void> MigrateSchema(Database& db);

}  // namespace funcd::store::internal
