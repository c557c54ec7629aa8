#include "ttynet/esptool/connect.hpp"

#include <gtest/gtest.h>

#include "esptool_test_support.hpp"

namespace ttynet::esptool {
namespace {

using test::open_port;

TEST(EsptoolConnect, AcceptsBothSpellingsOfResetModes) {
  EXPECT_EQ(parse_before("default_reset"), BeforeAction::default_reset);
  EXPECT_EQ(parse_before("default-reset"), BeforeAction::default_reset);
  EXPECT_EQ(parse_before("no-reset-no-sync"), BeforeAction::no_reset_no_sync);
  EXPECT_EQ(parse_before("usb_reset"), BeforeAction::usb_reset);
  EXPECT_FALSE(parse_before("soft_reset"));
  EXPECT_EQ(parse_after("hard-reset"), AfterAction::hard_reset);
  EXPECT_EQ(parse_after("no_reset"), AfterAction::no_reset);
  EXPECT_FALSE(parse_after("bogus"));
}

TEST(EsptoolConnect, ClassifiesPortUrls) {
  EXPECT_EQ(port_kind("/dev/ttyUSB0"), PortKind::local);
  EXPECT_EQ(port_kind("rfc2217://host:4000?ign_set_control"), PortKind::rfc2217);
  EXPECT_EQ(port_kind("RFC2217://host:4000"), PortKind::rfc2217);
  EXPECT_EQ(port_kind("socket://host:4000"), PortKind::socket);
  EXPECT_EQ(port_kind("rfc2217+tls://host:4000?ca=ca.pem"), PortKind::rfc2217);
  EXPECT_EQ(port_kind("Socket+TLS://host:4000"), PortKind::socket);
  EXPECT_EQ(port_kind("sim://esp32"), PortKind::other);
}

TEST(EsptoolConnect, ChoosesEsptoolsResetStrategies) {
  const auto local = reset_strategies(PortKind::local, BeforeAction::default_reset);
  ASSERT_EQ(local.size(), 4u);
  EXPECT_EQ(local[0], esp::tight_reset(esp::default_reset_delay));
  EXPECT_EQ(local[1], esp::tight_reset(esp::extra_reset_delay));
  EXPECT_EQ(local[2], esp::classic_reset(esp::default_reset_delay));
  EXPECT_EQ(local[3], esp::classic_reset(esp::extra_reset_delay));
  const auto remote = reset_strategies(PortKind::rfc2217, BeforeAction::default_reset);
  ASSERT_EQ(remote.size(), 2u);
  EXPECT_EQ(remote[0], esp::classic_reset(esp::default_reset_delay));
  EXPECT_EQ(remote[1], esp::classic_reset(esp::extra_reset_delay));
  const auto usb = reset_strategies(PortKind::local, BeforeAction::usb_reset);
  ASSERT_EQ(usb.size(), 1u);
  EXPECT_EQ(usb[0], esp::usb_jtag_reset());
}

TEST(EsptoolConnect, FindsTheBootModeInABootLog) {
  const auto download = find_boot_mode(
      "ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 "
      "(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n");
  ASSERT_TRUE(download);
  EXPECT_EQ(download->strap, "0x3");
  EXPECT_TRUE(download->waiting_for_download);
  const auto app = find_boot_mode("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->strap, "0x13");
  EXPECT_FALSE(app->waiting_for_download);
  EXPECT_FALSE(find_boot_mode("main: tick\r\n"));
}

struct Detected {
  std::string name;
  std::string output;
};

Detected detect(const std::string& url, ConnectOptions options) {
  auto port = open_port(url);
  if (!port) return {};
  Loader loader(*port);
  std::string output;
  auto console = Console::capture(output);
  options.kind = port_kind(url);
  auto chip = connect_and_detect(loader, options, console);
  if (!chip) return {"error: " + chip.error().message, output};
  return {std::string((*chip)->name), output};
}

TEST(EsptoolConnect, DetectsEachSimulatedChipAfterAReset) {
  // boot=app: only the reset puts the chip into download mode.
  const auto esp32 = detect("sim://esp32?boot=app", {});
  EXPECT_EQ(esp32.name, "esp32") << esp32.output;
  // By the magic register, read with the SYNC: no GET_SECURITY_INFO, which the ESP32 ROM
  // lacks.
  EXPECT_NE(esp32.output.find("Connecting...\nDetecting chip type... ESP32\n"), std::string::npos)
      << esp32.output;
  const auto c3 = detect("sim://esp32c3?boot=app", {});
  EXPECT_EQ(c3.name, "esp32c3") << c3.output;
  EXPECT_NE(c3.output.find("Detecting chip type... ESP32-C3\n"), std::string::npos) << c3.output;
  const auto s3 = detect("sim://esp32s3?boot=app", {});
  EXPECT_EQ(s3.name, "esp32s3") << s3.output;
  EXPECT_NE(s3.output.find("Detecting chip type... ESP32-S3\n"), std::string::npos) << s3.output;
}

TEST(EsptoolConnect, SyncsWithoutResetOnAChipWaitingInDownloadMode) {
  ConnectOptions options;
  options.before = BeforeAction::no_reset;
  const auto result = detect("sim://esp32c3", options);
  EXPECT_EQ(result.name, "esp32c3") << result.output;
}

TEST(EsptoolConnect, ANamedChipIsCheckedAgainstTheMagicValue) {
  ConnectOptions options;
  options.chip = *esp::find_chip("esp32");
  const auto right = detect("sim://esp32", options);
  EXPECT_EQ(right.name, "esp32") << right.output;
  EXPECT_EQ(right.output.find("Detecting"), std::string::npos);
  const auto wrong = detect("sim://esp32c3", options);
  EXPECT_EQ(wrong.name, "error: This chip is ESP32-C3 not ESP32. Wrong --chip argument?");
}

TEST(EsptoolConnect, AChipRunningItsApplicationFailsWithoutResetInBoundedTime) {
  ConnectOptions options;
  options.before = BeforeAction::no_reset;
  options.attempts = 2;
  const auto start = Clock::now();
  const auto result = detect("sim://esp32?boot=app", options);
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(result.name.starts_with("error: Failed to connect to Espressif device: "))
      << result.name;
  // 2 attempts x 5 SYNCs x (0.1 s reply wait + 0.05 s pause), and some slack.
  EXPECT_LT(elapsed, std::chrono::seconds(4));
  EXPECT_NE(result.output.find("Connecting.........."), std::string::npos) << result.output;
}

TEST(EsptoolConnect, ReportsTheWrongBootModeSeenAfterAReset) {
  // Straps sampled the instant EN rises: the classic reset releases EN a moment before GPIO0
  // goes low, so the chip boots its application and says so in its boot log.
  ConnectOptions options;
  options.attempts = 1;
  const auto result = detect("sim://esp32?boot=app&en_delay=0", options);
  EXPECT_EQ(result.name,
            "error: Failed to connect to Espressif device: Wrong boot mode detected (0x13)! The "
            "chip needs to be in download mode.")
      << result.output;
}

}  // namespace
}  // namespace ttynet::esptool
