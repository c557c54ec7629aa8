#pragma once
// `ttynet term`'s runner: a port (any URL) joined to the process's terminal or pipes, on one Asio
// event loop in the calling thread. The key handling and screen formatting are the sans-I/O
// parts next to this file; this one does the I/O, with raw_mode.hpp for the terminal and
// log_file.hpp for Ctrl-T l.
//
// Interactive mode (the input is a terminal): the terminal is put in raw mode (cfmakeraw, with
// output post-processing kept so that a line feed from the device returns to the line start),
// keys go to the port as typed, Ctrl-] quits and Ctrl-T opens the menu (key_handler.hpp). A
// banner goes to the notice descriptor (stderr) on connect. The terminal's mode and the file
// status flags of the input and output are restored on every way out: quit, SIGINT/SIGTERM/
// SIGHUP, port errors, exceptions.
//
// Pipe mode (the input is not a terminal): input to the port, port output to the output, no
// menu, no banner. At the end of the input the port is drained (Port::drain()) and its output is
// still copied until it has been quiet for `drain_time`; then the run ends successfully.
//
// SIGPIPE is ignored for the whole process while the terminal runs: a closed output is an error
// that ends the run, not a signal that kills it.

#include <chrono>
#include <optional>
#include <string>

#include "ttynet/util/line_settings.hpp"

namespace ttynet::term {

struct TerminalConfig {
  std::string url;
  LineSettings settings;    // applied at open
  std::optional<bool> dtr;  // set after open when given
  std::optional<bool> rts;
  bool local_echo = false;  // interactive mode: show typed keys too
  std::chrono::milliseconds drain_time{500};
  // In hex view, a partial line is completed (padded, ASCII column added) after this quiet time.
  std::chrono::milliseconds hex_line_idle{100};
  int input_fd = 0;
  int output_fd = 1;
  int notice_fd = 2;  // the banner
};

struct TerminalResult {
  int exit_code = 0;  // 0: quit, end of input, or SIGINT/SIGTERM/SIGHUP; 1: error
  std::string error;  // for the user when exit_code is 1: what failed, in one line
};

TerminalResult run_terminal(const TerminalConfig& config);

}  // namespace ttynet::term
