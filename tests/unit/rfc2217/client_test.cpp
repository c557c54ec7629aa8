#include "ttynet/rfc2217/client.hpp"

#include <gtest/gtest.h>

#include "loop_device.hpp"
#include "wire_bytes.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ttynet/rfc2217/error.hpp"
#include "ttynet/rfc2217/server.hpp"
#include "ttynet/telnet/error.hpp"

namespace ttynet::rfc2217 {
namespace {

using namespace std::chrono_literals;
using ttynet::test::Bytes;
using ttynet::test::com_port_sb;
using ttynet::test::concat;
using ttynet::test::from_hex;
using ttynet::test::hex;
using Events = std::vector<std::string>;

const TimePoint t0 = TimePoint{} + std::chrono::hours{1};

// The server's answer to `command`: code + 100, then the value.
Bytes reply(Command command, Bytes value) {
  value.insert(value.begin(), server_code(command));
  return com_port_sb(value);
}
Bytes reply_control(Control value) {
  return reply(Command::set_control, {static_cast<Byte>(value)});
}
Bytes reply_purge(Purge which) { return reply(Command::purge_data, {static_cast<Byte>(which)}); }
Bytes modem_notification(Byte state) { return reply(Command::notify_modemstate, {state}); }

// SET-BAUDRATE .. SET-STOPSIZE as sent together, or answered (code + 100) in the same order.
Bytes settings_burst(std::uint32_t baud, Byte data_bits, Byte parity, Byte stop_bits,
                     Byte offset = 0) {
  return concat({com_port_sb({static_cast<Byte>(1 + offset), static_cast<Byte>(baud >> 24),
                              static_cast<Byte>(baud >> 16), static_cast<Byte>(baud >> 8),
                              static_cast<Byte>(baud)}),
                 com_port_sb({static_cast<Byte>(2 + offset), data_bits}),
                 com_port_sb({static_cast<Byte>(3 + offset), parity}),
                 com_port_sb({static_cast<Byte>(4 + offset), stop_bits})});
}
Bytes settings_replies(std::uint32_t baud, Byte data_bits, Byte parity, Byte stop_bits) {
  return settings_burst(baud, data_bits, parity, stop_bits, server_offset);
}
Bytes control_request(Control value) { return com_port_sb({5, static_cast<Byte>(value)}); }
Bytes purge_request(Purge which) { return com_port_sb({12, static_cast<Byte>(which)}); }

// pyserial's opening: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT.
const Bytes pyserial_opening = from_hex("ff fd 01 ff fb 03 ff fd 03 ff fd 2c ff fb 2c");
const Bytes server_do_com_port = {0xFF, 0xFD, 0x2C};
const Bytes server_will_com_port = {0xFF, 0xFB, 0x2C};
const Bytes server_wont_com_port = {0xFF, 0xFC, 0x2C};
const Bytes server_dont_com_port = {0xFF, 0xFE, 0x2C};
// ser2net 4.3.11 with telnet(rfc2217): its own opening (WILL SGA, DO SGA, WILL ECHO, DONT ECHO,
// DO BINARY, WILL BINARY, DO COM-PORT), then its answer to ours (DO SGA, WONT 44) and a 107.
const Bytes ser2net_opening =
    from_hex("ff fb 03 ff fd 03 ff fb 01 ff fe 01 ff fd 00 ff fb 00 ff fd 2c");
const Bytes ser2net_answer = from_hex("ff fd 03 ff fc 2c ff fa 2c 6b 00 ff f0");

std::string code_name(std::error_code error) {
  static constexpr std::pair<errc, std::string_view> names[] = {
      {errc::invalid_value, "invalid_value"},
      {errc::missing_value, "missing_value"},
      {errc::com_port_refused, "com_port_refused"},
      {errc::negotiation_timeout, "negotiation_timeout"},
      {errc::reply_timeout, "reply_timeout"},
      {errc::value_rejected, "value_rejected"},
      {errc::not_open, "not_open"},
      {errc::bad_message, "bad_message"},
  };
  for (const auto& [e, name] : names) {
    if (error == make_error_code(e)) return std::string{name};
  }
  return fmt::format("{}:{}", error.category().name(), error.value());
}

std::string describe_report(const paced_esp::Message& message) {
  if (const auto* done = std::get_if<paced_esp::BatchDone>(&message)) {
    return fmt::format("batch {} done, {} frames", done->id, done->frames);
  }
  if (const auto* aborted = std::get_if<paced_esp::BatchAborted>(&message)) {
    return fmt::format("batch {} aborted at {}: {} ({})", aborted->id, aborted->index,
                       paced_esp::to_string(aborted->reason), hex(aborted->status_bytes()));
  }
  ADD_FAILURE() << "a client message reported";
  return "client message";
}

std::string describe(const Client::Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Client::DataReceived>) {
          return "data: " + hex(e.data);
        } else if constexpr (std::is_same_v<T, Client::Opened>) {
          return "opened";
        } else if constexpr (std::is_same_v<T, Client::OpenFailed>) {
          return fmt::format("open failed {}: {}", code_name(e.error), e.what);
        } else if constexpr (std::is_same_v<T, Client::OperationDone>) {
          if (!e.error) {
            EXPECT_TRUE(e.what.empty());
            return fmt::format("done {}", static_cast<std::uint32_t>(e.id));
          }
          return fmt::format("failed {} {}: {}", static_cast<std::uint32_t>(e.id),
                             code_name(e.error), e.what);
        } else if constexpr (std::is_same_v<T, Client::ModemStateChanged>) {
          return fmt::format("modem {:02x}", e.state);
        } else if constexpr (std::is_same_v<T, Client::LineStateChanged>) {
          return fmt::format("line {:02x}", e.state);
        } else if constexpr (std::is_same_v<T, Client::FlowSuspended>) {
          return e.suspended ? "suspend" : "resume";
        } else if constexpr (std::is_same_v<T, Client::SignatureReceived>) {
          return fmt::format("signature '{}'", e.text);
        } else if constexpr (std::is_same_v<T, Client::PacedEspReport>) {
          return describe_report(e.message);
        } else if constexpr (std::is_same_v<T, Client::PipelinedRequestRejected>) {
          return "rejected: " + e.what;
        } else {
          static_assert(std::is_same_v<T, Client::ProtocolError>);
          return "error " + code_name(e.error);
        }
      },
      event);
}

// Records events as text (adjacent data runs merged: where a run is cut depends on the
// input's split) and the client's output.
struct Harness {
  explicit Harness(ClientOptions client_options = {}, telnet::Limits limits = {})
      : client(limits), options(client_options) {}

  void start(LineSettings settings = {}, ControlLines lines = {.dtr = true, .rts = true}) {
    client.start(options, settings, lines, now);
    drain();
  }
  void feed(ByteView bytes) {
    client.receive(bytes, now);
    drain();
  }
  void feed(const Bytes& bytes) { feed(ByteView{bytes}); }
  // Time passes and the timer fires, as the backend's would at deadline().
  void advance(Duration by) {
    now += by;
    client.on_timer(now);
    drain();
  }
  void drain() {
    while (std::optional<Client::Event> event = client.next_event()) {
      std::string text = describe(*event);
      if (text.starts_with("data:") && !events.empty() && events.back().starts_with("data:")) {
        events.back() += text.substr(5);
      } else {
        events.push_back(std::move(text));
      }
    }
  }

  Events take_events() { return std::exchange(events, {}); }
  std::string take_output() {
    const ByteView pending = client.pending_output();
    std::string text = hex(pending);
    client.consume_output(pending.size());
    return text;
  }

  Client client;
  ClientOptions options;
  TimePoint now = t0;
  Events events;
};

// A client through the open sequence against an echoing server (115200 8N1, DTR and RTS on),
// with everything so far drained; `answer` comes with the server's DO COM-PORT.
Harness open_harness(ClientOptions options = {}, const Bytes& answer = {}) {
  Harness harness{options};
  harness.start();
  harness.feed(concat({answer, server_do_com_port}));
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.feed(reply_control(Control::dtr_on));
  harness.feed(reply_control(Control::rts_on));
  harness.feed(reply_purge(Purge::receive));
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  harness.take_output();
  return harness;
}

// Feeds `input` to copies of `prototype` whole, split in two at every offset, and byte by
// byte; all must give the same events and output. Returns the outcome of the whole feed.
struct Outcome {
  Events events;
  std::string output;
  bool operator==(const Outcome&) const = default;
};

Outcome feed_split(Harness harness, ByteView input, const std::vector<std::size_t>& cuts) {
  harness.take_events();
  harness.take_output();
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    harness.feed(input.subspan(from, cut - from));
    from = cut;
  }
  harness.feed(input.subspan(from));
  return {harness.take_events(), harness.take_output()};
}

Outcome feed_all_ways(const Harness& prototype, const Bytes& input) {
  const Outcome whole = feed_split(prototype, input, {});
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    EXPECT_EQ(feed_split(prototype, input, {cut}), whole) << "split at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < input.size(); ++cut) every.push_back(cut);
  EXPECT_EQ(feed_split(prototype, input, every), whole) << "byte by byte";
  return whole;
}

// --- Telnet negotiation --------------------------------------------------------------------

TEST(Rfc2217Client, SendsPyserialsOpeningAtConstruction) {
  Harness harness;
  EXPECT_EQ(harness.take_output(), hex(pyserial_opening));
  harness.drain();
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_FALSE(harness.client.deadline());
  EXPECT_FALSE(harness.client.is_open());
  EXPECT_FALSE(harness.client.is_com_port_active());
  EXPECT_FALSE(harness.client.modem_state());
}

TEST(Rfc2217Client, KeepsTheLastBytesDroppedBeforeTheOpenForItsError) {
  Harness harness;
  harness.start();
  harness.take_output();
  const std::string refusal = "ttynet: /dev/ttyUSB0 is in use by 10.0.0.2:5000\r\n";
  harness.feed(Bytes(refusal.begin(), refusal.end()));
  EXPECT_TRUE(harness.take_events().empty());  // dropped, as pyserial drops it
  const ByteView kept = harness.client.discarded_before_open();
  EXPECT_EQ(std::string(kept.begin(), kept.end()), refusal);
  harness.feed(Bytes(1000, 0x41));  // bounded: only the last bytes stay
  EXPECT_EQ(harness.client.discarded_before_open().size(), Client::max_discarded_before_open);
}

TEST(Rfc2217Client, WithoutPurgeAtOpenKeepsEveryByteAndPurgesNothing) {
  Harness harness{ClientOptions{.purge_at_open = false}};
  harness.start();
  harness.take_output();
  const std::string earlier = "scroll-back the server sends first\r\n";
  harness.feed(Bytes(earlier.begin(), earlier.end()));
  EXPECT_EQ(harness.take_events(), Events{"data: " + hex(Bytes(earlier.begin(), earlier.end()))});
  harness.feed(server_do_com_port);
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.feed(reply_control(Control::dtr_on));
  harness.feed(reply_control(Control::rts_on));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  // The opening ends with the lines: no PURGE-DATA went out.
  EXPECT_EQ(harness.take_output().find(hex(purge_request(Purge::receive))), std::string::npos);
}

TEST(Rfc2217Client, WaitsForComPortBeforeSendingSettings) {
  Harness harness;
  harness.take_output();
  harness.start(LineSettings{
      .baud = 9600, .data_bits = 7, .parity = Parity::even, .stop_bits = StopBits::two});
  EXPECT_EQ(harness.take_output(), "");
  EXPECT_EQ(harness.client.deadline(), t0 + 3s);
  harness.now += 100ms;
  harness.feed(server_do_com_port);
  EXPECT_TRUE(harness.client.is_com_port_active());
  // SET-BAUDRATE 9600, SET-DATASIZE 7, SET-PARITY EVEN, SET-STOPSIZE 2, back to back.
  EXPECT_EQ(harness.take_output(), hex(settings_burst(9600, 7, 3, 2)));
  EXPECT_EQ(harness.client.deadline(), t0 + 3100ms);
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, AgreesOnServerWillComPortAlone) {
  Harness harness;
  harness.take_output();
  harness.start();
  harness.feed(server_will_com_port);
  // Our DO COM-PORT crossed the offer and is its answer: nothing about 44, just the settings.
  EXPECT_EQ(harness.take_output(), hex(settings_burst(115200, 8, 1, 1)));
}

TEST(Rfc2217Client, TakesCrossingOffersAsAnswersWithoutRepeatingThem) {
  Harness harness;
  harness.take_output();
  harness.feed(concat({server_will_com_port, server_do_com_port}));
  EXPECT_EQ(harness.take_output(), "");
  EXPECT_TRUE(harness.client.is_com_port_active());
  harness.start();  // agreed before start(): the settings go out at once
  EXPECT_EQ(harness.take_output(), hex(settings_burst(115200, 8, 1, 1)));
}

TEST(Rfc2217Client, AcceptsBinaryAndEchoAndRefusesTheRest) {
  Harness harness;
  harness.take_output();
  // WILL ECHO, DO BINARY, WILL BINARY, DO ECHO, WILL NAWS, DO TERMINAL-TYPE
  harness.feed(from_hex("ff fb 01 ff fd 00 ff fb 00 ff fd 01 ff fb 1f ff fd 18"));
  // (ECHO confirms our DO) WILL BINARY, DO BINARY, WONT ECHO, DONT NAWS, WONT TERMINAL-TYPE
  EXPECT_EQ(harness.take_output(), "ff fb 00 ff fd 00 ff fc 01 ff fe 1f ff fc 18");
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, OpensAgainstSer2netsNegotiationAtEverySplit) {
  Harness harness;
  harness.take_output();
  harness.start();
  const Outcome outcome = feed_all_ways(harness, concat({ser2net_opening, ser2net_answer}));
  // WILL BINARY, DO BINARY as pyserial answers ser2net, then the settings on its DO 44.
  EXPECT_EQ(outcome.output,
            hex(concat({from_hex("ff fb 00 ff fd 00"), settings_burst(115200, 8, 1, 1)})));
  EXPECT_EQ(outcome.events, Events{"modem 00"});
}

TEST(Rfc2217Client, FailsWhenTheServerRefusesComPortBothWaysAtEverySplit) {
  Harness harness;
  harness.take_output();
  harness.client.set_break(true, t0);  // before start(): not open
  harness.drain();
  EXPECT_EQ(harness.take_events(), Events{"failed 1 not_open: not open yet"});
  harness.start();
  harness.client.set_break(true, t0);  // waits for the open sequence
  // A telnet port without RFC 2217: WONT 44 and DONT 44.
  const Outcome outcome =
      feed_all_ways(harness, concat({server_wont_com_port, server_dont_com_port, {'x'}}));
  const std::string why = "server refused COM-PORT option (WONT 44, DONT 44)";
  EXPECT_EQ(outcome.events, (Events{"open failed com_port_refused: " + why,
                                    "failed 2 not_open: open failed: " + why}));
  EXPECT_EQ(outcome.output, "");

  harness.feed(concat({server_wont_com_port, server_dont_com_port}));
  harness.take_events();
  EXPECT_TRUE(harness.client.is_failed());
  EXPECT_FALSE(harness.client.deadline());
  // Terminal: input dropped, operations refused, no data sent.
  harness.feed(concat({modem_notification(0x10), {'a'}}));
  harness.client.send_data(Bytes{'b'});
  harness.client.purge(Purge::both, harness.now);
  harness.drain();
  EXPECT_EQ(harness.take_events(), Events{"failed 3 not_open: open failed: " + why});
  EXPECT_EQ(harness.take_output(), "");
}

TEST(Rfc2217Client, FailsAtStartWhenTheRefusalCameFirst) {
  Harness harness;
  harness.take_output();
  harness.feed(concat({server_dont_com_port, server_wont_com_port}));
  EXPECT_TRUE(harness.take_events().empty());
  harness.start();
  EXPECT_EQ(harness.take_events(),
            Events{"open failed com_port_refused: server refused COM-PORT option (WONT 44, DONT "
                   "44)"});
}

TEST(Rfc2217Client, WaitsOnWhenOnlyOneSideIsRefused) {
  Harness harness;
  harness.take_output();
  harness.start();
  harness.feed(server_wont_com_port);  // ser2net never WILLs COM-PORT...
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(harness.take_output(), "");
  harness.feed(server_do_com_port);  // ...but DOes it
  EXPECT_EQ(harness.take_output(), hex(settings_burst(115200, 8, 1, 1)));
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, AgreesWhenAnOfferFollowsARefusalInTheSameInput) {
  Harness harness;
  harness.take_output();
  harness.start();
  harness.feed(concat({server_wont_com_port, server_will_com_port}));
  // The first WONT settled our DO; the WILL is a fresh offer, answered with DO.
  EXPECT_EQ(harness.take_output(),
            hex(concat({server_do_com_port, settings_burst(115200, 8, 1, 1)})));
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, FailsWhenComPortIsNotAgreedInTime) {
  Harness harness;
  harness.start();
  harness.feed(server_wont_com_port);
  harness.advance(2999ms);
  EXPECT_TRUE(harness.take_events().empty());
  harness.advance(1ms);
  EXPECT_EQ(harness.take_events(), Events{"open failed negotiation_timeout: server did not agree "
                                          "to COM-PORT within 3 s (no DO 44 or WILL 44)"});
  EXPECT_FALSE(harness.client.deadline());
}

TEST(Rfc2217Client, NamesTheConfiguredTimeout) {
  Harness harness{ClientOptions{.timeout = 1500ms}};
  harness.start();
  EXPECT_EQ(harness.client.deadline(), t0 + 1500ms);
  harness.advance(1500ms);
  EXPECT_EQ(harness.take_events(), Events{"open failed negotiation_timeout: server did not agree "
                                          "to COM-PORT within 1.5 s (no DO 44 or WILL 44)"});
}

// --- The open sequence --------------------------------------------------------------------------

TEST(Rfc2217Client, OpensStepByStepLikePyserial) {
  Harness harness;
  harness.take_output();
  harness.start();
  harness.feed(server_do_com_port);
  EXPECT_EQ(harness.take_output(), hex(settings_burst(115200, 8, 1, 1)));

  const std::vector<std::pair<Bytes, Bytes>> steps = {
      {settings_replies(115200, 8, 1, 1), control_request(Control::flow_none)},
      {reply_control(Control::flow_none), control_request(Control::dtr_on)},
      {reply_control(Control::dtr_on), control_request(Control::rts_on)},
      {reply_control(Control::rts_on), purge_request(Purge::receive)},
      {reply_purge(Purge::receive), purge_request(Purge::transmit)},
  };
  for (const auto& [answer, next_request] : steps) {
    harness.now += 10ms;
    harness.feed(answer);
    EXPECT_EQ(harness.take_output(), hex(next_request));
    EXPECT_EQ(harness.client.deadline(), harness.now + 3s);  // each step its own deadline
    EXPECT_TRUE(harness.take_events().empty());
    EXPECT_FALSE(harness.client.is_open());
  }
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  EXPECT_TRUE(harness.client.is_open());
  EXPECT_FALSE(harness.client.deadline());
  EXPECT_EQ(harness.take_output(), "");
  EXPECT_EQ(harness.client.settings(), LineSettings{});
  EXPECT_EQ(harness.client.control_lines(), (ControlLines{.dtr = true, .rts = true}));
  EXPECT_FALSE(harness.client.break_state());
}

TEST(Rfc2217Client, LeavesRtsToRtsCtsFlowControl) {
  Harness harness;
  harness.take_output();
  harness.start(LineSettings{.flow = FlowControl::rts_cts}, ControlLines{.dtr = false});
  harness.feed(server_do_com_port);
  harness.feed(settings_replies(115200, 8, 1, 1));
  EXPECT_EQ(harness.take_output(),
            hex(concat({settings_burst(115200, 8, 1, 1), control_request(Control::flow_rts_cts)})));
  harness.feed(reply_control(Control::flow_rts_cts));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::dtr_off)));
  harness.feed(reply_control(Control::dtr_off));
  EXPECT_EQ(harness.take_output(), hex(purge_request(Purge::receive)));
}

TEST(Rfc2217Client, WaitsForAllFourSettings) {
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.take_output();
  // Three answered (out of order), the stop bits not.
  harness.feed(concat({reply(Command::set_parity, {1}), reply(Command::set_datasize, {8}),
                       reply(Command::set_baudrate, {0x00, 0x01, 0xC2, 0x00})}));
  EXPECT_EQ(harness.take_output(), "");
  harness.advance(3s);
  EXPECT_EQ(harness.take_events(), Events{"open failed reply_timeout: server did not answer "
                                          "SET-STOPSIZE within 3 s"});
}

TEST(Rfc2217Client, NamesEverySettingNotAnswered) {
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.advance(3s);
  EXPECT_EQ(harness.take_events(),
            Events{"open failed reply_timeout: server did not answer SET-BAUDRATE, SET-DATASIZE, "
                   "SET-PARITY, SET-STOPSIZE within 3 s"});
}

TEST(Rfc2217Client, RejectsABaudTheServerDidNotTake) {
  Harness harness;
  harness.start(LineSettings{.baud = 250000});
  harness.feed(server_do_com_port);
  harness.feed(reply(Command::set_baudrate, {0x00, 0x00, 0x25, 0x80}));
  EXPECT_EQ(harness.take_events(), Events{"open failed value_rejected: server rejected baud "
                                          "250000 (answered 9600)"});
}

TEST(Rfc2217Client, AcceptsRepliesWithTrailingBytes) {
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.take_output();
  // pyserial compares `value == reply[:len(value)]`: extra bytes after the value are fine.
  harness.feed(concat({reply(Command::set_baudrate, {0x00, 0x01, 0xC2, 0x00, 0x07}),
                       reply(Command::set_datasize, {8, 0}), reply(Command::set_parity, {1, 1}),
                       reply(Command::set_stopsize, {1, 0xFF})}));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::flow_none)));
  harness.feed(reply(Command::set_control, {1, 2, 3}));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::dtr_on)));
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, RejectsAShorterReply) {
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.feed(reply(Command::set_baudrate, {0x0E}));  // a Cisco index is not our four bytes
  EXPECT_EQ(harness.take_events(), Events{"open failed value_rejected: server rejected baud "
                                          "115200 (answered 0e)"});
}

TEST(Rfc2217Client, DoublesIacInRequestValuesAndUndoesItInReplies) {
  Harness harness;
  harness.take_output();
  harness.start(LineSettings{.baud = 65535});
  harness.feed(server_do_com_port);
  EXPECT_EQ(harness.take_output().substr(0, 35), "ff fa 2c 01 00 00 ff ff ff ff ff f0");
  harness.feed(from_hex("ff fa 2c 65 00 00 ff ff ff ff ff f0"));
  harness.feed(concat({reply(Command::set_datasize, {8}), reply(Command::set_parity, {1}),
                       reply(Command::set_stopsize, {1})}));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::flow_none)));
}

// --- Reference vector: pyserial's client against pyserial's server -------------------------------
// (docs/reference/rfc2217-peers.md §7.1)

// Client to server, 169 bytes.
const Bytes& pyserial_client_stream = ttynet::test::pyserial_client_stream();

// Server to client, 190 bytes.
const Bytes pyserial_server_stream = from_hex(R"(
    ff fb 01 ff fb 03 ff fd 00 ff fb 2c ff fd 03 ff fa 2c 6b bb ff f0 ff fd 2c ff fa 2c 6b b0 ff f0
    ff fa 2c 65 00 01 c2 00 ff f0 ff fa 2c 66 08 ff f0 ff fa 2c 67 01 ff f0 ff fa 2c 68 01 ff f0 ff
    fa 2c 69 01 ff f0 ff fa 2c 69 08 ff f0 ff fa 2c 69 0b ff f0 ff fa 2c 70 01 ff f0 ff fa 2c 70 02
    ff f0 ff fa 2c 69 08 ff f0 ff fa 2c 69 0b ff f0 ff fa 2c 69 09 ff f0 ff fa 2c 69 0c ff f0 ff fa
    2c 65 00 07 08 00 ff f0 ff fa 2c 66 08 ff f0 ff fa 2c 67 01 ff f0 ff fa 2c 68 01 ff f0 ff fa 2c
    69 01 ff f0 41 42 ff ff 43 ff fa 2c 69 05 ff f0 ff fa 2c 69 06 ff f0 ff fa 2c 6b 83 ff f0)");

// The §7.1 script, one step per action: what the application does, then what the server
// answered to it (the two streams above, cut where each answer ends).
struct ScriptStep {
  std::function<void(Client&, TimePoint)> action;
  Bytes from_server;
};

std::vector<ScriptStep> pyserial_script() {
  const auto nothing = [](Client&, TimePoint) {};
  const LineSettings open_settings{.baud = 115200};
  const LineSettings fast{.baud = 460800};
  return {
      {[=](Client& c, TimePoint now) {
         c.start({}, open_settings, {.dtr = true, .rts = true}, now);
       },
       from_hex("ff fb 01 ff fb 03 ff fd 00 ff fb 2c ff fd 03 ff fa 2c 6b bb ff f0 ff fd 2c "
                "ff fa 2c 6b b0 ff f0")},
      {nothing, settings_replies(115200, 8, 1, 1)},
      {nothing, reply_control(Control::flow_none)},
      {nothing, reply_control(Control::dtr_on)},
      {nothing, reply_control(Control::rts_on)},
      {nothing, reply_purge(Purge::receive)},
      {nothing, reply_purge(Purge::transmit)},
      {[](Client& c, TimePoint now) { c.set_control_lines(true, std::nullopt, now); },
       reply_control(Control::dtr_on)},
      {[](Client& c, TimePoint now) { c.set_control_lines(std::nullopt, true, now); },
       reply_control(Control::rts_on)},
      {[](Client& c, TimePoint now) { c.set_control_lines(false, std::nullopt, now); },
       reply_control(Control::dtr_off)},
      {[](Client& c, TimePoint now) { c.set_control_lines(std::nullopt, false, now); },
       reply_control(Control::rts_off)},
      {[=](Client& c, TimePoint now) { c.set_settings(fast, now); },
       settings_replies(460800, 8, 1, 1)},
      {nothing, reply_control(Control::flow_none)},
      {[](Client& c, TimePoint) { c.send_data(from_hex("41 42 ff 43")); },
       from_hex("41 42 ff ff 43")},
      {[](Client& c, TimePoint now) { c.set_break(true, now); }, reply_control(Control::break_on)},
      {[](Client& c, TimePoint now) { c.set_break(false, now); },
       reply_control(Control::break_off)},
      {nothing, modem_notification(0x83)},
  };
}

struct ScriptRun {
  Events events;
  Bytes client_stream;
  std::optional<std::uint8_t> modem_state;
  LineSettings settings;
  ControlLines lines;
};

// Runs the script; the server's bytes are cut at the given offsets of its whole stream.
ScriptRun run_pyserial_script(const std::vector<std::size_t>& cuts) {
  Harness harness;
  ScriptRun run;
  const auto collect = [&] {
    const ByteView pending = harness.client.pending_output();
    run.client_stream.insert(run.client_stream.end(), pending.begin(), pending.end());
    harness.client.consume_output(pending.size());
  };
  collect();
  std::size_t offset = 0;  // of the server stream
  auto cut = cuts.begin();
  for (const ScriptStep& step : pyserial_script()) {
    harness.now += 50ms;
    step.action(harness.client, harness.now);
    harness.drain();
    collect();
    ByteView rest{step.from_server};
    while (!rest.empty()) {
      while (cut != cuts.end() && *cut <= offset) ++cut;
      const std::size_t take =
          cut == cuts.end() ? rest.size() : std::min(rest.size(), *cut - offset);
      harness.feed(rest.first(take));
      collect();
      rest = rest.subspan(take);
      offset += take;
    }
  }
  run.events = harness.take_events();
  run.modem_state = harness.client.modem_state();
  run.settings = harness.client.settings();
  run.lines = harness.client.control_lines();
  return run;
}

TEST(Rfc2217Client, ReferenceScriptCoversTheServerStream) {
  Bytes all;
  for (const ScriptStep& step : pyserial_script()) {
    all.insert(all.end(), step.from_server.begin(), step.from_server.end());
  }
  ASSERT_EQ(pyserial_client_stream.size(), 169u);
  ASSERT_EQ(pyserial_server_stream.size(), 190u);
  EXPECT_EQ(hex(all), hex(pyserial_server_stream));
}

TEST(Rfc2217Client, ReproducesPyserialsClientStreamByteForByte) {
  const ScriptRun run = run_pyserial_script({});
  EXPECT_EQ(hex(run.client_stream), hex(pyserial_client_stream));
  EXPECT_EQ(run.events,
            (Events{"modem bb", "modem b0", "opened", "done 1", "done 2", "done 3", "done 4",
                    "done 5", "data: 41 42 ff 43", "done 6", "done 7", "modem 83"}));
  // s.cts, s.dsr, s.ri, s.cd -> False, False, False, True
  ASSERT_TRUE(run.modem_state);
  EXPECT_EQ(*run.modem_state & modem::lines, modem::cd);
  EXPECT_EQ(run.settings, LineSettings{.baud = 460800});
  EXPECT_EQ(run.lines, (ControlLines{.dtr = false, .rts = false}));
}

TEST(Rfc2217Client, ReproducesPyserialsClientStreamAtEverySplit) {
  const ScriptRun whole = run_pyserial_script({});
  for (std::size_t cut = 1; cut < pyserial_server_stream.size(); ++cut) {
    const ScriptRun run = run_pyserial_script({cut});
    EXPECT_EQ(hex(run.client_stream), hex(pyserial_client_stream)) << "split at " << cut;
    EXPECT_EQ(run.events, whole.events) << "split at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < pyserial_server_stream.size(); ++cut) every.push_back(cut);
  const ScriptRun run = run_pyserial_script(every);
  EXPECT_EQ(hex(run.client_stream), hex(pyserial_client_stream)) << "byte by byte";
  EXPECT_EQ(run.events, whole.events) << "byte by byte";
}

// --- ser2net-like servers ---------------------------------------------------------------------

// ser2net's opening and answer, the four settings and the flow control confirmed.
Harness ser2net_until_dtr(ClientOptions options) {
  Harness harness{options};
  harness.start();
  harness.feed(concat({ser2net_opening, ser2net_answer}));
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.take_events();
  return harness;
}

TEST(Rfc2217Client, TimesOutWhenSer2netDoesNotAnswerDtr) {
  Harness harness = ser2net_until_dtr({});
  EXPECT_TRUE(harness.take_output().ends_with(hex(control_request(Control::dtr_on))));
  harness.advance(2s);
  EXPECT_TRUE(harness.take_events().empty());
  harness.advance(1s);
  EXPECT_EQ(harness.take_events(), Events{"open failed reply_timeout: server did not answer "
                                          "SET-CONTROL DTR on within 3 s"});
}

TEST(Rfc2217Client, OpensWithoutDtrAnswersWithIgnSetControl) {
  Harness harness = ser2net_until_dtr({.ign_set_control = true});
  // DTR and RTS go out without waiting; the purge is awaited.
  EXPECT_TRUE(harness.take_output().ends_with(
      hex(concat({control_request(Control::dtr_on), control_request(Control::rts_on),
                  purge_request(Purge::receive)}))));
  harness.feed(reply_purge(Purge::receive));
  EXPECT_EQ(harness.take_output(), hex(purge_request(Purge::transmit)));
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  EXPECT_EQ(harness.client.control_lines(), (ControlLines{.dtr = true, .rts = true}));

  // Later SET-CONTROLs complete at once, and replies to them, even wrong ones, are ignored.
  const OperationId dtr = harness.client.set_control_lines(false, std::nullopt, harness.now);
  EXPECT_EQ(static_cast<std::uint32_t>(dtr), 1u);
  harness.drain();
  EXPECT_EQ(harness.take_events(), Events{"done 1"});
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::dtr_off)));
  EXPECT_FALSE(harness.client.deadline());
  harness.feed(reply_control(Control::flow_none));
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, RejectsBreakOffAnsweredAsOn) {
  Harness harness = open_harness();
  harness.client.set_break(true, harness.now);
  harness.feed(reply_control(Control::break_on));
  EXPECT_EQ(harness.take_events(), Events{"done 1"});
  EXPECT_TRUE(harness.client.break_state());
  harness.client.set_break(false, harness.now);
  harness.feed(reply_control(Control::break_on));  // gensio < 2.8.11
  EXPECT_EQ(harness.take_events(), Events{"failed 2 value_rejected: server rejected SET-CONTROL "
                                          "BREAK off (answered BREAK on)"});
  EXPECT_TRUE(harness.client.break_state());  // what the server says still holds
  EXPECT_TRUE(harness.client.is_open());      // an operation's failure is not the port's
}

TEST(Rfc2217Client, TakesBreakOffAnsweredAsOnWithIgnSetControl) {
  Harness harness = open_harness({.ign_set_control = true});
  harness.client.set_break(true, harness.now);
  harness.client.set_break(false, harness.now);
  harness.feed(concat({reply_control(Control::break_on), reply_control(Control::break_on)}));
  EXPECT_EQ(harness.take_events(), (Events{"done 1", "done 2"}));
  EXPECT_FALSE(harness.client.break_state());
}

// --- Rejections after open
// ------------------------------------------------------------------------

TEST(Rfc2217Client, NamesTheOptionAndBothValuesInRejections) {
  struct Case {
    LineSettings settings;
    Bytes answer;
    std::string what;
  };
  const std::vector<Case> cases = {
      {{.data_bits = 7},
       settings_replies(115200, 8, 1, 1),
       "server rejected data size 7 (answered 8)"},
      {{.parity = Parity::even},
       settings_replies(115200, 8, 1, 1),
       "server rejected parity even (answered none)"},
      {{.stop_bits = StopBits::one_and_half},
       settings_replies(115200, 8, 1, 2),
       "server rejected stop bits 1.5 (answered 2)"},
      {{.parity = Parity::mark},
       concat({settings_replies(115200, 8, 9, 1)}),
       "server rejected parity mark (answered 9)"},
      {{.flow = FlowControl::xon_xoff},
       concat({settings_replies(115200, 8, 1, 1), reply_control(Control::flow_none)}),
       "server rejected SET-CONTROL XON/XOFF flow control (answered no flow control)"},
  };
  for (const Case& c : cases) {
    Harness harness = open_harness();
    harness.client.set_settings(c.settings, harness.now);
    harness.feed(c.answer);
    EXPECT_EQ(harness.take_events(), Events{"failed 1 value_rejected: " + c.what});
    EXPECT_EQ(harness.client.settings(), LineSettings{});  // nothing new confirmed
    EXPECT_FALSE(harness.client.deadline());
  }
}

TEST(Rfc2217Client, RejectsAControlAnsweredWithAConstant) {
  // docs/reference/rfc2217-peers.md §7.2: a server answering every SET-CONTROL with `69 01`.
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.feed(reply_control(Control::flow_none));
  EXPECT_EQ(harness.take_events(), Events{"open failed value_rejected: server rejected "
                                          "SET-CONTROL DTR on (answered no flow control)"});
}

TEST(Rfc2217Client, RejectsAPurgeAnsweredWithAnotherBuffer) {
  Harness harness = open_harness();
  harness.client.purge(Purge::transmit, harness.now);
  harness.feed(reply(Command::purge_data, {4}));
  EXPECT_EQ(harness.take_events(), Events{"failed 1 value_rejected: server rejected PURGE-DATA "
                                          "transmit buffer (answered 4)"});
  harness.client.purge(Purge::both, harness.now);
  harness.feed(reply(Command::purge_data, {}));
  EXPECT_EQ(harness.take_events(), Events{"failed 2 value_rejected: server rejected PURGE-DATA "
                                          "both buffers (answered nothing)"});
}

// --- Operations and time ------------------------------------------------------------------------

TEST(Rfc2217Client, RunsOperationsOneAfterAnother) {
  Harness harness = open_harness();
  const OperationId lines = harness.client.set_control_lines(true, false, harness.now);
  const OperationId brk = harness.client.set_break(true, harness.now);
  const OperationId purge = harness.client.purge(Purge::both, harness.now);
  EXPECT_EQ(static_cast<std::uint32_t>(lines), 1u);
  EXPECT_EQ(static_cast<std::uint32_t>(brk), 2u);
  EXPECT_EQ(static_cast<std::uint32_t>(purge), 3u);
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::dtr_on)));
  harness.feed(reply_control(Control::dtr_on));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::rts_off)));
  EXPECT_TRUE(harness.take_events().empty());
  harness.feed(reply_control(Control::rts_off));
  EXPECT_EQ(harness.take_events(), Events{"done 1"});
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::break_on)));
  harness.feed(reply_control(Control::break_on));
  EXPECT_EQ(harness.take_events(), Events{"done 2"});
  EXPECT_EQ(harness.take_output(), hex(purge_request(Purge::both)));
  harness.feed(reply_purge(Purge::both));
  EXPECT_EQ(harness.take_events(), Events{"done 3"});
  EXPECT_EQ(harness.client.control_lines(), (ControlLines{.dtr = true, .rts = false}));
}

TEST(Rfc2217Client, MeasuresTheRoundTripFromRepliesTheServerGivesAtOnce) {
  Harness harness;
  harness.start();
  EXPECT_FALSE(harness.client.round_trip());  // nothing answered yet
  harness.now += 10ms;
  harness.feed(server_do_com_port);
  // A server offers COM-PORT unasked, half a round trip after connecting: no measure.
  EXPECT_FALSE(harness.client.round_trip());
  harness.now += 25ms;
  harness.feed(settings_replies(115200, 8, 1, 1));
  EXPECT_EQ(harness.client.round_trip(), 25ms);
  // Control lines do not count: a server may play a reset before it answers.
  for (const Control control : {Control::flow_none, Control::dtr_on, Control::rts_on}) {
    harness.now += 5ms;
    harness.feed(reply_control(control));
  }
  harness.now += 500ms;  // a slow answer raises nothing: the shortest recent one counts
  harness.feed(reply_purge(Purge::receive));
  harness.now += 30ms;
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  EXPECT_EQ(harness.client.round_trip(), 25ms);
}

TEST(Rfc2217Client, ForgetsRoundTripsOlderThanItsWindow) {
  Harness harness = open_harness();  // every step answered at once
  EXPECT_EQ(harness.client.round_trip(), 0ms);
  // The path got slower: once a window of answers took 60 ms, that is the round trip.
  for (std::size_t i = 0; i < Client::round_trip_window; ++i) {
    harness.client.purge(Purge::receive, harness.now);
    harness.take_output();
    harness.now += 60ms;
    harness.feed(reply_purge(Purge::receive));
  }
  EXPECT_EQ(harness.client.round_trip(), 60ms);
}

TEST(Rfc2217Client, CompletesOperationsWithNothingToSendAtOnce) {
  Harness harness = open_harness();
  harness.client.set_control_lines(std::nullopt, std::nullopt, harness.now);
  harness.client.poll_modem_state(harness.now);  // poll_modem is off
  harness.drain();
  EXPECT_EQ(harness.take_events(), (Events{"done 1", "done 2"}));
  EXPECT_EQ(harness.take_output(), "");
  EXPECT_FALSE(harness.client.deadline());
}

TEST(Rfc2217Client, QueuesOperationsCalledWhileOpening) {
  Harness harness;
  harness.start();
  harness.client.set_break(true, harness.now);
  harness.feed(server_do_com_port);
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.feed(reply_control(Control::dtr_on));
  harness.feed(reply_control(Control::rts_on));
  harness.feed(reply_purge(Purge::receive));
  harness.take_output();
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::break_on)));
  harness.feed(reply_control(Control::break_on));
  EXPECT_EQ(harness.take_events(), Events{"done 1"});
}

TEST(Rfc2217Client, FailsAnOverdueOperationAndStartsTheNext) {
  Harness harness = open_harness();
  harness.client.set_control_lines(true, std::nullopt, harness.now);
  harness.client.set_break(true, harness.now);
  harness.take_output();
  EXPECT_EQ(harness.client.deadline(), harness.now + 3s);
  harness.advance(3500ms);  // the backend's timer may fire late
  EXPECT_EQ(harness.take_events(), Events{"failed 1 reply_timeout: server did not answer "
                                          "SET-CONTROL DTR on within 3 s"});
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::break_on)));
  EXPECT_EQ(harness.client.deadline(), harness.now + 3s);
  harness.feed(reply_control(Control::break_on));
  EXPECT_EQ(harness.take_events(), Events{"done 2"});
  harness.feed(reply_control(Control::dtr_on));  // late: nobody waits for it any more
  EXPECT_TRUE(harness.take_events().empty());
}

TEST(Rfc2217Client, IgnoresTimerCallsBeforeTheDeadline) {
  Harness harness = open_harness();
  harness.client.purge(Purge::receive, harness.now);
  harness.advance(1s);
  harness.advance(1999ms);
  EXPECT_TRUE(harness.take_events().empty());
  harness.advance(1ms);
  EXPECT_EQ(harness.take_events(), Events{"failed 1 reply_timeout: server did not answer "
                                          "PURGE-DATA receive buffer within 3 s"});
}

TEST(Rfc2217Client, PollsModemStateWhenAskedTo) {
  Harness harness = open_harness({.poll_modem = true});
  harness.client.poll_modem_state(harness.now);
  EXPECT_EQ(harness.take_output(), "ff fa 2c 07 ff f0");
  harness.feed(modem_notification(0x30));
  EXPECT_EQ(harness.take_events(), (Events{"modem 30", "done 1"}));
  EXPECT_EQ(harness.client.modem_state(), 0x30);

  harness.now += 299ms;  // still fresh: no poll
  harness.client.poll_modem_state(harness.now);
  harness.drain();
  EXPECT_EQ(harness.take_events(), Events{"done 2"});
  EXPECT_EQ(harness.take_output(), "");

  harness.now += 1ms;
  harness.client.poll_modem_state(harness.now);
  EXPECT_EQ(harness.take_output(), "ff fa 2c 07 ff f0");
  harness.advance(3s);  // ser2net does not answer polls
  EXPECT_EQ(harness.take_events(), Events{"failed 3 reply_timeout: server did not answer "
                                          "NOTIFY-MODEMSTATE poll within 3 s"});
  EXPECT_EQ(harness.client.modem_state(), 0x30);  // the last known state
}

TEST(Rfc2217Client, CompletesOperationsBeforeStartWithNotOpen) {
  Harness harness;
  harness.client.set_settings({}, t0);
  harness.client.poll_modem_state(t0);
  harness.drain();
  EXPECT_EQ(harness.take_events(),
            (Events{"failed 1 not_open: not open yet", "failed 2 not_open: not open yet"}));
  EXPECT_EQ(harness.take_output(), hex(pyserial_opening));  // nothing more
}

// --- Data and notifications ---------------------------------------------------------------------

TEST(Rfc2217Client, DiscardsDataUntilTheServerPurgedItsReceiveBuffer) {
  Harness harness;
  harness.feed(Bytes{'e', 'a', 'r', 'l', 'y'});
  harness.start();
  harness.feed(concat({server_do_com_port, Bytes{'b', 'a', 'n', 'n', 'e', 'r'}}));
  harness.feed(concat({settings_replies(115200, 8, 1, 1), Bytes{'1'}}));
  harness.feed(concat({reply_control(Control::flow_none), reply_control(Control::dtr_on),
                       reply_control(Control::rts_on), Bytes{'2'}}));
  EXPECT_TRUE(harness.take_events().empty());
  // After PURGE-DATA 1 is answered, data is fresh, even before the open sequence ends.
  harness.feed(concat({Bytes{'3'}, reply_purge(Purge::receive), Bytes{'4', 0xFF, 0xFF}}));
  EXPECT_EQ(harness.take_events(), Events{"data: 34 ff"});
  harness.feed(concat({reply_purge(Purge::transmit), Bytes{'5'}}));
  EXPECT_EQ(harness.take_events(), (Events{"opened", "data: 35"}));
}

TEST(Rfc2217Client, DiscardsDataWhileAPurgeOfTheReceiveBufferRuns) {
  Harness harness = open_harness();
  harness.client.purge(Purge::receive, harness.now);
  harness.feed(concat({Bytes{'o', 'l', 'd'}, reply_purge(Purge::receive), Bytes{'n', 'e', 'w'}}));
  EXPECT_EQ(harness.take_events(), (Events{"done 1", "data: 6e 65 77"}));
  harness.client.purge(Purge::transmit, harness.now);  // only data for the device
  harness.feed(concat({Bytes{'k', 'e', 'p', 't'}, reply_purge(Purge::transmit)}));
  EXPECT_EQ(harness.take_events(), (Events{"data: 6b 65 70 74", "done 2"}));
}

TEST(Rfc2217Client, PassesDataAsViewsOfTheInput) {
  Harness harness = open_harness();
  const Bytes input = {'a', 'b', 'c', 0xFF, 0xFF, 'd'};
  harness.client.receive(input, harness.now);
  std::optional<Client::Event> event = harness.client.next_event();
  ASSERT_TRUE(event);
  const auto* data = std::get_if<Client::DataReceived>(&*event);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->data.data(), input.data());
  EXPECT_EQ(hex(data->data), "61 62 63");
  harness.drain();
  EXPECT_EQ(harness.take_events(), Events{"data: ff 64"});
}

TEST(Rfc2217Client, DoublesIacInData) {
  Harness harness = open_harness();
  harness.client.send_data(Bytes{0x41, 0x42, 0xFF, 0x43});
  EXPECT_EQ(harness.take_output(), "41 42 ff ff 43");
}

TEST(Rfc2217Client, TakesTwoModemStatesAtConnect) {
  Harness harness;
  harness.start();
  EXPECT_FALSE(harness.client.modem_state());
  // pyserial's PortManager: one forced 107 per side of COM-PORT that it sees agreed.
  harness.feed(
      from_hex("ff fb 01 ff fb 03 ff fd 00 ff fb 2c ff fd 03 ff fa 2c 6b bb ff f0 ff fd 2c "
               "ff fa 2c 6b b0 ff f0"));
  EXPECT_EQ(harness.take_events(), (Events{"modem bb", "modem b0"}));
  EXPECT_EQ(harness.client.modem_state(), 0xB0);
  EXPECT_EQ(harness.client.deadline(), t0 + 3s);  // waiting for the four settings
}

TEST(Rfc2217Client, ToleratesNotificationsAtAnyTime) {
  Harness harness;
  harness.start();
  harness.feed(server_do_com_port);
  harness.take_output();
  harness.feed(concat({
      reply(Command::notify_linestate, {0x60}),
      reply(Command::notify_modemstate, {0xFF}),
      reply(Command::flowcontrol_suspend, {}),
      reply(Command::flowcontrol_suspend, {}),  // a repeat changes nothing
      reply(Command::set_linestate_mask, {0xFF}),
      reply(Command::set_modemstate_mask, {0xFF, 0xFF}),
      reply(Command::signature, {'s', 'e', 'r', '2', 'n', 'e', 't'}),
      reply(Command::flowcontrol_resume, {}),
      reply(Command::notify_linestate, {}),
      reply(Command::notify_modemstate, {}),
  }));
  EXPECT_EQ(harness.take_events(),
            (Events{"line 60", "modem ff", "suspend", "signature 'ser2net'", "resume",
                    "error missing_value", "error missing_value"}));
  EXPECT_EQ(harness.client.line_state(), 0x60);
  EXPECT_EQ(harness.client.modem_state(), 0xFF);
  EXPECT_FALSE(harness.client.is_suspended());
  EXPECT_EQ(harness.take_output(), "");
  // Still waiting for the four settings.
  harness.feed(settings_replies(115200, 8, 1, 1));
  EXPECT_EQ(harness.take_output(), hex(control_request(Control::flow_none)));
}

TEST(Rfc2217Client, ReportsFlowControlSuspendUntilResumed) {
  Harness harness = open_harness();
  harness.feed(reply(Command::flowcontrol_suspend, {}));
  EXPECT_EQ(harness.take_events(), Events{"suspend"});
  EXPECT_TRUE(harness.client.is_suspended());
  harness.feed(reply(Command::flowcontrol_resume, {}));
  harness.feed(reply(Command::flowcontrol_resume, {}));
  EXPECT_EQ(harness.take_events(), Events{"resume"});
}

TEST(Rfc2217Client, IgnoresUnknownSubnegotiationsAndCommands) {
  Harness harness = open_harness();
  harness.client.set_break(true, harness.now);
  harness.take_output();
  for (const Byte code : {Byte{1}, Byte{5}, Byte{13}, Byte{50}, Byte{99}, Byte{113}, Byte{255}}) {
    harness.feed(com_port_sb({code, 5}));
  }
  harness.feed(from_hex("ff fa 2c ff f0"));                 // no command at all
  harness.feed(from_hex("ff fa 18 01 ff f0"));              // TERMINAL-TYPE SEND
  harness.feed(from_hex("ff f1 ff f3 ff f6 ff f9 ff f2"));  // NOP, BRK, AYT, GA, DM
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(harness.take_output(), "");
  EXPECT_EQ(harness.client.deadline(), harness.now + 3s);  // the BREAK still waits
}

TEST(Rfc2217Client, PassesTelnetProtocolErrorsThrough) {
  Harness harness = open_harness();
  harness.feed(from_hex("41 ff f0 42"));  // IAC SE without SB
  EXPECT_EQ(harness.take_events(),
            (Events{"data: 41",
                    "error " + fmt::format("ttynet.telnet:{}",
                                           static_cast<int>(telnet::errc::se_without_sb)),
                    "data: 42"}));
}

TEST(Rfc2217Client, DropsOversizedSubnegotiationsAtTheLimit) {
  Harness harness{ClientOptions{}, telnet::Limits{.max_subnegotiation = 8}};
  harness.start();
  harness.feed(server_do_com_port);
  // At the limit: code + 7 signature bytes. One past it: dropped and reported, stream goes on.
  harness.feed(reply(Command::signature, {'a', 'b', 'c', 'd', 'e', 'f', 'g'}));
  harness.feed(reply(Command::signature, {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}));
  harness.feed(modem_notification(0x10));
  EXPECT_EQ(harness.take_events(),
            (Events{"signature 'abcdefg'",
                    fmt::format("error ttynet.telnet:{}",
                                static_cast<int>(telnet::errc::subnegotiation_too_long)),
                    "modem 10"}));
}

// --- Paced ESP frames ----------------------------------------------------------------------------

const Bytes do_paced_esp = {0xFF, 0xFD, 0x78};
const Bytes server_will_paced_esp = {0xFF, 0xFB, 0x78};
const Bytes server_wont_paced_esp = {0xFF, 0xFC, 0x78};
const ClientOptions paced_esp_options{.paced_esp = true};

// IAC SB PACED-ESP <payload, 0xFF doubled> IAC SE.
Bytes paced_esp_sb(const Bytes& payload) {
  return ttynet::test::telnet_sb(paced_esp::option, payload);
}

// A client asking for paced ESP frames, opened; `answer` is the server's to that.
Harness open_paced_harness(const Bytes& answer) { return open_harness(paced_esp_options, answer); }

TEST(Rfc2217Client, AsksForPacedEspOnlyWhenToldAndInTheFirstFlight) {
  Harness plain;
  plain.start();
  EXPECT_EQ(plain.take_output(), hex(pyserial_opening));

  Harness paced{paced_esp_options};
  paced.start();
  EXPECT_EQ(paced.take_output(), hex(concat({pyserial_opening, do_paced_esp})));
  EXPECT_FALSE(paced.client.paces_esp_frames());
}

TEST(Rfc2217Client, PacesEspFramesOnceTheServerWillsIt) {
  const Harness harness = open_paced_harness(server_will_paced_esp);
  EXPECT_TRUE(harness.client.paces_esp_frames());
  EXPECT_TRUE(harness.client.is_open());
}

TEST(Rfc2217Client, SendsLineChangesWithoutWaitingOnceTheServerPacesEspFrames) {
  Harness harness = open_paced_harness(server_will_paced_esp);
  harness.client.set_control_lines(false, true, harness.now);
  harness.client.set_control_lines(true, false, harness.now);
  harness.drain();
  // Both operations complete at once, all four requests out in order, no reply awaited.
  EXPECT_EQ(harness.take_events(), (Events{"done 1", "done 2"}));
  EXPECT_EQ(harness.take_output(),
            hex(concat({com_port_sb({0x05, 0x09}), com_port_sb({0x05, 0x0B}),
                        com_port_sb({0x05, 0x08}), com_port_sb({0x05, 0x0C})})));
  EXPECT_FALSE(harness.client.deadline());
  EXPECT_EQ(harness.client.control_lines(), (ControlLines{.dtr = true, .rts = false}));
}

TEST(Rfc2217Client, OpensInOneRoundTripOnceTheServerPacesAndChecksRepliesAsTheyCome) {
  Harness harness{paced_esp_options};
  harness.start();
  harness.take_output();
  harness.now += 5ms;
  harness.feed(server_do_com_port);  // offered unasked: the answer about pacing is still due
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(harness.take_output(), "");
  harness.now += 35ms;
  harness.feed(server_will_paced_esp);
  EXPECT_EQ(harness.take_events(), Events{"opened"});
  EXPECT_EQ(harness.client.round_trip(), 40ms);
  // FEATURES, then the rest of the open sequence went out at once, nothing awaited.
  EXPECT_EQ(harness.take_output(),
            hex(concat({paced_esp_sb({0x04, paced_esp::known_features}),
                        settings_burst(115200, 8, 1, 1), control_request(Control::flow_none),
                        control_request(Control::dtr_on), control_request(Control::rts_on),
                        purge_request(Purge::receive), purge_request(Purge::transmit)})));
  EXPECT_FALSE(harness.client.deadline());
  // Device data before the receive purge's reply is older than the purge.
  harness.feed(Bytes{0x41});
  harness.now += 30ms;
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_control(Control::flow_none));
  harness.feed(reply_purge(Purge::receive));
  harness.feed(Bytes{0x42});
  harness.feed(reply_purge(Purge::transmit));
  EXPECT_EQ(harness.take_events(), Events{"data: 42"});
  EXPECT_EQ(harness.client.round_trip(), 30ms);  // the pipelined replies measure too
}

TEST(Rfc2217Client, PipelinesSettingsAndPurgesOnceTheServerPaces) {
  Harness harness = open_paced_harness(server_will_paced_esp);
  const LineSettings fast{.baud = 921600};
  harness.client.set_settings(fast, harness.now);
  harness.client.purge(Purge::both, harness.now);
  harness.drain();
  EXPECT_EQ(harness.take_events(), (Events{"done 1", "done 2"}));
  EXPECT_EQ(harness.client.settings().baud, 921600u);
  EXPECT_EQ(harness.take_output(),
            hex(concat({settings_burst(921600, 8, 1, 1), control_request(Control::flow_none),
                        purge_request(Purge::both)})));
  EXPECT_FALSE(harness.client.deadline());
  harness.feed(Bytes{0x41});  // before the purge's reply: dropped
  harness.feed(settings_replies(115200, 8, 1, 1));
  harness.feed(reply_purge(Purge::both));
  harness.feed(Bytes{0x42});
  EXPECT_EQ(harness.take_events(),
            (Events{"rejected: server rejected baud 921600 (answered 115200)", "data: 42"}));
  // A reply nobody waits for any more changes nothing.
  harness.feed(reply_purge(Purge::both));
  harness.feed(Bytes{0x43});
  EXPECT_EQ(harness.take_events(), Events{"data: 43"});
}

TEST(Rfc2217Client, KeepsTheFeaturesTheServerAgreedTo) {
  Harness harness = open_paced_harness(server_will_paced_esp);
  EXPECT_EQ(harness.client.paced_esp_features(), 0);  // not answered yet: none
  harness.feed(paced_esp_sb({0x67, paced_esp::feature_server_read_acks}));
  EXPECT_TRUE(harness.take_events().empty());
  EXPECT_EQ(harness.client.paced_esp_features(), paced_esp::feature_server_read_acks);
  harness.feed(paced_esp_sb({0x04, 0x01}));  // FEATURES is the client's: the server is confused
  EXPECT_EQ(harness.take_events(), Events{"error bad_message"});
}

TEST(Rfc2217Client, OpensWithoutPacingWhenTheServerNeverAnswersAboutIt) {
  Harness harness{paced_esp_options};
  harness.start();
  harness.take_output();
  harness.feed(server_do_com_port);
  EXPECT_EQ(harness.client.deadline(), t0 + 3s);
  harness.advance(3s);
  EXPECT_TRUE(harness.take_events().empty());  // agreed; the settings are awaited now
  EXPECT_FALSE(harness.client.paces_esp_frames());
  EXPECT_EQ(harness.take_output(), hex(settings_burst(115200, 8, 1, 1)));
  EXPECT_EQ(harness.client.deadline(), t0 + 6s);
}

TEST(Rfc2217Client, OpensAsBeforeWhenTheServerRefusesPacedEsp) {
  const Harness harness = open_paced_harness(server_wont_paced_esp);
  EXPECT_FALSE(harness.client.paces_esp_frames());
  EXPECT_TRUE(harness.client.is_open());
}

TEST(Rfc2217Client, NeverPacesAndRefusesAnUnaskedOffer) {
  Harness harness{paced_esp_options};
  harness.start();
  harness.take_output();
  harness.feed(from_hex("ff fd 78"));  // DO PACED-ESP: we are not the pacing side
  EXPECT_EQ(harness.take_output(), "ff fc 78");

  Harness plain;  // without the flag, an offer is refused like any unknown option
  plain.start();
  plain.take_output();
  plain.feed(server_will_paced_esp);
  EXPECT_EQ(plain.take_output(), "ff fe 78");
  EXPECT_FALSE(plain.client.paces_esp_frames());
  EXPECT_TRUE(plain.take_events().empty());
}

TEST(Rfc2217Client, FramesPacedEspMessagesInOrderWithData) {
  Harness harness = open_paced_harness(server_will_paced_esp);
  harness.client.send_data(Bytes{0x41});
  harness.client.send_paced_esp(paced_esp::BatchBegin{0x00FF});
  harness.client.send_paced_esp(paced_esp::FrameInfo{.opcode = 0x02,
                                                     .status_length = 2,
                                                     .timeout = std::chrono::milliseconds{3000},
                                                     .replies = 1});
  harness.client.send_data(Bytes{0xC0, 0xFF, 0xC0});
  harness.client.send_paced_esp(paced_esp::BatchEnd{0x00FF});
  EXPECT_EQ(harness.take_output(),
            "41 "
            "ff fa 78 01 00 ff ff ff f0 "
            "ff fa 78 02 02 02 00 00 0b b8 01 ff f0 "
            "c0 ff ff c0 "
            "ff fa 78 03 00 ff ff ff f0");
}

TEST(Rfc2217Client, ReportsTheServersBatchOutcomesAtEverySplit) {
  const Harness harness = open_paced_harness(server_will_paced_esp);
  const Outcome outcome =
      feed_all_ways(harness, concat({paced_esp_sb({101, 0x00, 0xFF, 0x00, 0x0C}), Bytes{0x01},
                                     paced_esp_sb({102, 0x01, 0x00, 0x00, 0x03, 1, 0x01, 0x05})}));
  EXPECT_EQ(outcome.events, (Events{"batch 255 done, 12 frames", "data: 01",
                                    "batch 256 aborted at 3: failed status (01 05)"}));
  EXPECT_EQ(outcome.output, "");
}

TEST(Rfc2217Client, TakesWhatIsNoReportAsAProtocolError) {
  Harness harness = open_paced_harness(server_will_paced_esp);
  harness.feed(paced_esp_sb({}));                                // no kind
  harness.feed(paced_esp_sb({9, 0x00, 0x01}));                   // unknown kind
  harness.feed(paced_esp_sb({101, 0x00}));                       // BATCH-DONE cut short
  harness.feed(paced_esp_sb({102, 0x00, 0x01, 0x00, 0x00, 9}));  // no such abort reason
  harness.feed(paced_esp_sb({1, 0x00, 0x01}));                   // BATCH-BEGIN: a client message
  EXPECT_EQ(harness.take_events(), Events(5, "error bad_message"));
  EXPECT_TRUE(harness.client.paces_esp_frames());  // the connection goes on
  EXPECT_EQ(harness.take_output(), "");
}

TEST(Rfc2217Client, IgnoresPacedEspMessagesWhileTheServerDoesNotPace) {
  Harness harness = open_paced_harness(server_wont_paced_esp);
  harness.feed(paced_esp_sb({101, 0x00, 0x01, 0x00, 0x01}));
  EXPECT_TRUE(harness.take_events().empty());
}

// --- Against rfc2217::Server ------------------------------------------------------------------

using test::LoopDevice;

// Client and server back to back. Each direction's stream is cut at the given offsets.
class BackToBack {
 public:
  BackToBack(std::vector<std::size_t> client_cuts, std::vector<std::size_t> server_cuts)
      : to_server_{std::move(client_cuts)}, to_client_{std::move(server_cuts)} {}

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (bool moved = true; moved;) {
      moved = false;
      const ByteView from_client = client.pending_output();
      if (!from_client.empty()) {
        moved = true;
        to_server_.deliver(from_client, [&](ByteView piece) {
          server.receive(piece);
          while (std::optional<Event> event = server.next_event()) device.apply(server, *event);
        });
        client.consume_output(from_client.size());
      }
      const ByteView from_server = server.pending_output();
      if (!from_server.empty()) {
        moved = true;
        to_client_.deliver(from_server, [&](ByteView piece) {
          client.receive(piece, now);
          drain();
        });
        server.consume_output(from_server.size());
      }
      drain();
    }
  }
  void drain() {
    while (std::optional<Client::Event> event = client.next_event()) {
      std::string text = describe(*event);
      if (text.starts_with("data:") && !events.empty() && events.back().starts_with("data:")) {
        events.back() += text.substr(5);
      } else {
        events.push_back(std::move(text));
      }
    }
  }

  Client client;
  Server server;
  LoopDevice device;
  TimePoint now = t0;
  Events events;

 private:
  struct Direction {
    std::vector<std::size_t> cuts;
    std::size_t offset = 0;
    template <typename Sink>
    void deliver(ByteView bytes, Sink&& sink) {
      while (!bytes.empty()) {
        const auto cut =
            std::find_if(cuts.begin(), cuts.end(), [this](std::size_t c) { return c > offset; });
        const std::size_t take =
            cut == cuts.end() ? bytes.size() : std::min(bytes.size(), *cut - offset);
        sink(bytes.first(take));
        bytes = bytes.subspan(take);
        offset += take;
      }
    }
  };
  Direction to_server_;
  Direction to_client_;

 public:
  std::size_t client_bytes() const { return to_server_.offset; }
  std::size_t server_bytes() const { return to_client_.offset; }
};

struct BackToBackRun {
  Events events;
  LineSettings settings;
  ControlLines lines;
  bool break_state;
  std::optional<std::uint8_t> modem_state;
  std::size_t client_bytes;
  std::size_t server_bytes;
};

BackToBackRun run_back_to_back(std::vector<std::size_t> client_cuts,
                               std::vector<std::size_t> server_cuts) {
  BackToBack link{std::move(client_cuts), std::move(server_cuts)};
  link.server.update_modem_state(modem::cd | modem::dsr | modem::cts);
  link.client.start({.poll_modem = true}, LineSettings{}, {.dtr = true, .rts = true}, link.now);
  link.pump();
  link.server.update_modem_state(modem::cd);
  link.pump();
  link.client.set_settings({.baud = 9600,
                            .data_bits = 7,
                            .parity = Parity::even,
                            .stop_bits = StopBits::two,
                            .flow = FlowControl::xon_xoff},
                           link.now);
  link.client.set_control_lines(false, false, link.now);
  link.client.set_break(true, link.now);
  link.client.set_break(false, link.now);
  link.client.purge(Purge::both, link.now);
  link.pump();
  link.client.send_data(Bytes{'A', 'B', 0xFF, 'C', 0xFF});
  link.pump();
  link.now += 1s;
  link.client.poll_modem_state(link.now);
  link.pump();
  return {link.events,
          link.client.settings(),
          link.client.control_lines(),
          link.client.break_state(),
          link.client.modem_state(),
          link.client_bytes(),
          link.server_bytes()};
}

TEST(Rfc2217Client, OpensAndChangesSettingsAgainstTheServer) {
  const BackToBackRun run = run_back_to_back({}, {});
  EXPECT_EQ(run.events, (Events{"modem b0", "opened", "modem 83", "done 1", "done 2", "done 3",
                                "done 4", "done 5", "data: 41 42 ff 43 ff", "modem 80", "done 6"}));
  EXPECT_EQ(run.settings, (LineSettings{.baud = 9600,
                                        .data_bits = 7,
                                        .parity = Parity::even,
                                        .stop_bits = StopBits::two,
                                        .flow = FlowControl::xon_xoff}));
  EXPECT_EQ(run.lines, (ControlLines{.dtr = false, .rts = false}));
  EXPECT_FALSE(run.break_state);
  EXPECT_EQ(run.modem_state, 0x80);
}

TEST(Rfc2217Client, WorksAgainstTheServerAtEverySplit) {
  const BackToBackRun whole = run_back_to_back({}, {});
  constexpr std::size_t longest = 400;
  ASSERT_LT(whole.client_bytes, longest);
  ASSERT_LT(whole.server_bytes, longest);
  for (std::size_t cut = 1; cut < longest; ++cut) {
    const BackToBackRun run = run_back_to_back({cut}, {cut});
    EXPECT_EQ(run.events, whole.events) << "split at " << cut;
    EXPECT_EQ(run.settings, whole.settings) << "split at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < longest; ++cut) every.push_back(cut);
  const BackToBackRun run = run_back_to_back(every, every);
  EXPECT_EQ(run.events, whole.events) << "byte by byte";
}

TEST(Rfc2217Client, OpensAgainstAServerWithoutPacedEsp) {
  BackToBack link{{}, {}};
  link.client.start(paced_esp_options, LineSettings{}, {.dtr = true, .rts = true}, link.now);
  link.pump();
  EXPECT_EQ(link.events, (Events{"modem 00", "opened"}));
  EXPECT_FALSE(link.client.paces_esp_frames());
}

// --- Errors -------------------------------------------------------------------------------------

TEST(Rfc2217Client, DescribesEachNewError) {
  for (const errc e : {errc::com_port_refused, errc::negotiation_timeout, errc::reply_timeout,
                       errc::value_rejected, errc::not_open, errc::bad_message}) {
    const std::error_code error = e;
    EXPECT_EQ(&error.category(), &error_category());
    EXPECT_NE(error.message(), "unknown RFC 2217 error");
  }
}

}  // namespace
}  // namespace ttynet::rfc2217
