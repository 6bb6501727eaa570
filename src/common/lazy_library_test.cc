#include "common/lazy_library.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "common/libcrypto.h"
#include "common/libmosquitto.h"
#include "common/libnats.h"

// The tests use libnats as the real library: this test binary does not link it, so whatever
// reaches it went through dlopen.

namespace funcd {
namespace {

LazyLibrary missing_library("libfuncd-no-such-library.so.0", "funcd-no-such-package", {});

// A function of a library that cannot be loaded; calling it must abort with a message.
inline constexpr LazyFunction<missing_library, "natsStatus_GetText", decltype(::natsStatus_GetText)>
    missing_function{};

// A libnats function that is not in libnats' symbol list: resolved at its first call.
inline constexpr LazyFunction<libnats, "nats_GetVersion", decltype(::nats_GetVersion)>
    nats_version{};

bool Mapped(const char* soname) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) {
    ::dlclose(handle);  // drops the reference RTLD_NOLOAD took
  }
  return handle != nullptr;
}

// First in this file: the libnats tests below map the library for the rest of the process.
TEST(LazyLibraryTest, MapsTheLibraryOnlyWhenLoaded) {
  EXPECT_FALSE(Mapped(libnats.soname()));
  ASSERT_TRUE(libnats.Load().has_value());
  EXPECT_TRUE(Mapped(libnats.soname()));
}

TEST(LazyLibraryTest, CallsFunctionsOfTheLoadedLibrary) {
  ASSERT_TRUE(libnats.Load().has_value());
  EXPECT_STREQ(natsStatus_GetText(NATS_NOT_FOUND), "Not Found");
  EXPECT_STREQ(nats_version(), NATS_VERSION_STRING);
}

TEST(LazyLibraryTest, ConvertsToTheLibrarysFunctionPointer) {
  ASSERT_TRUE(libnats.Load().has_value());
  const char* (*get_text)(natsStatus) = natsStatus_GetText;
  void* handle = ::dlopen(libnats.soname(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  EXPECT_EQ(reinterpret_cast<void*>(get_text), ::dlsym(handle, "natsStatus_GetText"));
  ::dlclose(handle);
}

TEST(LazyLibraryTest, AllDeclaredFunctionsResolve) {
  // Load() resolves every function of each library's list: these fail if a list names a
  // function that the installed library lacks.
  EXPECT_TRUE(libnats.Load().has_value());
  auto mosquitto = libmosquitto.Load();
  EXPECT_TRUE(mosquitto.has_value()) << mosquitto.error().message;
  auto crypto = libcrypto.Load();
  EXPECT_TRUE(crypto.has_value()) << crypto.error().message;
  EXPECT_STREQ(mosquitto_strerror(MOSQ_ERR_NOMEM), "Out of memory.");
}

TEST(LazyLibraryTest, MissingLibraryIsAClearError) {
  auto loaded = missing_library.Load();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kFailedPrecondition);
  const std::string& message = loaded.error().message;
  EXPECT_NE(message.find("libfuncd-no-such-library.so.0 is not installed"), std::string::npos)
      << message;
  EXPECT_NE(message.find("apt install funcd-no-such-package"), std::string::npos) << message;
  // Later calls give the same answer.
  auto again = missing_library.Load();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, message);
}

TEST(LazyLibraryTest, MissingFunctionIsAClearError) {
  static constexpr const char* kSymbols[] = {"natsStatus_GetText", "funcd_no_such_function"};
  LazyLibrary wrong_version(libnats.soname(), "", kSymbols);
  auto loaded = wrong_version.Load();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(loaded.error().message.find("lacks the function funcd_no_such_function"),
            std::string::npos)
      << loaded.error().message;
}

TEST(LazyLibraryDeathTest, CallWithoutTheLibraryAborts) {
  EXPECT_DEATH(missing_function(NATS_OK),
               "cannot call natsStatus_GetText: libfuncd-no-such-library.so.0 is not installed");
}

}  // namespace
}  // namespace funcd
