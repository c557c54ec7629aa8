#include "ttynet/term/key_handler.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace ttynet::term {
namespace {

constexpr std::array<Byte, 1> literal_menu = {keys::menu};
constexpr std::array<Byte, 1> literal_quit = {keys::quit};

bool is_enter(Byte key) { return key == keys::carriage_return || key == keys::line_feed; }
bool is_backspace(Byte key) { return key == keys::del || key == keys::backspace; }
bool is_utf8_continuation(char c) { return (static_cast<Byte>(c) & 0xC0) == 0x80; }

// "'x'" for a printable key, "0x07" otherwise.
std::string key_name(Byte key) {
  if (key >= 0x20 && key < 0x7F) return fmt::format("'{}'", static_cast<char>(key));
  return fmt::format("0x{:02x}", key);
}

constexpr std::string_view help = R"(--- ttynet term keys
---   Ctrl-]        quit
---   Ctrl-T d      DTR on/off
---   Ctrl-T r      RTS on/off
---   Ctrl-T b      send BREAK (0.25 s)
---   Ctrl-T B      change the baud rate (type it, then Enter; Esc cancels)
---   Ctrl-T h      hex view on/off
---   Ctrl-T t      timestamps at line starts on/off
---   Ctrl-T l      log port output to a file on/off (asks for its name)
---   Ctrl-T e      ESP reset into the application (DTR off, RTS pulsed on for 0.1 s)
---   Ctrl-T s      show port, settings, control and modem lines
---   Ctrl-T ?      this help
---   Ctrl-T Ctrl-T send Ctrl-T itself
---   Ctrl-T Ctrl-] send Ctrl-] itself
--- Any other key is sent as typed (Enter sends CR).
)";

// The help above with "\r\n" line ends: the terminal is in raw mode.
std::string with_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 32);
  for (const char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

std::string_view KeyHandler::help_text() {
  static const std::string text = with_crlf(help);
  return text;
}

void KeyHandler::receive(ByteView typed) {
  actions_.clear();
  next_ = 0;
  input_ = typed;
  run_start_ = 0;
  std::size_t i = 0;
  while (i < typed.size()) {
    if (state_ == State::typing) {
      // Plain keys go out as one run, up to the next key of our own.
      const auto special =
          std::find_if(typed.begin() + static_cast<std::ptrdiff_t>(i), typed.end(),
                       [](Byte key) { return key == keys::menu || key == keys::quit; });
      i = static_cast<std::size_t>(special - typed.begin());
      if (i == typed.size()) break;
      flush_run(i);
      if (typed[i] == keys::quit) {
        actions_.emplace_back(Quit{});
      } else {
        state_ = State::menu;
      }
      run_start_ = ++i;
      continue;
    }
    const Byte key = typed[i];
    if (state_ == State::menu) {
      state_ = State::typing;
      on_menu_key(key);
    } else {
      on_prompt_key(key);
    }
    run_start_ = ++i;
  }
  flush_run(typed.size());
}

std::optional<Action> KeyHandler::next_action() {
  if (next_ >= actions_.size()) return std::nullopt;
  return std::move(actions_[next_++]);
}

void KeyHandler::flush_run(std::size_t end) {
  if (state_ == State::typing && end > run_start_) {
    actions_.emplace_back(SendData{input_.subspan(run_start_, end - run_start_)});
  }
  run_start_ = end;
}

void KeyHandler::on_menu_key(Byte key) {
  switch (key) {
    case keys::menu:
      actions_.emplace_back(SendData{literal_menu});
      return;
    case keys::quit:
      actions_.emplace_back(SendData{literal_quit});
      return;
    case 'd':
      actions_.emplace_back(ToggleDtr{});
      return;
    case 'r':
      actions_.emplace_back(ToggleRts{});
      return;
    case 'b':
      actions_.emplace_back(SendBreak{});
      return;
    case 'B':
      state_ = State::baud_prompt;
      prompt_input_.clear();
      print("--- baud rate: ");
      return;
    case 'h':
      actions_.emplace_back(ToggleHexView{});
      return;
    case 't':
      actions_.emplace_back(ToggleTimestamps{});
      return;
    case 'l':
      if (is_logging_) {
        is_logging_ = false;
        actions_.emplace_back(StopLog{});
        return;
      }
      state_ = State::log_prompt;
      prompt_input_.clear();
      print(fmt::format("--- log file [{}]: ", default_log_file));
      return;
    case 'e':
      actions_.emplace_back(EspReset{});
      return;
    case 's':
      actions_.emplace_back(ShowStatus{});
      return;
    case '?':
      print(std::string(help_text()));
      return;
    default:
      print(fmt::format("--- unknown menu key {}; Ctrl-T ? for help ---\r\n", key_name(key)));
      return;
  }
}

void KeyHandler::on_prompt_key(Byte key) {
  if (is_enter(key)) {
    finish_prompt();
    return;
  }
  if (key == keys::escape) {
    cancel_prompt();
    print("\r\n--- cancelled ---\r\n");
    return;
  }
  if (key == keys::quit) {
    cancel_prompt();
    print("\r\n");
    actions_.emplace_back(Quit{});
    return;
  }
  if (is_backspace(key)) {
    if (prompt_input_.empty()) return;
    // One character: in a file name that may be several UTF-8 bytes.
    for (;;) {
      const char last = prompt_input_.back();
      prompt_input_.pop_back();
      if (prompt_input_.empty() || !is_utf8_continuation(last)) break;
    }
    print("\b \b");
    return;
  }
  const bool accepted =
      state_ == State::baud_prompt
          ? (key >= '0' && key <= '9' && prompt_input_.size() < limits_.baud_digits)
          : (key >= 0x20 && key != keys::del && prompt_input_.size() < limits_.file_name_length);
  if (!accepted) {
    print("\a");  // refused: ring the bell, keep the prompt
    return;
  }
  prompt_input_ += static_cast<char>(key);
  print(std::string(1, static_cast<char>(key)));
}

void KeyHandler::finish_prompt() {
  const State prompt = state_;
  state_ = State::typing;
  print("\r\n");
  if (prompt == State::baud_prompt) {
    if (prompt_input_.empty()) {
      print("--- baud rate unchanged ---\r\n");
      return;
    }
    std::uint32_t baud = 0;
    const auto* first = prompt_input_.data();
    const auto* last = first + prompt_input_.size();
    const auto [end, ec] = std::from_chars(first, last, baud);
    if (ec != std::errc{} || end != last || baud == 0) {
      print(fmt::format("--- invalid baud rate {} ---\r\n", prompt_input_));
      return;
    }
    actions_.emplace_back(SetBaud{baud});
    return;
  }
  is_logging_ = true;
  actions_.emplace_back(
      StartLog{prompt_input_.empty() ? std::string(default_log_file) : prompt_input_});
}

void KeyHandler::cancel_prompt() {
  state_ = State::typing;
  prompt_input_.clear();
}

void KeyHandler::print(std::string text) {
  // Consecutive screen text becomes one action (a prompt's echo while typing fast).
  if (!actions_.empty()) {
    if (auto* last = std::get_if<Print>(&actions_.back())) {
      last->text += text;
      return;
    }
  }
  actions_.emplace_back(Print{std::move(text)});
}

esp::ResetSequence esp_reset_to_app() {
  esp::ResetSequence sequence{{.kind = esp::ResetStep::Kind::dtr, .dtr = false}};
  const esp::ResetSequence hard = esp::hard_reset();
  sequence.insert(sequence.end(), hard.begin(), hard.end());
  return sequence;
}

}  // namespace ttynet::term
