// The libraries opened on first use (common/lazy_library.h), with the sonames and packages
// src/CMakeLists.txt found at configure time (FUNCD_LIB*_SONAME, FUNCD_LIB*_PACKAGE).

#include "common/libcrypto.h"
#include "common/libmosquitto.h"
#include "common/libnats.h"

namespace funcd {

namespace {
constexpr const char* kLibcryptoSymbols[] = {FUNCD_LIBCRYPTO_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
constexpr const char* kLibmosquittoSymbols[] = {
    FUNCD_LIBMOSQUITTO_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
constexpr const char* kLibnatsSymbols[] = {FUNCD_LIBNATS_FUNCTIONS(FUNCD_LAZY_SYMBOL_NAME)};
}  // namespace

LazyLibrary libcrypto(FUNCD_LIBCRYPTO_SONAME, FUNCD_LIBCRYPTO_PACKAGE, kLibcryptoSymbols);
LazyLibrary libmosquitto(FUNCD_LIBMOSQUITTO_SONAME, FUNCD_LIBMOSQUITTO_PACKAGE,
                         kLibmosquittoSymbols);
LazyLibrary libnats(FUNCD_LIBNATS_SONAME, FUNCD_LIBNATS_PACKAGE, kLibnatsSymbols);

}  // namespace funcd
