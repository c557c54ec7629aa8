# Libraries from Debian compiled in rather than used as shared libraries: fmt, toml++ and spdlog
# (src/ttynet/CMakeLists.txt). The program then links libstdc++ statically (apps/ttynet): a
# server for one port maps no C++ shared library; those were most of its memory
# (docs/benchmarks.md).
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)

add_library(ttynet_fmt INTERFACE)
target_link_libraries(ttynet_fmt INTERFACE fmt::fmt-header-only)

# zlib (deflate) and libmd (MD5) linked statically: their code is only paged in once used, so
# a server that never flashes or simulates a chip does not carry them. libmd rather than
# OpenSSL's libcrypto: MD5 is all ttynet needs, and loading libcrypto cost every process
# about 1.4 MiB.
set(ZLIB_USE_STATIC_LIBS ON)
find_package(ZLIB REQUIRED)
find_library(LIBMD_STATIC NAMES libmd.a REQUIRED)

find_package(PkgConfig REQUIRED)
pkg_check_modules(TOMLPLUSPLUS REQUIRED tomlplusplus)
add_library(ttynet_toml INTERFACE)
target_include_directories(ttynet_toml INTERFACE ${TOMLPLUSPLUS_INCLUDE_DIRS})
target_compile_definitions(ttynet_toml INTERFACE TOML_HEADER_ONLY=1)

# yaml-cpp for the ser2net-compatible configuration (src/ttynet/server/ser2net_yaml.cpp), linked
# statically like libmd: the program maps no C++ shared library (apps/ttynet).
find_library(YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
find_path(YAML_CPP_INCLUDE_DIR yaml-cpp/yaml.h REQUIRED)
add_library(ttynet_yaml INTERFACE)
target_include_directories(ttynet_yaml SYSTEM INTERFACE ${YAML_CPP_INCLUDE_DIR})
target_link_libraries(ttynet_yaml INTERFACE ${YAML_CPP_STATIC})

# The dashboard's HTTP and WebSocket (src/ttynet/http/): Node's http-parser, linked statically,
# and wslay (Debian ships it only as a shared library; it is C, so no C++ runtime comes with
# it). Both are sans-I/O: the bytes move on ttynet's own event loop.
find_library(HTTP_PARSER_STATIC NAMES libhttp_parser.a REQUIRED)
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
add_library(ttynet_http_parser INTERFACE)
target_include_directories(ttynet_http_parser SYSTEM INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(ttynet_http_parser INTERFACE ${HTTP_PARSER_STATIC})
find_library(WSLAY_LIBRARY NAMES wslay REQUIRED)
find_path(WSLAY_INCLUDE_DIR wslay/wslay.h REQUIRED)
add_library(ttynet_wslay INTERFACE)
target_include_directories(ttynet_wslay SYSTEM INTERFACE ${WSLAY_INCLUDE_DIR})
target_link_libraries(ttynet_wslay INTERFACE ${WSLAY_LIBRARY})
