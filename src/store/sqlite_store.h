#pragma once

// The SQLite implementation of Store (see store.h). Store::Open uses it with the default
// options; tests use OpenSqliteStore to inject a clock and a short lock timeout.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace funcd::store {

struct SqliteStoreOptions {
  // Unix nanoseconds for created_at / updated_at. Empty: the system clock.
  std::function<std::int64_t()> now;
  // How long a call waits for another connection's lock before failing with kUnavailable.
  int busy_timeout_ms = 5000;
};

// Like Store::Open, with `options`.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& state_dir,
                                               SqliteStoreOptions options);

}  // namespace funcd::store
