// The file `ttynet term` logs the port's output to (Ctrl-T l): log_file.hpp.
#include "ttynet/term/log_file.hpp"

#include <cerrno>

namespace ttynet::term {

std::error_code LogFile::open(const std::string& name) {
  close();
  file_ = std::fopen(name.c_str(), "ab");
  if (!file_) return {errno, std::system_category()};
  name_ = name;
  return {};
}

void LogFile::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void LogFile::write(ByteView data) {
  if (!file_) return;
  std::fwrite(data.data(), 1, data.size(), file_);
  std::fflush(file_);
}

}  // namespace ttynet::term
