# Helpers that keep every target's flags the same.

set(FUNCD_WARNINGS -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 false positives on coroutine frames at -O2: Asio's frame allocator pairs its own
  # operator new/delete (-Wmismatched-new-delete), and variants held in frames look
  # uninitialized to the optimizer (-Wmaybe-uninitialized). Both fire only in coroutines.
  # And libstdc++'s std::string inlined at -O2 trips -Wrestrict (GCC bug 105329).
  list(APPEND FUNCD_WARNINGS -Wno-mismatched-new-delete -Wno-maybe-uninitialized -Wno-restrict)
endif()
if(FUNCD_WERROR)
  list(APPEND FUNCD_WARNINGS -Werror)
endif()

# BOOST_ASSERT calls boost::assertion_failed (src/common/boost_assert.cc) in builds without
# NDEBUG; set for every target of the project so that all agree on what BOOST_ASSERT is.
add_compile_definitions(BOOST_ENABLE_ASSERT_DEBUG_HANDLER)

add_library(funcd_options INTERFACE)
target_compile_options(funcd_options INTERFACE ${FUNCD_WARNINGS})
target_compile_definitions(funcd_options INTERFACE
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED
  # Asio keeps freed coroutine frames (up to ~1 KB) per thread for reuse; the default of two
  # slots is far fewer than the frames of one proxied request.
  BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)
target_include_directories(funcd_options INTERFACE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(funcd_options INTERFACE Boost::headers Threads::Threads)
if(FUNCD_SANITIZE)
  target_compile_options(funcd_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(funcd_options INTERFACE -fsanitize=address,undefined)
  # Asio recycles coroutine frames through a thread-local cache, which hides
  # use-after-free from ASan.
  target_compile_definitions(funcd_options INTERFACE BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING)
endif()

# funcd_library(NAME SRCS ... DEPS ...): a static library of one src/ folder.
function(funcd_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_link_libraries(${name} PUBLIC funcd_options ${ARG_DEPS})
endfunction()

# funcd_test(NAME SRCS ... DEPS ...): a GoogleTest binary registered with CTest.
function(funcd_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE funcd_options ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  set(props "")
  if(ARG_LABELS)
    set(props PROPERTIES LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 ${props})
endfunction()

# funcd_fuzz(NAME SRCS ... DEPS ...): a libFuzzer target (clang only).
function(funcd_fuzz name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(NOT FUNCD_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/src/common/boost_assert.cc)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined ${FUNCD_WARNINGS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE Boost::headers ${ARG_DEPS})
endfunction()

# funcd_lazy_library(PREFIX LIBRARY): for a library opened with dlopen on first use
# (src/common/lazy_library.h), sets PREFIX_SONAME to the DT_SONAME of the shared library file
# LIBRARY (the one pkg-config or find_package found, so that dlopen opens the version the code
# was compiled against) and PREFIX_PACKAGE to the Debian package holding it ("" when dpkg does
# not know it), for the error message when it is missing.
function(funcd_lazy_library prefix library)
  execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${library}
                  OUTPUT_VARIABLE dump RESULT_VARIABLE status ERROR_QUIET)
  if(NOT status EQUAL 0 OR NOT dump MATCHES "SONAME[ \t]+([^ \t\r\n]+)")
    message(FATAL_ERROR "cannot read the SONAME of ${library} with ${CMAKE_OBJDUMP} -p")
  endif()
  set(soname ${CMAKE_MATCH_1})
  set(package "")
  find_program(FUNCD_DPKG_QUERY dpkg-query)
  if(FUNCD_DPKG_QUERY)
    execute_process(COMMAND ${FUNCD_DPKG_QUERY} -S "*/${soname}"
                    OUTPUT_VARIABLE owner RESULT_VARIABLE status ERROR_QUIET)
    if(status EQUAL 0 AND owner MATCHES "^([^:, ]+)")
      set(package ${CMAKE_MATCH_1})
    endif()
  endif()
  message(STATUS "${prefix}: ${soname} (package ${package}), opened on first use")
  set(${prefix}_SONAME ${soname} PARENT_SCOPE)
  set(${prefix}_PACKAGE "${package}" PARENT_SCOPE)
endfunction()
