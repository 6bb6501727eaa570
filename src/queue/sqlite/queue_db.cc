#include "queue/sqlite/queue_db.h"

#include <algorithm>

#include "common/strings.h"

namespace funcd::queue::sqlite {

namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS calls(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  call_id TEXT NOT NULL,
  function TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  last_body BLOB,
  meta BLOB,
  body BLOB);
CREATE INDEX IF NOT EXISTS calls_by_call_id ON calls(call_id);
CREATE INDEX IF NOT EXISTS calls_by_state ON calls(state, updated_at);
)sql";

// Statement slots (one prepared statement each, reused).
enum Slot {
  kInsert,
  kFinish,
  kReschedule,
  kBury,
  kLoadPending,
  kLoadMessage,
  kFindCall,
  kCancelPending,
  kPrune,
  kCountPending,
  kSlotCount,
};

Error SqlError(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  const ErrorCode code = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
                                 primary == SQLITE_IOERR || primary == SQLITE_FULL ||
                                 primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY
                             ? ErrorCode::kUnavailable
                             : ErrorCode::kInternal;
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return MakeError(code, StrCat("queue database: ", what, ": ", message));
}

}  // namespace

// A prepared statement, reset before each use.
class QueueDb::Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
  }
  // The bound bytes must stay alive until the statement is stepped (SQLITE_STATIC: no copy,
  // which matters for request bodies of up to the enqueue limit).
  Stmt& Text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
    return *this;
  }
  Stmt& Int(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Result<bool> Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      return true;
    }
    if (rc == SQLITE_DONE) {
      return false;
    }
    Error error = SqlError(db_, rc, SqlOf());
    sqlite3_reset(stmt_);
    return error;
  }
  Result<void> Run() {
    FUNCD_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    sqlite3_reset(stmt_);
    return Ok();
  }
  std::int64_t ColInt(int c) const { return sqlite3_column_int64(stmt_, c); }
  std::string ColText(int c) const {
    const auto* p = sqlite3_column_blob(stmt_, c);
    const int n = sqlite3_column_bytes(stmt_, c);
    return p == nullptr ? std::string()
                        : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::string_view ColView(int c) const {
    const auto* p = sqlite3_column_blob(stmt_, c);
    const int n = sqlite3_column_bytes(stmt_, c);
    return p == nullptr
               ? std::string_view()
               : std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  bool ColNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

 private:
  std::string_view SqlOf() const {
    std::string_view sql = sqlite3_sql(stmt_);
    sql = TrimSpace(sql);
    return sql.substr(0, std::min<std::size_t>(sql.size(), 48));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

Result<std::unique_ptr<QueueDb>> QueueDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = SqlError(raw, rc, StrCat("cannot open ", path));
    sqlite3_close_v2(raw);
    return error;
  }
  std::unique_ptr<QueueDb> db(new QueueDb(raw));
  db->statements_.resize(kSlotCount);
  sqlite3_busy_timeout(raw, 2000);
  auto init = [&]() -> Result<void> {
    // Exclusive locking before WAL: the WAL index then lives in heap memory (no -shm file)
    // and no other process can open the queue while this one runs.
    FUNCD_RETURN_IF_ERROR(db->Exec("PRAGMA locking_mode=EXCLUSIVE"));
    FUNCD_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
    FUNCD_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
    // A write transaction takes the exclusive lock now, so that a second funcd on this state
    // directory fails here rather than later.
    FUNCD_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
    FUNCD_RETURN_IF_ERROR(db->Exec(kSchema));
    FUNCD_RETURN_IF_ERROR(db->Exec(StrCat("PRAGMA user_version=", kSchemaVersion).c_str()));
    return db->Exec("COMMIT");
  };
  if (auto ready = init(); !ready) {
    if (ready.error().code == ErrorCode::kUnavailable) {
      return MakeError(ErrorCode::kUnavailable,
                       StrCat(path, " is in use by another process or not writable (",
                              ready.error().message, ")"));
    }
    return std::move(ready).error();
  }
  return db;
}

QueueDb::QueueDb(sqlite3* db) : db_(db) {}

QueueDb::~QueueDb() {
  statements_.clear();
  sqlite3_close_v2(db_);
}

Result<void> QueueDb::Exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return SqlError(nullptr, rc, text);
  }
  return Ok();
}

Result<QueueDb::Stmt*> QueueDb::Prepared(int slot, const char* sql) {
  std::unique_ptr<Stmt>& stmt = statements_[static_cast<std::size_t>(slot)];
  if (!stmt) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) {
      return SqlError(db_, rc, "prepare");
    }
    stmt = std::make_unique<Stmt>(db_, raw);
  }
  stmt->Reset();
  return stmt.get();
}

Result<void> QueueDb::Begin() { return Exec("BEGIN IMMEDIATE"); }
Result<void> QueueDb::Commit() { return Exec("COMMIT"); }
void QueueDb::Rollback() {
  if (!sqlite3_get_autocommit(db_)) {
    (void)Exec("ROLLBACK");
  }
}

Result<std::int64_t> QueueDb::Insert(const Message& m, std::string_view meta, std::int64_t now) {
  FUNCD_ASSIGN_OR_RETURN(
      Stmt * s, Prepared(kInsert,
                         "INSERT INTO calls(call_id, function, state, attempts, not_before, "
                         "enqueued_at, updated_at, meta, body) VALUES(?1, ?2, 0, 0, ?3, ?4, ?3, "
                         "?5, ?6)"));
  s->Text(1, m.call_id).Text(2, m.key).Int(3, now).Int(4, m.enqueued_at).Blob(5, meta);
  s->Blob(6, m.body);
  FUNCD_RETURN_IF_ERROR(s->Run());
  return sqlite3_last_insert_rowid(db_);
}

Result<void> QueueDb::Finish(std::int64_t id, RowState state, int attempts, const Outcome& outcome,
                             std::int64_t now) {
  FUNCD_ASSIGN_OR_RETURN(
      Stmt * s, Prepared(kFinish,
                         "UPDATE calls SET state=?2, attempts=?3, updated_at=?4, last_status=?5, "
                         "last_error=?6, last_body=?7, meta=NULL, body=NULL WHERE id=?1"));
  s->Int(1, id).Int(2, static_cast<int>(state)).Int(3, attempts).Int(4, now);
  s->Int(5, outcome.status).Text(6, outcome.error).Blob(7, outcome.body_excerpt);
  return s->Run();
}

Result<void> QueueDb::Reschedule(std::int64_t id, int attempts, std::int64_t not_before,
                                 const Outcome& outcome, std::int64_t now) {
  FUNCD_ASSIGN_OR_RETURN(
      Stmt * s, Prepared(kReschedule,
                         "UPDATE calls SET attempts=?2, not_before=?3, updated_at=?4, "
                         "last_status=?5, last_error=?6, last_body=?7 WHERE id=?1 AND state=0"));
  s->Int(1, id).Int(2, attempts).Int(3, not_before).Int(4, now).Int(5, outcome.status);
  s->Text(6, outcome.error).Blob(7, outcome.body_excerpt);
  return s->Run();
}

Result<void> QueueDb::Bury(std::int64_t id, int attempts, const Outcome& outcome,
                           std::int64_t now) {
  FUNCD_ASSIGN_OR_RETURN(
      Stmt * s, Prepared(kBury,
                         "UPDATE calls SET state=3, attempts=?2, updated_at=?3, last_status=?4, "
                         "last_error=?5, last_body=?6 WHERE id=?1 AND state=0"));
  s->Int(1, id).Int(2, attempts).Int(3, now).Int(4, outcome.status).Text(5, outcome.error);
  s->Blob(6, outcome.body_excerpt);
  return s->Run();
}

Result<std::vector<PendingRow>> QueueDb::LoadPending() {
  FUNCD_ASSIGN_OR_RETURN(Stmt * s,
                         Prepared(kLoadPending,
                                  "SELECT id, call_id, function, attempts, not_before FROM calls "
                                  "WHERE state=0 ORDER BY id"));
  std::vector<PendingRow> rows;
  for (;;) {
    FUNCD_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) {
      break;
    }
    rows.push_back(PendingRow{s->ColInt(0), s->ColText(1), s->ColText(2),
                              static_cast<int>(s->ColInt(3)), s->ColInt(4)});
  }
  return rows;
}

Result<Message> QueueDb::LoadMessage(std::int64_t id) {
  FUNCD_ASSIGN_OR_RETURN(Stmt * s,
                         Prepared(kLoadMessage, "SELECT meta, body FROM calls WHERE id=?1"));
  s->Int(1, id);
  FUNCD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row || s->ColNull(0)) {
    s->Reset();
    return MakeError(ErrorCode::kNotFound, StrCat("queue database: no request for call #", id));
  }
  Message message;
  Result<void> decoded = DecodeMeta(s->ColView(0), message);
  if (decoded) {
    message.body = s->ColText(1);
  }
  s->Reset();
  if (!decoded) {
    return std::move(decoded).error();
  }
  return message;
}

namespace {

CallState StateOf(RowState state, int attempts) {
  switch (state) {
    case RowState::kPending:
      return attempts > 0 ? CallState::kRetrying : CallState::kQueued;
    case RowState::kDone:
      return CallState::kDone;
    case RowState::kDead:
      return CallState::kDead;
    case RowState::kCancelled:
      return CallState::kCancelled;
  }
  return CallState::kQueued;
}

}  // namespace

Result<std::optional<CallRow>> QueueDb::FindCall(std::string_view call_id) {
  FUNCD_ASSIGN_OR_RETURN(Stmt * s,
                         Prepared(kFindCall,
                                  "SELECT id, function, state, attempts, not_before, enqueued_at, "
                                  "updated_at, last_status, last_error FROM calls WHERE call_id=?1 "
                                  "ORDER BY id DESC LIMIT 1"));
  s->Text(1, call_id);
  FUNCD_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) {
    return std::optional<CallRow>();
  }
  CallRow out;
  out.id = s->ColInt(0);
  out.state = static_cast<RowState>(s->ColInt(2));
  CallStatus& st = out.status;
  st.call_id = std::string(call_id);
  st.function = s->ColText(1);
  st.attempts = static_cast<int>(s->ColInt(3));
  st.state = StateOf(out.state, st.attempts);
  st.next_attempt_at = out.state == RowState::kPending ? s->ColInt(4) : 0;
  st.enqueued_at = s->ColInt(5);
  st.updated_at = s->ColInt(6);
  st.last_status = static_cast<unsigned>(s->ColInt(7));
  st.last_error = s->ColText(8);
  s->Reset();
  return std::optional<CallRow>(std::move(out));
}

Result<std::size_t> QueueDb::CancelPending(std::string_view call_id, std::int64_t now) {
  FUNCD_ASSIGN_OR_RETURN(Stmt * s,
                         Prepared(kCancelPending,
                                  "UPDATE calls SET state=4, updated_at=?2, meta=NULL, body=NULL "
                                  "WHERE call_id=?1 AND state=0"));
  s->Text(1, call_id).Int(2, now);
  FUNCD_RETURN_IF_ERROR(s->Run());
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

namespace {

// "state=3 [AND call_id=?1] [AND function=?2]" with the filter bound by the caller.
std::string DeadWhere(const DeadFilter& filter) {
  std::string where = "state=3";
  if (!filter.call_id.empty()) {
    where += " AND call_id=?1";
  }
  if (!filter.function.empty()) {
    where += " AND function=?2";
  }
  return where;
}

}  // namespace

Result<std::vector<DeadLetter>> QueueDb::ListDead(const DeadFilter& filter, bool with_body) {
  // Ad hoc statements: management calls are rare and the filter changes the SQL.
  const std::string sql = StrCat(
      "SELECT id, call_id, function, attempts, enqueued_at, updated_at, last_status, "
      "last_error, last_body, meta, ",
      with_body ? "body" : "length(body)", " FROM calls WHERE ", DeadWhere(filter),
      " ORDER BY id LIMIT ", std::max<std::size_t>(filter.limit, 1));
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr); rc != SQLITE_OK) {
    return SqlError(db_, rc, "list dead letters");
  }
  Stmt s(db_, raw);
  if (!filter.call_id.empty()) {
    s.Text(1, filter.call_id);
  }
  if (!filter.function.empty()) {
    s.Text(2, filter.function);
  }
  std::vector<DeadLetter> out;
  for (;;) {
    FUNCD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    DeadLetter& d = out.emplace_back();
    d.status.call_id = s.ColText(1);
    d.status.function = s.ColText(2);
    d.status.state = CallState::kDead;
    d.status.attempts = static_cast<int>(s.ColInt(3));
    d.status.enqueued_at = s.ColInt(4);
    d.status.updated_at = s.ColInt(5);
    d.status.last_status = static_cast<unsigned>(s.ColInt(6));
    d.status.last_error = s.ColText(7);
    d.last_body = s.ColText(8);
    if (auto decoded = DecodeMeta(s.ColView(9), d.message); !decoded) {
      d.message.call_id = d.status.call_id;  // keep the row visible, whatever its request
    }
    if (with_body) {
      d.message.body = s.ColText(10);
    }
  }
  return out;
}

Result<std::vector<PendingRow>> QueueDb::Redrive(const DeadFilter& filter, std::int64_t now) {
  const std::string sql = StrCat(
      "UPDATE calls SET state=0, attempts=0, not_before=?3, updated_at=?3 WHERE id IN (SELECT "
      "id FROM calls WHERE ",
      DeadWhere(filter), " ORDER BY id LIMIT ", std::max<std::size_t>(filter.limit, 1),
      ") RETURNING id, call_id, function");
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr); rc != SQLITE_OK) {
    return SqlError(db_, rc, "redrive dead letters");
  }
  Stmt s(db_, raw);
  if (!filter.call_id.empty()) {
    s.Text(1, filter.call_id);
  }
  if (!filter.function.empty()) {
    s.Text(2, filter.function);
  }
  s.Int(3, now);
  std::vector<PendingRow> out;
  for (;;) {
    FUNCD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(PendingRow{s.ColInt(0), s.ColText(1), s.ColText(2), 0, now});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Result<std::size_t> QueueDb::Purge(const DeadFilter& filter) {
  const std::string sql =
      StrCat("DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE ", DeadWhere(filter),
             " ORDER BY id LIMIT ", std::max<std::size_t>(filter.limit, 1), ")");
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &raw, nullptr); rc != SQLITE_OK) {
    return SqlError(db_, rc, "purge dead letters");
  }
  Stmt s(db_, raw);
  if (!filter.call_id.empty()) {
    s.Text(1, filter.call_id);
  }
  if (!filter.function.empty()) {
    s.Text(2, filter.function);
  }
  FUNCD_RETURN_IF_ERROR(s.Run());
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

Result<std::size_t> QueueDb::PruneFinished(std::int64_t before, std::size_t limit) {
  FUNCD_ASSIGN_OR_RETURN(
      Stmt * s, Prepared(kPrune,
                         "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE state IN "
                         "(2, 4) AND updated_at < ?1 LIMIT ?2)"));
  s->Int(1, before).Int(2, static_cast<std::int64_t>(limit));
  FUNCD_RETURN_IF_ERROR(s->Run());
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

Result<std::int64_t> QueueDb::CountPending() {
  FUNCD_ASSIGN_OR_RETURN(Stmt * s,
                         Prepared(kCountPending, "SELECT count(*) FROM calls WHERE state=0"));
  FUNCD_ASSIGN_OR_RETURN(bool row, s->Step());
  const std::int64_t count = row ? s->ColInt(0) : 0;
  s->Reset();
  return count;
}

}  // namespace funcd::queue::sqlite
