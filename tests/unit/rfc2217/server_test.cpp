#include "ttynet/rfc2217/server.hpp"

#include <gtest/gtest.h>

#include "loop_device.hpp"
#include "wire_bytes.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ttynet/rfc2217/error.hpp"
#include "ttynet/telnet/error.hpp"

namespace ttynet::rfc2217 {
namespace {

using ttynet::test::Bytes;
using ttynet::test::com_port_sb;
using ttynet::test::concat;
using ttynet::test::hex;

// The server's own option requests at construction.
// WILL BINARY, DO BINARY, WILL COM-PORT: BINARY both ways, COM-PORT on our side only.
const Bytes own_offers = {0xFF, 0xFB, 0x00, 0xFF, 0xFD, 0x00, 0xFF, 0xFB, 0x2C};
const Bytes client_do_com_port = {0xFF, 0xFD, 0x2C};
const Bytes client_will_com_port = {0xFF, 0xFB, 0x2C};

std::string describe(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, DataReceived>) {
          return "data: " + hex(e.data);
        } else if constexpr (std::is_same_v<T, ComPortStarted>) {
          return "com-port started";
        } else if constexpr (std::is_same_v<T, SignatureRequested>) {
          return "signature?";
        } else if constexpr (std::is_same_v<T, SignatureReceived>) {
          return fmt::format("signature '{}'", e.text);
        } else if constexpr (std::is_same_v<T, BaudRequested>) {
          return e.baud ? fmt::format("baud {}", *e.baud) : "baud ?";
        } else if constexpr (std::is_same_v<T, DataBitsRequested>) {
          return e.data_bits ? fmt::format("data bits {}", *e.data_bits) : "data bits ?";
        } else if constexpr (std::is_same_v<T, ParityRequested>) {
          return e.parity ? "parity " + to_string(*e.parity) : "parity ?";
        } else if constexpr (std::is_same_v<T, StopBitsRequested>) {
          return e.stop_bits ? "stop bits " + to_string(*e.stop_bits) : "stop bits ?";
        } else if constexpr (std::is_same_v<T, ControlRequested>) {
          return fmt::format("control {}", static_cast<int>(e.value));
        } else if constexpr (std::is_same_v<T, PurgeRequested>) {
          return fmt::format("purge {}", static_cast<int>(e.which));
        } else if constexpr (std::is_same_v<T, FlowSuspended>) {
          return e.suspended ? "suspend" : "resume";
        } else if constexpr (std::is_same_v<T, BreakCommand>) {
          return "break";
        } else if constexpr (std::is_same_v<T, PacedEspReceived>) {
          ByteBuffer payload;
          paced_esp::append_message(payload, e.message);
          return "paced-esp: " + hex(payload);
        } else {
          static_assert(std::is_same_v<T, ProtocolError>);
          return fmt::format("error {}:{}", e.error.category().name(), e.error.value());
        }
      },
      event);
}

std::string error_text(std::error_code error) {
  return fmt::format("error {}:{}", error.category().name(), error.value());
}

using test::LoopDevice;

// Feeds a server, records its events (data runs merged, since runs depend on the split) and
// collects its output.
struct Harness {
  explicit Harness(telnet::Limits limits = {}, ServerOptions options = {})
      : server(limits, options) {
    drain();
  }

  void feed(ByteView bytes) {
    server.receive(bytes);
    while (std::optional<Event> event = server.next_event()) {
      std::string text = describe(*event);
      if (text.starts_with("data:") && !events.empty() && events.back().starts_with("data:")) {
        events.back() += text.substr(5);
      } else {
        events.push_back(std::move(text));
      }
      if (answer) device.apply(server, *event);
    }
    drain();
  }
  void feed(const Bytes& bytes) { feed(ByteView{bytes}); }

  void drain() {
    const ByteView pending = server.pending_output();
    output.insert(output.end(), pending.begin(), pending.end());
    server.consume_output(pending.size());
  }

  // Events and output since the last call.
  std::vector<std::string> take_events() { return std::exchange(events, {}); }
  Bytes take_output() {
    drain();
    return std::exchange(output, {});
  }

  Server server;
  LoopDevice device;
  bool answer = false;
  std::vector<std::string> events;
  Bytes output;
};

// A server whose client has agreed to COM-PORT, with everything so far drained.
Harness agreed_harness() {
  Harness harness;
  harness.feed(client_do_com_port);
  harness.take_events();
  harness.take_output();
  return harness;
}

using Events = std::vector<std::string>;

// --- Telnet negotiation -------------------------------------------------------------------

TEST(Rfc2217Server, OffersBinaryBothWaysAndComPortOnItsOwnSide) {
  Server server;
  EXPECT_EQ(hex(server.pending_output()), hex(own_offers));
  EXPECT_FALSE(server.is_com_port_active());
  EXPECT_FALSE(server.is_suspended());
}

TEST(Rfc2217Server, RefusesEcho) {
  Harness harness;
  harness.take_output();
  harness.feed(Bytes{0xFF, 0xFD, 0x01, 0xFF, 0xFB, 0x01});     // DO ECHO, WILL ECHO
  EXPECT_EQ(hex(harness.take_output()), "ff fc 01 ff fe 01");  // WONT ECHO, DONT ECHO
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Server, AcceptsBinaryAndSgaWithoutFurtherAnswers) {
  Harness harness;
  harness.take_output();
  // The client agrees to BINARY (our offers) and asks for SGA: only SGA gets an answer.
  harness.feed(Bytes{0xFF, 0xFB, 0x00, 0xFF, 0xFD, 0x00, 0xFF, 0xFB, 0x03, 0xFF, 0xFD, 0x03});
  EXPECT_EQ(hex(harness.take_output()), "ff fd 03 ff fb 03");
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_FALSE(harness.server.is_com_port_active());
}

TEST(Rfc2217Server, StartsComPortOnClientDoAndNotifiesModemStateOnce) {
  Harness harness;
  harness.take_output();
  harness.feed(client_do_com_port);
  EXPECT_EQ(harness.take_events(), Events{"com-port started"});
  // NOTIFY-MODEMSTATE 0: no update yet.
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 00 ff f0");
  EXPECT_TRUE(harness.server.is_com_port_active());

  harness.feed(client_will_com_port);  // the other side too: answered, already started
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(hex(harness.take_output()), "ff fd 2c");
}

TEST(Rfc2217Server, StartsComPortOnClientWillAlone) {
  Harness harness;
  harness.take_output();
  harness.feed(Bytes{0xFF, 0xFE, 0x2C});  // DONT COM-PORT: refuses our WILL
  EXPECT_FALSE(harness.server.is_com_port_active());
  harness.feed(client_will_com_port);  // ...and changes its mind: we answer DO
  EXPECT_EQ(harness.take_events(), Events{"com-port started"});
  EXPECT_EQ(hex(harness.take_output()), "ff fd 2c ff fa 2c 6b 00 ff f0");
}

TEST(Rfc2217Server, NotifiesLastKnownLinesWhenComPortStarts) {
  Harness harness;
  harness.server.update_modem_state(0xB7);  // CD, DSR, CTS; low bits are not lines
  harness.server.update_modem_state(0xB0);
  EXPECT_EQ(hex(harness.take_output()), hex(own_offers));  // nothing before agreement
  harness.feed(client_do_com_port);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b b0 ff f0");
}

TEST(Rfc2217Server, NotifiesAgainWhenComPortIsAgreedAgainButStartsOnce) {
  Harness harness = agreed_harness();
  harness.feed(client_will_com_port);
  harness.feed(Bytes{0xFF, 0xFE, 0x2C, 0xFF, 0xFC, 0x2C});  // DONT and WONT COM-PORT
  // DO answering the WILL, then WONT and DONT confirming the client's turning off.
  EXPECT_EQ(hex(harness.take_output()), "ff fd 2c ff fc 2c ff fe 2c");
  EXPECT_FALSE(harness.server.is_com_port_active());

  harness.feed(com_port_sb({1, 0x00, 0x00, 0x25, 0x80}));  // no longer agreed: ignored
  harness.server.update_modem_state(0x10);
  harness.server.reply_purge(Purge::both);
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_TRUE(harness.take_output().empty());

  harness.feed(client_will_com_port);
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(hex(harness.take_output()), "ff fd 2c ff fa 2c 6b 10 ff f0");
}

TEST(Rfc2217Server, ReportsTelnetBreakAndIgnoresOtherCommands) {
  Harness harness = agreed_harness();
  harness.feed(Bytes{0xFF, 0xF1, 0xFF, 0xF3, 0xFF, 0xF6, 0xFF, 0xF9});  // NOP, BRK, AYT, GA
  EXPECT_EQ(harness.take_events(), Events{"break"});
  EXPECT_TRUE(harness.take_output().empty());
}

TEST(Rfc2217Server, PassesCodecErrorsThrough) {
  Harness harness = agreed_harness();
  harness.feed(Bytes{0x41, 0xFF, 0xF0, 0x42});  // IAC SE without SB
  EXPECT_EQ(harness.take_events(),
            (Events{"data: 41", error_text(telnet::errc::se_without_sb), "data: 42"}));
}

// --- Data -----------------------------------------------------------------------------------

TEST(Rfc2217Server, PassesDataRunsAsViewsOfTheInput) {
  Harness harness = agreed_harness();
  const Bytes input = {'a', 'b', 'c', 0xFF, 0xFF, 'd'};
  harness.server.receive(input);
  std::optional<Event> event = harness.server.next_event();
  ASSERT_TRUE(event);
  const auto* data = std::get_if<DataReceived>(&*event);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->data.data(), input.data());
  EXPECT_EQ(hex(data->data), "61 62 63");
  Bytes all(data->data.begin(), data->data.end());
  while ((event = harness.server.next_event())) {
    const auto* more = std::get_if<DataReceived>(&*event);
    ASSERT_NE(more, nullptr);
    all.insert(all.end(), more->data.begin(), more->data.end());
  }
  EXPECT_EQ(hex(all), "61 62 63 ff 64");
}

TEST(Rfc2217Server, DoublesIacInDeviceData) {
  Harness harness = agreed_harness();
  harness.server.send_data(Bytes{0x41, 0x42, 0xFF, 0x43});
  EXPECT_EQ(hex(harness.take_output()), "41 42 ff ff 43");
}

TEST(Rfc2217Server, ServesClientsThatNeverNegotiate) {
  Harness harness;
  harness.answer = true;
  harness.feed(Bytes{'h', 'i', 0xFF, 0xFF, '!'});
  harness.server.update_modem_state(0xF0);
  harness.server.update_modem_state(0x00);
  harness.server.reply_signature("x");
  harness.server.reply_baud(9600);
  harness.server.reply_control(Control::dtr_on);
  EXPECT_EQ(harness.take_events(), Events{"data: 68 69 ff 21"});
  // Our offers, then the echo: no sub-negotiation at all.
  Bytes expected = own_offers;
  expected.insert(expected.end(), {'h', 'i', 0xFF, 0xFF, '!'});
  EXPECT_EQ(hex(harness.take_output()), hex(expected));
  EXPECT_FALSE(harness.server.is_com_port_active());
}

TEST(Rfc2217Server, IgnoresComPortCommandsBeforeAgreement) {
  Harness harness;
  harness.take_output();
  for (int code = 0; code <= 12; ++code) {
    harness.feed(com_port_sb({static_cast<Byte>(code), 1}));
    harness.feed(com_port_sb({static_cast<Byte>(code)}));
  }
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_TRUE(harness.take_output().empty());
  EXPECT_FALSE(harness.server.is_suspended());

  harness.feed(client_do_com_port);
  harness.take_output();
  harness.feed(com_port_sb({2, 7}));
  EXPECT_EQ(harness.take_events(), (Events{"com-port started", "data bits 7"}));
}

TEST(Rfc2217Server, IgnoresUnknownCommandsAndOtherOptions) {
  Harness harness = agreed_harness();
  for (const Byte code : {Byte{13}, Byte{50}, Byte{101}, Byte{107}, Byte{112}, Byte{255}}) {
    harness.feed(com_port_sb({code, 1}));
  }
  harness.feed(Bytes{0xFF, 0xFA, 0x2C, 0xFF, 0xF0});                          // no command at all
  harness.feed(Bytes{0xFF, 0xFA, 0x18, 0x01, 0xFF, 0xF0});                    // TERMINAL-TYPE SEND
  harness.feed(Bytes{0xFF, 0xFA, 0x1F, 0x00, 0x50, 0x00, 0x18, 0xFF, 0xF0});  // NAWS
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_TRUE(harness.take_output().empty());
}

TEST(Rfc2217Server, ReportsOversizedSubnegotiationAndGoesOn) {
  Harness harness{telnet::Limits{.max_subnegotiation = 8}};
  harness.feed(client_do_com_port);
  harness.take_events();
  harness.take_output();

  // At the limit: command byte + 7 signature bytes = 8 payload bytes.
  harness.feed(com_port_sb({0, 'a', 'b', 'c', 'd', 'e', 'f', 'g'}));
  EXPECT_EQ(harness.take_events(), Events{"signature 'abcdefg'"});
  // One past it: dropped and reported, the stream goes on after its IAC SE.
  harness.feed(com_port_sb({0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}));
  harness.feed(Bytes{'x'});
  harness.feed(com_port_sb({2, 8}));
  EXPECT_EQ(harness.take_events(),
            (Events{error_text(telnet::errc::subnegotiation_too_long), "data: 78", "data bits 8"}));
  EXPECT_TRUE(harness.take_output().empty());
}

// --- Settings -------------------------------------------------------------------------------

TEST(Rfc2217Server, AsksForBaudAndRepliesInFourBytes) {
  Harness harness = agreed_harness();
  // SET-BAUDRATE 115200, answered 101 with the value in force.
  harness.feed(Bytes{0xFF, 0xFA, 0x2C, 0x01, 0x00, 0x01, 0xC2, 0x00, 0xFF, 0xF0});
  EXPECT_EQ(harness.take_events(), Events{"baud 115200"});
  harness.server.reply_baud(115200);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 01 c2 00 ff f0");
}

TEST(Rfc2217Server, TreatsBaudZeroAsQuery) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({1, 0, 0, 0, 0}));
  EXPECT_EQ(harness.take_events(), Events{"baud ?"});
  harness.server.reply_baud(9600);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 00 25 80 ff f0");
}

TEST(Rfc2217Server, DoublesIacInBaudValues) {
  Harness harness = agreed_harness();
  // SET-BAUDRATE 65535: 00 00 FF FF with each FF doubled on the wire.
  harness.feed(Bytes{0xFF, 0xFA, 0x2C, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0});
  EXPECT_EQ(harness.take_events(), Events{"baud 65535"});
  harness.server.reply_baud(65535);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 00 ff ff ff ff ff f0");
  harness.server.reply_baud(0xFFFFFFFF);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 ff ff ff ff ff ff ff ff ff f0");
}

TEST(Rfc2217Server, AnswersCiscoBaudInOneByte) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({1, 14}));  // Cisco index 14 = 115200
  EXPECT_EQ(harness.take_events(), Events{"baud 115200"});
  harness.server.reply_baud(115200);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 0e ff f0");

  harness.feed(com_port_sb({1, 0}));  // Cisco query
  harness.feed(com_port_sb({1, 9}));  // no such index: answered with the rate in force
  EXPECT_EQ(harness.take_events(), (Events{"baud ?", "baud ?"}));
  harness.server.reply_baud(9600);
  harness.server.reply_baud(9600);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 08 ff f0 ff fa 2c 65 08 ff f0");

  // A rate without an index can only be told in four bytes.
  harness.server.reply_baud(460800);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 07 08 00 ff f0");

  // The next standard request switches back to four bytes.
  harness.feed(com_port_sb({1, 0x00, 0x00, 0x25, 0x80}));
  EXPECT_EQ(harness.take_events(), Events{"baud 9600"});
  harness.server.reply_baud(9600);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 00 25 80 ff f0");
}

TEST(Rfc2217Server, TreatsOtherBaudLengthsAsQuery) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({1}));
  harness.feed(com_port_sb({1, 0x25, 0x80}));
  harness.feed(com_port_sb({1, 0x00, 0x25, 0x80}));
  harness.feed(com_port_sb({1, 0x00, 0x00, 0x25, 0x80, 0x00}));
  EXPECT_EQ(harness.take_events(), (Events{"baud ?", "baud ?", "baud ?", "baud ?"}));
  harness.server.reply_baud(300);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 65 00 00 01 2c ff f0");
}

TEST(Rfc2217Server, AsksForDataBits) {
  Harness harness = agreed_harness();
  for (Byte bits = 5; bits <= 8; ++bits) harness.feed(com_port_sb({2, bits}));
  EXPECT_EQ(harness.take_events(),
            (Events{"data bits 5", "data bits 6", "data bits 7", "data bits 8"}));
  // Query, reserved values and a missing value all ask for the value in force.
  for (const Byte value : {Byte{0}, Byte{4}, Byte{9}, Byte{255}}) {
    harness.feed(com_port_sb({2, value}));
  }
  harness.feed(com_port_sb({2}));
  EXPECT_EQ(harness.take_events(), Events(5, "data bits ?"));
  harness.server.reply_data_bits(7);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 66 07 ff f0");
}

TEST(Rfc2217Server, AsksForParity) {
  Harness harness = agreed_harness();
  for (Byte value = 0; value <= 6; ++value) harness.feed(com_port_sb({3, value}));
  EXPECT_EQ(harness.take_events(), (Events{"parity ?", "parity none", "parity odd", "parity even",
                                           "parity mark", "parity space", "parity ?"}));
  for (const Parity parity :
       {Parity::none, Parity::odd, Parity::even, Parity::mark, Parity::space}) {
    harness.server.reply_parity(parity);
  }
  EXPECT_EQ(hex(harness.take_output()),
            "ff fa 2c 67 01 ff f0 ff fa 2c 67 02 ff f0 ff fa 2c 67 03 ff f0 "
            "ff fa 2c 67 04 ff f0 ff fa 2c 67 05 ff f0");
}

TEST(Rfc2217Server, AsksForStopBits) {
  Harness harness = agreed_harness();
  for (Byte value = 0; value <= 4; ++value) harness.feed(com_port_sb({4, value}));
  EXPECT_EQ(harness.take_events(),
            (Events{"stop bits ?", "stop bits 1", "stop bits 2", "stop bits 1.5", "stop bits ?"}));
  harness.server.reply_stop_bits(StopBits::one);
  harness.server.reply_stop_bits(StopBits::two);
  harness.server.reply_stop_bits(StopBits::one_and_half);
  EXPECT_EQ(hex(harness.take_output()),
            "ff fa 2c 68 01 ff f0 ff fa 2c 68 02 ff f0 ff fa 2c 68 03 ff f0");
}

TEST(Rfc2217Server, AsksForEveryControlValueAndEchoesTheReply) {
  Harness harness = agreed_harness();
  for (int value = 0; value <= 19; ++value) {
    harness.feed(com_port_sb({5, static_cast<Byte>(value)}));
    EXPECT_EQ(harness.take_events(), Events{fmt::format("control {}", value)});
    harness.server.reply_control(static_cast<Control>(value));
    EXPECT_EQ(hex(harness.take_output()), fmt::format("ff fa 2c 69 {:02x} ff f0", value));
  }
}

TEST(Rfc2217Server, IgnoresUndefinedControlValues) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({5, 20}));
  harness.feed(com_port_sb({5, 255}));
  harness.feed(com_port_sb({5}));
  EXPECT_EQ(harness.take_events(),
            (Events{error_text(errc::invalid_value), error_text(errc::invalid_value),
                    error_text(errc::missing_value)}));
  EXPECT_TRUE(harness.take_output().empty());
}

TEST(Rfc2217Server, AsksForPurges) {
  Harness harness = agreed_harness();
  for (Byte value = 0; value <= 4; ++value) harness.feed(com_port_sb({12, value}));
  harness.feed(com_port_sb({12}));
  EXPECT_EQ(harness.take_events(),
            (Events{error_text(errc::invalid_value), "purge 1", "purge 2", "purge 3",
                    error_text(errc::invalid_value), error_text(errc::missing_value)}));
  harness.server.reply_purge(Purge::receive);
  harness.server.reply_purge(Purge::transmit);
  harness.server.reply_purge(Purge::both);
  EXPECT_EQ(hex(harness.take_output()),
            "ff fa 2c 70 01 ff f0 ff fa 2c 70 02 ff f0 ff fa 2c 70 03 ff f0");
}

TEST(Rfc2217Server, AnswersSignatureQueries) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({0}));
  EXPECT_EQ(harness.take_events(), Events{"signature?"});
  harness.server.reply_signature("tty\xFF");
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 64 74 74 79 ff ff ff f0");
}

TEST(Rfc2217Server, ReportsTheClientsSignature) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({0, 'p', 'y', 0xFF}));
  EXPECT_EQ(harness.take_events(), Events{"signature 'py\xFF'"});
  EXPECT_TRUE(harness.take_output().empty());
}

TEST(Rfc2217Server, RepliesInRequestOrder) {
  Harness harness = agreed_harness();
  harness.answer = true;
  Bytes burst = com_port_sb({1, 0x00, 0x01, 0xC2, 0x00});
  for (const Bytes& more : {com_port_sb({2, 7}), com_port_sb({3, 3}), com_port_sb({4, 2}),
                            com_port_sb({5, 1}), com_port_sb({12, 3})}) {
    burst.insert(burst.end(), more.begin(), more.end());
  }
  harness.feed(burst);
  EXPECT_EQ(hex(harness.take_output()),
            "ff fa 2c 65 00 01 c2 00 ff f0 ff fa 2c 66 07 ff f0 ff fa 2c 67 03 ff f0 "
            "ff fa 2c 68 02 ff f0 ff fa 2c 69 01 ff f0 ff fa 2c 70 03 ff f0");
}

// --- Flow control suspend / resume ------------------------------------------------------------

TEST(Rfc2217Server, SuspendsAndResumesWithoutReply) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({8}));
  EXPECT_EQ(harness.take_events(), Events{"suspend"});
  EXPECT_TRUE(harness.server.is_suspended());
  harness.feed(com_port_sb({8}));  // already suspended: nothing changes
  EXPECT_TRUE(harness.take_events().empty());
  harness.feed(com_port_sb({9}));
  EXPECT_EQ(harness.take_events(), Events{"resume"});
  EXPECT_FALSE(harness.server.is_suspended());
  harness.feed(com_port_sb({9}));
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_TRUE(harness.take_output().empty());
}

// --- Masks, notifications and polls ----------------------------------------------------------

TEST(Rfc2217Server, AnswersLineStateMaskAndPoll) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({6}));  // poll before any mask: line state 0 under mask 0
  harness.feed(com_port_sb({10, 0xFF}));
  harness.feed(com_port_sb({6}));
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(hex(harness.take_output()),
            "ff fa 2c 6a 00 ff f0 ff fa 2c 6e ff ff ff f0 "
            "ff fa 2c 6a 00 ff f0");
  harness.feed(com_port_sb({10}));
  EXPECT_EQ(harness.take_events(), Events{error_text(errc::missing_value)});
}

TEST(Rfc2217Server, AnswersModemStateMaskAndAppliesIt) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({11, 0xFF}));
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6f ff ff ff f0");
  // CD and delta CD only.
  harness.feed(com_port_sb({11, 0x88}));
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6f 88 ff f0");
  harness.server.update_modem_state(0x30);  // DSR and CTS rise: masked out
  EXPECT_TRUE(harness.take_output().empty());
  harness.server.update_modem_state(0xB0);  // CD rises
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 88 ff f0");
  harness.feed(com_port_sb({7}));  // poll
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 80 ff f0");
  harness.feed(com_port_sb({11}));
  EXPECT_EQ(harness.take_events(), Events{error_text(errc::missing_value)});
}

TEST(Rfc2217Server, NeverNotifiesUnderAnEmptyMask) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({11, 0x00}));
  harness.take_output();
  harness.server.update_modem_state(0xF0);
  harness.server.update_modem_state(0x00);
  EXPECT_TRUE(harness.take_output().empty());
  harness.feed(com_port_sb({7}));
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 00 ff f0");
}

TEST(Rfc2217Server, NotifiesDeltasAgainstTheLastReport) {
  Harness harness = agreed_harness();
  harness.server.update_modem_state(0x10);  // CTS on
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 11 ff f0");
  harness.server.update_modem_state(0x30);  // DSR on
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 32 ff f0");
  harness.server.update_modem_state(0x30);  // no change
  EXPECT_TRUE(harness.take_output().empty());
  harness.server.update_modem_state(
      0x70);  // RI rises: reported, but only its falling edge has a delta
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 70 ff f0");
  harness.server.update_modem_state(0x30);  // RI falls: trailing edge
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 34 ff f0");
  harness.server.update_modem_state(0xB0);  // CD on
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b b8 ff f0");
  harness.server.update_modem_state(0x00);  // CD, DSR, CTS off together
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 0b ff f0");
  harness.server.update_modem_state(0xF0);  // all on; RI rising has no delta
  harness.server.update_modem_state(0x40);  // all but RI off
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b fb ff f0 ff fa 2c 6b 4b ff f0");
}

TEST(Rfc2217Server, AnswersModemStatePollWithCurrentState) {
  Harness harness = agreed_harness();
  harness.feed(com_port_sb({7}));
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 00 ff f0");
  harness.server.update_modem_state(0x90);
  harness.take_output();
  harness.feed(com_port_sb({7}));
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(hex(harness.take_output()), "ff fa 2c 6b 90 ff f0");
}

TEST(Rfc2217Server, HandsOutputOverInParts) {
  Server server;
  const ByteView first = server.pending_output();
  ASSERT_EQ(first.size(), own_offers.size());
  server.consume_output(4);
  EXPECT_EQ(hex(server.pending_output()), hex(ByteView{own_offers}.subspan(4)));
  server.send_data(Bytes{0xFF});
  server.consume_output(5);
  EXPECT_EQ(hex(server.pending_output()), "ff ff");
  server.consume_output(1);
  EXPECT_EQ(hex(server.pending_output()), "ff");
  server.consume_output(1);
  EXPECT_TRUE(server.pending_output().empty());
}

// --- Paced ESP frames (option 120) ----------------------------------------------------------

const Bytes client_do_paced_esp = {0xFF, 0xFD, 0x78};

// IAC SB PACED-ESP <message, 0xFF doubled> IAC SE.
Bytes paced_esp_sb(const paced_esp::Message& message) {
  ByteBuffer payload;
  paced_esp::append_message(payload, message);
  return ttynet::test::telnet_sb(paced_esp::option, payload);
}

// A server serving --esp whose client has asked for PACED-ESP, everything so far drained.
Harness paced_harness() {
  Harness harness({}, ServerOptions{.paced_esp = true});
  harness.feed(concat({client_do_com_port, client_do_paced_esp}));
  harness.take_events();
  harness.take_output();
  return harness;
}

TEST(Rfc2217Server, RefusesPacedEspUnlessConfigured) {
  Harness harness;
  harness.take_output();
  harness.feed(client_do_paced_esp);
  EXPECT_EQ(hex(harness.take_output()), "ff fc 78");  // WONT, as for any unknown option
  EXPECT_FALSE(harness.server.is_paced_esp_active());
}

TEST(Rfc2217Server, AgreesToPacedEspWhenConfiguredButNeverOffersIt) {
  Harness harness({}, ServerOptions{.paced_esp = true});
  EXPECT_EQ(hex(harness.take_output()), hex(own_offers));
  EXPECT_FALSE(harness.server.is_paced_esp_active());
  harness.feed(client_do_paced_esp);
  EXPECT_EQ(hex(harness.take_output()), "ff fb 78");
  EXPECT_TRUE(harness.server.is_paced_esp_active());
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Server, RefusesToAskThePeerForPacedEsp) {
  Harness harness({}, ServerOptions{.paced_esp = true});
  harness.take_output();
  harness.feed(Bytes{0xFF, 0xFB, 0x78});  // WILL: the client does not pace
  EXPECT_EQ(hex(harness.take_output()), "ff fe 78");
}

TEST(Rfc2217Server, HandsOutTheClientsBatchMessagesOnceAgreed) {
  Harness harness = paced_harness();
  harness.feed(concat({paced_esp_sb(paced_esp::BatchBegin{0x01FF}),
                       paced_esp_sb(paced_esp::FrameInfo{.opcode = 0x03,
                                                         .status_length = 2,
                                                         .timeout = std::chrono::milliseconds{3000},
                                                         .replies = 1}),
                       paced_esp_sb(paced_esp::BatchEnd{0x01FF})}));
  EXPECT_EQ(
      harness.take_events(),
      (Events{"paced-esp: 01 01 ff", "paced-esp: 02 03 02 00 00 0b b8 01", "paced-esp: 03 01 ff"}));
  EXPECT_TRUE(harness.take_output().empty());
}

TEST(Rfc2217Server, AnswersFeaturesWithTheOnesItProvides) {
  Harness harness = paced_harness();
  harness.feed(paced_esp_sb(paced_esp::Features{0xFF}));
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(hex(harness.take_output()),
            hex(paced_esp_sb(paced_esp::FeaturesAgreed{paced_esp::server_features})));
  harness.feed(paced_esp_sb(paced_esp::Features{0}));
  EXPECT_EQ(hex(harness.take_output()), hex(paced_esp_sb(paced_esp::FeaturesAgreed{0})));
  // The answer goes the other way only.
  harness.feed(paced_esp_sb(paced_esp::FeaturesAgreed{1}));
  EXPECT_EQ(harness.take_events(), Events{error_text(errc::bad_message)});
}

TEST(Rfc2217Server, IgnoresPacedEspSubnegotiationsUnlessAgreed) {
  Harness harness({}, ServerOptions{.paced_esp = true});
  harness.feed(paced_esp_sb(paced_esp::BatchBegin{1}));
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Server, ReportsUndecodableAndMisdirectedPacedEspMessages) {
  Harness harness = paced_harness();
  harness.feed(Bytes{0xFF, 0xFA, 0x78, 0x09, 0xFF, 0xF0});              // unknown kind
  harness.feed(Bytes{0xFF, 0xFA, 0x78, 0x02, 0x03, 0x03, 0xFF, 0xF0});  // short FRAME-INFO
  harness.feed(paced_esp_sb(paced_esp::BatchDone{1, 1}));               // a report, the wrong way
  const std::string bad = error_text(errc::bad_message);
  EXPECT_EQ(harness.take_events(), (Events{bad, bad, bad}));
}

TEST(Rfc2217Server, SendsBatchReportsWithFfDoubled) {
  Harness harness = paced_harness();
  harness.server.send_batch_report(paced_esp::BatchDone{.id = 0x00FF, .frames = 3});
  EXPECT_EQ(hex(harness.take_output()), "ff fa 78 65 00 ff ff 00 03 ff f0");
  paced_esp::BatchAborted aborted{.id = 7,
                                  .index = 2,
                                  .reason = paced_esp::AbortReason::failed_status,
                                  .status = {0x01, 0x05, 0x00, 0x00},
                                  .status_size = 4};
  harness.server.send_batch_report(aborted);
  EXPECT_EQ(hex(harness.take_output()), "ff fa 78 66 00 07 00 02 01 01 05 00 00 ff f0");
}

TEST(Rfc2217Server, DropsBatchReportsUnlessAgreed) {
  Harness harness({}, ServerOptions{.paced_esp = true});
  harness.take_output();
  harness.server.send_batch_report(paced_esp::BatchDone{.id = 1, .frames = 1});
  EXPECT_TRUE(harness.take_output().empty());
}

// --- Reference vector: pyserial client against pyserial's server on loop:// ------------------

// Client to server, 169 bytes: negotiation, four settings, flow control, DTR/RTS, purges,
// DTR/RTS changes, 460800 and the rest again, data `AB\xffC`, BREAK on and off.
const Bytes pyserial_client = {
    0xff, 0xfd, 0x01, 0xff, 0xfb, 0x03, 0xff, 0xfd, 0x03, 0xff, 0xfd, 0x2c, 0xff, 0xfb, 0x2c, 0xff,
    0xfb, 0x00, 0xff, 0xfa, 0x2c, 0x01, 0x00, 0x01, 0xc2, 0x00, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x02,
    0x08, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x03, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x04, 0x01, 0xff,
    0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x08, 0xff, 0xf0, 0xff,
    0xfa, 0x2c, 0x05, 0x0b, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x0c, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c,
    0x0c, 0x02, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x08, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x0b,
    0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x09, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x0c, 0xff, 0xf0,
    0xff, 0xfa, 0x2c, 0x01, 0x00, 0x07, 0x08, 0x00, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x02, 0x08, 0xff,
    0xf0, 0xff, 0xfa, 0x2c, 0x03, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x04, 0x01, 0xff, 0xf0, 0xff,
    0xfa, 0x2c, 0x05, 0x01, 0xff, 0xf0, 0x41, 0x42, 0xff, 0xff, 0x43, 0xff, 0xfa, 0x2c, 0x05, 0x05,
    0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x05, 0x06, 0xff, 0xf0,
};

// Server to client, 190 bytes: pyserial's option requests and answers, three 107s, the
// COM-PORT replies and the data echo.
const Bytes pyserial_server = {
    0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03, 0xff, 0xfd, 0x00, 0xff, 0xfb, 0x2c, 0xff, 0xfd, 0x03, 0xff,
    0xfa, 0x2c, 0x6b, 0xbb, 0xff, 0xf0, 0xff, 0xfd, 0x2c, 0xff, 0xfa, 0x2c, 0x6b, 0xb0, 0xff, 0xf0,
    0xff, 0xfa, 0x2c, 0x65, 0x00, 0x01, 0xc2, 0x00, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x66, 0x08, 0xff,
    0xf0, 0xff, 0xfa, 0x2c, 0x67, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x68, 0x01, 0xff, 0xf0, 0xff,
    0xfa, 0x2c, 0x69, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x69, 0x08, 0xff, 0xf0, 0xff, 0xfa, 0x2c,
    0x69, 0x0b, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x70, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x70, 0x02,
    0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x69, 0x08, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x69, 0x0b, 0xff, 0xf0,
    0xff, 0xfa, 0x2c, 0x69, 0x09, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x69, 0x0c, 0xff, 0xf0, 0xff, 0xfa,
    0x2c, 0x65, 0x00, 0x07, 0x08, 0x00, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x66, 0x08, 0xff, 0xf0, 0xff,
    0xfa, 0x2c, 0x67, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x68, 0x01, 0xff, 0xf0, 0xff, 0xfa, 0x2c,
    0x69, 0x01, 0xff, 0xf0, 0x41, 0x42, 0xff, 0xff, 0x43, 0xff, 0xfa, 0x2c, 0x69, 0x05, 0xff, 0xf0,
    0xff, 0xfa, 0x2c, 0x69, 0x06, 0xff, 0xf0, 0xff, 0xfa, 0x2c, 0x6b, 0x83, 0xff, 0xf0,
};

// Splits a server-to-client stream into Telnet units: one data byte (IAC IAC counts as one),
// a negotiation, a two-byte command, or a whole sub-negotiation.
std::vector<Bytes> telnet_units(ByteView stream) {
  std::vector<Bytes> units;
  std::size_t at = 0;
  while (at < stream.size()) {
    std::size_t end = at + 1;
    if (stream[at] == 0xFF && at + 1 < stream.size()) {
      const Byte command = stream[at + 1];
      if (command == 0xFA) {
        end = at + 2;
        while (end + 1 < stream.size() && !(stream[end] == 0xFF && stream[end + 1] == 0xF0)) {
          end += stream[end] == 0xFF ? 2 : 1;
        }
        end += 2;
      } else if (command >= 0xFB && command <= 0xFE) {
        end = at + 3;
      } else {
        end = at + 2;
      }
    }
    end = std::min(end, stream.size());
    units.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(at),
                       stream.begin() + static_cast<std::ptrdiff_t>(end));
    at = end;
  }
  return units;
}

bool is_sb(const Bytes& unit) { return unit.size() >= 4 && unit[0] == 0xFF && unit[1] == 0xFA; }
bool is_modem_notification(const Bytes& unit) {
  return is_sb(unit) && unit[2] == 0x2C && unit[3] == 0x6B;
}

// What must match pyserial's server byte for byte: COM-PORT replies and the data echo.
Bytes replies_and_data(ByteView stream) {
  Bytes kept;
  for (const Bytes& unit : telnet_units(stream)) {
    const bool is_data = unit[0] != 0xFF || (unit.size() == 2 && unit[1] == 0xFF);
    if (is_data || (is_sb(unit) && !is_modem_notification(unit))) {
      kept.insert(kept.end(), unit.begin(), unit.end());
    }
  }
  return kept;
}

// Output of a loop:// server fed the client stream in the given pieces.
Bytes serve_pyserial_client(const std::vector<std::size_t>& cuts, Events* events = nullptr) {
  Harness harness;
  harness.answer = true;
  harness.server.update_modem_state(modem::cd | modem::dsr | modem::cts);  // loop:// lines
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    harness.feed(ByteView{pyserial_client}.subspan(from, cut - from));
    from = cut;
  }
  harness.feed(ByteView{pyserial_client}.subspan(from));
  if (events) *events = harness.take_events();
  return harness.take_output();
}

TEST(Rfc2217Server, ReferenceVectorsAreComplete) {
  EXPECT_EQ(pyserial_client.size(), 169u);
  EXPECT_EQ(pyserial_server.size(), 190u);
  // 190 bytes less six negotiations and three NOTIFY-MODEMSTATEs.
  EXPECT_EQ(replies_and_data(pyserial_server).size(), 190u - 6 * 3 - 3 * 7);
}

TEST(Rfc2217Server, AnswersPyserialClientLikePyserialServer) {
  Events events;
  const Bytes output = serve_pyserial_client({}, &events);
  EXPECT_EQ(hex(replies_and_data(output)), hex(replies_and_data(pyserial_server)));

  const Events expected = {"com-port started", "baud 115200", "data bits 8", "parity none",
                           "stop bits 1",      "control 1",   "control 8",   "control 11",
                           "purge 1",          "purge 2",     "control 8",   "control 11",
                           "control 9",        "control 12",  "baud 460800", "data bits 8",
                           "parity none",      "stop bits 1", "control 1",   "data: 41 42 ff 43",
                           "control 5",        "control 6"};
  EXPECT_EQ(events, expected);

  // The first sub-negotiation is the NOTIFY-MODEMSTATE that follows agreement.
  const std::vector<Bytes> units = telnet_units(output);
  const auto first_sb = std::find_if(units.begin(), units.end(), is_sb);
  ASSERT_NE(first_sb, units.end());
  EXPECT_EQ(hex(*first_sb), "ff fa 2c 6b b0 ff f0");
}

TEST(Rfc2217Server, NotifiesModemStateRightAfterPyserialAgrees) {
  Harness harness;
  harness.take_output();
  // pyserial's opening: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT.
  harness.feed(ByteView{pyserial_client}.first(15));
  EXPECT_EQ(harness.take_events(), Events{"com-port started"});
  // WONT ECHO, DO/WILL SGA, the 107 on agreement (its DO answers our WILL), DO COM-PORT.
  EXPECT_EQ(hex(harness.take_output()), "ff fc 01 ff fd 03 ff fb 03 ff fa 2c 6b 00 ff f0 ff fd 2c");
}

// pyserial skips its own requests for options whose offer already arrived; it then sends
// only WILL COM-PORT, and that alone must start COM-PORT handling.
TEST(Rfc2217Server, StartsComPortWhenPyserialTookOurOfferAsTheAnswer) {
  Harness harness;
  harness.take_output();
  harness.feed(Bytes{0xFF, 0xFD, 0x01, 0xFF, 0xFB, 0x2C});  // DO ECHO, WILL COM-PORT
  EXPECT_EQ(harness.take_events(), Events{"com-port started"});
  harness.feed(com_port_sb({1, 0x00, 0x00, 0x25, 0x80}));
  EXPECT_EQ(harness.take_events(), Events{"baud 9600"});
}

TEST(Rfc2217Server, AnswersPyserialClientTheSameAtEverySplit) {
  Events whole_events;
  const Bytes whole = serve_pyserial_client({}, &whole_events);
  for (std::size_t cut = 1; cut < pyserial_client.size(); ++cut) {
    Events events;
    EXPECT_EQ(hex(serve_pyserial_client({cut}, &events)), hex(whole)) << "cut at " << cut;
    EXPECT_EQ(events, whole_events) << "cut at " << cut;
  }
}

TEST(Rfc2217Server, AnswersPyserialClientTheSameByteByByte) {
  std::vector<std::size_t> cuts;
  for (std::size_t cut = 1; cut < pyserial_client.size(); ++cut) cuts.push_back(cut);
  Events events;
  const Bytes output = serve_pyserial_client(cuts, &events);
  Events whole_events;
  EXPECT_EQ(hex(output), hex(serve_pyserial_client({}, &whole_events)));
  EXPECT_EQ(events, whole_events);
  EXPECT_EQ(hex(replies_and_data(output)), hex(replies_and_data(pyserial_server)));
}

}  // namespace
}  // namespace ttynet::rfc2217
