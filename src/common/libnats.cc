#include "common/libnats.h"

namespace funcd {

namespace {
constexpr const char* kSymbols[] = {FUNCD_LIBNATS_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
}  // namespace

// FUNCD_LIBNATS_SONAME and FUNCD_LIBNATS_PACKAGE come from src/CMakeLists.txt.
LazyLibrary libnats(FUNCD_LIBNATS_SONAME, FUNCD_LIBNATS_PACKAGE, kSymbols);

}  // namespace funcd
