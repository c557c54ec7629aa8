#pragma once
// The file `ttynet term` copies the port's output to (Ctrl-T l): appended to, and flushed after
// every write so that it can be read while it grows (tail -f).

#include <cstdio>
#include <string>
#include <system_error>

#include "ttynet/util/bytes.hpp"

namespace ttynet::term {

class LogFile {
 public:
  LogFile() = default;
  ~LogFile() { close(); }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Closes the file open now, if any, and opens `name` for appending.
  std::error_code open(const std::string& name);
  void close();
  // Nothing when no file is open; a failed write is not reported (the screen still shows it).
  void write(ByteView data);

  bool is_open() const { return file_ != nullptr; }
  // The file open now, or the last one opened.
  const std::string& name() const { return name_; }

 private:
  std::FILE* file_ = nullptr;
  std::string name_;
};

}  // namespace ttynet::term
