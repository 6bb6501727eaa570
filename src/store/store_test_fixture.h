#pragma once

// Test fixture for the store tests: a fresh temporary state directory per test (removed
// afterwards) and a store opened on it with a fake clock that the test advances by hand.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include "store/sqlite_store.h"
#include "store/store.h"

namespace funcd::store {

template <typename T>
::testing::AssertionResult IsOk(const Result<T>& result) {
  if (result.has_value()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << result.error().ToString();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "funcd-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Destroys the store (closing the database) and opens the same directory again.
  void Reopen() {
    store_.reset();
    auto opened = OpenSqliteStore(dir_, Options());
    ASSERT_TRUE(IsOk(opened));
    store_ = std::move(opened).value();
  }

  SqliteStoreOptions Options(int busy_timeout_ms = 5000) {
    return SqliteStoreOptions{.now = [this] { return now_; }, .busy_timeout_ms = busy_timeout_ms};
  }

  Store& store() { return *store_; }

  std::string SecretsDir() const { return dir_ + "/secrets"; }

  // Permission bits of `path`, or -1 if it cannot be stat'ed.
  static int ModeOf(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      return -1;
    }
    return static_cast<int>(st.st_mode & 07777);
  }

  static bool Exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  static void WriteFile(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }

  std::string dir_;
  std::int64_t now_ = 1'000'000;
  std::unique_ptr<Store> store_;
};

}  // namespace funcd::store
