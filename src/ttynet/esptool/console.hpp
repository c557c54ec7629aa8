#pragma once
// Where the flasher's messages go: esptool's lines on standard output, fatal errors on
// standard error. Tests give it sinks that collect the text.

#include <functional>
#include <string>
#include <string_view>

namespace ttynet::esptool {

class Console {
 public:
  using Sink = std::function<void(std::string_view)>;

  Console(Sink out, Sink err, bool is_tty)
      : out_(std::move(out)), err_(std::move(err)), is_tty_(is_tty) {}
  // stdout and stderr, flushed after every write; a tty if stdout is one.
  static Console standard();
  // Collects both streams into `text` (tests).
  static Console capture(std::string& text);

  void print(std::string_view text) { out_(text); }
  void line(std::string_view text = {});
  void error_line(std::string_view text);
  // Whether progress may redraw one line with carriage returns.
  bool is_tty() const { return is_tty_; }

 private:
  Sink out_;
  Sink err_;
  bool is_tty_;
};

}  // namespace ttynet::esptool
