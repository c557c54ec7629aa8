#include "ttynet/term/status.hpp"

#include <gtest/gtest.h>

namespace ttynet::term {
namespace {

TEST(TermStatus, BannerNamesUrlSettingsAndLines) {
  LineSettings settings;
  EXPECT_EQ(format_banner("rfc2217://host:4000", settings, ControlLines{true, false}),
            "--- ttynet term on rfc2217://host:4000  115200 8N1  DTR on RTS off ---\r\n"
            "--- Quit: Ctrl-]  Menu: Ctrl-T, then ? for help ---\r\n");
}

TEST(TermStatus, StatusShowsEverything) {
  Status status;
  status.url = "loop://";
  status.settings.baud = 9600;
  status.lines = {false, true};
  status.modem = modem::cts | modem::cd;
  status.hex_view = true;
  status.log_file = "out.log";
  EXPECT_EQ(format_status(status),
            "--- port loop://  9600 8N1\r\n"
            "--- DTR off  RTS on  BREAK off\r\n"
            "--- CTS on  DSR off  RI off  CD on\r\n"
            "--- hex view on  timestamps off  log out.log\r\n");
}

TEST(TermStatus, StatusSaysWhenModemLinesAreMissingOrUnknown) {
  Status status;
  status.has_modem_lines = false;
  EXPECT_NE(format_status(status).find("modem lines: none"), std::string::npos);
  status.has_modem_lines = true;
  EXPECT_NE(format_status(status).find("modem lines: unknown"), std::string::npos);
  EXPECT_NE(format_status(status).find("log off"), std::string::npos);
}

TEST(TermStatus, NoticeIsOneFramedLine) {
  EXPECT_EQ(format_notice("DTR on"), "--- DTR on ---\r\n");
}

}  // namespace
}  // namespace ttynet::term
