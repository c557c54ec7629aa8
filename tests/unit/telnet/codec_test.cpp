#include "ttynet/telnet/codec.hpp"

#include <gtest/gtest.h>

#include "wire_bytes.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ttynet::telnet {
namespace {

using ttynet::test::Bytes;
using ttynet::test::from_hex;
using ttynet::test::hex;

// What an RFC 2217 server agrees to: BINARY, SGA and COM-PORT both ways; ECHO refused.
constexpr OptionSupport server_support[] = {
    {option::binary, true, true},
    {option::sga, true, true},
    {option::com_port, true, true},
};
// What a pyserial-like client agrees to: the same, plus the server echoing.
constexpr OptionSupport client_support[] = {
    {option::binary, true, true},
    {option::echo, false, true},
    {option::sga, true, true},
    {option::com_port, true, true},
};

std::string error_name(std::error_code error) {
  for (const errc e : {errc::subnegotiation_too_long, errc::se_without_sb, errc::command_inside_sb,
                       errc::negotiation_violation}) {
    if (error == make_error_code(e)) {
      static constexpr std::string_view names[] = {"", "subnegotiation_too_long", "se_without_sb",
                                                   "command_inside_sb", "negotiation_violation"};
      return std::string{names[static_cast<int>(e)]};
    }
  }
  return "other " + error.message();
}

// Events as owned text, so results of different feeds can be compared and read in failures.
std::string describe(const Event& event) {
  struct Describe {
    std::string operator()(const DataReceived& e) const { return "data " + hex(e.data); }
    std::string operator()(const CommandReceived& e) const {
      return fmt::format("command {}", static_cast<int>(e.command));
    }
    std::string operator()(const OptionChanged& e) const {
      return fmt::format("option {} {} {}", e.option, e.side == Side::local ? "local" : "remote",
                         e.enabled ? "on" : "off");
    }
    std::string operator()(const OptionRefused& e) const {
      return fmt::format("option {} {} refused", e.option,
                         e.side == Side::local ? "local" : "remote");
    }
    std::string operator()(const SubnegotiationReceived& e) const {
      return fmt::format("sb {}: {}", e.option, hex(e.payload));
    }
    std::string operator()(const ProtocolError& e) const { return "error " + error_name(e.error); }
  };
  return std::visit(Describe{}, event);
}

std::vector<std::string> drain_events(Codec& codec) {
  std::vector<std::string> events;
  while (auto event = codec.next_event()) {
    events.push_back(describe(*event));
  }
  return events;
}

Bytes take_output(Codec& codec) {
  const ByteView pending = codec.pending_output();
  Bytes bytes(pending.begin(), pending.end());
  codec.consume_output(pending.size());
  return bytes;
}

struct Outcome {
  std::vector<std::string> events;
  Bytes output;
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& outcome, std::ostream* os) {
  *os << "events {" << fmt::format("{}", fmt::join(outcome.events, " | ")) << "} output {"
      << hex(outcome.output) << "}";
}

// Feeds chunks to a copy of `prototype` whose earlier events and output are discarded.
// Adjacent data runs are merged: where a run is cut depends on the chunking.
Outcome feed(Codec codec, const std::vector<ByteView>& chunks) {
  drain_events(codec);
  take_output(codec);
  Outcome outcome;
  Bytes data;
  const auto flush_data = [&] {
    if (!data.empty()) {
      outcome.events.push_back("data " + hex(data));
      data.clear();
    }
  };
  for (const ByteView chunk : chunks) {
    codec.receive(chunk);
    while (auto event = codec.next_event()) {
      if (const auto* received = std::get_if<DataReceived>(&*event)) {
        EXPECT_FALSE(received->data.empty());
        append(data, received->data);
      } else {
        flush_data();
        outcome.events.push_back(describe(*event));
      }
    }
  }
  flush_data();
  outcome.output = take_output(codec);
  return outcome;
}

// Feeds `input` whole, in two parts split at every offset, and byte by byte; all must give
// the same events and output. Returns the outcome of the whole feed.
Outcome feed_all_ways(const Codec& prototype, ByteView input) {
  const Outcome whole = feed(prototype, {input});
  for (std::size_t offset = 0; offset <= input.size(); ++offset) {
    SCOPED_TRACE(fmt::format("split at {}", offset));
    EXPECT_EQ(feed(prototype, {input.first(offset), input.subspan(offset)}), whole);
  }
  std::vector<ByteView> single_bytes;
  for (std::size_t i = 0; i < input.size(); ++i) {
    single_bytes.push_back(input.subspan(i, 1));
  }
  SCOPED_TRACE("byte by byte");
  EXPECT_EQ(feed(prototype, single_bytes), whole);
  return whole;
}

Outcome feed_all_ways(const Codec& prototype, const Bytes& input) {
  return feed_all_ways(prototype, ByteView{input});
}

Codec server() { return Codec{server_support}; }
Codec client() { return Codec{client_support}; }

using Events = std::vector<std::string>;

// ---------------------------------------------------------------------------------------
// Data

TEST(TelnetCodec, HandsOutADataRunAsOneViewIntoTheInput) {
  Codec codec = server();
  const Bytes input = {0x41, 0x42, 0x00, 0x0D, 0x0A, 0x43};
  codec.receive(input);
  const auto event = codec.next_event();
  ASSERT_TRUE(event.has_value());
  const auto* data = std::get_if<DataReceived>(&*event);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->data.data(), input.data());
  EXPECT_EQ(data->data.size(), input.size());
  EXPECT_FALSE(codec.next_event().has_value());
}

TEST(TelnetCodec, ReturnsNothingForEmptyInput) {
  Codec codec = server();
  codec.receive({});
  EXPECT_FALSE(codec.next_event().has_value());
  EXPECT_TRUE(codec.pending_output().empty());
}

TEST(TelnetCodec, HandsOutDoubledIacAsAOneByteRunBetweenTheRunsAroundIt) {
  Codec codec = server();
  const Bytes input = {0x41, 0x42, 0xFF, 0xFF, 0x43};  // "AB\xffC" as pyserial sends it
  codec.receive(input);
  EXPECT_EQ(drain_events(codec), (Events{"data 41 42", "data ff", "data 43"}));
}

TEST(TelnetCodec, UndoesIacDoublingAtEverySplit) {
  const Bytes input = {0x41, 0x42, 0xFF, 0xFF, 0x43, 0xFF, 0xFF, 0xFF, 0xFF};
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_EQ(outcome.events, (Events{"data 41 42 ff 43 ff ff"}));
  EXPECT_TRUE(outcome.output.empty());
}

TEST(TelnetCodec, KeepsCrAndNulUntouched) {
  const Bytes input = {0x0D, 0x00, 0x0D, 0x0A, 0x00};
  EXPECT_EQ(feed_all_ways(server(), input).events, (Events{"data 0d 00 0d 0a 00"}));
}

// ---------------------------------------------------------------------------------------
// Two-byte commands

TEST(TelnetCodec, ReportsEveryTwoByteCommand) {
  for (int command = 241; command <= 249; ++command) {  // NOP DM BRK IP AO AYT EC EL GA
    SCOPED_TRACE(command);
    const Bytes input = {0x41, 0xFF, static_cast<Byte>(command), 0x42};
    const Outcome outcome = feed_all_ways(server(), input);
    EXPECT_EQ(outcome.events, (Events{"data 41", fmt::format("command {}", command), "data 42"}));
    EXPECT_TRUE(outcome.output.empty());
  }
}

TEST(TelnetCodec, SwallowsLoneIacFollowedByAnOrdinaryByte) {
  const Bytes input = {0x78, 0xFF, 0x41, 0x79};  // the gensio/pyserial behaviour: "xy"
  EXPECT_EQ(feed_all_ways(server(), input).events, (Events{"data 78 79"}));
}

TEST(TelnetCodec, IgnoresAndReportsSeWithoutSb) {
  const Bytes input = {0x41, 0xFF, 0xF0, 0x42};
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_EQ(outcome.events, (Events{"data 41", "error se_without_sb", "data 42"}));
  EXPECT_TRUE(outcome.output.empty());
}

TEST(TelnetCodec, KeepsALoneIacAtTheEndOfInputForTheNextReceive) {
  Codec codec = server();
  const Bytes first = {0x41, 0xFF};
  const Bytes second = {0xF3, 0x42};  // BRK
  codec.receive(first);
  EXPECT_EQ(drain_events(codec), (Events{"data 41"}));
  codec.receive(second);
  EXPECT_EQ(drain_events(codec), (Events{"command 243", "data 42"}));
}

// ---------------------------------------------------------------------------------------
// Option negotiation, peer asks (RFC 1143 state NO)

TEST(TelnetCodec, AcceptsSupportedWillWithDo) {
  const Outcome outcome = feed_all_ways(server(), Bytes{0xFF, 0xFB, 0x03});  // WILL SGA
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFD, 0x03}));                      // DO SGA
  EXPECT_EQ(outcome.events, (Events{"option 3 remote on"}));
}

TEST(TelnetCodec, AcceptsSupportedDoWithWill) {
  const Outcome outcome = feed_all_ways(server(), Bytes{0xFF, 0xFD, 0x2C});  // DO COM-PORT
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFB, 0x2C}));                      // WILL COM-PORT
  EXPECT_EQ(outcome.events, (Events{"option 44 local on"}));
}

TEST(TelnetCodec, RefusesUnsupportedWillWithDontWithoutStateChange) {
  Codec codec = server();
  const Bytes will_naws = {0xFF, 0xFB, 0x1F};
  const Outcome outcome = feed_all_ways(codec, will_naws);
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFE, 0x1F}));  // DONT NAWS
  EXPECT_TRUE(outcome.events.empty());
  codec.receive(will_naws);
  drain_events(codec);
  EXPECT_FALSE(codec.is_enabled(0x1F, Side::remote));
}

TEST(TelnetCodec, RefusesUnsupportedDoWithWont) {
  const Outcome outcome = feed_all_ways(server(), Bytes{0xFF, 0xFD, 0x01});  // DO ECHO
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFC, 0x01}));                      // WONT ECHO
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, RefusesOnlyTheSideThatIsNotSupported) {
  // The client accepts the server's ECHO (remote) but will not echo itself (local).
  const Outcome outcome = feed_all_ways(client(), Bytes{0xFF, 0xFB, 0x01, 0xFF, 0xFD, 0x01});
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFD, 0x01, 0xFF, 0xFC, 0x01}));
  EXPECT_EQ(outcome.events, (Events{"option 1 remote on"}));
}

TEST(TelnetCodec, IgnoresWontAndDontForOptionsThatAreOff) {
  // WONT SGA, DONT SGA, WONT 200, DONT 200
  const Bytes input = {0xFF, 0xFC, 0x03, 0xFF, 0xFE, 0x03, 0xFF, 0xFC, 0xC8, 0xFF, 0xFE, 0xC8};
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

// ---------------------------------------------------------------------------------------
// Option negotiation, state YES

Codec server_with_sga_both_ways() {
  Codec codec = server();
  const Bytes will_do_sga = {0xFF, 0xFB, 0x03, 0xFF, 0xFD, 0x03};
  codec.receive(will_do_sga);
  drain_events(codec);
  take_output(codec);
  return codec;
}

TEST(TelnetCodec, DoesNotAnswerWillOrDoForOptionsAlreadyOn) {
  Codec codec = server_with_sga_both_ways();
  EXPECT_TRUE(codec.is_enabled(option::sga, Side::remote));
  EXPECT_TRUE(codec.is_enabled(option::sga, Side::local));
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFB, 0x03, 0xFF, 0xFD, 0x03});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, AnswersWontForAnOptionThatIsOnWithDont) {
  const Outcome outcome = feed_all_ways(server_with_sga_both_ways(), Bytes{0xFF, 0xFC, 0x03});
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFE, 0x03}));
  EXPECT_EQ(outcome.events, (Events{"option 3 remote off"}));
}

TEST(TelnetCodec, AnswersDontForAnOptionThatIsOnWithWont) {
  const Outcome outcome = feed_all_ways(server_with_sga_both_ways(), Bytes{0xFF, 0xFE, 0x03});
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFC, 0x03}));
  EXPECT_EQ(outcome.events, (Events{"option 3 local off"}));
}

TEST(TelnetCodec, AcceptsTheOptionAgainAfterThePeerTurnedItOff) {
  Codec codec = server_with_sga_both_ways();
  const Bytes input = {0xFF, 0xFC, 0x03, 0xFF, 0xFB, 0x03};  // WONT SGA, WILL SGA
  const Outcome outcome = feed_all_ways(codec, input);
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFE, 0x03, 0xFF, 0xFD, 0x03}));
  EXPECT_EQ(outcome.events, (Events{"option 3 remote off", "option 3 remote on"}));
}

// ---------------------------------------------------------------------------------------
// Option negotiation, our requests

TEST(TelnetCodec, SendsARequestOnceHoweverOftenItIsMade) {
  Codec codec = server();
  codec.request(option::com_port, Side::remote, true);
  codec.request(option::com_port, Side::remote, true);
  codec.request(option::com_port, Side::local, true);
  codec.request(option::com_port, Side::local, true);
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFD, 0x2C, 0xFF, 0xFB, 0x2C}));
  EXPECT_TRUE(drain_events(codec).empty());
  EXPECT_FALSE(codec.is_enabled(option::com_port, Side::remote));
}

TEST(TelnetCodec, SendsNoRequestThatWouldNotChangeTheState) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::remote, true);
  codec.request(option::sga, Side::local, true);
  codec.request(option::binary, Side::remote, false);
  codec.request(option::binary, Side::local, false);
  EXPECT_TRUE(codec.pending_output().empty());
  EXPECT_TRUE(drain_events(codec).empty());
}

TEST(TelnetCodec, DoesNotAnswerTheConfirmationOfItsOwnRequest) {
  Codec codec = server();
  codec.request(option::binary, Side::remote, true);  // DO BINARY
  codec.request(option::binary, Side::local, true);   // WILL BINARY
  take_output(codec);
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFB, 0x00, 0xFF, 0xFD, 0x00});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 0 remote on", "option 0 local on"}));
}

TEST(TelnetCodec, GrantsItsOwnRequestEvenForAnOptionItWouldRefuse) {
  Codec codec = server();
  codec.request(option::echo, Side::local, true);  // WILL ECHO, as pyserial's server does
  take_output(codec);
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFD, 0x01});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 1 local on"}));
}

TEST(TelnetCodec, TakesARefusalOfItsRequestWithoutAnswering) {
  Codec codec = server();
  codec.request(option::com_port, Side::remote, true);
  take_output(codec);
  const Bytes wont_com_port = {0xFF, 0xFC, 0x2C};
  Outcome outcome = feed_all_ways(codec, wont_com_port);
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 44 remote refused"}));
  codec.receive(wont_com_port);
  drain_events(codec);
  EXPECT_FALSE(codec.is_enabled(option::com_port, Side::remote));
  // Said again, it is a repeat about an option that is off: silent.
  outcome = feed_all_ways(codec, wont_com_port);
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
  codec.request(option::com_port, Side::remote, true);  // NO again: may ask again
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFD, 0x2C}));
}

TEST(TelnetCodec, TurnsAnOptionOffAtOnceWhenAskedToDisableIt) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::remote, false);
  codec.request(option::sga, Side::local, false);
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFE, 0x03, 0xFF, 0xFC, 0x03}));
  EXPECT_EQ(drain_events(codec), (Events{"option 3 remote off", "option 3 local off"}));
  EXPECT_FALSE(codec.is_enabled(option::sga, Side::remote));
  // WANTNO + WONT/DONT: the confirmations, not answered.
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFC, 0x03, 0xFF, 0xFE, 0x03});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, QueuesADisableMadeWhileAnEnableIsOutstanding) {
  Codec codec = server();
  codec.request(option::binary, Side::remote, true);   // WANTYES, DO sent
  codec.request(option::binary, Side::remote, false);  // WANTYES + OPPOSITE, nothing sent
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFD, 0x00}));
  // WILL arrives: WANTNO, DONT sent, never reported as on.
  const Bytes will_binary = {0xFF, 0xFB, 0x00};
  Outcome outcome = feed_all_ways(codec, will_binary);
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFE, 0x00}));
  EXPECT_TRUE(outcome.events.empty());
  codec.receive(will_binary);
  drain_events(codec);
  take_output(codec);
  // WONT confirms: NO, silent.
  outcome = feed_all_ways(codec, Bytes{0xFF, 0xFC, 0x00});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, DropsAQueuedDisableWhenTheEnableIsRefused) {
  Codec codec = server();
  codec.request(option::binary, Side::local, true);
  codec.request(option::binary, Side::local, false);
  take_output(codec);
  const Bytes dont_binary = {0xFF, 0xFE, 0x00};  // WANTYES + OPPOSITE + DONT: NO
  const Outcome outcome = feed_all_ways(codec, dont_binary);
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 0 local refused"}));
  codec.receive(dont_binary);
  drain_events(codec);
  codec.request(option::binary, Side::local, true);  // queue bit cleared: a fresh WILL
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFB, 0x00}));
}

TEST(TelnetCodec, CancelsAQueuedDisableWhenAskedToEnableAgain) {
  Codec codec = server();
  codec.request(option::binary, Side::remote, true);
  codec.request(option::binary, Side::remote, false);
  codec.request(option::binary, Side::remote, true);  // WANTYES, queue empty again
  take_output(codec);
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFB, 0x00});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 0 remote on"}));
}

TEST(TelnetCodec, QueuesAnEnableMadeWhileADisableIsOutstanding) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::local, false);  // WANTNO, WONT sent
  codec.request(option::sga, Side::local, true);   // WANTNO + OPPOSITE
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFC, 0x03}));
  drain_events(codec);
  // DONT confirms the disable: WANTYES, WILL sent at last.
  const Bytes dont_sga = {0xFF, 0xFE, 0x03};
  Outcome outcome = feed_all_ways(codec, dont_sga);
  EXPECT_EQ(outcome.output, (Bytes{0xFF, 0xFB, 0x03}));
  EXPECT_TRUE(outcome.events.empty());
  codec.receive(dont_sga);
  drain_events(codec);
  take_output(codec);
  // DO confirms the enable.
  outcome = feed_all_ways(codec, Bytes{0xFF, 0xFD, 0x03});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events, (Events{"option 3 local on"}));
}

TEST(TelnetCodec, CancelsAQueuedEnableWhenAskedToDisableAgain) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::remote, false);
  codec.request(option::sga, Side::remote, true);
  codec.request(option::sga, Side::remote, false);  // WANTNO, queue empty again
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFE, 0x03}));
  drain_events(codec);
  const Outcome outcome = feed_all_ways(codec, Bytes{0xFF, 0xFC, 0x03});
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, ReportsWillInAnswerToDontAsAViolationAndSettlesOnNo) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::remote, false);  // WANTNO + EMPTY
  take_output(codec);
  drain_events(codec);
  const Bytes will_sga = {0xFF, 0xFB, 0x03};
  const Outcome outcome = feed_all_ways(codec, will_sga);
  EXPECT_EQ(outcome.events, (Events{"error negotiation_violation"}));
  EXPECT_TRUE(outcome.output.empty());
  codec.receive(will_sga);
  drain_events(codec);
  EXPECT_FALSE(codec.is_enabled(option::sga, Side::remote));
}

TEST(TelnetCodec, ReportsDoInAnswerToWontAsAViolationAndSettlesOnYesWhenQueued) {
  Codec codec = server_with_sga_both_ways();
  codec.request(option::sga, Side::local, false);  // WANTNO
  codec.request(option::sga, Side::local, true);   // + OPPOSITE
  take_output(codec);
  drain_events(codec);
  const Bytes do_sga = {0xFF, 0xFD, 0x03};
  const Outcome outcome = feed_all_ways(codec, do_sga);
  EXPECT_EQ(outcome.events, (Events{"error negotiation_violation", "option 3 local on"}));
  EXPECT_TRUE(outcome.output.empty());
  codec.receive(do_sga);
  drain_events(codec);
  EXPECT_TRUE(codec.is_enabled(option::sga, Side::local));
}

// Two codecs wired back to back must go quiet and agree, whatever they ask at once.
class Link {
 public:
  Link(Codec a, Codec b) : a_{std::move(a)}, b_{std::move(b)} {}
  Codec& a() { return a_; }
  Codec& b() { return b_; }

  // Returns the number of messages passed until both are quiet; fails past a bound.
  int settle() {
    int passes = 0;
    while (!a_.pending_output().empty() || !b_.pending_output().empty()) {
      if (++passes > 16) {
        ADD_FAILURE() << "negotiation does not settle";
        break;
      }
      pass(a_, b_);
      pass(b_, a_);
    }
    return passes;
  }

  void expect_agreement() {
    for (const Byte option :
         {option::binary, option::echo, option::sga, option::com_port, Byte{31}}) {
      SCOPED_TRACE(static_cast<int>(option));
      EXPECT_EQ(a_.is_enabled(option, Side::local), b_.is_enabled(option, Side::remote));
      EXPECT_EQ(a_.is_enabled(option, Side::remote), b_.is_enabled(option, Side::local));
    }
  }

 private:
  static void pass(Codec& from, Codec& to) {
    const Bytes bytes = take_output(from);
    to.receive(bytes);
    for (const std::string& event : drain_events(to)) {
      EXPECT_EQ(event.find("error"), std::string::npos) << event;
    }
  }

  Codec a_;
  Codec b_;
};

void request_everything(Codec& codec) {
  for (const Byte option : {option::binary, option::echo, option::sga, option::com_port}) {
    codec.request(option, Side::local, true);
    codec.request(option, Side::remote, true);
  }
}

TEST(TelnetCodec, SettlesWithoutLoopsWhenBothEndsAskForEverythingAtOnce) {
  Link link{client(), server()};
  request_everything(link.a());
  request_everything(link.b());
  EXPECT_LE(link.settle(), 2);
  link.expect_agreement();
  EXPECT_TRUE(link.a().is_enabled(option::com_port, Side::remote));
  // Both asked for ECHO both ways, so neither table was consulted.
  EXPECT_TRUE(link.a().is_enabled(option::echo, Side::remote));
  EXPECT_TRUE(link.a().is_enabled(option::echo, Side::local));
}

TEST(TelnetCodec, SettlesWithoutLoopsWhenBothEndsChangeTheirMindsAtOnce) {
  Link link{client(), server()};
  request_everything(link.a());
  link.settle();
  for (const Side side : {Side::local, Side::remote}) {
    link.a().request(option::sga, side, false);
    link.a().request(option::sga, side, true);
    link.a().request(option::binary, side, false);
    link.b().request(option::binary, side, false);
    link.b().request(option::binary, side, true);
    link.b().request(option::com_port, side, false);
  }
  link.settle();
  link.expect_agreement();
  EXPECT_TRUE(link.a().is_enabled(option::sga, Side::local));
  EXPECT_FALSE(link.a().is_enabled(option::com_port, Side::local));
}

TEST(TelnetCodec, SettlesWithoutLoopsWhenAnEndRefuses) {
  Link link{server(), server()};
  link.a().request(option::echo, Side::remote, true);
  link.b().request(31, Side::local, true);
  link.settle();
  link.expect_agreement();
  EXPECT_FALSE(link.a().is_enabled(option::echo, Side::remote));
  EXPECT_FALSE(link.a().is_enabled(31, Side::remote));
}

// ---------------------------------------------------------------------------------------
// Sub-negotiation

TEST(TelnetCodec, DeliversASubnegotiationWithDoubledIacUndone) {
  // SET-MODEMSTATE-MASK 255, then the baud 65535 reply, both as captured from pyserial.
  const Bytes input = from_hex("ff fa 2c 0b ff ff ff f0  ff fa 2c 65 00 00 ff ff ff ff ff f0");
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_EQ(outcome.events, (Events{"sb 44: 0b ff", "sb 44: 65 00 00 ff ff"}));
  EXPECT_TRUE(outcome.output.empty());
}

TEST(TelnetCodec, DeliversAnEmptySubnegotiation) {
  EXPECT_EQ(feed_all_ways(server(), Bytes{0xFF, 0xFA, 0x2C, 0xFF, 0xF0}).events,
            (Events{"sb 44: "}));
}

TEST(TelnetCodec, KeepsDataAroundASubnegotiationApart) {
  const Bytes input = from_hex("41 ff fa 2c 00 ff f0 42");
  EXPECT_EQ(feed_all_ways(server(), input).events, (Events{"data 41", "sb 44: 00", "data 42"}));
}

TEST(TelnetCodec, KeepsTheSubnegotiationPayloadValidUntilTheNextCall) {
  Codec codec = server();
  const Bytes input = from_hex("ff fa 2c 01 02 ff f0 ff fa 2c 03 04 ff f0");
  codec.receive(input);
  auto event = codec.next_event();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(describe(*event), "sb 44: 01 02");
  event = codec.next_event();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(describe(*event), "sb 44: 03 04");
}

Bytes subnegotiation_with_payload(std::size_t size, Byte fill) {
  Bytes bytes = {0xFF, 0xFA, 0x2C};
  for (std::size_t i = 0; i < size; ++i) {
    bytes.push_back(fill);
    if (fill == 0xFF) {
      bytes.push_back(0xFF);
    }
  }
  bytes.insert(bytes.end(), {0xFF, 0xF0, 0x41});
  return bytes;
}

TEST(TelnetCodec, AcceptsASubnegotiationExactlyAtTheLimit) {
  const Codec codec{server_support, Limits{.max_subnegotiation = 8}};
  const Outcome outcome = feed_all_ways(codec, subnegotiation_with_payload(8, 0x11));
  EXPECT_EQ(outcome.events, (Events{"sb 44: 11 11 11 11 11 11 11 11", "data 41"}));
}

TEST(TelnetCodec, DropsASubnegotiationOnePastTheLimitAndGoesOn) {
  const Codec codec{server_support, Limits{.max_subnegotiation = 8}};
  const Outcome outcome = feed_all_ways(codec, subnegotiation_with_payload(9, 0x11));
  EXPECT_EQ(outcome.events, (Events{"error subnegotiation_too_long", "data 41"}));
}

TEST(TelnetCodec, CountsDoubledIacOnceAgainstTheLimit) {
  const Codec codec{server_support, Limits{.max_subnegotiation = 4}};
  EXPECT_EQ(feed_all_ways(codec, subnegotiation_with_payload(4, 0xFF)).events,
            (Events{"sb 44: ff ff ff ff", "data 41"}));
  EXPECT_EQ(feed_all_ways(codec, subnegotiation_with_payload(5, 0xFF)).events,
            (Events{"error subnegotiation_too_long", "data 41"}));
}

TEST(TelnetCodec, ReportsAHugeSubnegotiationOnceAndKeepsScanningForItsEnd) {
  Codec codec{server_support};  // default limit 256
  Bytes input = subnegotiation_with_payload(5000, 0x22);
  const Bytes next = from_hex("ff fa 2c 07 ff f0");
  input.insert(input.end(), next.begin(), next.end());
  codec.receive(input);
  EXPECT_EQ(drain_events(codec), (Events{"error subnegotiation_too_long", "data 41", "sb 44: 07"}));
}

TEST(TelnetCodec, DropsACommandInsideSbAndKeepsTheSbOpen) {
  const Bytes input = from_hex("ff fa 2c 01 ff f1 02 ff f0");  // NOP inside SB
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_EQ(outcome.events, (Events{"error command_inside_sb", "sb 44: 01 02"}));
}

TEST(TelnetCodec, DoesNotActOnANegotiationInsideSb) {
  const Bytes input = from_hex("ff fa 2c 01 ff fd 03 ff f0");  // DO SGA inside SB
  const Outcome outcome = feed_all_ways(server(), input);
  EXPECT_EQ(outcome.events, (Events{"error command_inside_sb", "sb 44: 01 03"}));
  EXPECT_TRUE(outcome.output.empty());
}

TEST(TelnetCodec, TreatsIacSbInsideSbAsACommandInsideSb) {
  const Bytes input = from_hex("ff fa 2c 01 ff fa 2c 02 ff f0 41");
  EXPECT_EQ(feed_all_ways(server(), input).events,
            (Events{"error command_inside_sb", "sb 44: 01 2c 02", "data 41"}));
}

TEST(TelnetCodec, ReadsDoubledIacRightAfterSbAsOption255) {
  const Bytes input = from_hex("ff fa ff ff 01 ff f0");
  EXPECT_EQ(feed_all_ways(server(), input).events, (Events{"sb 255: 01"}));
}

TEST(TelnetCodec, DropsAnSbClosedBeforeItsOption) {
  const Bytes input = from_hex("ff fa ff f0 41");
  EXPECT_EQ(feed_all_ways(server(), input).events, (Events{"error se_without_sb", "data 41"}));
}

TEST(TelnetCodec, DropsACommandBetweenSbAndItsOption) {
  const Bytes input = from_hex("ff fa ff f1 2c 05 ff f0");
  EXPECT_EQ(feed_all_ways(server(), input).events,
            (Events{"error command_inside_sb", "sb 44: 05"}));
}

// ---------------------------------------------------------------------------------------
// Output

TEST(TelnetCodec, DoublesIacInOutgoingData) {
  Codec codec = server();
  codec.send_data(Bytes{0x41, 0x42, 0xFF, 0x43});
  EXPECT_EQ(take_output(codec), (Bytes{0x41, 0x42, 0xFF, 0xFF, 0x43}));
  codec.send_data(Bytes{0xFF, 0xFF});
  codec.send_data(Bytes{});
  codec.send_data(Bytes{0x00, 0xFF});
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF}));
}

TEST(TelnetCodec, DoublesIacInSubnegotiationPayload) {
  Codec codec = server();
  codec.send_subnegotiation(option::com_port, Bytes{0x6B, 0xFF});  // NOTIFY-MODEMSTATE 0xFF
  EXPECT_EQ(take_output(codec), from_hex("ff fa 2c 6b ff ff ff f0"));
  codec.send_subnegotiation(option::com_port, Bytes{0x65, 0x00, 0x00, 0xFF, 0xFF});
  EXPECT_EQ(take_output(codec), from_hex("ff fa 2c 65 00 00 ff ff ff ff ff f0"));
  codec.send_subnegotiation(255, Bytes{});
  EXPECT_EQ(take_output(codec), from_hex("ff fa ff ff ff f0"));
}

TEST(TelnetCodec, SendsTwoByteCommands) {
  Codec codec = server();
  codec.send_command(Command::nop);
  codec.send_command(Command::brk);
  EXPECT_EQ(take_output(codec), (Bytes{0xFF, 0xF1, 0xFF, 0xF3}));
}

TEST(TelnetCodec, RoundTripsItsOwnOutput) {
  Codec sender = server();
  sender.send_data(Bytes{0x01, 0xFF, 0x02});
  sender.send_subnegotiation(option::com_port, Bytes{0xFF, 0xF0, 0xFA});
  sender.send_command(Command::ayt);
  const Bytes wire = take_output(sender);
  EXPECT_EQ(feed_all_ways(client(), wire).events,
            (Events{"data 01 ff 02", "sb 44: ff f0 fa", "command 246"}));
}

TEST(TelnetCodec, KeepsAHandedOutBatchInPlaceWhileMoreIsQueued) {
  Codec codec = server();
  codec.send_data(Bytes{0x01, 0x02, 0x03, 0x04, 0x05});
  const ByteView batch = codec.pending_output();
  codec.consume_output(2);
  codec.send_data(Bytes{0x06});  // queued behind the batch; the batch does not move
  EXPECT_EQ(codec.pending_output().data(), batch.data() + 2);
  EXPECT_EQ(hex(codec.pending_output()), "03 04 05");
  EXPECT_EQ(codec.pending_output_size(), 4u);
  codec.consume_output(0);
  EXPECT_EQ(hex(codec.pending_output()), "03 04 05");
  codec.consume_output(3);
  EXPECT_EQ(hex(codec.pending_output()), "06");  // the next batch
  codec.consume_output(1);
  EXPECT_TRUE(codec.pending_output().empty());
  EXPECT_EQ(codec.pending_output_size(), 0u);
}

TEST(TelnetCodec, ReusesOneBufferWhileEachBatchIsWrittenBeforeMoreIsQueued) {
  Codec codec = server();
  codec.send_data(Bytes(64, 0x41));
  const Byte* const storage = codec.pending_output().data();
  codec.consume_output(64);
  codec.send_data(Bytes(64, 0x42));
  EXPECT_EQ(codec.pending_output().data(), storage);  // not the second buffer
  EXPECT_EQ(codec.pending_output_size(), 64u);
}

TEST(TelnetCodec, KeepsOutputInOrderAcrossManyPartialConsumes) {
  Codec codec = server();
  Bytes expected;
  Bytes written;
  unsigned seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    seed = seed * 1103515245u + 12345u;
    const Byte value = static_cast<Byte>((seed >> 16) % 7 + 0x30);
    const Bytes chunk(static_cast<std::size_t>(seed >> 24) % 5, value);
    codec.send_data(chunk);
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    const std::size_t n = (seed >> 8) % (codec.pending_output().size() + 1);
    const ByteView pending = codec.pending_output();
    written.insert(written.end(), pending.begin(),
                   pending.begin() + static_cast<std::ptrdiff_t>(n));
    codec.consume_output(n);
  }
  for (ByteView rest; !(rest = codec.pending_output()).empty(); codec.consume_output(rest.size())) {
    written.insert(written.end(), rest.begin(), rest.end());
  }
  EXPECT_EQ(written, expected);
}

// ---------------------------------------------------------------------------------------
// Reference vectors (docs: pyserial client/server, ser2net), byte-exact

TEST(TelnetCodec, AnswersThePyserialClientOpeningLikeAServer) {
  // DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT
  const Bytes opening = from_hex("ff fd 01 ff fb 03 ff fd 03 ff fd 2c ff fb 2c");
  const Outcome outcome = feed_all_ways(server(), opening);
  // WONT ECHO, DO SGA, WILL SGA, WILL COM-PORT, DO COM-PORT
  EXPECT_EQ(outcome.output, from_hex("ff fc 01 ff fd 03 ff fb 03 ff fb 2c ff fd 2c"));
  EXPECT_EQ(outcome.events, (Events{"option 3 remote on", "option 3 local on", "option 44 local on",
                                    "option 44 remote on"}));
}

TEST(TelnetCodec, AnswersOnlyEchoWhenTheServerAskedFirst) {
  Codec codec = server();
  for (const Byte option : {option::binary, option::sga, option::com_port}) {
    codec.request(option, Side::local, true);
    codec.request(option, Side::remote, true);
  }
  const Bytes opening = from_hex("ff fd 01 ff fb 03 ff fd 03 ff fd 2c ff fb 2c");
  const Outcome outcome = feed_all_ways(codec, opening);
  EXPECT_EQ(outcome.output, from_hex("ff fc 01"));  // WONT ECHO; the rest are confirmations
}

Codec pyserial_like_client() {
  Codec codec = client();
  codec.request(option::echo, Side::remote, true);
  codec.request(option::sga, Side::local, true);
  codec.request(option::sga, Side::remote, true);
  codec.request(option::com_port, Side::remote, true);
  codec.request(option::com_port, Side::local, true);
  return codec;
}

TEST(TelnetCodec, OpensLikePyserialWhenAskedForWhatPyserialAsks) {
  Codec codec = pyserial_like_client();
  EXPECT_EQ(take_output(codec), from_hex("ff fd 01 ff fb 03 ff fd 03 ff fd 2c ff fb 2c"));
}

TEST(TelnetCodec, AnswersTheSer2netOpeningLikePyserial) {
  // WILL SGA, DO SGA, WILL ECHO, DONT ECHO, DO BINARY, WILL BINARY, DO COM-PORT
  const Bytes opening = from_hex("ff fb 03 ff fd 03 ff fb 01 ff fe 01 ff fd 00 ff fb 00 ff fd 2c");
  const Outcome outcome = feed_all_ways(pyserial_like_client(), opening);
  EXPECT_EQ(outcome.output, from_hex("ff fb 00 ff fd 00"));  // WILL BINARY, DO BINARY
  EXPECT_EQ(outcome.events,
            (Events{"option 3 remote on", "option 3 local on", "option 1 remote on",
                    "option 0 local on", "option 0 remote on", "option 44 local on"}));
}

TEST(TelnetCodec, ReportsSer2netRefusingComPortWithoutAnswering) {
  Codec codec = pyserial_like_client();
  const Bytes answer = from_hex("ff fd 03 ff fc 2c ff fa 2c 6b 00 ff f0");  // DO SGA, WONT 44, 107
  const Outcome outcome = feed_all_ways(codec, answer);
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_EQ(outcome.events,
            (Events{"option 3 local on", "option 44 remote refused", "sb 44: 6b 00"}));
  EXPECT_FALSE(codec.is_enabled(option::com_port, Side::remote));
}

TEST(TelnetCodec, ReportsNoRefusalWhenNothingWasAsked) {
  // WONT and DONT about an option that is off change nothing and say nothing.
  const Outcome outcome = feed_all_ways(server(), from_hex("ff fc 00 ff fe 00"));
  EXPECT_TRUE(outcome.output.empty());
  EXPECT_TRUE(outcome.events.empty());
}

TEST(TelnetCodec, DecodesThePyserialClientSessionStream) {
  const Bytes& stream = ttynet::test::pyserial_client_stream();
  ASSERT_EQ(stream.size(), 169u);
  const Outcome outcome = feed_all_ways(server(), stream);
  EXPECT_EQ(outcome.output, from_hex("ff fc 01 ff fd 03 ff fb 03 ff fb 2c ff fd 2c ff fd 00"));
  EXPECT_EQ(outcome.events,
            (Events{"option 3 remote on",    "option 3 local on",  "option 44 local on",
                    "option 44 remote on",   "option 0 remote on", "sb 44: 01 00 01 c2 00",
                    "sb 44: 02 08",          "sb 44: 03 01",       "sb 44: 04 01",
                    "sb 44: 05 01",          "sb 44: 05 08",       "sb 44: 05 0b",
                    "sb 44: 0c 01",          "sb 44: 0c 02",       "sb 44: 05 08",
                    "sb 44: 05 0b",          "sb 44: 05 09",       "sb 44: 05 0c",
                    "sb 44: 01 00 07 08 00", "sb 44: 02 08",       "sb 44: 03 01",
                    "sb 44: 04 01",          "sb 44: 05 01",       "data 41 42 ff 43",
                    "sb 44: 05 05",          "sb 44: 05 06"}));
}

TEST(TelnetCodec, DecodesThePyserialServerSessionStream) {
  const Bytes stream = from_hex(R"(
    ff fb 01 ff fb 03 ff fd 00 ff fb 2c ff fd 03 ff fa 2c 6b bb ff f0 ff fd 2c ff fa 2c 6b b0 ff f0
    ff fa 2c 65 00 01 c2 00 ff f0 ff fa 2c 66 08 ff f0 ff fa 2c 67 01 ff f0 ff fa 2c 68 01 ff f0 ff
    fa 2c 69 01 ff f0 ff fa 2c 69 08 ff f0 ff fa 2c 69 0b ff f0 ff fa 2c 70 01 ff f0 ff fa 2c 70 02
    ff f0 ff fa 2c 69 08 ff f0 ff fa 2c 69 0b ff f0 ff fa 2c 69 09 ff f0 ff fa 2c 69 0c ff f0 ff fa
    2c 65 00 07 08 00 ff f0 ff fa 2c 66 08 ff f0 ff fa 2c 67 01 ff f0 ff fa 2c 68 01 ff f0 ff fa 2c
    69 01 ff f0 41 42 ff ff 43 ff fa 2c 69 05 ff f0 ff fa 2c 69 06 ff f0 ff fa 2c 6b 83 ff f0)");
  ASSERT_EQ(stream.size(), 190u);
  const Outcome outcome = feed_all_ways(pyserial_like_client(), stream);
  EXPECT_EQ(outcome.output, from_hex("ff fb 00"));  // the client's only answer: WILL BINARY
  ASSERT_GE(outcome.events.size(), 6u);
  EXPECT_EQ(Events(outcome.events.begin(), outcome.events.begin() + 6),
            (Events{"option 1 remote on", "option 3 remote on", "option 0 local on",
                    "option 44 remote on", "option 3 local on", "sb 44: 6b bb"}));
  EXPECT_EQ(outcome.events.back(), "sb 44: 6b 83");
  EXPECT_EQ(std::count(outcome.events.begin(), outcome.events.end(), "data 41 42 ff 43"), 1);
}

// ---------------------------------------------------------------------------------------
// Errors

TEST(TelnetCodec, NamesItsErrorCategoryAndDescribesEachError) {
  EXPECT_STREQ(error_category().name(), "ttynet.telnet");
  for (const errc e : {errc::subnegotiation_too_long, errc::se_without_sb, errc::command_inside_sb,
                       errc::negotiation_violation}) {
    const std::error_code error = e;  // implicit, through is_error_code_enum
    EXPECT_EQ(&error.category(), &error_category());
    EXPECT_FALSE(error.message().empty());
    EXPECT_NE(error.message(), "unknown telnet error");
  }
}

}  // namespace
}  // namespace ttynet::telnet
