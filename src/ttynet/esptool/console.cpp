#include "ttynet/esptool/console.hpp"

#include <unistd.h>

#include <cstdio>

namespace ttynet::esptool {
namespace {

Console::Sink file_sink(std::FILE* file) {
  return [file](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), file);
    std::fflush(file);
  };
}

}  // namespace

Console Console::standard() {
  return Console(file_sink(stdout), file_sink(stderr), ::isatty(STDOUT_FILENO) == 1);
}

Console Console::capture(std::string& text) {
  auto sink = [&text](std::string_view more) { text.append(more); };
  return Console(sink, sink, false);
}

void Console::line(std::string_view text) {
  std::string out(text);
  out += '\n';
  out_(out);
}

void Console::error_line(std::string_view text) {
  std::string out(text);
  out += '\n';
  err_(out);
}

}  // namespace ttynet::esptool
