#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "store/store_test_fixture.h"

namespace funcd::store {
namespace {

FunctionRecord MakeFunction(std::string namespace_name, std::string name,
                            std::string spec_json = "{}", std::int64_t replicas = 1) {
  FunctionRecord record;
  record.namespace_name = std::move(namespace_name);
  record.name = std::move(name);
  record.spec_json = std::move(spec_json);
  record.replicas = replicas;
  return record;
}

std::vector<std::string> Qualified(const std::vector<FunctionRecord>& records) {
  std::vector<std::string> out;
  for (const FunctionRecord& record : records) {
    out.push_back(record.namespace_name + "/" + record.name);
  }
  return out;
}

// Runs `sql` on a separate connection to the store's database (as another process would).
void RunSql(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST_F(StoreTest, PutFunctionThenGetReturnsItWithStoreTimestamps) {
  FunctionRecord record = MakeFunction("openfaas-fn", "figlet", R"({"image":"figlet"})", 2);
  record.created_at = 42;  // ignored: the store owns timestamps
  ASSERT_TRUE(IsOk(store().PutFunction(record, PutMode::kCreateOnly)));

  auto got = store().GetFunction("openfaas-fn", "figlet");
  ASSERT_TRUE(IsOk(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "figlet");
  EXPECT_EQ((*got)->namespace_name, "openfaas-fn");
  EXPECT_EQ((*got)->spec_json, R"({"image":"figlet"})");
  EXPECT_EQ((*got)->replicas, 2);
  EXPECT_EQ((*got)->created_at, now_);
  EXPECT_EQ((*got)->updated_at, now_);
}

TEST_F(StoreTest, GetMissingFunctionIsEmptyNotAnError) {
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "a"), PutMode::kUpsert)));
  auto got = store().GetFunction("ns", "b");
  ASSERT_TRUE(IsOk(got));
  EXPECT_FALSE(got->has_value());
  auto other_namespace = store().GetFunction("other", "a");
  ASSERT_TRUE(IsOk(other_namespace));
  EXPECT_FALSE(other_namespace->has_value());
}

TEST_F(StoreTest, UpsertReplacesSpecAndKeepsCreatedAt) {
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "f", "v1", 1), PutMode::kUpsert)));
  const std::int64_t created = now_;
  now_ += 500;
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "f", "v2", 3), PutMode::kUpsert)));

  auto got = store().GetFunction("ns", "f");
  ASSERT_TRUE(IsOk(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->spec_json, "v2");
  EXPECT_EQ((*got)->replicas, 3);
  EXPECT_EQ((*got)->created_at, created);
  EXPECT_EQ((*got)->updated_at, created + 500);
}

TEST_F(StoreTest, CreateOnlyRefusesAnExistingFunction) {
  ASSERT_TRUE(IsOk(
      store().PutFunction(MakeFunction("openfaas-fn", "figlet", "old"), PutMode::kCreateOnly)));
  now_ += 1;
  Result<void> again =
      store().PutFunction(MakeFunction("openfaas-fn", "figlet", "new"), PutMode::kCreateOnly);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message, "function figlet.openfaas-fn already exists");

  auto got = store().GetFunction("openfaas-fn", "figlet");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ((*got)->spec_json, "old");
  EXPECT_EQ((*got)->updated_at, (*got)->created_at);
}

TEST_F(StoreTest, ReplaceOnlyNeedsAnExistingFunction) {
  Result<void> missing =
      store().PutFunction(MakeFunction("openfaas-fn", "figlet"), PutMode::kReplaceOnly);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "function figlet.openfaas-fn not found");
  auto absent = store().GetFunction("openfaas-fn", "figlet");
  ASSERT_TRUE(IsOk(absent));
  EXPECT_FALSE(absent->has_value());

  ASSERT_TRUE(
      IsOk(store().PutFunction(MakeFunction("openfaas-fn", "figlet", "v1"), PutMode::kCreateOnly)));
  const std::int64_t created = now_;
  now_ += 7;
  ASSERT_TRUE(IsOk(
      store().PutFunction(MakeFunction("openfaas-fn", "figlet", "v2"), PutMode::kReplaceOnly)));
  auto got = store().GetFunction("openfaas-fn", "figlet");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ((*got)->spec_json, "v2");
  EXPECT_EQ((*got)->created_at, created);
  EXPECT_EQ((*got)->updated_at, created + 7);
}

TEST_F(StoreTest, ListFunctionsOrdersByNamespaceThenNameAndFilters) {
  for (const auto& [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"b-ns", "a"}, {"a-ns", "z"}, {"a-ns", "b"}, {"b-ns", "c"}, {"a-ns", "m"}}) {
    ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction(ns, name), PutMode::kCreateOnly)));
  }
  auto all = store().ListFunctions(std::nullopt);
  ASSERT_TRUE(IsOk(all));
  EXPECT_EQ(Qualified(*all),
            (std::vector<std::string>{"a-ns/b", "a-ns/m", "a-ns/z", "b-ns/a", "b-ns/c"}));

  auto b_only = store().ListFunctions(std::string("b-ns"));
  ASSERT_TRUE(IsOk(b_only));
  EXPECT_EQ(Qualified(*b_only), (std::vector<std::string>{"b-ns/a", "b-ns/c"}));

  auto none = store().ListFunctions(std::string("c-ns"));
  ASSERT_TRUE(IsOk(none));
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreTest, DeleteFunctionRemovesItOnceThenReportsNotFound) {
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "f"), PutMode::kUpsert)));
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "keep"), PutMode::kUpsert)));
  ASSERT_TRUE(IsOk(store().DeleteFunction("ns", "f")));

  auto got = store().GetFunction("ns", "f");
  ASSERT_TRUE(IsOk(got));
  EXPECT_FALSE(got->has_value());
  auto list = store().ListFunctions(std::nullopt);
  ASSERT_TRUE(IsOk(list));
  EXPECT_EQ(Qualified(*list), std::vector<std::string>{"ns/keep"});

  Result<void> again = store().DeleteFunction("ns", "f");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(again.error().message, "function f.ns not found");
}

TEST_F(StoreTest, SetReplicasUpdatesCountAndUpdatedAtOnly) {
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "f", "spec", 1), PutMode::kUpsert)));
  const std::int64_t created = now_;
  now_ += 100;
  ASSERT_TRUE(IsOk(store().SetReplicas("ns", "f", 0)));

  auto got = store().GetFunction("ns", "f");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ((*got)->replicas, 0);
  EXPECT_EQ((*got)->spec_json, "spec");
  EXPECT_EQ((*got)->created_at, created);
  EXPECT_EQ((*got)->updated_at, created + 100);

  Result<void> missing = store().SetReplicas("ns", "nope", 2);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "function nope.ns not found");
}

TEST_F(StoreTest, NegativeReplicasAreRejected) {
  Result<void> put = store().PutFunction(MakeFunction("ns", "f", "{}", -1), PutMode::kUpsert);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);

  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction("ns", "f", "{}", 1), PutMode::kUpsert)));
  Result<void> set = store().SetReplicas("ns", "f", -5);
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code, ErrorCode::kInvalidArgument);
  auto got = store().GetFunction("ns", "f");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ((*got)->replicas, 1);
}

TEST_F(StoreTest, NamesAreDataNeverSql) {
  const std::string hostile = "x'); DROP TABLE functions; --";
  ASSERT_TRUE(IsOk(store().PutFunction(MakeFunction(hostile, hostile, "it's"), PutMode::kUpsert)));
  auto got = store().GetFunction(hostile, hostile);
  ASSERT_TRUE(IsOk(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->spec_json, "it's");
  auto list = store().ListFunctions(std::nullopt);
  ASSERT_TRUE(IsOk(list));
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(StoreTest, ConcurrentWritersAllLand) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = StrCat("f", t, "-", i);
        if (!store().PutFunction(MakeFunction("ns", name), PutMode::kCreateOnly) ||
            !store().SetReplicas("ns", name, i)) {
          ++failures[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
  auto list = store().ListFunctions(std::string("ns"));
  ASSERT_TRUE(IsOk(list));
  EXPECT_EQ(list->size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(StoreTest, NamespacesCrud) {
  NamespaceRecord team;
  team.name = "team-a";
  team.labels_json = R"({"openfaas":"1"})";
  ASSERT_TRUE(IsOk(store().PutNamespace(team, PutMode::kCreateOnly)));
  const std::int64_t created = now_;

  Result<void> again = store().PutNamespace(team, PutMode::kCreateOnly);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message, "namespace team-a already exists");

  NamespaceRecord other;
  other.name = "other";
  Result<void> missing = store().PutNamespace(other, PutMode::kReplaceOnly);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "namespace other not found");

  now_ += 10;
  team.annotations_json = R"({"owner":"ops"})";
  ASSERT_TRUE(IsOk(store().PutNamespace(team, PutMode::kReplaceOnly)));
  auto got = store().GetNamespace("team-a");
  ASSERT_TRUE(IsOk(got));
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->labels_json, R"({"openfaas":"1"})");
  EXPECT_EQ((*got)->annotations_json, R"({"owner":"ops"})");
  EXPECT_EQ((*got)->created_at, created);

  ASSERT_TRUE(IsOk(store().PutNamespace(other, PutMode::kUpsert)));
  auto list = store().ListNamespaces();
  ASSERT_TRUE(IsOk(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "other");
  EXPECT_EQ((*list)[0].labels_json, "{}");
  EXPECT_EQ((*list)[1].name, "team-a");

  ASSERT_TRUE(IsOk(store().DeleteNamespace("team-a")));
  auto deleted = store().GetNamespace("team-a");
  ASSERT_TRUE(IsOk(deleted));
  EXPECT_FALSE(deleted->has_value());
  Result<void> delete_again = store().DeleteNamespace("team-a");
  ASSERT_FALSE(delete_again.has_value());
  EXPECT_EQ(delete_again.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, NamespaceNamesThatAreNotOnePathComponentAreRejected) {
  for (const std::string& bad : {std::string(""), std::string("."), std::string(".."),
                                 std::string("a/b"), std::string("x\0y", 3)}) {
    NamespaceRecord record;
    record.name = bad;
    Result<void> put = store().PutNamespace(record, PutMode::kUpsert);
    ASSERT_FALSE(put.has_value()) << bad;
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  auto list = store().ListNamespaces();
  ASSERT_TRUE(IsOk(list));
  EXPECT_TRUE(list->empty());
}

TEST_F(StoreTest, SettingsRoundTripAndSchemaVersionIsOwnedByTheStore) {
  auto missing = store().GetSetting("basic_auth_created_at");
  ASSERT_TRUE(IsOk(missing));
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(IsOk(store().PutSetting("basic_auth_created_at", "123")));
  ASSERT_TRUE(IsOk(store().PutSetting("basic_auth_created_at", "456")));
  auto got = store().GetSetting("basic_auth_created_at");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->value_or(""), "456");

  auto version = store().GetSetting("schema_version");
  ASSERT_TRUE(IsOk(version));
  EXPECT_EQ(version->value_or(""), "1");
  Result<void> overwrite = store().PutSetting("schema_version", "0");
  ASSERT_FALSE(overwrite.has_value());
  EXPECT_EQ(overwrite.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreTest, EverythingSurvivesCloseAndReopen) {
  ASSERT_TRUE(
      IsOk(store().PutFunction(MakeFunction("openfaas-fn", "figlet", "spec"), PutMode::kUpsert)));
  ASSERT_TRUE(IsOk(store().SetReplicas("openfaas-fn", "figlet", 4)));
  ASSERT_TRUE(IsOk(store().PutSecret("openfaas-fn", "token", "s3cret", PutMode::kUpsert)));
  NamespaceRecord ns;
  ns.name = "team-a";
  ASSERT_TRUE(IsOk(store().PutNamespace(ns, PutMode::kUpsert)));
  ASSERT_TRUE(IsOk(store().PutSetting("k", "v")));
  const std::int64_t written_at = now_;

  now_ += 1'000;
  Reopen();

  auto fn = store().GetFunction("openfaas-fn", "figlet");
  ASSERT_TRUE(IsOk(fn));
  ASSERT_TRUE(fn->has_value());
  EXPECT_EQ((*fn)->spec_json, "spec");
  EXPECT_EQ((*fn)->replicas, 4);
  EXPECT_EQ((*fn)->created_at, written_at);
  auto secret = store().ReadSecret("openfaas-fn", "token");
  ASSERT_TRUE(IsOk(secret));
  EXPECT_EQ(*secret, "s3cret");
  auto secrets = store().ListSecrets("openfaas-fn");
  ASSERT_TRUE(IsOk(secrets));
  ASSERT_EQ(secrets->size(), 1u);
  auto got_ns = store().GetNamespace("team-a");
  ASSERT_TRUE(IsOk(got_ns));
  EXPECT_TRUE(got_ns->has_value());
  auto setting = store().GetSetting("k");
  ASSERT_TRUE(IsOk(setting));
  EXPECT_EQ(setting->value_or(""), "v");
}

TEST_F(StoreTest, PublicOpenUsesWalAndTheSystemClock) {
  store_.reset();
  const auto nanos = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto opened = Store::Open(dir_);
  ASSERT_TRUE(IsOk(opened));
  const std::int64_t before = nanos();
  ASSERT_TRUE(IsOk((*opened)->PutFunction(MakeFunction("ns", "f"), PutMode::kUpsert)));
  const std::int64_t after = nanos();
  auto got = (*opened)->GetFunction("ns", "f");
  ASSERT_TRUE(IsOk(got));
  EXPECT_GE((*got)->created_at, before);
  EXPECT_LE((*got)->created_at, after);
  EXPECT_EQ(ModeOf(dir_ + "/funcd.db"), 0600);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/funcd.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, GarbageDatabaseFailsToOpenWithSqliteMessage) {
  store_.reset();
  WriteFile(dir_ + "/funcd.db", std::string(4096, 'x'));
  auto opened = OpenSqliteStore(dir_, Options());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_NE(opened.error().message.find("not a database"), std::string::npos)
      << opened.error().message;
}

TEST_F(StoreTest, UnusableStateDirectoryIsUnavailable) {
  store_.reset();
  WriteFile(dir_ + "/plain-file", "");
  auto under_file = OpenSqliteStore(dir_ + "/plain-file/state", Options());
  ASSERT_FALSE(under_file.has_value());
  EXPECT_EQ(under_file.error().code, ErrorCode::kUnavailable);

  std::filesystem::remove(dir_ + "/funcd.db");
  std::filesystem::create_directory(dir_ + "/funcd.db");
  auto db_is_dir = OpenSqliteStore(dir_, Options());
  ASSERT_FALSE(db_is_dir.has_value());
  EXPECT_EQ(db_is_dir.error().code, ErrorCode::kUnavailable);
}

TEST_F(StoreTest, MissingStateDirectoryAndParentsAreCreated) {
  store_.reset();
  const std::string nested = dir_ + "/a/b/state";
  auto opened = OpenSqliteStore(nested, Options());
  ASSERT_TRUE(IsOk(opened));
  EXPECT_TRUE(Exists(nested + "/funcd.db"));
  EXPECT_EQ(ModeOf(nested + "/secrets"), 0700);
}

TEST_F(StoreTest, NewerSchemaVersionIsRefused) {
  store_.reset();
  RunSql(dir_ + "/funcd.db", "UPDATE settings SET value = '99' WHERE key = 'schema_version'");
  auto opened = OpenSqliteStore(dir_, Options());
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_NE(opened.error().message.find("schema version 99"), std::string::npos)
      << opened.error().message;
}

TEST_F(StoreTest, LockHeldByAnotherConnectionGivesUnavailableThenRecovers) {
  store_.reset();
  auto opened = OpenSqliteStore(dir_, Options(/*busy_timeout_ms=*/50));
  ASSERT_TRUE(IsOk(opened));
  Store& short_wait = **opened;

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/funcd.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  Result<void> blocked = short_wait.PutFunction(MakeFunction("ns", "f"), PutMode::kUpsert);
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(blocked.error().message.find("locked"), std::string::npos) << blocked.error().message;

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(IsOk(short_wait.PutFunction(MakeFunction("ns", "f"), PutMode::kUpsert)));
}

}  // namespace
}  // namespace funcd::store
