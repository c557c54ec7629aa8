#pragma once
// Sans-I/O Telnet codec (RFC 854/855, option negotiation by the RFC 1143 "Q method").
// Bytes from the peer go in through receive(); events come out of next_event(). Bytes for
// the peer are produced into one output buffer (data with IAC doubled, commands,
// sub-negotiations, negotiation answers) that the caller drains with pending_output() and
// consume_output(). The same codec serves the client and the server role.
//
// No NVT translation: data is 8-bit transparent whether or not BINARY is negotiated.
//
// What happens to malformed input (nothing ever stops the stream):
// - IAC followed by a byte below 240 (not a command): both bytes are dropped silently, as
//   pyserial and gensio do (`78 FF 41 79` delivers `78 79`).
// - IAC SE outside a sub-negotiation: ignored, reported as errc::se_without_sb.
// - IAC <x> inside SB, other than IAC IAC and IAC SE: both bytes are dropped, the SB stays
//   open, reported as errc::command_inside_sb. Negotiations inside an SB are not acted on.
// - The option byte after IAC SB follows the SB escaping: IAC SB IAC IAC is option 255;
//   IAC SB IAC SE closes an SB that has no option, which is dropped and reported as
//   errc::se_without_sb.
// - A payload longer than Limits::max_subnegotiation: the whole SB is dropped, reported once
//   as errc::subnegotiation_too_long when the limit is passed; parsing resumes after its
//   IAC SE.
// - A peer answer contrary to our outstanding request (WILL/DO after our DONT/WONT):
//   errc::negotiation_violation, state settled as RFC 1143 says.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <variant>
#include <vector>

#include "ttynet/telnet/error.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::telnet {

// Telnet command bytes (RFC 854).
enum class Command : Byte {
  se = 240,
  nop = 241,
  dm = 242,
  brk = 243,
  ip = 244,
  ao = 245,
  ayt = 246,
  ec = 247,
  el = 248,
  ga = 249,
  sb = 250,
  will_ = 251,
  wont = 252,
  do_ = 253,
  dont = 254,
  iac = 255,
};

// Option numbers ttynet speaks of.
namespace option {
inline constexpr Byte binary = 0;
inline constexpr Byte echo = 1;
inline constexpr Byte sga = 3;
inline constexpr Byte com_port = 44;  // RFC 2217
}  // namespace option

// Whether we agree when the peer asks: `local` = we answer DO with WILL, `remote` = we
// answer WILL with DO. Options not listed are refused (WONT/DONT) without state change.
struct OptionSupport {
  Byte option;
  bool local;
  bool remote;
};

enum class Side : std::uint8_t { local, remote };

struct Limits {
  // Payload bytes kept per sub-negotiation (after IAC IAC is undone). A longer one is
  // dropped whole and reported; the stream goes on after its IAC SE.
  std::size_t max_subnegotiation = 256;
};

// Events. Views point into the bytes given to receive() (DataReceived) or into the codec's
// own buffer (SubnegotiationReceived) and stay valid until the next call to receive() or
// next_event().

// A run of data bytes, in order. 0xFF arrives as its own one-byte run.
struct DataReceived {
  ByteView data;
};
// A two-byte command other than negotiation, SB, SE and IAC IAC (NOP, BRK, AYT, DM, ...).
struct CommandReceived {
  Command command;
};
// An option side became enabled or disabled, whoever asked first.
struct OptionChanged {
  Byte option;
  Side side;
  bool enabled;
};
// The peer answered our request to enable an option side with WONT or DONT: the side stays
// disabled (RFC 1143: WANTYES -> NO, no change to announce).
struct OptionRefused {
  Byte option;
  Side side;
};
// A complete sub-negotiation `IAC SB option payload IAC SE`, payload with IAC IAC undone.
struct SubnegotiationReceived {
  Byte option;
  ByteView payload;
};
// Peer misbehaviour that was survived (see errc); the stream goes on.
struct ProtocolError {
  std::error_code error;
};

using Event = std::variant<DataReceived, CommandReceived, OptionChanged, OptionRefused,
                           SubnegotiationReceived, ProtocolError>;

class Codec {
 public:
  explicit Codec(std::span<const OptionSupport> supported, Limits limits = {});

  // Takes bytes from the peer. The codec keeps a view of them: call next_event() until it
  // returns nothing before calling receive() again, and keep the bytes alive until then.
  void receive(ByteView from_peer);
  // The next event from the input, or nothing when all of it has been consumed. Parsing
  // state (a split IAC, an open SB) carries over to the next receive().
  std::optional<Event> next_event();

  // Asks to enable or disable an option on our side (WILL/WONT) or the peer's (DO/DONT).
  // Sends nothing when the state would not change or a request is already outstanding
  // (the RFC 1143 queue bit remembers a change of mind).
  // Options not in the OptionSupport table may be requested too; the table only decides
  // what we agree to when the peer asks. A disable takes effect at once (OptionChanged is
  // queued for next_event()); an enable when the peer agrees.
  void request(Byte option, Side side, bool enable);
  // True only once both ends agreed and nobody has asked to stop since (RFC 1143 YES).
  bool is_enabled(Byte option, Side side) const;

  void send_data(ByteView data);                            // 0xFF doubled
  void send_subnegotiation(Byte option, ByteView payload);  // 0xFF doubled (option too)
  void send_command(Command command);                       // IAC command: NOP..GA only (asserted)

  // The next output to write: the oldest queued bytes, in order. The view stays valid and
  // unchanged until consume_output(), even when more output is queued meanwhile (that goes
  // into a second buffer), so a writer can write straight from it, without a copy. Call again
  // after consuming it all: more may be queued.
  ByteView pending_output();
  std::size_t pending_output_size() const {
    return sending_.size() - sending_start_ + output_.size();
  }
  // The first n bytes of pending_output() were written. n <= pending_output().size().
  void consume_output(std::size_t n);

 private:
  enum class State : std::uint8_t {
    data,
    iac,
    negotiation,    // IAC WILL/WONT/DO/DONT seen, option byte next
    sb_option,      // IAC SB seen, option byte next
    sb_option_iac,  // IAC SB IAC: IAC IAC makes option 255, IAC SE an option-less SB
    sb,
    sb_iac,
  };
  enum class Q : std::uint8_t { no, yes, want_no, want_yes };
  // One side of one option (RFC 1143 section 7: "us"/"usq" or "him"/"himq").
  struct SideState {
    Q q = Q::no;
    bool opposite = false;  // the queue bit: a change of mind to send once the answer is in
    bool supported = false;
  };

  SideState& side_state(Byte option, Side side) {
    return options_[option][static_cast<std::size_t>(side)];
  }
  const SideState& side_state(Byte option, Side side) const {
    return options_[option][static_cast<std::size_t>(side)];
  }

  void parse_some();
  void parse_byte(ByteView current);
  void take_payload(ByteView bytes);
  void receive_yes(Byte option, Side side);  // WILL about the remote side, DO about ours
  void receive_no(Byte option, Side side);   // WONT about the remote side, DONT about ours
  void send_negotiation(Side side, bool enable, Byte option);
  void announce(Byte option, Side side, bool enabled);
  void report(errc error);
  void append_escaped(ByteView bytes);

  Limits limits_;
  std::array<std::array<SideState, 2>, 256> options_{};  // [option][Side]
  ByteView input_;  // the unparsed rest of the bytes given to receive()
  State state_ = State::data;
  Command pending_verb_ = Command::nop;
  Byte sb_option_ = 0;
  bool sb_overflow_ = false;  // the open SB passed the limit: dropped, already reported
  ByteBuffer sb_payload_;
  // Events not yet handed out: one input byte can yield two, and request() yields some
  // outside of parsing. Cleared when drained, so its capacity is reused.
  std::vector<Event> events_;
  std::size_t next_event_ = 0;
  ByteBuffer output_;   // queued since pending_output() last took a batch
  ByteBuffer sending_;  // the batch pending_output() handed out, from sending_start_ on
  std::size_t sending_start_ = 0;
};

}  // namespace ttynet::telnet
