#pragma once

// Result<T> and Error: expected failures as values.
//
// Spelled like std::expected so that it can be swapped for it once the toolchain allows
// (C++23 with monadic operations). Errors carry a code modelled on absl::StatusCode and a
// message meant for people; HttpStatusFor() maps codes to HTTP statuses in one place.

#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace funcd {

enum class ErrorCode {
  kOk = 0,
  kCancelled,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kFailedPrecondition,
  kUnimplemented,
  kUnavailable,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

// The HTTP status a client should see for an error of this code.
int HttpStatusFor(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  std::string ToString() const;
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// Wraps an Error for construction of a Result, as std::unexpected does.
class Unexpected {
 public:
  explicit Unexpected(Error error) : error_(std::move(error)) {}
  Unexpected(ErrorCode code, std::string message) : error_{code, std::move(message)} {}
  Error& error() & { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
};

// Holds either a T or an Error. Accessing the wrong alternative aborts (a bug, not an error).
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result() requires std::is_default_constructible_v<T> : storage_(std::in_place_index<0>) {}
  template <typename U = T>
  requires std::is_constructible_v<T, U&&> &&(!std::is_same_v<std::remove_cvref_t<U>, Result>)&&(
      !std::is_same_v<std::remove_cvref_t<U>, Unexpected>)Result(U&& value)
      : storage_(std::in_place_index<0>, std::forward<U>(value)) {}
  Result(Unexpected unexpected) : storage_(std::in_place_index<1>, std::move(unexpected).error()) {}
  Result(Error error) : storage_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return Check(), std::get<0>(storage_); }
  const T& value() const& { return Check(), std::get<0>(storage_); }
  T&& value() && { return Check(), std::get<0>(std::move(storage_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return CheckError(), std::get<1>(storage_); }
  Error&& error() && { return CheckError(), std::get<1>(std::move(storage_)); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(storage_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void Check() const {
    if (!has_value()) {
      std::abort();
    }
  }
  void CheckError() const {
    if (has_value()) {
      std::abort();
    }
  }
  std::variant<T, Error> storage_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Unexpected unexpected) : error_(std::move(unexpected).error()), ok_(false) {}
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) {
      std::abort();
    }
  }
  const Error& error() const& {
    if (ok_) {
      std::abort();
    }
    return error_;
  }
  Error&& error() && {
    if (ok_) {
      std::abort();
    }
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

}  // namespace funcd

#define FUNCD_CONCAT_INNER_(a, b) a##b
#define FUNCD_CONCAT_(a, b) FUNCD_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Result) from the enclosing function if it has one.
#define FUNCD_RETURN_IF_ERROR(expr)            \
  do {                                         \
    auto&& funcd_result_ = (expr);             \
    if (!funcd_result_.has_value()) {          \
      return std::move(funcd_result_).error(); \
    }                                          \
  } while (false)

// Like FUNCD_RETURN_IF_ERROR for coroutines.
#define FUNCD_CO_RETURN_IF_ERROR(expr)            \
  do {                                            \
    auto&& funcd_result_ = (expr);                \
    if (!funcd_result_.has_value()) {             \
      co_return std::move(funcd_result_).error(); \
    }                                             \
  } while (false)

#define FUNCD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.has_value()) {                            \
    return std::move(tmp).error();                   \
  }                                                  \
  lhs = std::move(tmp).value()

// `FUNCD_ASSIGN_OR_RETURN(auto x, Parse(...));` assigns the value or returns the error.
#define FUNCD_ASSIGN_OR_RETURN(lhs, expr) \
  FUNCD_ASSIGN_OR_RETURN_IMPL_(FUNCD_CONCAT_(funcd_assign_, __LINE__), lhs, expr)

#define FUNCD_CO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.has_value()) {                               \
    co_return std::move(tmp).error();                   \
  }                                                     \
  lhs = std::move(tmp).value()

#define FUNCD_CO_ASSIGN_OR_RETURN(lhs, expr) \
  FUNCD_CO_ASSIGN_OR_RETURN_IMPL_(FUNCD_CONCAT_(funcd_assign_, __LINE__), lhs, expr)

// Bugs, not errors: always-on and debug-only assertions. Never for input from outside.
#define FUNCD_CHECK(cond)                                        \
  do {                                                           \
    if (!(cond)) {                                               \
      ::funcd::internal::CheckFailed(#cond, __FILE__, __LINE__); \
    }                                                            \
  } while (false)

#ifdef NDEBUG
#define FUNCD_DCHECK(cond) \
  do {                     \
  } while (false && (cond))
#else
#define FUNCD_DCHECK(cond) FUNCD_CHECK(cond)
#endif

namespace funcd::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace funcd::internal
