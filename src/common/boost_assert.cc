// Boost's assertion handler (BOOST_ENABLE_ASSERT_DEBUG_HANDLER, set for every target in
// cmake/funcd.cmake): like the default assert — print and abort — except for one assertion
// of Boost 1.81 that is known to be wrong.
//
// Beast's chunked-body parser asserts `n >= 5` when it resumes after the last chunk's size
// line, but a client may legitimately send "0\r\n", then "\r", then "\n": the parser then
// sees 3 or 4 bytes, and the code after the assertion handles them (it asks for more).
// Boost 1.86 relaxed the assertion (boostorg/beast#2861); until then, a debug or sanitizer
// build of funcd must not abort on such a client. Release builds define NDEBUG, which turns
// every BOOST_ASSERT off, handler included.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

bool KnownFalseAssertion(std::string_view expr, std::string_view file) {
  return expr == "n >= 5" && file.ends_with("beast/http/impl/basic_parser.ipp");
}

}  // namespace

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (KnownFalseAssertion(expr, file)) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  if (KnownFalseAssertion(expr, file)) {
    return;
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
