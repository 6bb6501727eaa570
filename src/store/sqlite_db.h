#pragma once

// Thin RAII wrappers over the SQLite C API for the store: a connection, a prepared statement
// with bound parameters, and a write transaction. Every SQLite failure becomes an Error that
// carries SQLite's own message.
//
// Not thread-safe: the owner (SqliteStore) serialises all use behind its mutex.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::store::internal {

// Maps an SQLite result code to an Error: I/O, locking, permission and full-disk failures are
// kUnavailable (the disk or another process may recover); corruption, "not a database",
// misuse and everything else are kInternal. The message is "`context`: <sqlite message>".
Error SqliteError(int code, std::string_view context, sqlite3* db);

// One SQLite connection. Move-only; closes the connection on destruction.
class Database {
 public:
  // Opens (creating when missing) the database file at `path`.
  // Errors: kUnavailable (cannot open), kInternal.
  static Result<Database> Open(const std::string& path);

  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  sqlite3* get() const { return db_; }

  // Runs one or more statements that take no parameters and whose rows are ignored
  // (pragmas, DDL, BEGIN/COMMIT). Never pass user data here: use Statement.
  Result<void> Exec(const char* sql);

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t Changes() const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement. Parameters are bound by 1-based index. Move-only; finalised on
// destruction. REQUIRES: the Database outlives it.
class Statement {
 public:
  // Errors: kInternal (bad SQL), kUnavailable (the database cannot be read).
  static Result<Statement> Prepare(Database& db, const char* sql);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Text is bound as its bytes (embedded NULs included); SQLite copies it.
  Result<void> BindText(int index, std::string_view value);
  Result<void> BindInt64(int index, std::int64_t value);

  // Runs the statement one step: true when a row is available, false when done.
  Result<bool> Step();
  // Steps once and expects no row (INSERT, UPDATE, DELETE).
  Result<void> Run();

  // Columns of the current row, 0-based. REQUIRES: the last Step() returned true.
  std::string ColumnText(int column) const;
  std::int64_t ColumnInt64(int column) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction (taking the write lock up front, so that a read-then-write
// never fails half way with SQLITE_BUSY); ROLLBACK on destruction unless committed.
class Transaction {
 public:
  // Errors: kUnavailable (the database is locked beyond busy_timeout, or unwritable).
  static Result<Transaction> Begin(Database& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Errors: kUnavailable (e.g. the disk is full or the WAL cannot be synced).
  Result<void> Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;  // null once committed, rolled back or moved from
};

}  // namespace funcd::store::internal
