#include "common/libcrypto.h"

namespace funcd {

namespace {
constexpr const char* kSymbols[] = {FUNCD_LIBCRYPTO_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
}  // namespace

// FUNCD_LIBCRYPTO_SONAME and FUNCD_LIBCRYPTO_PACKAGE come from src/CMakeLists.txt.
LazyLibrary libcrypto(FUNCD_LIBCRYPTO_SONAME, FUNCD_LIBCRYPTO_PACKAGE, kSymbols);

}  // namespace funcd
