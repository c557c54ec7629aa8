#pragma once
// Sans-I/O policy of one RFC 2217 client session: what the server does with each request.
//
// Bytes from the client go in through receive(); what the device must do comes out of
// next_action(), one action at a time; the caller performs it and reports the outcome through
// complete() before asking for the next. Replies and device data for the client are drained
// through pending_output()/consume_output() (the view stays valid while more is queued, so it
// can be written from without a copy). No sockets, no clock: a BREAK's length and the ESP
// reset's timing are in the actions, and the caller's timer measures them.
//
// Rules (docs/server.md has them for users):
//   - a setting equal to the one in force is answered without touching the device; every
//     reply carries what the device holds after the request (read once per request);
//   - client data is gathered from one receive() and written in one action, before any
//     request that came after it;
//   - under --esp, DTR/RTS requests go through esp::ResetDetector: a recognised reset is
//     played locally as one PlayReset, and the client is answered with the lines it asked for;
//   - with paced ESP frames (SessionPolicy::paced_esp, frame_pacer.hpp), client data inside a
//     batch goes to the FramePacer instead, and its frames come out as Writes one at a time
//     as the device answers (send_data() and expire() can make one ready: drive the core
//     after them); a DTR/RTS change or reset aborts the batches before it is performed;
//   - a failed device write ends the session; other failures are logged and answered with
//     the value in force;
//   - the first protocol error of each kind is logged as a warning, the rest at debug level;
//   - restore() puts back the settings, lines and BREAK the device had when the client came;
//   - a read-only session (SessionPolicy::read_only) changes nothing and restores nothing.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "ttynet/esp/reset_detector.hpp"
#include "ttynet/esp/reset_sequence.hpp"
#include "ttynet/rfc2217/server.hpp"
#include "ttynet/server/frame_pacer.hpp"
#include "ttynet/server/options.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/line_settings.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::server {

// What the device holds, as last read from it.
struct DeviceState {
  LineSettings settings;
  ControlLines lines;
  bool break_on = false;
};

namespace action {
struct Write {  // client data or a paced frame for the device; valid until complete()
  ByteView data;
};
struct ApplySettings {
  LineSettings settings;
};
struct SetLines {
  std::optional<bool> dtr;
  std::optional<bool> rts;
};
struct PlayReset {  // an ESP reset sequence, played with its own timing
  const esp::ResetSequence* sequence;
  bool into_bootloader = false;  // false: a hard reset, into the application
};
struct SetBreak {
  bool on;
};
struct Wait {  // e.g. the length of a Telnet BREAK
  Duration length;
};
struct Purge {
  ttynet::Purge which;
};
struct ReadModemState {};  // report it with ActionResult::modem_lines
struct Log {
  enum class Level : std::uint8_t { debug, info, warn };
  Level level;
  std::string text;
};
struct Disconnect {};  // the session cannot go on; close the client's connection
}  // namespace action

using Action = std::variant<action::Write, action::ApplySettings, action::SetLines,
                            action::PlayReset, action::SetBreak, action::Wait, action::Purge,
                            action::ReadModemState, action::Log, action::Disconnect>;

// The outcome of an action. `device` is what the device holds afterwards, for the actions that
// can change it (ApplySettings, SetLines, PlayReset, SetBreak); `modem_lines` answers
// ReadModemState (nothing when the device could not tell).
struct ActionResult {
  std::error_code error{};
  std::optional<DeviceState> device{};
  std::optional<std::uint8_t> modem_lines{};
};

struct SessionPolicy {
  std::string signature;                      // the SIGNATURE reply
  std::optional<EspResetConfig> esp_reset{};  // nothing: DTR/RTS requests go straight through
  bool paced_esp = false;                     // agree to paced ESP frames (serve --esp)
  // A monitor identity's session: its data and its requests to change settings, lines or
  // BREAK, or to purge, never reach the device; requests are answered with what the device
  // holds (so a client that checks the answer sees the refusal), and one line says so.
  bool read_only = false;
};

class SessionCore {
 public:
  // Telnet IAC BRK carries no duration; ser2net uses this one.
  static constexpr std::chrono::milliseconds telnet_break_length{250};

  SessionCore(SessionPolicy policy, const DeviceState& device);

  // Same contract as rfc2217::Server::receive(): call next_action() until it returns nothing
  // before the next receive(). The buffer is the core's until then: client data is gathered
  // in it, the doubled IACs squeezed out, so a Write carries it uncopied.
  void receive(MutableByteView from_client);
  std::optional<Action> next_action();
  // `now` is when the action finished: a paced frame's reply timeout runs from then.
  void complete(const ActionResult& result, TimePoint now);

  // Device data for the client; with paced frames it may release the next one.
  void send_data(ByteView from_device);
  // When expire() is due: the released paced frame's reply timeout, if one is running.
  std::optional<TimePoint> deadline() const;
  // The deadline passed: the frame's batch is aborted, and the next batch may go on.
  void expire(TimePoint now);
  // The device went away: batches in progress are aborted (reported to the client).
  void device_lost();
  // False while the paced frames queued reach their limit: stop reading from the client.
  bool wants_client_input() const { return !pacer_ || pacer_->wants_input(); }
  // The client agreed to RFC 2217's COM-PORT option (it stays true once it did).
  bool is_com_port_agreed() const { return is_com_port_agreed_; }
  // The periodic modem-line poll (and the first reading at connect): queues ReadModemState.
  void poll_modem_state();
  // Queues the actions that put the device back as it was found, or as `to` says (a port
  // shared by several controllers goes back to what the first of them found).
  void restore(const std::optional<DeviceState>& to = std::nullopt);
  // Another client of a shared port may have changed the device: what it holds now, so a
  // request equal to the state in force is judged against the device, not a stale copy.
  void observe_device(const DeviceState& device) { device_ = device; }
  // The action in flight is a paced ESP frame's Write (not the client's own data).
  bool is_writing_paced_frame() const { return is_writing_frame_; }

  bool is_suspended() const { return protocol_.is_suspended(); }
  ByteView pending_output() { return protocol_.pending_output(); }
  std::size_t pending_output_size() const { return protocol_.pending_output_size(); }
  void consume_output(std::size_t n) { protocol_.consume_output(n); }
  // Protocol errors seen, and of how many kinds (only the first of a kind was a warning).
  std::size_t protocol_error_count() const { return protocol_error_count_; }
  std::size_t protocol_error_kinds() const { return protocol_errors_.size(); }

 private:
  // What to answer once the queued actions are done.
  struct Reply {
    enum class Kind : std::uint8_t { baud, data_bits, parity, stop_bits, control, purge };
    Kind kind;
    rfc2217::Control control{};
    ttynet::Purge purge{};
  };

  void gather(ByteView run);
  void on_event(const rfc2217::DataReceived& event);
  void on_event(const rfc2217::ComPortStarted& event);
  void on_event(const rfc2217::SignatureRequested& event);
  void on_event(const rfc2217::SignatureReceived& event);
  void on_event(const rfc2217::BaudRequested& event);
  void on_event(const rfc2217::DataBitsRequested& event);
  void on_event(const rfc2217::ParityRequested& event);
  void on_event(const rfc2217::StopBitsRequested& event);
  void on_event(const rfc2217::ControlRequested& event);
  void on_event(const rfc2217::PurgeRequested& event);
  void on_event(const rfc2217::FlowSuspended& event);
  void on_event(const rfc2217::BreakCommand& event);
  void on_event(const rfc2217::PacedEspReceived& event);
  void on_event(const rfc2217::ProtocolError& event);

  // Under SessionPolicy::read_only: answers a request that would change the device, without
  // performing it; false for anything else.
  bool answer_read_only(const rfc2217::Event& event);
  void note_read_only();
  void change_settings(const LineSettings& wanted, Reply::Kind reply);
  void set_lines(std::optional<bool> dtr, std::optional<bool> rts);
  void set_lines_for_esp(std::optional<bool> dtr, std::optional<bool> rts);
  void abort_batches(rfc2217::paced_esp::AbortReason reason);
  void send_batch_reports();
  void send_reply(const Reply& reply);
  ControlLines lines_for_client() const;
  void log(action::Log::Level level, std::string text);

  SessionPolicy policy_;
  rfc2217::Server protocol_;
  DeviceState device_;
  const DeviceState found_;  // as the client found it: what restore() goes back to
  std::optional<esp::ResetDetector> reset_detector_;
  std::vector<Action> queued_;  // to hand out, in order (front first)
  std::size_t next_queued_ = 0;
  std::optional<Reply> reply_;                 // sent once queued_ is done
  std::optional<rfc2217::Event> held_;         // waits until the gathered data is written
  MutableByteView receive_buffer_;             // the last receive()'s
  MutableByteView to_device_;                  // client data gathered for one Write, in it
  std::optional<Action> in_flight_;            // handed out by next_action(), not complete yet
  std::optional<FramePacer> pacer_;            // with paced ESP frames
  bool is_writing_frame_ = false;              // in_flight_ is a paced frame's Write
  std::set<std::error_code> protocol_errors_;  // kinds already logged
  std::size_t protocol_error_count_ = 0;
  bool read_only_noted_ = false;
  bool is_com_port_agreed_ = false;
};

}  // namespace ttynet::server
