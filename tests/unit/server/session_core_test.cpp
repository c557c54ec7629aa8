#include "ttynet/server/session_core.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "byte_search.hpp"
#include "ttynet/esp/error.hpp"
#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/rfc2217/error.hpp"
#include "ttynet/rfc2217/wire.hpp"
#include "wire_bytes.hpp"

namespace ttynet::server {
namespace {

using namespace std::chrono_literals;
using rfc2217::Command;
using rfc2217::Control;
using test::contains;
using test::count;
using ttynet::test::Bytes;
using ttynet::test::com_port_sb;
using ttynet::test::concat;
using ttynet::test::hex;

constexpr Byte iac = 0xFF, will = 0xFB, com_port = 44;
const Bytes will_com_port = {iac, will, com_port};

Bytes request(Command command, const Bytes& value) {
  return com_port_sb(concat({{static_cast<Byte>(command)}, value}));
}
Bytes reply(Command command, const Bytes& value) {
  return com_port_sb(concat({{rfc2217::server_code(command)}, value}));
}
Bytes set_control(Control value) { return request(Command::set_control, {Byte(value)}); }
Bytes control_reply(Control value) { return reply(Command::set_control, {Byte(value)}); }
Bytes baud_bytes(std::uint32_t baud) {
  ByteBuffer out;
  rfc2217::append_baud(out, baud);
  return out;
}

// The device as the core sees it, performing actions at once (time is only in Wait actions,
// which are recorded, not waited for). Failures are injected per action kind.
class FakeDevice {
 public:
  DeviceState state{.settings = {}, .lines = {.dtr = false, .rts = false}, .break_on = false};
  std::uint8_t modem_lines = 0x30;  // CTS and DSR
  std::uint32_t max_baud = 4'000'000;
  std::error_code fail_writes;
  std::error_code fail_breaks;
  std::error_code fail_settings;
  Bytes written;

  // One line per action, in order.
  std::vector<std::string> performed;
  std::vector<bool> resets_into_bootloader;  // PlayReset's flag, per reset

  ActionResult perform(const Action& action) {
    return std::visit([this](const auto& a) { return on(a); }, action);
  }

 private:
  ActionResult on(const action::Write& write) {
    performed.push_back("write " + hex(write.data));
    if (!fail_writes) written.insert(written.end(), write.data.begin(), write.data.end());
    return {.error = fail_writes};
  }
  ActionResult on(const action::ApplySettings& apply) {
    performed.push_back("apply " + to_string(apply.settings));
    if (!fail_settings) {
      state.settings = apply.settings;
      state.settings.baud = std::min(apply.settings.baud, max_baud);
    }
    return {.error = fail_settings, .device = state};
  }
  ActionResult on(const action::SetLines& lines) {
    performed.push_back(fmt::format("lines{}{}",
                                    lines.dtr ? fmt::format(" dtr={:d}", *lines.dtr) : "",
                                    lines.rts ? fmt::format(" rts={:d}", *lines.rts) : ""));
    if (lines.dtr) state.lines.dtr = *lines.dtr;
    if (lines.rts) state.lines.rts = *lines.rts;
    return {.device = state};
  }
  ActionResult on(const action::PlayReset& reset) {
    performed.push_back("reset " + esp::to_string(*reset.sequence));
    resets_into_bootloader.push_back(reset.into_bootloader);
    state.lines = {.dtr = false, .rts = false};
    return {.device = state};
  }
  ActionResult on(const action::SetBreak& set) {
    performed.push_back(set.on ? "break on" : "break off");
    if (!fail_breaks) state.break_on = set.on;
    return {.error = fail_breaks, .device = state};
  }
  ActionResult on(const action::Wait& wait) {
    performed.push_back(fmt::format("wait {}ms", to_milliseconds(wait.length)));
    return {};
  }
  ActionResult on(const action::Purge& purge) {
    performed.push_back(fmt::format("purge {}", static_cast<int>(purge.which)));
    return {};
  }
  ActionResult on(const action::ReadModemState& /*read*/) {
    performed.push_back("modem?");
    return {.modem_lines = modem_lines};
  }
  ActionResult on(const action::Log& log) {
    static constexpr const char* levels[] = {"debug", "info", "warn"};
    performed.push_back(fmt::format("log {}: {}", levels[static_cast<int>(log.level)], log.text));
    return {};
  }
  ActionResult on(const action::Disconnect& /*disconnect*/) {
    performed.push_back("disconnect");
    return {};
  }

  static long to_milliseconds(Duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }
};

class SessionCoreTest : public ::testing::Test {
 protected:
  explicit SessionCoreTest(std::optional<EspResetConfig> esp = std::nullopt, bool paced_esp = false,
                           bool read_only = false)
      : core_(SessionPolicy{.signature = "ttynet test",
                            .esp_reset = std::move(esp),
                            .paced_esp = paced_esp,
                            .read_only = read_only},
              device_.state) {
    drive();
  }

  // The client's bytes in; every action performed; the output collected.
  void client_sends(const Bytes& bytes) {
    Bytes buffer = bytes;  // the core's until drained: it gathers client data in place
    core_.receive(buffer);
    drive();
  }
  void drive() {
    for (int step = 0; step < 100; ++step) {
      const auto next = core_.next_action();
      if (!next) break;
      core_.complete(device_.perform(*next), now_);
    }
    for (ByteView out; !(out = core_.pending_output()).empty(); core_.consume_output(out.size())) {
      to_client_.insert(to_client_.end(), out.begin(), out.end());
    }
  }
  // The actions performed since the last call.
  std::vector<std::string> performed() { return std::exchange(device_.performed, {}); }
  Bytes take_output() { return std::exchange(to_client_, {}); }

  FakeDevice device_;
  SessionCore core_;
  Bytes to_client_;
  TimePoint now_{};  // when the actions finish
};

class AgreedSessionTest : public SessionCoreTest {
 protected:
  explicit AgreedSessionTest(std::optional<EspResetConfig> esp = std::nullopt,
                             bool paced_esp = false, bool read_only = false)
      : SessionCoreTest(std::move(esp), paced_esp, read_only) {
    client_sends(will_com_port);
    take_output();
    performed();
  }
};

TEST_F(SessionCoreTest, OffersComPortAndReportsTheModemLinesOnceAgreed) {
  EXPECT_EQ(count(take_output(), {iac, will, com_port}), 1u);  // before the client speaks
  core_.poll_modem_state();                                    // as the session does at connect
  drive();
  EXPECT_EQ(performed(), (std::vector<std::string>{"modem?"}));
  EXPECT_TRUE(take_output().empty());  // nothing sent before COM-PORT is agreed
  client_sends(will_com_port);
  const Bytes out = take_output();
  EXPECT_EQ(count(out, reply(Command::notify_modemstate, {0x30})), 1u) << hex(out);
  EXPECT_EQ(performed(), (std::vector<std::string>{"log debug: RFC 2217 agreed"}));
}

TEST_F(AgreedSessionTest, AnswersTheSignatureRequest) {
  client_sends(request(Command::signature, {}));
  const Bytes text(std::begin("ttynet test"), std::end("ttynet test") - 1);
  EXPECT_EQ(take_output(), reply(Command::signature, text));
  EXPECT_TRUE(performed().empty());
}

TEST_F(AgreedSessionTest, LogsTheClientsSignature) {
  client_sends(request(Command::signature, {'p', 'y'}));
  EXPECT_EQ(performed(), (std::vector<std::string>{"log info: client signature: py"}));
  EXPECT_TRUE(take_output().empty());
}

TEST_F(AgreedSessionTest, AppliesANewBaudRateOnceAndAnswersWithWhatTheDeviceHolds) {
  device_.max_baud = 2'000'000;
  client_sends(request(Command::set_baudrate, baud_bytes(3'000'000)));
  EXPECT_EQ(performed(), (std::vector<std::string>{"apply 3000000 8N1"}));
  EXPECT_EQ(take_output(), reply(Command::set_baudrate, baud_bytes(2'000'000)));
  client_sends(request(Command::set_baudrate, baud_bytes(2'000'000)));  // in force already
  EXPECT_TRUE(performed().empty());
  EXPECT_EQ(take_output(), reply(Command::set_baudrate, baud_bytes(2'000'000)));
}

TEST_F(AgreedSessionTest, AnswersQueriesWithTheValueInForceWithoutTouchingTheDevice) {
  client_sends(request(Command::set_baudrate, {0, 0, 0, 0}));
  client_sends(request(Command::set_datasize, {0}));
  client_sends(request(Command::set_parity, {9}));  // reserved: answered like a query
  client_sends(request(Command::set_stopsize, {0}));
  client_sends(set_control(Control::inbound_flow_query));
  EXPECT_TRUE(performed().empty());
  const Bytes out = take_output();
  EXPECT_EQ(count(out, reply(Command::set_baudrate, baud_bytes(115200))), 1u);
  EXPECT_EQ(count(out, reply(Command::set_datasize, {8})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_parity, {1})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_stopsize, {1})), 1u);
  EXPECT_EQ(count(out, control_reply(Control::inbound_flow_none)), 1u);
}

TEST_F(AgreedSessionTest, ChangesDataBitsParityAndStopBits) {
  client_sends(request(Command::set_datasize, {7}));
  client_sends(request(Command::set_parity, {3}));
  client_sends(request(Command::set_stopsize, {2}));
  EXPECT_EQ(performed(),
            (std::vector<std::string>{"apply 115200 7N1", "apply 115200 7E1", "apply 115200 7E2"}));
  const Bytes out = take_output();
  EXPECT_EQ(count(out, reply(Command::set_datasize, {7})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_parity, {3})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_stopsize, {2})), 1u);
}

TEST_F(AgreedSessionTest, ARefusedSettingIsLoggedAndAnsweredWithTheValueInForce) {
  device_.fail_settings = std::make_error_code(std::errc::invalid_argument);
  client_sends(request(Command::set_datasize, {5}));
  const auto lines = performed();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "apply 115200 5N1");
  EXPECT_TRUE(lines[1].starts_with("log info: device refused 115200 5N1: ")) << lines[1];
  EXPECT_EQ(take_output(), reply(Command::set_datasize, {8}));
}

TEST_F(AgreedSessionTest, SetsFlowControlAndReportsInboundFlowFromIt) {
  client_sends(set_control(Control::flow_xon_xoff));
  client_sends(set_control(Control::flow_xon_xoff));  // again: in force
  client_sends(set_control(Control::inbound_flow_query));
  client_sends(set_control(Control::flow_dcd));  // cannot be made: answered with what holds
  EXPECT_EQ(performed(), (std::vector<std::string>{"apply 115200 8N1 xonxoff"}));
  const Bytes out = take_output();
  EXPECT_EQ(count(out, control_reply(Control::flow_xon_xoff)), 3u);
  EXPECT_EQ(count(out, control_reply(Control::inbound_flow_xon_xoff)), 1u);
}

TEST_F(AgreedSessionTest, ChangesDtrOnlyWhenItDiffersAndReadsTheModemLinesAfter) {
  client_sends(set_control(Control::dtr_on));
  client_sends(set_control(Control::dtr_on));
  client_sends(set_control(Control::dtr_query));
  client_sends(set_control(Control::rts_off));  // off already
  EXPECT_EQ(performed(), (std::vector<std::string>{"lines dtr=1", "modem?"}));
  const Bytes out = take_output();
  EXPECT_EQ(count(out, control_reply(Control::dtr_on)), 3u);
  EXPECT_EQ(count(out, control_reply(Control::rts_off)), 1u);
  EXPECT_TRUE(device_.state.lines.dtr);
}

TEST_F(AgreedSessionTest, SetsBreakAndReportsAFailureWithTheStateInForce) {
  client_sends(set_control(Control::break_on));
  EXPECT_EQ(performed(), (std::vector<std::string>{"break on"}));
  EXPECT_EQ(take_output(), control_reply(Control::break_on));
  device_.fail_breaks = std::make_error_code(std::errc::io_error);
  client_sends(set_control(Control::break_off));
  const auto lines = performed();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1].starts_with("log warn: BREAK failed: ")) << lines[1];
  EXPECT_EQ(take_output(), control_reply(Control::break_on));  // what the device holds
}

TEST_F(AgreedSessionTest, PlaysATelnetBreakAsAQuarterSecondBreak) {
  client_sends({iac, 0xF3});  // IAC BRK
  EXPECT_EQ(performed(), (std::vector<std::string>{"break on", "wait 250ms", "break off"}));
  EXPECT_TRUE(take_output().empty());
}

TEST_F(AgreedSessionTest, PurgesAndThenAnswers) {
  client_sends(request(Command::purge_data, {3}));
  EXPECT_EQ(performed(), (std::vector<std::string>{"purge 3"}));
  EXPECT_EQ(take_output(), reply(Command::purge_data, {3}));
}

// A monitor identity's session.
class ReadOnlySessionTest : public AgreedSessionTest {
 protected:
  ReadOnlySessionTest() : AgreedSessionTest(std::nullopt, false, true) {}
};

TEST_F(ReadOnlySessionTest, DropsDataAndAnswersChangesWithWhatTheDeviceHolds) {
  Bytes bytes = {'a', 'b'};
  for (const Bytes& part :
       {request(Command::set_baudrate, baud_bytes(9600)), request(Command::set_datasize, {7}),
        request(Command::set_parity, {3}), request(Command::set_stopsize, {2}),
        set_control(Control::dtr_on), set_control(Control::rts_on), set_control(Control::break_on),
        set_control(Control::flow_rts_cts), request(Command::purge_data, {3}), Bytes{iac, 0xF3}}) {
    bytes.insert(bytes.end(), part.begin(), part.end());
  }
  client_sends(bytes);
  // Nothing but the one line that says so: no write, setting, line, BREAK or purge.
  EXPECT_EQ(performed(),
            (std::vector<std::string>{"log info: is read-only: its data and its requests to "
                                      "change the device are ignored"}));
  EXPECT_TRUE(device_.written.empty());
  const Bytes out = take_output();
  EXPECT_EQ(count(out, reply(Command::set_baudrate, baud_bytes(115200))), 1u) << hex(out);
  EXPECT_EQ(count(out, reply(Command::set_datasize, {8})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_parity, {1})), 1u);
  EXPECT_EQ(count(out, reply(Command::set_stopsize, {1})), 1u);
  EXPECT_EQ(count(out, control_reply(Control::dtr_off)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::rts_off)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::break_off)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::flow_none)), 1u);
  EXPECT_EQ(count(out, reply(Command::purge_data, {3})), 1u);
  client_sends({'c'});  // said once per session
  EXPECT_TRUE(performed().empty());
}

TEST_F(ReadOnlySessionTest, SeesTheDevicesOutputAndRestoresNothing) {
  core_.send_data(as_bytes(std::string_view("boot\xff")));
  drive();
  EXPECT_EQ(take_output(), (Bytes{'b', 'o', 'o', 't', iac, iac}));
  core_.restore();
  drive();
  EXPECT_TRUE(performed().empty());
}

TEST_F(AgreedSessionTest, GathersDataIntoOneWriteBeforeTheNextRequestActs) {
  Bytes bytes = {'a', 'b', iac, iac, 'c'};
  const Bytes dtr = set_control(Control::dtr_on);
  bytes.insert(bytes.end(), dtr.begin(), dtr.end());
  bytes.push_back('d');
  client_sends(bytes);
  EXPECT_EQ(performed(),
            (std::vector<std::string>{"write 61 62 ff 63", "lines dtr=1", "modem?", "write 64"}));
  EXPECT_EQ(device_.written, (Bytes{'a', 'b', iac, 'c', 'd'}));
}

TEST_F(AgreedSessionTest, SqueezesEveryDoubledIacOutOfOneWrite) {
  client_sends({iac, iac, iac, iac, 'x', iac, iac});
  EXPECT_EQ(performed(), (std::vector<std::string>{"write ff ff 78 ff"}));
  client_sends({'y'});  // a later receive() gathers in its own buffer
  EXPECT_EQ(device_.written, (Bytes{iac, iac, 'x', iac, 'y'}));
}

TEST_F(AgreedSessionTest, AFailedDeviceWriteEndsTheSession) {
  device_.fail_writes = std::make_error_code(std::errc::no_such_device);
  client_sends({'x'});
  const auto lines = performed();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "write 78");
  EXPECT_TRUE(lines[1].starts_with("log warn: device write failed: ")) << lines[1];
  EXPECT_EQ(lines[2], "disconnect");
}

TEST_F(AgreedSessionTest, AnAbandonedDeviceWriteEndsTheSessionWithoutASecondReport) {
  // The session cancels a write to a device that takes nothing once its client has left,
  // and logs that itself.
  device_.fail_writes = std::make_error_code(std::errc::operation_canceled);
  client_sends({'x'});
  EXPECT_EQ(performed(), (std::vector<std::string>{"write 78", "disconnect"}));
}

TEST_F(AgreedSessionTest, ACancelledSettingIsNotReportedAsARefusal) {
  device_.fail_settings = std::make_error_code(std::errc::operation_canceled);
  client_sends(request(Command::set_baudrate, baud_bytes(9600)));
  const auto lines = performed();
  EXPECT_TRUE(std::none_of(lines.begin(), lines.end(),
                           [](const std::string& line) { return line.starts_with("log"); }));
}

TEST_F(AgreedSessionTest, DeviceDataGoesOutWithIacDoubled) {
  core_.send_data(Bytes{'x', iac, 'y'});
  drive();
  EXPECT_EQ(take_output(), (Bytes{'x', iac, iac, 'y'}));
}

TEST_F(AgreedSessionTest, FollowsFlowSuspendAndResume) {
  client_sends(request(Command::flowcontrol_suspend, {}));
  EXPECT_TRUE(core_.is_suspended());
  client_sends(request(Command::flowcontrol_resume, {}));
  EXPECT_FALSE(core_.is_suspended());
  EXPECT_TRUE(performed().empty());
}

TEST_F(AgreedSessionTest, LogsTheFirstProtocolErrorOfAKindAsAWarningOnly) {
  client_sends(request(Command::set_control, {200}));
  client_sends(request(Command::set_control, {201}));
  const auto lines = performed();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].starts_with("log warn: protocol error (survived): ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("log debug: protocol error (survived): ")) << lines[1];
  EXPECT_EQ(core_.protocol_error_count(), 2u);
  EXPECT_EQ(core_.protocol_error_kinds(), 1u);
}

TEST_F(AgreedSessionTest, RestoresWhatTheClientChanged) {
  client_sends(request(Command::set_baudrate, baud_bytes(9600)));
  client_sends(set_control(Control::rts_on));
  client_sends(set_control(Control::break_on));
  performed();
  core_.restore();
  drive();
  EXPECT_EQ(performed(),
            (std::vector<std::string>{"break off", "apply 115200 8N1", "lines rts=0"}));
}

// A port shared by several controllers goes back to what the first of them found.
TEST_F(AgreedSessionTest, RestoresToTheStateItIsGiven) {
  client_sends(request(Command::set_baudrate, baud_bytes(9600)));
  performed();
  DeviceState first_found;
  first_found.settings.baud = 57600;
  core_.restore(first_found);
  drive();
  EXPECT_EQ(performed(), (std::vector<std::string>{"apply 57600 8N1"}));
}

// Another controller of a shared port set the device back: the same request again is not
// "in force already".
TEST_F(AgreedSessionTest, JudgesARequestAgainstTheDeviceAsObserved) {
  client_sends(request(Command::set_baudrate, baud_bytes(9600)));
  EXPECT_EQ(performed(), (std::vector<std::string>{"apply 9600 8N1"}));
  device_.state.settings.baud = 115200;  // changed by another client
  core_.observe_device(device_.state);
  client_sends(request(Command::set_baudrate, baud_bytes(9600)));
  EXPECT_EQ(performed(), (std::vector<std::string>{"apply 9600 8N1"}));
  EXPECT_EQ(count(take_output(), reply(Command::set_baudrate, baud_bytes(9600))), 2u);
}

TEST_F(AgreedSessionTest, RestoresNothingWhenNothingChanged) {
  client_sends(request(Command::set_baudrate, {0, 0, 0, 0}));
  performed();
  core_.restore();
  drive();
  EXPECT_TRUE(performed().empty());
}

// Under --esp, esptool's resets arrive as separate SET-CONTROLs, spread out by the network.
class EspSessionTest : public AgreedSessionTest {
 protected:
  EspSessionTest() : AgreedSessionTest(EspResetConfig{}) {}

  static std::string reset_line(const esp::ResetSequence& sequence) {
    return "reset " + esp::to_string(sequence);
  }
};

TEST_F(EspSessionTest, PlaysTheBootloaderResetLocallyAndAnswersWithTheClientsLines) {
  // esptool's classic reset: D0 R1 (EN low), D1 R0 (EN released by DTR: bootloader), D0.
  for (const Control value :
       {Control::dtr_off, Control::rts_on, Control::dtr_on, Control::rts_off, Control::dtr_off}) {
    client_sends(set_control(value));
  }
  const auto lines = performed();
  const EspResetConfig config;
  ASSERT_EQ(std::count(lines.begin(), lines.end(), reset_line(config.bootloader)), 1)
      << fmt::format("{}", fmt::join(lines, " | "));
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.starts_with("log info: ESP bootloader reset, played here: ");
  }));
  const Bytes out = take_output();
  EXPECT_EQ(count(out, control_reply(Control::dtr_off)), 2u);
  EXPECT_EQ(count(out, control_reply(Control::rts_on)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::dtr_on)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::rts_off)), 1u);
  EXPECT_EQ(device_.resets_into_bootloader, std::vector<bool>{true});  // a flash begins
}

TEST_F(EspSessionTest, PlaysTheHardResetLocally) {
  client_sends(set_control(Control::rts_on));   // EN low
  client_sends(set_control(Control::rts_off));  // released by RTS: hard reset
  const auto lines = performed();
  const EspResetConfig config;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), reset_line(config.hard)), 1)
      << fmt::format("{}", fmt::join(lines, " | "));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), reset_line(config.bootloader)), 0);
  EXPECT_EQ(device_.resets_into_bootloader, std::vector<bool>{false});  // a flash ends
}

TEST_F(EspSessionTest, PassesLineChangesThatCannotResetTheChipThrough) {
  client_sends(set_control(Control::dtr_on));  // pyserial's open: D1 R1
  client_sends(set_control(Control::rts_on));
  EXPECT_EQ(performed(), (std::vector<std::string>{"lines dtr=1 rts=0", "modem?",
                                                   "lines dtr=1 rts=1", "modem?"}));
  const Bytes out = take_output();
  EXPECT_EQ(count(out, control_reply(Control::dtr_on)), 1u);
  EXPECT_EQ(count(out, control_reply(Control::rts_on)), 1u);
}

// --- Paced ESP frames -----------------------------------------------------------------------

namespace pe = rfc2217::paced_esp;

// IAC SB PACED-ESP <message> IAC SE (the messages used here carry no 0xFF).
Bytes paced_sb(const pe::Message& message) {
  ByteBuffer payload;
  pe::append_message(payload, message);
  return concat({{iac, 0xFA, pe::option}, payload, {iac, 0xF0}});
}
Bytes request_frame(esp::Op op, const Bytes& data) {
  ByteBuffer packet;
  esp::append_request(packet, op, data);
  return esp::slip::encode_frame(packet);
}
Bytes reply_frame(esp::Op op) {
  ByteBuffer packet;
  esp::append_response(packet, op, 0, Bytes{0x00, 0x00});
  return esp::slip::encode_frame(packet);
}
const pe::FrameInfo flash_data_info{.opcode = static_cast<Byte>(esp::Op::flash_data),
                                    .status_length = 2,
                                    .timeout = 3000ms,
                                    .replies = 1};

// Served with --esp, and the client asked for paced frames.
class PacedSessionTest : public AgreedSessionTest {
 protected:
  PacedSessionTest() : AgreedSessionTest(EspResetConfig{}, true) {
    client_sends({iac, 0xFD, pe::option});
    EXPECT_EQ(hex(take_output()), "ff fb 78");
    performed();
  }

  // Batch 4: two FLASH_DATA frames, sent in one read.
  void client_sends_batch() {
    client_sends(concat({paced_sb(pe::BatchBegin{4}), paced_sb(flash_data_info), first_,
                         paced_sb(flash_data_info), second_, paced_sb(pe::BatchEnd{4})}));
  }
  void device_replies() {
    core_.send_data(reply_frame(esp::Op::flash_data));
    drive();
  }

  const Bytes first_ = request_frame(esp::Op::flash_data, {0x01, 0x02});
  const Bytes second_ = request_frame(esp::Op::flash_data, {0x03, 0x04});
};

TEST_F(AgreedSessionTest, RefusesPacedFramesWithoutTheFlag) {
  client_sends({iac, 0xFD, pe::option});
  EXPECT_EQ(hex(take_output()), "ff fc 78");
}

TEST_F(PacedSessionTest, WritesABatchsFramesOneByOneAsTheDeviceReplies) {
  client_sends_batch();
  EXPECT_EQ(performed(), std::vector<std::string>{"write " + hex(first_)});
  EXPECT_EQ(core_.deadline(), now_ + 3000ms);

  device_replies();
  EXPECT_EQ(performed(), std::vector<std::string>{"write " + hex(second_)});
  EXPECT_TRUE(contains(take_output(), reply_frame(esp::Op::flash_data)));  // forwarded at once

  device_replies();
  EXPECT_EQ(performed(), std::vector<std::string>{"log debug: paced batch 4 done: 2 frames"});
  const Bytes out = take_output();
  EXPECT_TRUE(contains(out, reply_frame(esp::Op::flash_data)));
  EXPECT_TRUE(contains(out, paced_sb(pe::BatchDone{.id = 4, .frames = 2})));
  EXPECT_FALSE(core_.deadline());

  client_sends({0x41, 0x42});  // outside a batch: straight through, as before
  EXPECT_EQ(performed(), std::vector<std::string>{"write 41 42"});
}

TEST_F(PacedSessionTest, ADtrChangeDuringABatchAbortsItBeforeTheLineChanges) {
  client_sends_batch();
  performed();
  client_sends(set_control(Control::dtr_on));
  EXPECT_EQ(performed(), (std::vector<std::string>{
                             "log info: paced batch 4 aborted at frame 0: line change or reset",
                             "lines dtr=1 rts=0", "modem?"}));
  const Bytes out = take_output();
  pe::BatchAborted aborted{.id = 4, .index = 0, .reason = pe::AbortReason::line_change};
  EXPECT_TRUE(contains(out, paced_sb(aborted)));
  EXPECT_TRUE(contains(out, control_reply(Control::dtr_on)));

  device_replies();  // the first frame's late reply releases nothing
  EXPECT_TRUE(performed().empty());
}

TEST_F(PacedSessionTest, AFrameWithoutAReplyTimesOutAtItsDeadline) {
  now_ += 1h;
  client_sends_batch();
  performed();
  ASSERT_TRUE(core_.deadline());
  core_.expire(*core_.deadline() - 1ms);
  drive();
  EXPECT_TRUE(performed().empty());
  core_.expire(*core_.deadline());
  drive();
  EXPECT_EQ(performed(),
            std::vector<std::string>{"log info: paced batch 4 aborted at frame 0: timeout"});
  pe::BatchAborted aborted{.id = 4, .index = 0, .reason = pe::AbortReason::timeout};
  EXPECT_TRUE(contains(take_output(), paced_sb(aborted)));
}

TEST_F(PacedSessionTest, ALostDeviceAbortsTheBatch) {
  client_sends_batch();
  performed();
  core_.device_lost();
  drive();
  pe::BatchAborted aborted{.id = 4, .index = 0, .reason = pe::AbortReason::device_gone};
  EXPECT_TRUE(contains(take_output(), paced_sb(aborted)));
}

}  // namespace
}  // namespace ttynet::server
