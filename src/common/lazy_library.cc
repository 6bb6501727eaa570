#include "common/lazy_library.h"

#include <dlfcn.h>

#include <cstdlib>

#include "common/log.h"
#include "common/strings.h"

namespace funcd {

Result<void> LazyLibrary::Load() {
  std::call_once(once_, [this] {
    void* handle = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      std::string message = StrCat(soname_, " is not installed or cannot be loaded");
      if (*package_ != '\0') {
        StrAppend(message, " (apt install ", package_, ")");
      }
      StrAppend(message, ": ", why != nullptr ? why : "dlopen failed");
      error_ = Error{ErrorCode::kFailedPrecondition, std::move(message)};
      return;
    }
    for (const char* symbol : symbols_) {
      if (::dlsym(handle, symbol) == nullptr) {
        // The library is left open: closing it could run code of a library in a state nobody
        // expects, and the process does not use it.
        error_ = Error{ErrorCode::kFailedPrecondition,
                       StrCat(soname_, " lacks the function ", symbol,
                              "; it is not the version funcd was built against",
                              *package_ != '\0' ? StrCat(" (package ", package_, ")") : "")};
        return;
      }
    }
    handle_ = handle;
  });
  if (handle_ == nullptr) {
    return error_;
  }
  return Ok();
}

void* LazyLibrary::SymbolOrDie(const char* name) {
  if (auto loaded = Load(); !loaded) {
    LogLine(StrCat("fatal: cannot call ", name, ": ", loaded.error().message));
    std::abort();
  }
  void* address = ::dlsym(handle_, name);
  if (address == nullptr) {
    LogLine(StrCat("fatal: ", soname_, " lacks the function ", name,
                   " (not in the symbols its LazyLibrary declares)"));
    std::abort();
  }
  return address;
}

}  // namespace funcd
