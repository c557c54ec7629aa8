#include "ttynet/term/key_handler.hpp"

#include <gtest/gtest.h>

#include "ttynet/esp/reset_detector.hpp"

#include <string>
#include <vector>

namespace ttynet::term {
namespace {

using Bytes = std::vector<Byte>;

// What came out of one receive(): sent bytes are gathered per SendData run.
std::vector<Action> feed(KeyHandler& handler, const Bytes& keys) {
  handler.receive(keys);
  std::vector<Action> actions;
  while (auto action = handler.next_action()) {
    // Views die with the next receive(): keep SendData bytes as a Print-like copy.
    if (const auto* send = std::get_if<SendData>(&*action)) {
      actions.emplace_back(Print{"SEND:" + std::string(as_chars(send->data))});
    } else {
      actions.push_back(std::move(*action));
    }
  }
  return actions;
}

std::vector<Action> feed(KeyHandler& handler, std::string_view keys) {
  return feed(handler, Bytes(keys.begin(), keys.end()));
}

// Everything sent, over all actions.
std::string sent(const std::vector<Action>& actions) {
  std::string out;
  for (const auto& action : actions) {
    if (const auto* p = std::get_if<Print>(&action); p && p->text.starts_with("SEND:")) {
      out += p->text.substr(5);
    }
  }
  return out;
}

// Everything printed (not sent), over all actions.
std::string printed(const std::vector<Action>& actions) {
  std::string out;
  for (const auto& action : actions) {
    if (const auto* p = std::get_if<Print>(&action); p && !p->text.starts_with("SEND:")) {
      out += p->text;
    }
  }
  return out;
}

template <typename T>
int count(const std::vector<Action>& actions) {
  int n = 0;
  for (const auto& action : actions) n += std::holds_alternative<T>(action) ? 1 : 0;
  return n;
}

const std::string menu(1, '\x14');
const std::string quit(1, '\x1d');

TEST(TermKeyHandler, SendsPlainKeysAsOneRunWithoutTranslation) {
  KeyHandler handler;
  Bytes keys;
  for (int b = 0; b < 256; ++b) {
    if (b != 0x14 && b != 0x1D) keys.push_back(static_cast<Byte>(b));
  }
  handler.receive(keys);
  auto action = handler.next_action();
  ASSERT_TRUE(action);
  const auto* send = std::get_if<SendData>(&*action);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(Bytes(send->data.begin(), send->data.end()), keys);
  EXPECT_EQ(send->data.data(), keys.data());  // a view into the input, no copy
  EXPECT_FALSE(handler.next_action());
}

TEST(TermKeyHandler, EnterIsSentAsCarriageReturn) {
  KeyHandler handler;
  EXPECT_EQ(sent(feed(handler, "ls\r")), "ls\r");
}

TEST(TermKeyHandler, CtrlCloseBracketQuits) {
  KeyHandler handler;
  const auto actions = feed(handler, "ab" + quit + "cd");
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(sent({actions[0]}), "ab");
  EXPECT_TRUE(std::holds_alternative<Quit>(actions[1]));
  EXPECT_EQ(sent({actions[2]}), "cd");
}

TEST(TermKeyHandler, MenuKeysMapToActions) {
  struct Case {
    char key;
    std::size_t index;
  };
  const Case cases[] = {
      {'d', Action(ToggleDtr{}).index()},        {'r', Action(ToggleRts{}).index()},
      {'b', Action(SendBreak{}).index()},        {'h', Action(ToggleHexView{}).index()},
      {'t', Action(ToggleTimestamps{}).index()}, {'e', Action(EspReset{}).index()},
      {'s', Action(ShowStatus{}).index()}};
  for (const auto& c : cases) {
    KeyHandler handler;
    const auto actions = feed(handler, menu + c.key);
    ASSERT_EQ(actions.size(), 1u) << c.key;
    EXPECT_EQ(actions[0].index(), c.index) << c.key;
    EXPECT_FALSE(handler.is_in_menu());
  }
}

TEST(TermKeyHandler, BreakLastsAQuarterSecond) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + "b");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<SendBreak>(actions[0]).duration, std::chrono::milliseconds(250));
}

TEST(TermKeyHandler, MenuKeyTwiceSendsALiteralMenuKey) {
  KeyHandler handler;
  EXPECT_EQ(sent(feed(handler, "a" + menu + menu + "b")),
            "a\x14"
            "b");
}

TEST(TermKeyHandler, QuitKeyAfterMenuKeyIsSentNotObeyed) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + quit);
  EXPECT_EQ(sent(actions), "\x1d");
  EXPECT_EQ(count<Quit>(actions), 0);
}

TEST(TermKeyHandler, MenuSurvivesASplitBetweenReads) {
  KeyHandler handler;
  EXPECT_TRUE(feed(handler, "x" + menu).size() == 1u);
  EXPECT_TRUE(handler.is_in_menu());
  const auto actions = feed(handler, "d");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ToggleDtr>(actions[0]));
}

TEST(TermKeyHandler, UnknownMenuKeySendsNothingAndSaysSo) {
  for (const std::string key : {"x", "q", "\x1b", "\x01", "7"}) {
    KeyHandler handler;
    const auto actions = feed(handler, menu + key);
    EXPECT_EQ(sent(actions), "") << key;
    EXPECT_NE(printed(actions).find("unknown menu key"), std::string::npos) << key;
    EXPECT_FALSE(handler.is_in_menu());
  }
  KeyHandler handler;
  EXPECT_NE(printed(feed(handler, menu + "x")).find("'x'"), std::string::npos);
  EXPECT_NE(printed(feed(handler, menu + "\x01")).find("0x01"), std::string::npos);
}

TEST(TermKeyHandler, QuestionMarkShowsHelpListingEveryKey) {
  KeyHandler handler;
  const std::string text = printed(feed(handler, menu + "?"));
  EXPECT_EQ(text, KeyHandler::help_text());
  for (const char* item : {"Ctrl-]", "Ctrl-T d", "Ctrl-T r", "Ctrl-T b", "Ctrl-T B", "Ctrl-T h",
                           "Ctrl-T t", "Ctrl-T l", "Ctrl-T e", "Ctrl-T s", "Ctrl-T ?"}) {
    EXPECT_NE(text.find(item), std::string::npos) << item;
  }
  EXPECT_EQ(text.find("\n"), text.find("\r\n") + 1);  // raw-mode line ends
}

TEST(TermKeyHandler, BaudPromptReadsDigitsUntilEnter) {
  KeyHandler handler;
  auto actions = feed(handler, menu + "B");
  EXPECT_EQ(printed(actions), "--- baud rate: ");
  EXPECT_TRUE(handler.is_in_menu());
  actions = feed(handler, "96");
  EXPECT_EQ(printed(actions), "96");  // echoed
  EXPECT_EQ(sent(actions), "");
  actions = feed(handler, "00\r");
  ASSERT_EQ(count<SetBaud>(actions), 1);
  EXPECT_EQ(std::get<SetBaud>(actions.back()).baud, 9600u);
  EXPECT_FALSE(handler.is_in_menu());
  EXPECT_EQ(sent(feed(handler, "z")), "z");  // typing again
}

TEST(TermKeyHandler, BaudPromptAcceptsLineFeedAsEnter) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + "B921600\n");
  ASSERT_EQ(count<SetBaud>(actions), 1);
  EXPECT_EQ(std::get<SetBaud>(actions.back()).baud, 921600u);
}

TEST(TermKeyHandler, BaudPromptEscapeCancels) {
  KeyHandler handler;
  const auto actions = feed(handler, menu +
                                         "B123\x1b"
                                         "abc");
  EXPECT_EQ(count<SetBaud>(actions), 0);
  EXPECT_NE(printed(actions).find("cancelled"), std::string::npos);
  EXPECT_EQ(sent(actions), "abc");
}

TEST(TermKeyHandler, BaudPromptRefusesNonDigitsAndTooManyDigits) {
  KeyHandler handler;
  auto actions = feed(handler, menu + "Bx");
  EXPECT_EQ(printed(actions), "--- baud rate: \a");
  actions = feed(handler, "1234567890\r");  // the tenth digit is refused
  ASSERT_EQ(count<SetBaud>(actions), 1);
  EXPECT_EQ(std::get<SetBaud>(actions.back()).baud, 123456789u);
}

TEST(TermKeyHandler, BaudPromptBackspaceRemovesADigit) {
  for (const char backspace : {'\x7f', '\x08'}) {
    KeyHandler handler;
    auto actions = feed(handler, menu + "B1152" + backspace + "00\r");
    ASSERT_EQ(count<SetBaud>(actions), 1);
    EXPECT_EQ(std::get<SetBaud>(actions.back()).baud, 11500u);
    EXPECT_NE(printed(actions).find("\b \b"), std::string::npos);
  }
  KeyHandler handler;  // backspace on an empty prompt does nothing
  const auto actions = feed(handler, menu +
                                         "B\x7f"
                                         "5\r");
  EXPECT_EQ(std::get<SetBaud>(actions.back()).baud, 5u);
}

TEST(TermKeyHandler, BaudPromptEmptyOrZeroChangesNothing) {
  KeyHandler handler;
  auto actions = feed(handler, menu + "B\r");
  EXPECT_EQ(count<SetBaud>(actions), 0);
  EXPECT_NE(printed(actions).find("unchanged"), std::string::npos);
  actions = feed(handler, menu + "B0\r");
  EXPECT_EQ(count<SetBaud>(actions), 0);
  EXPECT_NE(printed(actions).find("invalid baud rate 0"), std::string::npos);
}

TEST(TermKeyHandler, QuitKeyInAPromptQuits) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + "B12" + quit);
  EXPECT_EQ(count<Quit>(actions), 1);
  EXPECT_EQ(count<SetBaud>(actions), 0);
}

TEST(TermKeyHandler, LogPromptUsesTheDefaultNameOnEnter) {
  KeyHandler handler;
  auto actions = feed(handler, menu + "l");
  EXPECT_EQ(printed(actions), "--- log file [ttynet-term.log]: ");
  actions = feed(handler, "\r");
  ASSERT_EQ(count<StartLog>(actions), 1);
  EXPECT_EQ(std::get<StartLog>(actions.back()).file, "ttynet-term.log");
  EXPECT_TRUE(handler.is_logging());
}

TEST(TermKeyHandler, LogPromptTakesAName) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + "l/tmp/my log.txt\r");
  ASSERT_EQ(count<StartLog>(actions), 1);
  EXPECT_EQ(std::get<StartLog>(actions.back()).file, "/tmp/my log.txt");
}

TEST(TermKeyHandler, LogKeyStopsLoggingWhenOn) {
  KeyHandler handler;
  feed(handler, menu + "l\r");
  const auto actions = feed(handler, menu + "l");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<StopLog>(actions[0]));
  EXPECT_FALSE(handler.is_logging());
  EXPECT_FALSE(handler.is_in_menu());
}

TEST(TermKeyHandler, LogKeyPromptsAgainAfterTheRunnerReportedAFailure) {
  KeyHandler handler;
  feed(handler, menu + "lnope\r");
  handler.set_logging(false);
  EXPECT_EQ(printed(feed(handler, menu + "l")), "--- log file [ttynet-term.log]: ");
}

TEST(TermKeyHandler, LogPromptBackspaceRemovesAWholeUtf8Character) {
  KeyHandler handler;
  const auto actions = feed(handler, menu +
                                         "la\xc3\xa9\x7f"
                                         "b\r");  // a, e-acute, erase, b
  ASSERT_EQ(count<StartLog>(actions), 1);
  EXPECT_EQ(std::get<StartLog>(actions.back()).file, "ab");
}

TEST(TermKeyHandler, LogPromptNameLengthIsLimited) {
  KeyHandler handler(KeyHandlerLimits{.baud_digits = 9, .file_name_length = 4});
  const auto actions = feed(handler, menu + "labcdef\r");
  EXPECT_EQ(std::get<StartLog>(actions.back()).file, "abcd");
  EXPECT_NE(printed(actions).find("\a"), std::string::npos);
}

TEST(TermKeyHandler, LogPromptEscapeCancels) {
  KeyHandler handler;
  const auto actions = feed(handler, menu + "lfile\x1b");
  EXPECT_EQ(count<StartLog>(actions), 0);
  EXPECT_FALSE(handler.is_logging());
  EXPECT_FALSE(handler.is_in_menu());
}

TEST(TermKeyHandler, GivesTheSameActionsWhateverTheSplit) {
  const std::string input = "ab" + menu + "d" + "cd" + menu + menu + menu + "B4800\r" + "ef" +
                            menu + "lx.log\r" + menu + "?" + menu + quit + "gh" + quit;
  KeyHandler whole;
  const auto expected = feed(whole, input);
  const std::string expected_sent = sent(expected);
  EXPECT_EQ(expected_sent,
            "abcd\x14"
            "ef\x1d"
            "gh");
  EXPECT_EQ(count<Quit>(expected), 1);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    KeyHandler handler;
    auto actions = feed(handler, input.substr(0, split));
    auto rest = feed(handler, input.substr(split));
    actions.insert(actions.end(), rest.begin(), rest.end());
    EXPECT_EQ(sent(actions), expected_sent) << split;
    EXPECT_EQ(count<Quit>(actions), 1) << split;
    EXPECT_EQ(count<SetBaud>(actions), 1) << split;
    EXPECT_EQ(count<StartLog>(actions), 1) << split;
    EXPECT_EQ(count<ToggleDtr>(actions), 1) << split;
    EXPECT_EQ(printed(actions), printed(expected)) << split;
  }
  // Byte by byte.
  KeyHandler handler;
  std::vector<Action> actions;
  for (const char c : input) {
    auto some = feed(handler, std::string(1, c));
    actions.insert(actions.end(), some.begin(), some.end());
  }
  EXPECT_EQ(sent(actions), expected_sent);
  EXPECT_EQ(printed(actions), printed(expected));
}

TEST(TermKeyHandler, EspResetIsDtrOffThenHardReset) {
  esp::ResetSequence expected{{.kind = esp::ResetStep::Kind::dtr, .dtr = false}};
  for (const auto& step : esp::hard_reset()) expected.push_back(step);
  EXPECT_EQ(esp_reset_to_app(), expected);
}

// Whatever DTR and RTS were, the chip is held in reset for 0.1 s, never sees GPIO0 low, and is
// let go with GPIO0 high: it boots its application.
TEST(TermKeyHandler, EspResetPulsesEnWithGpio0HighFromAnyLines) {
  using Kind = esp::ResetStep::Kind;
  for (const ControlLines start : {ControlLines{false, false}, ControlLines{false, true},
                                   ControlLines{true, false}, ControlLines{true, true}}) {
    SCOPED_TRACE(::testing::Message() << "DTR " << start.dtr << " RTS " << start.rts);
    ControlLines lines = start;
    Duration held_in_reset{};
    for (const auto& step : esp_reset_to_app()) {
      if (step.kind == Kind::dtr || step.kind == Kind::both) lines.dtr = step.dtr;
      if (step.kind == Kind::rts || step.kind == Kind::both) lines.rts = step.rts;
      if (step.kind == Kind::wait) {
        EXPECT_TRUE(esp::pins_for(lines).en_low);
        held_in_reset += step.wait;
      }
      EXPECT_FALSE(esp::pins_for(lines).gpio0_low) << "GPIO0 pulled low";
    }
    EXPECT_EQ(held_in_reset, std::chrono::milliseconds(100));
    EXPECT_FALSE(esp::pins_for(lines).en_low);
    EXPECT_FALSE(lines.dtr);
  }
}

}  // namespace
}  // namespace ttynet::term
