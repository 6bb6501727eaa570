// The one translation unit that compiles Asio and Beast (separate compilation).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

#include "common/asio.h"
#include "common/log.h"

namespace funcd {

void LogExceptions::operator()(std::exception_ptr error) const {
  if (!error) {
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    Logf("task %.*s failed: %s", static_cast<int>(task.size()), task.data(), e.what());
  } catch (...) {
    Logf("task %.*s failed with an unknown exception", static_cast<int>(task.size()), task.data());
  }
}

}  // namespace funcd
