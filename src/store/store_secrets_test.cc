// Secrets: values in private files, the index in SQLite (see store.h).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store/store_test_fixture.h"

namespace funcd::store {
namespace {

std::string AllByteValues() {
  std::string value;
  for (int i = 0; i < 256; ++i) {
    value.push_back(static_cast<char>(i));
  }
  return value + std::string("\0\0tail\0", 7);
}

TEST_F(StoreTest, BinarySecretValueRoundTripsThroughItsFile) {
  const std::string value = AllByteValues();
  ASSERT_TRUE(IsOk(store().PutSecret("openfaas-fn", "blob", value, PutMode::kCreateOnly)));

  auto read = store().ReadSecret("openfaas-fn", "blob");
  ASSERT_TRUE(IsOk(read));
  EXPECT_EQ(read->size(), value.size());
  EXPECT_EQ(*read, value);

  const std::string path = store().SecretPath("openfaas-fn", "blob");
  EXPECT_EQ(path, SecretsDir() + "/openfaas-fn/blob");
  std::ifstream in(path, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, value);
}

TEST_F(StoreTest, EmptySecretValueIsAValue) {
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "empty", "", PutMode::kUpsert)));
  auto read = store().ReadSecret("ns", "empty");
  ASSERT_TRUE(IsOk(read));
  EXPECT_EQ(*read, "");
}

TEST_F(StoreTest, SecretFilesAreOwnerOnlyEvenUnderAStrictUmask) {
  // 0277 would leave mkostemp's file read-only and mkdir's directory unwritable.
  const mode_t previous = ::umask(0277);
  Result<void> put = store().PutSecret("openfaas-fn", "token", "value", PutMode::kUpsert);
  ::umask(previous);
  ASSERT_TRUE(IsOk(put));

  EXPECT_EQ(ModeOf(SecretsDir()), 0700);
  EXPECT_EQ(ModeOf(SecretsDir() + "/openfaas-fn"), 0700);
  EXPECT_EQ(ModeOf(SecretsDir() + "/openfaas-fn/token"), 0600);

  ASSERT_TRUE(IsOk(store().PutSecret("openfaas-fn", "token", "value2", PutMode::kUpsert)));
  EXPECT_EQ(ModeOf(SecretsDir() + "/openfaas-fn/token"), 0600);
}

TEST_F(StoreTest, LooseSecretsDirectoryIsTightenedOnOpen) {
  store_.reset();
  ASSERT_EQ(::chmod(SecretsDir().c_str(), 0755), 0);
  Reopen();
  EXPECT_EQ(ModeOf(SecretsDir()), 0700);
}

TEST_F(StoreTest, ListSecretsGivesNamesAndTimesOfOneNamespaceOnly) {
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "zeta", "value-z", PutMode::kUpsert)));
  const std::int64_t zeta_created = now_;
  now_ += 5;
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "alpha", "value-a", PutMode::kUpsert)));
  ASSERT_TRUE(IsOk(store().PutSecret("other", "beta", "value-b", PutMode::kUpsert)));

  auto list = store().ListSecrets("ns");
  ASSERT_TRUE(IsOk(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[1].name, "zeta");
  EXPECT_EQ((*list)[1].created_at, zeta_created);
  for (const SecretRecord& record : *list) {
    EXPECT_EQ(record.namespace_name, "ns");
    EXPECT_EQ(record.name.find("value"), std::string::npos);  // names only, never values
  }
  auto none = store().ListSecrets("nobody");
  ASSERT_TRUE(IsOk(none));
  EXPECT_TRUE(none->empty());
}

TEST_F(StoreTest, SecretPutModes) {
  ASSERT_TRUE(IsOk(store().PutSecret("openfaas-fn", "db-password", "one", PutMode::kCreateOnly)));
  const std::int64_t created = now_;

  now_ += 3;
  Result<void> dup = store().PutSecret("openfaas-fn", "db-password", "two", PutMode::kCreateOnly);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "secret db-password.openfaas-fn already exists");
  auto unchanged = store().ReadSecret("openfaas-fn", "db-password");
  ASSERT_TRUE(IsOk(unchanged));
  EXPECT_EQ(*unchanged, "one");

  Result<void> absent = store().PutSecret("openfaas-fn", "nope", "x", PutMode::kReplaceOnly);
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(absent.error().message, "secret nope.openfaas-fn not found");
  EXPECT_FALSE(Exists(SecretsDir() + "/openfaas-fn/nope"));

  ASSERT_TRUE(
      IsOk(store().PutSecret("openfaas-fn", "db-password", "three", PutMode::kReplaceOnly)));
  auto replaced = store().ReadSecret("openfaas-fn", "db-password");
  ASSERT_TRUE(IsOk(replaced));
  EXPECT_EQ(*replaced, "three");
  auto list = store().ListSecrets("openfaas-fn");
  ASSERT_TRUE(IsOk(list));
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].created_at, created);
  EXPECT_EQ((*list)[0].updated_at, created + 3);
}

TEST_F(StoreTest, DeleteSecretRemovesRowAndFile) {
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "token", "v", PutMode::kUpsert)));
  const std::string path = store().SecretPath("ns", "token");
  ASSERT_TRUE(Exists(path));

  ASSERT_TRUE(IsOk(store().DeleteSecret("ns", "token")));
  EXPECT_FALSE(Exists(path));
  auto list = store().ListSecrets("ns");
  ASSERT_TRUE(IsOk(list));
  EXPECT_TRUE(list->empty());
  auto read = store().ReadSecret("ns", "token");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);

  Result<void> again = store().DeleteSecret("ns", "token");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(again.error().message, "secret token.ns not found");
}

TEST_F(StoreTest, SecretNamesThatLeaveTheDirectoryAreRejected) {
  const std::vector<std::string> bad = {
      "", ".", "..", "a/b", "../escape", "/abs", std::string("x\0y", 3)};
  for (const std::string& name : bad) {
    for (const auto& [ns, secret] :
         std::vector<std::pair<std::string, std::string>>{{"ns", name}, {name, "escape"}}) {
      Result<void> put = store().PutSecret(ns, secret, "v", PutMode::kUpsert);
      ASSERT_FALSE(put.has_value()) << ns << "/" << secret;
      EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
      auto read = store().ReadSecret(ns, secret);
      ASSERT_FALSE(read.has_value());
      EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
      Result<void> remove = store().DeleteSecret(ns, secret);
      ASSERT_FALSE(remove.has_value());
      EXPECT_EQ(remove.error().code, ErrorCode::kInvalidArgument);
      EXPECT_EQ(store().SecretPath(ns, secret), "");
    }
  }
  // Had "..", "../escape" or ".." as a namespace got through, these would exist.
  EXPECT_FALSE(Exists(dir_ + "/escape"));
  EXPECT_FALSE(Exists(SecretsDir() + "/escape"));
  EXPECT_FALSE(Exists(SecretsDir() + "/ns"));
}

TEST_F(StoreTest, UnindexedFileIsNotASecretAndMissingFileIsReported) {
  // A file without a row, as left by a crash between the rename and the commit.
  ASSERT_EQ(::mkdir((SecretsDir() + "/ns").c_str(), 0700), 0);
  WriteFile(SecretsDir() + "/ns/orphan", "leftover");
  auto orphan = store().ReadSecret("ns", "orphan");
  ASSERT_FALSE(orphan.has_value());
  EXPECT_EQ(orphan.error().code, ErrorCode::kNotFound);
  // The next create of that name succeeds and overwrites it.
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "orphan", "fresh", PutMode::kCreateOnly)));
  auto fresh = store().ReadSecret("ns", "orphan");
  ASSERT_TRUE(IsOk(fresh));
  EXPECT_EQ(*fresh, "fresh");

  ASSERT_TRUE(IsOk(store().PutSecret("ns", "lost", "v", PutMode::kUpsert)));
  ASSERT_EQ(::unlink(store().SecretPath("ns", "lost").c_str()), 0);
  auto lost = store().ReadSecret("ns", "lost");
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(IsOk(store().DeleteSecret("ns", "lost")));  // a missing file does not block it
}

TEST_F(StoreTest, ReopenSweepsStrayTemporaryFilesButKeepsSecrets) {
  ASSERT_TRUE(IsOk(store().PutSecret("ns", "token", "kept", PutMode::kUpsert)));
  // A real secret whose name looks like a temporary file must survive the sweep.
  ASSERT_TRUE(IsOk(store().PutSecret("ns", ".tmp-abcdef", "also kept", PutMode::kUpsert)));
  store_.reset();
  const std::string stray = SecretsDir() + "/ns/.tmp-Zx81Qa";
  WriteFile(stray, "half-written");

  Reopen();
  EXPECT_FALSE(Exists(stray));
  auto token = store().ReadSecret("ns", "token");
  ASSERT_TRUE(IsOk(token));
  EXPECT_EQ(*token, "kept");
  auto lookalike = store().ReadSecret("ns", ".tmp-abcdef");
  ASSERT_TRUE(IsOk(lookalike));
  EXPECT_EQ(*lookalike, "also kept");
  auto list = store().ListSecrets("ns");
  ASSERT_TRUE(IsOk(list));
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(StoreTest, SecretWriteFailureLeavesNoRow) {
  // A directory squatting on the value's path makes the rename fail (EISDIR), which no
  // permission bits can work around, even for root.
  ASSERT_EQ(::mkdir((SecretsDir() + "/ns").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((SecretsDir() + "/ns/token").c_str(), 0700), 0);
  Result<void> put = store().PutSecret("ns", "token", "v", PutMode::kCreateOnly);
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable);

  auto list = store().ListSecrets("ns");
  ASSERT_TRUE(IsOk(list));
  EXPECT_TRUE(list->empty());
  // ...and no temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(SecretsDir() + "/ns")) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

}  // namespace
}  // namespace funcd::store
