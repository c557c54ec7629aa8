// Fuzzes rfc2217::Client as an RFC 2217 port backend drives it: server bytes in chunks, time
// passing and timers firing, operations issued along the way, output drained in partial writes.
//
// Input: one configuration byte, then the server's byte stream (so captured server streams make
// good seeds). Configuration bits: 0 ign_set_control, 1 poll_modem, 2 paced_esp, 7 split mode;
// the whole byte seeds the chunk sizes, times, operations and write sizes.
//
// Invariants: every operation completes exactly once, the open sequence ends once (and once all
// deadlines have passed, everything has ended); nothing but refusals follows OpenFailed; no
// deadline is left in the past by on_timer(); output stays within what the input and the
// operations can cause. Split mode issues no operations and lets no time pass, and checks that
// the stream gives the same events and output whole as in the chosen chunks.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "ttynet/rfc2217/client.hpp"
#include "ttynet/rfc2217/error.hpp"

namespace {

using namespace ttynet;
using rfc2217::Client;
using ttynet::fuzz::check;
using ttynet::fuzz::Choices;

const TimePoint t0 = TimePoint{} + std::chrono::hours{1};

// pyserial's opening with DO PACED-ESP, and the most one operation can send: the open
// sequence's requests with every value byte 0xFF (doubled), or a short data write's worth.
constexpr std::size_t opening_size = 15 + 3;
constexpr std::size_t max_operation_output = 128;
constexpr std::size_t max_data_write = 16;

// Events as text, adjacent data merged, for split mode.
void record(std::vector<std::string>& events, const Client::Event& event) {
  std::string text = std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Client::DataReceived>) {
          return "d" + std::string(reinterpret_cast<const char*>(e.data.data()), e.data.size());
        } else if constexpr (std::is_same_v<T, Client::OpenFailed>) {
          return "F" + e.what;
        } else if constexpr (std::is_same_v<T, Client::OperationDone>) {
          return "D" + e.what;
        } else if constexpr (std::is_same_v<T, Client::ModemStateChanged>) {
          return "m" + std::to_string(e.state);
        } else if constexpr (std::is_same_v<T, Client::LineStateChanged>) {
          return "l" + std::to_string(e.state);
        } else if constexpr (std::is_same_v<T, Client::FlowSuspended>) {
          return e.suspended ? "s" : "r";
        } else if constexpr (std::is_same_v<T, Client::SignatureReceived>) {
          return "S" + std::string{e.text};
        } else if constexpr (std::is_same_v<T, Client::PacedEspReport>) {
          return "P" + std::to_string(e.message.index());
        } else if constexpr (std::is_same_v<T, Client::PipelinedRequestRejected>) {
          return "R" + e.what;
        } else if constexpr (std::is_same_v<T, Client::ProtocolError>) {
          return "E" + std::to_string(e.error.value());
        } else {
          static_assert(std::is_same_v<T, Client::Opened>);
          return "O";
        }
      },
      event);
  if (text[0] == 'd' && !events.empty() && events.back()[0] == 'd') {
    events.back() += text.substr(1);
  } else {
    events.push_back(std::move(text));
  }
}

struct SplitOutcome {
  std::vector<std::string> events;
  std::string output;
};

SplitOutcome feed_in_chunks(const rfc2217::ClientOptions& options, ByteView input,
                            Choices* chunking) {
  Client client;
  client.start(options, LineSettings{}, ControlLines{.dtr = true, .rts = true}, t0);
  SplitOutcome outcome;
  while (!input.empty()) {
    const std::size_t chunk =
        chunking ? std::min<std::size_t>(input.size(), chunking->next(16) + 1) : input.size();
    client.receive(input.first(chunk), t0);
    while (std::optional<Client::Event> event = client.next_event()) {
      record(outcome.events, *event);
    }
    input = input.subspan(chunk);
  }
  const ByteView rest = client.pending_output();
  outcome.output.assign(reinterpret_cast<const char*>(rest.data()), rest.size());
  return outcome;
}

void check_split_invariance(const rfc2217::ClientOptions& options, ByteView input,
                            Choices& choices) {
  const SplitOutcome whole = feed_in_chunks(options, input, nullptr);
  const SplitOutcome chunked = feed_in_chunks(options, input, &choices);
  check(whole.events == chunked.events);
  check(whole.output == chunked.output);
}

// The session-like run with operations and time.
class Driver {
 public:
  Driver(const rfc2217::ClientOptions& options, Choices& choices)
      : options_(options), choices_(choices) {}

  void run(ByteView input) {
    client_.start(options_, LineSettings{}, ControlLines{.dtr = true, .rts = true}, now_);
    bound_ = opening_size + max_operation_output;
    drain();
    while (!input.empty()) {
      const std::size_t chunk = std::min<std::size_t>(input.size(), choices_.next(64) + 1);
      client_.receive(input.first(chunk), now_);
      bound_ += chunk;  // a negotiation is answered with at most as many bytes as it took
      drain();
      input = input.subspan(chunk);
      switch (choices_.next(8)) {
        case 0:
          advance(std::chrono::milliseconds{choices_.next(4000)});
          break;
        case 1:
          issue_operation();
          break;
        default:
          break;
      }
    }
    // Let every deadline pass: everything must end.
    for (int i = 0; i < 64 && client_.deadline(); ++i) advance(std::chrono::seconds{4});
    check(!client_.deadline());
    check(opened_ || open_failed_);
    for (const bool done : completed_) check(done);
    produced_ += client_.pending_output_size() - pending_before_;
    check(produced_ <= bound_);
    for (ByteView rest; !(rest = client_.pending_output()).empty();) {
      client_.consume_output(rest.size());
    }
  }

 private:
  void advance(Duration by) {
    now_ += by;
    client_.on_timer(now_);
    drain();
    const std::optional<TimePoint> deadline = client_.deadline();
    check(!deadline || *deadline > now_);
  }

  void issue_operation() {
    bound_ += max_operation_output;
    const auto choice = choices_.next(8);
    rfc2217::OperationId id{};
    switch (choice) {
      case 0:
        id = client_.set_settings(
            LineSettings{.baud = choices_.next(2) == 0 ? 0xFFFFFFFFu : 9600u,
                         .data_bits = static_cast<std::uint8_t>(5 + choices_.next(4)),
                         .parity = static_cast<Parity>(choices_.next(5)),
                         .stop_bits = static_cast<StopBits>(choices_.next(3)),
                         .flow = static_cast<FlowControl>(choices_.next(3))},
            now_);
        break;
      case 1:
        id = client_.set_control_lines(choices_.next(2) == 0, choices_.next(2) == 0, now_);
        break;
      case 2:
        id = client_.set_break(choices_.next(2) == 0, now_);
        break;
      case 3:
        id = client_.purge(static_cast<Purge>(1 + choices_.next(3)), now_);
        break;
      case 4:
        id = client_.poll_modem_state(now_);
        break;
      case 5:
        if (client_.paces_esp_frames()) {
          client_.send_paced_esp(rfc2217::paced_esp::BatchBegin{0xFFFF});  // every byte doubled
        }
        return;
      default: {
        bound_ += 2 * max_data_write;
        const Byte data[max_data_write] = {0xFF, 'a', 0xFF, 0xFF, 'b', 0xFF};
        client_.send_data(ByteView{data}.first(choices_.next(max_data_write + 1)));
        return;
      }
    }
    const auto index = static_cast<std::size_t>(id);
    check(index == completed_.size() + 1);  // ids count up from 1
    completed_.push_back(false);
    drain();
  }

  void drain() {
    while (std::optional<Client::Event> event = client_.next_event()) {
      std::visit([this](const auto& e) { on(e); }, *event);
      drain_output();
    }
    drain_output();
  }

  void drain_output() {
    check(client_.pending_output_size() >= pending_before_);
    produced_ += client_.pending_output_size() - pending_before_;
    check(produced_ <= bound_);
    // A partial write, as a socket may take.
    const ByteView pending = client_.pending_output();
    client_.consume_output(choices_.next(static_cast<std::uint32_t>(pending.size()) + 1));
    pending_before_ = client_.pending_output_size();
  }

  void on(const Client::DataReceived& e) {
    check(!e.data.empty());
    check(!open_failed_);
  }
  void on(const Client::Opened&) {
    check(!opened_ && !open_failed_);
    check(client_.is_open());
    opened_ = true;
  }
  void on(const Client::OpenFailed& e) {
    check(!opened_ && !open_failed_);
    check(e.error && !e.what.empty());
    check(client_.is_failed() && !client_.deadline());
    open_failed_ = true;
  }
  void on(const Client::OperationDone& e) {
    const auto index = static_cast<std::size_t>(e.id);
    check(index >= 1 && index <= completed_.size() && !completed_[index - 1]);
    completed_[index - 1] = true;
    check(static_cast<bool>(e.error) != e.what.empty());
    if (open_failed_) check(e.error == rfc2217::errc::not_open);
  }
  void on(const Client::ModemStateChanged& e) {
    check(!open_failed_);
    check(client_.modem_state() == e.state);
  }
  void on(const Client::LineStateChanged& e) {
    check(!open_failed_);
    check(client_.line_state() == e.state);
  }
  void on(const Client::FlowSuspended& e) {
    check(!open_failed_);
    check(client_.is_suspended() == e.suspended);
  }
  void on(const Client::SignatureReceived& e) { check(e.text.size() <= 256); }
  void on(const Client::PacedEspReport& e) {
    check(client_.paces_esp_frames());
    check(std::holds_alternative<rfc2217::paced_esp::BatchDone>(e.message) ||
          std::holds_alternative<rfc2217::paced_esp::BatchAborted>(e.message));
  }
  void on(const Client::PipelinedRequestRejected& e) {
    check(!open_failed_);
    check(e.what.starts_with("server rejected "));
  }
  void on(const Client::ProtocolError& e) { check(static_cast<bool>(e.error)); }

  rfc2217::ClientOptions options_;
  Choices& choices_;
  Client client_;
  TimePoint now_ = t0;
  std::vector<bool> completed_;
  bool opened_ = false;
  bool open_failed_ = false;
  std::size_t bound_ = 0;
  std::size_t produced_ = 0;
  std::size_t pending_before_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  Choices choices{config};
  const ByteView input{data + 1, size - 1};
  rfc2217::ClientOptions options;
  options.ign_set_control = (config & 1) != 0;
  options.poll_modem = (config & 2) != 0;
  options.paced_esp = (config & 4) != 0;
  if ((config & 0x80) != 0) {
    check_split_invariance(options, input, choices);
    return 0;
  }
  Driver{options, choices}.run(input);
  return 0;
}
