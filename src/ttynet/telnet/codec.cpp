#include "ttynet/telnet/codec.hpp"

#include <cassert>
#include <cstring>

namespace ttynet::telnet {
namespace {

constexpr Byte iac_byte = static_cast<Byte>(Command::iac);

constexpr Byte byte_of(Command command) { return static_cast<Byte>(command); }

// Offset of the first IAC in bytes, or bytes.size(). memchr rather than a loop: data runs
// are the bulk of the traffic.
std::size_t find_iac(ByteView bytes) {
  if (bytes.empty()) {
    return 0;
  }
  const void* found = std::memchr(bytes.data(), iac_byte, bytes.size());
  return found == nullptr
             ? bytes.size()
             : static_cast<std::size_t>(static_cast<const Byte*>(found) - bytes.data());
}

// WILL/WONT speak about the sender's side, DO/DONT about the receiver's: what we send about
// our own (local) side is WILL/WONT, about the peer's (remote) side DO/DONT.
Command verb_for(Side side, bool enable) {
  if (side == Side::local) {
    return enable ? Command::will_ : Command::wont;
  }
  return enable ? Command::do_ : Command::dont;
}

}  // namespace

Codec::Codec(std::span<const OptionSupport> supported, Limits limits) : limits_{limits} {
  for (const OptionSupport& entry : supported) {
    side_state(entry.option, Side::local).supported = entry.local;
    side_state(entry.option, Side::remote).supported = entry.remote;
  }
}

void Codec::receive(ByteView from_peer) {
  assert(input_.empty() && "drain next_event() before the next receive()");
  input_ = from_peer;
}

std::optional<Event> Codec::next_event() {
  for (;;) {
    if (next_event_ < events_.size()) {
      return events_[next_event_++];
    }
    events_.clear();
    next_event_ = 0;
    if (input_.empty()) {
      return std::nullopt;
    }
    parse_some();
  }
}

// Parses until at least one event is queued or the input is used up, so views handed out
// stay valid until the next call.
void Codec::parse_some() {
  while (events_.empty() && !input_.empty()) {
    if (state_ == State::data) {
      const std::size_t run = find_iac(input_);
      if (run > 0) {
        events_.push_back(DataReceived{input_.first(run)});
        input_ = input_.subspan(run);
      } else {
        state_ = State::iac;
        input_ = input_.subspan(1);
      }
    } else if (state_ == State::sb) {
      const std::size_t run = find_iac(input_);
      if (run > 0) {
        take_payload(input_.first(run));
        input_ = input_.subspan(run);
      } else {
        state_ = State::sb_iac;
        input_ = input_.subspan(1);
      }
    } else {
      const ByteView current = input_.first(1);
      input_ = input_.subspan(1);
      parse_byte(current);
    }
  }
}

// One byte in any state but data and sb. `current` is a view of it, so IAC IAC can be
// handed out without a copy.
void Codec::parse_byte(ByteView current) {
  const Byte byte = current[0];
  switch (state_) {
    case State::data:
    case State::sb:
      assert(false && "runs are handled in parse_some()");
      break;
    case State::iac:
      state_ = State::data;
      if (byte == iac_byte) {
        events_.push_back(DataReceived{current});
      } else if (byte == byte_of(Command::sb)) {
        sb_payload_.clear();
        sb_overflow_ = false;
        state_ = State::sb_option;
      } else if (byte >= byte_of(Command::will_)) {
        pending_verb_ = static_cast<Command>(byte);
        state_ = State::negotiation;
      } else if (byte == byte_of(Command::se)) {
        report(errc::se_without_sb);
      } else if (byte > byte_of(Command::se)) {
        events_.push_back(CommandReceived{static_cast<Command>(byte)});
      }
      // Below 240 it is no command: the pair is dropped, as pyserial and gensio do.
      break;
    case State::negotiation:
      state_ = State::data;
      switch (pending_verb_) {
        case Command::will_:
          receive_yes(byte, Side::remote);
          break;
        case Command::wont:
          receive_no(byte, Side::remote);
          break;
        case Command::do_:
          receive_yes(byte, Side::local);
          break;
        case Command::dont:
          receive_no(byte, Side::local);
          break;
        default:
          assert(false && "only WILL/WONT/DO/DONT lead to the negotiation state");
          break;
      }
      break;
    case State::sb_option:
      if (byte == iac_byte) {
        state_ = State::sb_option_iac;
      } else {
        sb_option_ = byte;
        state_ = State::sb;
      }
      break;
    case State::sb_option_iac:
      if (byte == iac_byte) {
        sb_option_ = byte;
        state_ = State::sb;
      } else if (byte == byte_of(Command::se)) {
        // Nothing names the option, so nobody could use the payload.
        report(errc::se_without_sb);
        state_ = State::data;
      } else {
        report(errc::command_inside_sb);
        state_ = State::sb_option;
      }
      break;
    case State::sb_iac:
      if (byte == iac_byte) {
        take_payload(current);
        state_ = State::sb;
      } else if (byte == byte_of(Command::se)) {
        if (!sb_overflow_) {
          events_.push_back(SubnegotiationReceived{sb_option_, sb_payload_});
        }
        state_ = State::data;
      } else {
        // Acting on a command here could act on half a sub-negotiation; drop it instead.
        report(errc::command_inside_sb);
        state_ = State::sb;
      }
      break;
  }
}

void Codec::take_payload(ByteView bytes) {
  if (sb_overflow_) {
    return;
  }
  // sb_payload_ never exceeds the limit, so the subtraction cannot wrap.
  if (bytes.size() > limits_.max_subnegotiation - sb_payload_.size()) {
    sb_overflow_ = true;
    sb_payload_.clear();
    report(errc::subnegotiation_too_long);
    return;
  }
  append(sb_payload_, bytes);
}

// RFC 1143 section 7, "Upon receipt of WILL" (remote side) and its mirror for DO (local).
void Codec::receive_yes(Byte option, Side side) {
  SideState& state = side_state(option, side);
  switch (state.q) {
    case Q::no:
      if (state.supported) {
        state.q = Q::yes;
        send_negotiation(side, true, option);
        announce(option, side, true);
      } else {
        send_negotiation(side, false, option);
      }
      break;
    case Q::yes:
      break;  // confirms what is in force; answering would start a loop
    case Q::want_no:
      report(errc::negotiation_violation);
      if (state.opposite) {
        state.q = Q::yes;
        state.opposite = false;
        announce(option, side, true);
      } else {
        state.q = Q::no;
      }
      break;
    case Q::want_yes:
      if (state.opposite) {
        state.q = Q::want_no;
        state.opposite = false;
        send_negotiation(side, false, option);
      } else {
        state.q = Q::yes;
        announce(option, side, true);
      }
      break;
  }
}

// RFC 1143 section 7, "Upon receipt of WONT" (remote side) and its mirror for DONT (local).
void Codec::receive_no(Byte option, Side side) {
  SideState& state = side_state(option, side);
  switch (state.q) {
    case Q::no:
      break;  // already off: nothing to confirm
    case Q::yes:
      state.q = Q::no;
      send_negotiation(side, false, option);
      announce(option, side, false);
      break;
    case Q::want_no:
      if (state.opposite) {
        state.q = Q::want_yes;
        state.opposite = false;
        send_negotiation(side, true, option);
      } else {
        state.q = Q::no;
      }
      break;
    case Q::want_yes:
      // A refusal is a valid answer to our request; a queued disable is then moot.
      state.q = Q::no;
      state.opposite = false;
      events_.push_back(OptionRefused{option, side});
      break;
  }
}

void Codec::request(Byte option, Side side, bool enable) {
  SideState& state = side_state(option, side);
  if (enable) {
    switch (state.q) {
      case Q::no:
        state.q = Q::want_yes;
        send_negotiation(side, true, option);
        break;
      case Q::yes:
        break;
      case Q::want_no:
        state.opposite = true;  // sent once the peer has answered our disable
        break;
      case Q::want_yes:
        state.opposite = false;  // cancels a queued disable
        break;
    }
  } else {
    switch (state.q) {
      case Q::no:
        break;
      case Q::yes:
        state.q = Q::want_no;
        send_negotiation(side, false, option);
        announce(option, side, false);
        break;
      case Q::want_no:
        state.opposite = false;  // cancels a queued enable
        break;
      case Q::want_yes:
        state.opposite = true;  // sent once the peer has answered our enable
        break;
    }
  }
}

bool Codec::is_enabled(Byte option, Side side) const {
  return side_state(option, side).q == Q::yes;
}

void Codec::send_negotiation(Side side, bool enable, Byte option) {
  const Byte bytes[] = {iac_byte, byte_of(verb_for(side, enable)), option};
  append(output_, bytes);
}

void Codec::announce(Byte option, Side side, bool enabled) {
  events_.push_back(OptionChanged{option, side, enabled});
}

void Codec::report(errc error) { events_.push_back(ProtocolError{make_error_code(error)}); }

// Copies the runs between IACs whole and doubles each IAC.
void Codec::append_escaped(ByteView bytes) {
  while (!bytes.empty()) {
    const std::size_t run = find_iac(bytes);
    if (run == bytes.size()) {
      append(output_, bytes);
      return;
    }
    append(output_, bytes.first(run + 1));
    output_.push_back(iac_byte);
    bytes = bytes.subspan(run + 1);
  }
}

void Codec::send_data(ByteView data) { append_escaped(data); }

void Codec::send_subnegotiation(Byte option, ByteView payload) {
  const Byte start[] = {iac_byte, byte_of(Command::sb)};
  append(output_, start);
  append_escaped(ByteView{&option, 1});
  append_escaped(payload);
  const Byte end[] = {iac_byte, byte_of(Command::se)};
  append(output_, end);
}

void Codec::send_command(Command command) {
  // SB, SE and the negotiation verbs need more bytes; IAC IAC would be data.
  assert(command >= Command::nop && command <= Command::ga);
  const Byte bytes[] = {iac_byte, byte_of(command)};
  append(output_, bytes);
}

ByteView Codec::pending_output() {
  if (sending_start_ == sending_.size()) {
    // The last batch is written: the queued bytes become the next one, and the old batch's
    // storage takes new output, so neither buffer is reallocated in the steady state.
    sending_.clear();
    sending_start_ = 0;
    std::swap(sending_, output_);
  }
  return ByteView{sending_}.subspan(sending_start_);
}

void Codec::consume_output(std::size_t n) {
  assert(n <= sending_.size() - sending_start_);
  sending_start_ += n;
  if (sending_start_ == sending_.size() && output_.empty()) {
    // Written, and nothing queued behind: new output goes into the storage that just served,
    // so a session whose writes keep up touches one buffer, not two.
    sending_.clear();
    sending_start_ = 0;
    std::swap(sending_, output_);
  }
}

}  // namespace ttynet::telnet
