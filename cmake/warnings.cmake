# Warnings for every target of ours; applied through ttynet_options so third-party code is untouched.
add_library(ttynet_options INTERFACE)
target_compile_options(ttynet_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
target_include_directories(ttynet_options INTERFACE ${PROJECT_SOURCE_DIR}/src)
