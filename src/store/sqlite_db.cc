#include "store/sqlite_db.h"

#include <utility>

#include "common/strings.h"

namespace funcd::store::internal {
namespace {

// Statements are static SQL (user data is always bound), so naming one in an error message
// leaks nothing and tells an operator which operation failed.
std::string_view SqlForMessage(const char* sql) {
  std::string_view text = sql == nullptr ? std::string_view("?") : std::string_view(sql);
  text = TrimSpace(text);
  constexpr std::size_t kMaxChars = 60;
  return text.size() > kMaxChars ? text.substr(0, kMaxChars) : text;
}

}  // namespace

Error SqliteError(int code, std::string_view context, sqlite3* db) {
  ErrorCode error_code = ErrorCode::kInternal;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      error_code = ErrorCode::kUnavailable;
      break;
    case SQLITE_NOMEM:
      error_code = ErrorCode::kResourceExhausted;
      break;
    case SQLITE_TOOBIG:
      error_code = ErrorCode::kInvalidArgument;
      break;
    default:
      break;
  }
  // The connection's message is more specific ("no such table: x") but only describes `code`
  // if no other call has failed since.
  const char* message = (db != nullptr && sqlite3_extended_errcode(db) == code)
                            ? sqlite3_errmsg(db)
                            : sqlite3_errstr(code);
  return MakeError(error_code, StrCat(context, ": ", message));
}

Result<Database> Database::Open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: the store serialises every call itself. EXRESCODE: extended result codes, so
  // that SqliteError can match the connection's message to the code it describes.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = SqliteError(rc, StrCat("cannot open ", path), db);
    sqlite3_close_v2(db);  // SQLite may allocate a handle even when opening fails
    return error;
  }
  return Database(db);
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Database::~Database() {
  // close_v2 (not close) so that a statement leaked by a bug cannot keep the handle open
  // forever; in WAL mode closing the last connection checkpoints and removes the WAL.
  sqlite3_close_v2(db_);
}

Result<void> Database::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, StrCat("SQLite \"", SqlForMessage(sql), "\""), db_);
  }
  return Ok();
}

std::int64_t Database::Changes() const { return sqlite3_changes64(db_); }

Result<Statement> Statement::Prepare(Database& db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db.get(), sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, StrCat("SQLite prepare \"", SqlForMessage(sql), "\""), db.get());
  }
  if (stmt == nullptr) {
    return MakeError(ErrorCode::kInternal, "SQLite prepare: empty statement");
  }
  return Statement(db.get(), stmt);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Result<void> Statement::BindText(int index, std::string_view value) {
  // A null pointer would bind SQL NULL instead of the empty string.
  const char* data = value.data() == nullptr ? "" : value.data();
  const int rc =
      sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, StrCat("SQLite bind #", index), db_);
  }
  return Ok();
}

Result<void> Statement::BindInt64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, StrCat("SQLite bind #", index), db_);
  }
  return Ok();
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return SqliteError(rc, StrCat("SQLite \"", SqlForMessage(sqlite3_sql(stmt_)), "\""), db_);
}

Result<void> Statement::Run() {
  FUNCD_ASSIGN_OR_RETURN(const bool has_row, Step());
  if (has_row) {
    return MakeError(ErrorCode::kInternal, StrCat("SQLite \"", SqlForMessage(sqlite3_sql(stmt_)),
                                                  "\": returned a row where none was expected"));
  }
  return Ok();
}

std::string Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) {
    return std::string();  // SQL NULL (or out of memory, which the next step reports)
  }
  return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

Result<Transaction> Transaction::Begin(Database& db) {
  FUNCD_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) {
    // Fails only if SQLite already rolled back on its own (e.g. after SQLITE_FULL); either
    // way no transaction is left open.
    (void)db_->Exec("ROLLBACK");
  }
}

Result<void> Transaction::Commit() {
  FUNCD_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  db_ = nullptr;
  return Ok();
}

}  // namespace funcd::store::internal
