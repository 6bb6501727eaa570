#pragma once

// Shared libraries that only some features need (libnats, libmosquitto, libcrypto), opened
// with dlopen on first use instead of by the dynamic linker at start-up: a process that never
// uses the feature never maps the library, its relocations or its dependencies.
//
// A library is a LazyLibrary object; each C function of it used by the code is a
// LazyFunction object named like the function, declared with FUNCD_LAZY_FUNCTION inside
// namespace funcd. Call sites in namespaces nested in funcd keep calling the function by its
// name: unqualified lookup finds funcd::name (an object, so there is no ADL) before ::name.
// See common/libnats.h for a library declared this way.
//
// Where a feature starts it calls Load() and turns a failure into its own error; calls made
// through a LazyFunction after that cannot fail. A call made without Load() loads the library
// itself and aborts with a message if that fails (a bug: the feature skipped Load()).

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <span>
#include <string>
#include <utility>

#include "common/result.h"

namespace funcd {

// One shared library opened on first use. Thread-safe. Never closed: the functions and
// threads a library started (libnats' delivery threads) may run until the process exits.
// Objects are meant to have static storage duration (LazyFunction refers to them).
class LazyLibrary final {
 public:
  // `soname`: what dlopen is given (the library's DT_SONAME, derived at configure time).
  // `package`: the distribution package that installs it, for the error message ("" when
  // unknown). `symbols`: every function the code calls, resolved by Load() so that a library
  // of the wrong version fails at once rather than at its first call. The strings and the
  // span must outlive the object (string literals and a static array).
  constexpr LazyLibrary(const char* soname, const char* package,
                        std::span<const char* const> symbols)
      : soname_(soname), package_(package), symbols_(symbols) {}

  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  // Opens the library (RTLD_NOW | RTLD_LOCAL) and resolves every symbol, once; later calls
  // return the first outcome. Errors: kFailedPrecondition (the library is not installed, or
  // lacks one of the symbols), with a message that names the library and its package.
  Result<void> Load();

  // The address of function `name` of the library. Loads the library if needed; logs and
  // aborts if it cannot be loaded or lacks `name` (REQUIRES: Load() succeeded, or the caller
  // accepts the abort).
  void* SymbolOrDie(const char* name);

  const char* soname() const { return soname_; }

 private:
  const char* const soname_;
  const char* const package_;
  const std::span<const char* const> symbols_;
  std::once_flag once_;
  void* handle_ = nullptr;  // set by the first Load()
  Error error_;             // the first Load()'s failure, when handle_ is null
};

// A string usable as a template argument (the name of a function).
template <std::size_t N>
struct FixedString {
  constexpr FixedString(const char (&text)[N]) { std::copy_n(text, N, value); }  // NOLINT
  char value[N];
};

// Calls function `name` of `library`, of type F (decltype of the C declaration). The address
// is resolved at the first call and kept. A stateless constant: declare one per function
// with FUNCD_LAZY_FUNCTION.
template <auto& library, FixedString name, typename F>
struct LazyFunction;

template <auto& library, FixedString name, typename R, typename... Args, bool kNoexcept>
struct LazyFunction<library, name, R(Args...) noexcept(kNoexcept)> {
  using Pointer = R (*)(Args...) noexcept(kNoexcept);

  static Pointer Get() {
    static const Pointer pointer = reinterpret_cast<Pointer>(library.SymbolOrDie(name.value));
    return pointer;
  }

  R operator()(Args... args) const { return Get()(std::forward<Args>(args)...); }

  // For the places that want the C function itself (callbacks, deleters).
  operator Pointer() const { return Get(); }  // NOLINT(google-explicit-constructor)
};

}  // namespace funcd

// Declares funcd::name, the function `name` (declared by the library's C header) called
// through LazyLibrary `library` (a qualified name). Use at global scope. decltype(::name)
// does not odr-use the function, so the executable does not refer to the real symbol.
#define FUNCD_LAZY_FUNCTION(library, name)                                         \
  namespace funcd {                                                                \
  inline constexpr ::funcd::LazyFunction<library, #name, decltype(::name)> name{}; \
  }

// Expands to "name", for the symbol lists of the X-macros in common/lib*.h.
#define FUNCD_LAZY_SYMBOL_NAME(name) #name,
