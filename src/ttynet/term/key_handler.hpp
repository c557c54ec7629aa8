#pragma once
// The keyboard side of `ttynet term`, sans-I/O: fed the bytes typed on the keyboard, it returns
// what to do with them (send them to the port, or run a menu command). It touches no port and
// no screen; the runner applies each action and reports back what it could not do.
//
// Keys (as pyserial-miniterm has them, with Ctrl-T as the menu prefix):
//   Ctrl-]                    quit
//   Ctrl-T, then:  d  DTR on/off      r  RTS on/off       b  BREAK (0.25 s)
//                  B  baud rate (prompt)                  h  hex view on/off
//                  t  timestamps on/off                   l  log to file on/off (prompt)
//                  e  ESP reset into the application     s  status
//                  ?  help            Ctrl-T  send 0x14   Ctrl-]  send 0x1D
// Every other key is sent as typed: no translation of Enter, Backspace or anything else.
//
// A prompt (baud rate, log file name) takes the keys that follow until Enter (CR or LF) ends it
// and Esc cancels it; Backspace (DEL or BS) removes the last character. What a prompt shows on
// the screen (its question, the echo of each key) comes out as Print actions. Ctrl-] quits from
// anywhere except right after Ctrl-T.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::term {

namespace keys {
inline constexpr Byte quit = 0x1D;  // Ctrl-]
inline constexpr Byte menu = 0x14;  // Ctrl-T
inline constexpr Byte escape = 0x1B;
inline constexpr Byte carriage_return = 0x0D;
inline constexpr Byte line_feed = 0x0A;
inline constexpr Byte backspace = 0x08;
inline constexpr Byte del = 0x7F;
}  // namespace keys

inline constexpr std::chrono::milliseconds break_duration{250};
inline constexpr std::string_view default_log_file = "ttynet-term.log";

// What EspReset (Ctrl-T e) plays on the port: DTR off, so that GPIO0 stays high whatever the
// user set it to, then esptool's hard reset (EN pulsed low for 0.1 s through RTS), so that the
// chip boots from flash.
esp::ResetSequence esp_reset_to_app();

// Bytes for the port. `data` points into the input given to receive(), or into static storage
// for a literal menu or quit character; it is valid until the next call to receive().
struct SendData {
  ByteView data;
};
struct ToggleDtr {};
struct ToggleRts {};
struct SendBreak {
  std::chrono::milliseconds duration = break_duration;
};
struct SetBaud {
  std::uint32_t baud;
};
struct ToggleHexView {};
struct ToggleTimestamps {};
struct StartLog {
  std::string file;
};
struct StopLog {};
struct EspReset {};
struct ShowStatus {};
struct Quit {};
// Text for the screen: help, prompts and their echo, short notices. Uses "\r\n" line ends.
struct Print {
  std::string text;
};

using Action = std::variant<SendData, ToggleDtr, ToggleRts, SendBreak, SetBaud, ToggleHexView,
                            ToggleTimestamps, StartLog, StopLog, EspReset, ShowStatus, Quit, Print>;

struct KeyHandlerLimits {
  std::size_t baud_digits = 9;         // up to 999,999,999
  std::size_t file_name_length = 255;  // longer input is refused key by key
};

class KeyHandler {
 public:
  explicit KeyHandler(KeyHandlerLimits limits = {}) : limits_(limits) {}

  // Takes the keys typed; then pull the actions with next_action() until it returns nothing.
  // Actions still pending from an earlier call are dropped.
  void receive(ByteView typed);
  std::optional<Action> next_action();

  // Whether a log file is being written, as this handler believes: StartLog sets it, StopLog
  // clears it. The runner clears it when a file could not be opened.
  bool is_logging() const { return is_logging_; }
  void set_logging(bool on) { is_logging_ = on; }

  // Whether the next key is taken by the menu or a prompt rather than sent.
  bool is_in_menu() const { return state_ != State::typing; }

  // The help text shown by Ctrl-T ?.
  static std::string_view help_text();

 private:
  enum class State : std::uint8_t { typing, menu, baud_prompt, log_prompt };

  void flush_run(std::size_t end);
  void on_menu_key(Byte key);
  void on_prompt_key(Byte key);
  void finish_prompt();
  void cancel_prompt();
  void print(std::string text);

  KeyHandlerLimits limits_;
  State state_ = State::typing;
  std::string prompt_input_;
  bool is_logging_ = false;
  ByteView input_;
  std::size_t run_start_ = 0;  // start of the run of plain keys in input_ not yet sent
  std::vector<Action> actions_;
  std::size_t next_ = 0;
};

}  // namespace ttynet::term
