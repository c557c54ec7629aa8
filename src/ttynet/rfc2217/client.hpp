#pragma once
// Sans-I/O RFC 2217 client state machine over one Telnet connection: the server's parts turned
// around. Towards servers it behaves like pyserial's rfc2217:// client, byte for byte.
//
// Bytes from the server go in through receive(), time through on_timer(); events come out of
// next_event(); everything for the server is drained through pending_output()/consume_output();
// deadline() says when on_timer() is due. The core never reads a clock: every call that may
// start a wait takes `now`. After any call, drain next_event() and pending_output().
//
// Opening. The constructor queues pyserial's requests: DO ECHO, WILL SGA, DO SGA, DO COM-PORT,
// WILL COM-PORT (`FF FD 01 FF FB 03 FF FD 03 FF FD 2C FF FB 2C`). The server's BINARY (both
// ways), SGA, COM-PORT and WILL ECHO are accepted when offered; everything else is refused.
// COM-PORT counts as agreed as soon as the server sends DO or WILL 44 (ser2net only DOes it),
// also when its offer crossed our request. WONT and DONT 44 both, without DO or WILL, are a
// refusal. start() then runs pyserial's open sequence, one awaited step at a time:
//   1. wait for COM-PORT agreement;
//   2. SET-BAUDRATE, SET-DATASIZE, SET-PARITY, SET-STOPSIZE sent together, all four awaited;
//   3. SET-CONTROL flow control (1 none, 2 XON/XOFF, 3 RTS/CTS);
//   4. SET-CONTROL DTR (8/9), then RTS (11/12) unless the flow control is RTS/CTS;
//   5. PURGE-DATA 1 (server receive buffer), then PURGE-DATA 2 (transmit buffer).
// It ends in Opened, or in OpenFailed and the terminal failed state: input is then dropped,
// and waiting and later operations complete with errc::not_open and the reason.
//
// Operations (set_settings() ... poll_modem_state()) return an id and complete with one
// OperationDone carrying it. They run one after another in call order, each a list of steps
// like the ones above; operations called while the open sequence runs wait for it. Every
// awaited step has its own deadline, `now + ClientOptions::timeout` from when its requests go
// out (pyserial's "network timeout" per wait); on_timer() fails an overdue step's operation
// with errc::reply_timeout and a text naming the requests not answered, and the next operation
// starts. A reply matches when its value begins with the bytes we sent (pyserial's prefix
// rule: trailing extra bytes are tolerated); another value fails the operation with
// errc::value_rejected and a text naming both values. Replies nobody waits for are ignored;
// as with pyserial, a late reply to a request that timed out counts for the next request of
// the same command.
// With ClientOptions::ign_set_control, and once the server agreed to pace ESP frames (it then
// plays ESP resets itself and keeps every request in order), SET-CONTROL steps do not wait and
// their replies are ignored; pacing, if wanted, is the caller's (pyserial sleeps 0.1 s).
// Pipelining. A server that paces ESP frames (only ttynet's) answers every request in order,
// so settings and purge steps do not wait for it either: their requests go out, the operation
// completes, and each reply is checked when it comes (the oldest unanswered request of its
// command; a wrong value is a PipelinedRequestRejected, the connection goes on). Device data
// that comes before the reply to a pipelined purge of the receive buffer is discarded, as if
// the purge had been awaited. The open sequence then costs one round trip: its agreement step
// waits for the answer to DO PACED-ESP too (at most the step's timeout; no answer by then
// leaves pacing off), and the rest is pipelined.
//
// Data. Device data before the open sequence's PURGE-DATA 1 is answered is discarded (a
// server's banner), and so is data received while a later purge() of the receive buffer
// waits for its answer (the caller drops what it buffered itself when it calls purge()). Tolerated
// at any time: NOTIFY-MODEMSTATE (stored, ModemStateChanged; pyserial's server sends two at
// connect), NOTIFY-LINESTATE, FLOWCONTROL-SUSPEND/RESUME, SIGNATURE, the SET-*-MASK
// acknowledgements 110/111 (ignored), unknown COM-PORT codes and sub-negotiations of other options
// (ignored), Telnet commands (ignored).
//
// Paced ESP frames (docs/design/paced-esp-frames.md). With ClientOptions::paced_esp, start()
// queues DO PACED-ESP (`FF FD 78`) before anything it waits for, so it leaves in the same flight
// as the opening, and its answer (WILL or WONT) is the first round-trip sample. The server's WILL
// enables it (paces_esp_frames()); WONT, or no answer, leaves it off. We never pace: DO PACED-ESP
// from the server is refused with WONT. send_paced_esp() queues a client message in order with
// send_data()'s data. While it is enabled, the server's sub-negotiations of the option come
// out as PacedEspReport (BATCH-DONE, BATCH-ABORTED); one that does not decode, or carries a
// client message, is a ProtocolError with errc::bad_message. Once the server agreed, the client
// sends FEATURES with every feature it knows, and nothing waits for the answer:
// paced_esp_features() is what the server agreed to (none until it answers; servers that
// predate FEATURES log it as a protocol error and never answer). Without the flag the client is
// pyserial's, byte for byte: the option is refused like any unknown one.
//
// Limits. What the server sends goes through telnet::Limits (sub-negotiation size); data and
// replies are passed as views. Pending operations grow only with the caller's calls.

#include <array>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/rfc2217/wire.hpp"
#include "ttynet/telnet/codec.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::rfc2217 {

// The rfc2217:// URL options that concern the protocol (logging is the backend's).
struct ClientOptions {
  bool ign_set_control = false;                // SET-CONTROL not awaited, replies ignored
  bool poll_modem = false;                     // poll_modem_state() sends NOTIFY-MODEMSTATE polls
  Duration timeout = std::chrono::seconds{3};  // per awaited step, negotiation included
  bool paced_esp = false;                      // ask for the paced-ESP-frames extension
  // The open sequence purges both buffers and drops the data before it, as pyserial does.
  // Off: nothing is purged and every byte is kept (a client joining a port others share, and
  // its scroll-back: the dashboard's terminals).
  bool purge_at_open = true;
};

// Names one operation; ids are never reused by a client.
enum class OperationId : std::uint32_t {};

class Client {
 public:
  // Events. Views stay valid until the next call to receive() or next_event().

  struct DataReceived {  // device data, IAC doubling undone
    ByteView data;
  };
  struct Opened {};  // start()'s sequence completed
  struct OpenFailed {
    std::error_code error;  // rfc2217::errc: com_port_refused, negotiation_timeout, ...
    std::string what;       // "server did not answer SET-BAUDRATE within 3 s"
  };
  struct OperationDone {
    OperationId id;
    std::error_code error;  // empty on success
    std::string what;       // empty on success
  };
  // A NOTIFY-MODEMSTATE: CD/RI/DSR/CTS and their delta bits (modem:: in line_settings.hpp).
  struct ModemStateChanged {
    std::uint8_t state;
  };
  struct LineStateChanged {  // a NOTIFY-LINESTATE
    std::uint8_t state;
  };
  // FLOWCONTROL-SUSPEND (true) / RESUME (false): stop or restart sending data to the server.
  // Reported when the state changes, not for repeats.
  struct FlowSuspended {
    bool suspended;
  };
  struct SignatureReceived {  // the server's SIGNATURE text, information only
    std::string_view text;
  };
  // A paced-ESP report from the server: paced_esp::BatchDone or paced_esp::BatchAborted.
  struct PacedEspReport {
    paced_esp::Message message;
  };
  // The server answered a pipelined request with another value: "server rejected baud 921600
  // (answered 115200)". Its operation had completed already; log it.
  struct PipelinedRequestRejected {
    std::string what;
  };
  // Server misbehaviour that was survived; log it. Carries a telnet::errc from the codec,
  // rfc2217::errc::missing_value for a NOTIFY without its value, or rfc2217::errc::bad_message
  // for a paced-ESP sub-negotiation that is not a report.
  struct ProtocolError {
    std::error_code error;
  };

  using Event = std::variant<DataReceived, Opened, OpenFailed, OperationDone, ModemStateChanged,
                             LineStateChanged, FlowSuspended, SignatureReceived, PacedEspReport,
                             PipelinedRequestRejected, ProtocolError>;

  explicit Client(telnet::Limits limits = {});

  // Starts the open sequence (once). `settings` and `lines` are what the port opens with.
  void start(const ClientOptions& options, const LineSettings& settings, const ControlLines& lines,
             TimePoint now);

  // Same contract as telnet::Codec::receive(): drain next_event() before the next call, and
  // keep the bytes alive until then. Dropped in the failed state.
  void receive(ByteView from_server, TimePoint now);
  std::optional<Event> next_event();
  // Fails the step whose deadline has passed, if any.
  void on_timer(TimePoint now);
  // When on_timer() is due: the deadline of the step waiting for an answer, if one is.
  std::optional<TimePoint> deadline() const;

  // Operations. Before start() they complete at once with errc::not_open.
  // All four settings, then the flow control (pyserial resends everything on any change).
  OperationId set_settings(const LineSettings& settings, TimePoint now);
  // DTR then RTS, each only when given; neither given completes at once.
  OperationId set_control_lines(std::optional<bool> dtr, std::optional<bool> rts, TimePoint now);
  OperationId set_break(bool on, TimePoint now);
  OperationId purge(Purge which, TimePoint now);
  // With ClientOptions::poll_modem, sends `2C 07` and waits for a NOTIFY-MODEMSTATE, unless
  // one came within modem_state_fresh. Otherwise completes at once. Either way modem_state()
  // has the answer; on errc::reply_timeout it still has the last known state (pyserial warns
  // and uses it).
  OperationId poll_modem_state(TimePoint now);
  static constexpr Duration modem_state_fresh = std::chrono::milliseconds{300};

  // The network round trip as this client sees it: the shortest request-to-reply time among
  // the last round_trip_window requests the server answers at once and only when asked (the
  // answer to DO PACED-ESP, settings, purges). COM-PORT agreement and modem polls do not count
  // (a server offers and notifies unasked), nor do control-line steps (a server with ESP reset
  // handling answers them after playing the reset). Nothing before the first answer.
  std::optional<Duration> round_trip() const;
  static constexpr std::size_t round_trip_window = 8;

  void send_data(ByteView data);  // 0xFF doubled; dropped in the failed state
  // `IAC SB PACED-ESP <message> IAC SE`, 0xFF doubled, in order with send_data(). Only while
  // paces_esp_frames() (asserted); dropped in the failed state.
  void send_paced_esp(const paced_esp::Message& message);
  // The last bytes (at most max_discarded_before_open) of the data that came before the open
  // sequence's purge and were dropped as pyserial drops them: a server that refuses a client
  // says why there.
  ByteView discarded_before_open() const { return discarded_before_open_; }
  static constexpr std::size_t max_discarded_before_open = 256;
  // The paced_esp::feature_* bits the server agreed to provide.
  std::uint8_t paced_esp_features() const { return paced_esp_features_; }

  bool is_open() const { return phase_ == Phase::open; }
  bool is_failed() const { return phase_ == Phase::failed; }
  // Either side of COM-PORT is enabled.
  bool is_com_port_active() const;
  bool is_suspended() const { return suspended_; }
  // The server agreed to pace ESP frames (WILL PACED-ESP, not withdrawn since).
  bool paces_esp_frames() const;
  // The last NOTIFY-MODEMSTATE / NOTIFY-LINESTATE value; none until one came.
  std::optional<std::uint8_t> modem_state() const { return modem_state_; }
  std::optional<std::uint8_t> line_state() const { return line_state_; }
  // What the server last confirmed (or what was sent, for requests that do not wait);
  // before any confirmation, what start() asked for.
  const LineSettings& settings() const { return settings_; }
  ControlLines control_lines() const { return lines_; }
  bool break_state() const { return break_; }

  ByteView pending_output() { return codec_.pending_output(); }  // see telnet::Codec
  std::size_t pending_output_size() const { return codec_.pending_output_size(); }
  void consume_output(std::size_t n) { codec_.consume_output(n); }

 private:
  enum class Phase : std::uint8_t { idle, opening, open, failed };
  enum class StepKind : std::uint8_t { agree_com_port, settings, control, purge, poll_modem };
  struct Step {
    StepKind kind;
    Byte value = 0;  // the Control or Purge value of those steps
  };
  // The open sequence: agreement, settings, flow, DTR, RTS, two purges.
  static constexpr std::size_t max_steps = 7;
  struct Operation {
    std::optional<OperationId> id;  // none: the open sequence (Opened/OpenFailed)
    LineSettings settings;          // for a settings step
    std::array<Step, max_steps> steps{};
    std::uint8_t step_count = 0;
    std::uint8_t next_step = 0;
    void add(Step step) {
      assert(step_count < max_steps);
      steps[step_count++] = step;
    }
  };
  // One request of the step in progress and the value its reply must begin with.
  static constexpr std::size_t max_value = 4;  // a four-byte baud
  struct AwaitedReply {
    Command command = Command::signature;
    std::array<Byte, max_value> value{};
    std::uint8_t size = 0;
    bool answered = false;
    ByteView sent() const { return ByteView{value}.first(size); }
    // Device data that comes before this reply is older than the purge: dropped.
    bool purges_receive() const {
      return command == Command::purge_data && value[0] != static_cast<Byte>(Purge::transmit);
    }
  };

  // Queues an event, built in place: moving a variant with a std::string through a temporary
  // trips g++ 12's -Wmaybe-uninitialized.
  template <typename E>
  void emit(E event) {
    events_.emplace_back(std::in_place_type<E>, std::move(event));
  }
  OperationId enqueue(Operation operation, TimePoint now);
  void run(TimePoint now);  // starts steps until one waits or no operation is left
  void start_step(Operation& operation, Step step, TimePoint now);
  void send_request(Command command, ByteView value);
  // Moves the requests just sent into pipelined_: they complete now, their replies later.
  void pipeline_requests(TimePoint now);
  void add_round_trip(Duration sample);
  void finish_step(TimePoint now);
  void apply_step(Step step);
  void complete(const Operation& operation);
  void fail(std::error_code error, std::string what, TimePoint now);
  bool is_purging_receive_buffer() const;

  void note_com_port_side(telnet::Side side, bool is_refused);
  void check_agreement(TimePoint now);
  void handle(const telnet::Event& event);
  void on_event(const telnet::DataReceived& event);
  void on_event(const telnet::CommandReceived& event);
  void on_event(const telnet::OptionChanged& event);
  void on_event(const telnet::OptionRefused& event);
  void on_event(const telnet::SubnegotiationReceived& event);
  void on_event(const telnet::ProtocolError& event);
  void on_reply(Command command, ByteView value);
  // True when `command`'s reply answered a pipelined request (checked and taken off).
  bool take_pipelined_reply(Command command, ByteView value);
  void note_paced_esp_answer();
  bool waits_for_paced_esp_answer() const { return options_.paced_esp && !paced_esp_answered_; }
  void on_paced_esp(ByteView payload);

  telnet::Codec codec_;
  bool refused_local_ = false;   // the server said DONT 44
  bool refused_remote_ = false;  // the server said WONT 44
  bool com_port_refused_ = false;
  TimePoint now_{};  // of the latest receive()

  std::vector<Event> events_;  // not yet handed out; cleared when drained
  std::size_t next_event_ = 0;

  Phase phase_ = Phase::idle;
  ClientOptions options_;
  std::deque<Operation> operations_;  // the front one is in progress
  std::uint32_t last_id_ = 0;
  // The requests of the front operation's current step; it waits while a deadline is set.
  std::array<AwaitedReply, 4> awaited_{};
  std::size_t awaited_count_ = 0;
  std::optional<TimePoint> step_deadline_;
  TimePoint step_started_{};
  std::array<Duration, round_trip_window> round_trips_{};  // a ring, the newest at count - 1
  std::size_t round_trip_count_ = 0;                       // samples taken in all
  std::string open_what_;                                  // why the open sequence failed
  ByteBuffer scratch_;                                     // a request value being encoded
  // A sub-negotiation payload being sent (a request, a paced-ESP message), reused so sending
  // stops allocating.
  ByteBuffer scratch_request_;

  // Requests sent without waiting, oldest first, until their replies come. Bounded: the
  // oldest is forgotten beyond max_pipelined (a server that answers nothing).
  struct PipelinedRequest {
    AwaitedReply expected;
    TimePoint sent;
  };
  static constexpr std::size_t max_pipelined = 64;
  std::deque<PipelinedRequest> pipelined_;
  std::size_t pipelined_receive_purges_ = 0;  // in pipelined_: data is discarded until answered
  TimePoint started_{};                       // when start() queued DO PACED-ESP
  bool paced_esp_answered_ = false;           // WILL or WONT PACED-ESP came
  std::uint8_t paced_esp_features_ = 0;       // from FEATURES-AGREED

  bool discard_data_ = true;          // until the open sequence's PURGE-DATA 1 is answered
  ByteBuffer discarded_before_open_;  // its last bytes
  bool suspended_ = false;
  std::optional<std::uint8_t> modem_state_;
  std::optional<TimePoint> modem_state_time_;
  std::optional<std::uint8_t> line_state_;
  LineSettings settings_;
  ControlLines lines_;
  bool break_ = false;
};

}  // namespace ttynet::rfc2217
