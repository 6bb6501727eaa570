#include "common/libmosquitto.h"

namespace funcd {

namespace {
constexpr const char* kSymbols[] = {FUNCD_LIBMOSQUITTO_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
}  // namespace

// FUNCD_LIBMOSQUITTO_SONAME and FUNCD_LIBMOSQUITTO_PACKAGE come from src/CMakeLists.txt.
LazyLibrary libmosquitto(FUNCD_LIBMOSQUITTO_SONAME, FUNCD_LIBMOSQUITTO_PACKAGE, kSymbols);

}  // namespace funcd
