// Fuzzes rfc2217::Server as a session drives it: client bytes in chunks, every request
// answered, modem lines changing, output drained in partial writes.
//
// Input: one configuration byte, then the client's byte stream (so captured client streams
// make good seeds). The configuration seeds the chunk sizes, modem updates and write sizes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include "fuzz_support.hpp"
#include "ttynet/rfc2217/server.hpp"

namespace {

using namespace ttynet;
using ttynet::fuzz::check;
using ttynet::fuzz::Choices;

// Follows the output stream across drains to count sub-negotiations started.
class OutputScanner {
 public:
  void scan(ByteView bytes) {
    for (const Byte byte : bytes) {
      switch (state_) {
        case State::data:
          if (byte == 0xFF) state_ = State::iac;
          break;
        case State::iac:
          state_ = State::data;
          if (byte == 0xFA) ++subnegotiations_;
          if (byte >= 0xFB && byte <= 0xFE) state_ = State::option;  // WILL..DONT <option>
          break;
        case State::option:  // raw, even 0xFF
          state_ = State::data;
          break;
      }
    }
  }
  std::size_t subnegotiations() const { return subnegotiations_; }

 private:
  enum class State : std::uint8_t { data, iac, option };
  State state_ = State::data;
  std::size_t subnegotiations_ = 0;
};

struct Answerer {
  rfc2217::Server& server;
  std::uint8_t value;  // varies the answers

  void operator()(const rfc2217::DataReceived& e) const { server.send_data(e.data); }
  void operator()(const rfc2217::SignatureRequested&) const {
    server.reply_signature(value % 2 == 0 ? std::string_view{"fuzz"}
                                          : std::string_view{"\xFF\xFF"});
  }
  void operator()(const rfc2217::BaudRequested& e) const {
    server.reply_baud(e.baud.value_or(value % 2 == 0 ? 0xFFFFFFFFu : 115200u));
  }
  void operator()(const rfc2217::DataBitsRequested& e) const {
    server.reply_data_bits(e.data_bits.value_or(8));
  }
  void operator()(const rfc2217::ParityRequested& e) const {
    server.reply_parity(e.parity.value_or(Parity::none));
  }
  void operator()(const rfc2217::StopBitsRequested& e) const {
    server.reply_stop_bits(e.stop_bits.value_or(StopBits::one));
  }
  void operator()(const rfc2217::ControlRequested& e) const { server.reply_control(e.value); }
  void operator()(const rfc2217::PurgeRequested& e) const { server.reply_purge(e.which); }
  void operator()(const rfc2217::SignatureReceived& e) const { check(e.text.size() <= 256); }
  void operator()(const rfc2217::ComPortStarted&) const {}
  void operator()(const rfc2217::FlowSuspended& e) const {
    check(server.is_suspended() == e.suspended);
  }
  void operator()(const rfc2217::BreakCommand&) const {}
  void operator()(const rfc2217::PacedEspReceived&) const {}
  void operator()(const rfc2217::ProtocolError& e) const { check(static_cast<bool>(e.error)); }
};

// Worst case per client byte: a 6-byte request (`IAC SB 44 cmd IAC SE`) answered with a
// 14-byte reply (a four-byte baud of 0xFF bytes, doubled).
constexpr std::size_t max_output_per_input = 4;
constexpr std::size_t max_notification = 8;  // IAC SB 44 107 0xFF 0xFF IAC SE
constexpr std::size_t own_offers = 18;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Choices choices{data[0]};
  ByteView input{data + 1, size - 1};

  rfc2217::Server server;
  OutputScanner scanner;
  std::size_t produced_bound = own_offers;
  std::size_t produced = 0;
  std::size_t pending_before = 0;
  std::size_t com_port_starts = 0;

  auto drain = [&] {
    check(server.pending_output_size() >= pending_before);
    produced += server.pending_output_size() - pending_before;
    check(produced <= produced_bound);
    ByteView pending = server.pending_output();
    // A partial write, as a socket may take.
    const std::size_t n = choices.next(static_cast<std::uint32_t>(pending.size()) + 1);
    scanner.scan(pending.first(n));
    server.consume_output(n);
    pending_before = server.pending_output_size();
  };

  drain();
  while (!input.empty()) {
    const std::size_t chunk = std::min<std::size_t>(input.size(), choices.next(64) + 1);
    server.receive(input.first(chunk));
    produced_bound += chunk * max_output_per_input;
    while (std::optional<rfc2217::Event> event = server.next_event()) {
      if (std::holds_alternative<rfc2217::ComPortStarted>(*event)) ++com_port_starts;
      std::visit(Answerer{server, static_cast<std::uint8_t>(choices.next(256))}, *event);
      drain();
    }
    input = input.subspan(chunk);
    if (choices.next(2) == 0) {
      server.update_modem_state(static_cast<std::uint8_t>(choices.next(256)));
      produced_bound += max_notification;
    }
    drain();
  }
  // Everything left goes out.
  produced += server.pending_output_size() - pending_before;
  check(produced <= produced_bound);
  for (ByteView rest; !(rest = server.pending_output()).empty();) {
    scanner.scan(rest);
    server.consume_output(rest.size());
  }
  check(server.pending_output_size() == 0);

  check(com_port_starts <= 1);
  // No sub-negotiation ever reaches a client that did not agree to COM-PORT.
  if (com_port_starts == 0) check(scanner.subnegotiations() == 0);
  return 0;
}
