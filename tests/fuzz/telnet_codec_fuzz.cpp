// libFuzzer target for telnet::Codec.
//
// First byte, bit 7 clear: stream mode. Bits 0-1 pick a support table, bits 2-3 a
// sub-negotiation limit, bit 4 whether the codec first requests every option of its table,
// bits 5-6 seed the chunking. The rest is fed once whole and once in chunks; both feeds must
// give the same events (data runs merged) and output, and every invariant must hold.
//
// Bit 7 set: link mode. Two codecs (tables from bits 0-1 and 2-3) wired back to back; each
// further byte is a request on either end or a partial delivery of one end's output. At
// the end both must go quiet within a bound and agree on every option.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <variant>

#include "fuzz_support.hpp"
#include "ttynet/telnet/codec.hpp"

namespace {

using ttynet::append;
using ttynet::Byte;
using ttynet::ByteBuffer;
using ttynet::ByteView;
using namespace ttynet::telnet;
using ttynet::fuzz::check;

constexpr OptionSupport server_support[] = {
    {option::binary, true, true},
    {option::sga, true, true},
    {option::com_port, true, true},
};
constexpr OptionSupport client_support[] = {
    {option::binary, true, true},
    {option::echo, false, true},
    {option::sga, true, true},
    {option::com_port, true, true},
};
constexpr OptionSupport everything_support[] = {
    {option::binary, true, true},   {option::echo, true, true}, {option::sga, true, true},
    {option::com_port, true, true}, {31, true, false},          {255, false, true},
};
constexpr std::array<std::span<const OptionSupport>, 4> tables = {
    std::span<const OptionSupport>{}, server_support, client_support, everything_support};
constexpr std::array<std::size_t, 4> limits = {0, 4, 31, 256};
constexpr std::array<Byte, 8> options = {
    option::binary, option::echo, option::sga, option::com_port, 31, 200, 255, 24};

// Owned record of what came out, with adjacent data runs merged, for comparing feeds.
class Trace {
 public:
  void data(ByteView bytes) { append(data_, bytes); }
  void other(std::initializer_list<std::size_t> fields, ByteView payload = {}) {
    flush();
    for (const std::size_t field : fields) {
      record_.push_back(static_cast<Byte>(field));
    }
    record_.push_back(static_cast<Byte>(payload.size()));
    record_.push_back(static_cast<Byte>(payload.size() >> 8));
    append(record_, payload);
  }
  const ByteBuffer& finish() {
    flush();
    return record_;
  }

 private:
  void flush() {
    if (!data_.empty()) {
      record_.push_back(0xD0);
      record_.push_back(static_cast<Byte>(data_.size()));
      append(record_, data_);
      data_.clear();
    }
  }
  ByteBuffer data_;
  ByteBuffer record_;
};

class Checked {
 public:
  Checked(std::span<const OptionSupport> table, std::size_t limit, bool request_all)
      : codec_{table, Limits{.max_subnegotiation = limit}}, limit_{limit} {
    if (request_all) {
      for (const OptionSupport& entry : table) {
        codec_.request(entry.option, Side::local, true);
        codec_.request(entry.option, Side::remote, true);
      }
    }
    initial_output_ = codec_.pending_output_size();
    drain({});
  }

  void feed(ByteView chunk) {
    codec_.receive(chunk);
    fed_ += chunk.size();
    drain(chunk);
    // Each answer (3 bytes) needs at least one new input byte and a 3-byte message.
    check(codec_.pending_output_size() <= initial_output_ + fed_);
    check(data_out_ <= fed_);
  }

  ByteView output() { return codec_.pending_output(); }  // never consumed: all of it
  const ByteBuffer& trace() { return trace_.finish(); }

 private:
  void drain(ByteView chunk) {
    std::size_t events = 0;
    while (auto event = codec_.next_event()) {
      ++events;
      // At most two events per input byte (violation + change), plus request() changes.
      check(events <= 2 * chunk.size() + 2 * 256);
      if (const auto* data = std::get_if<DataReceived>(&*event)) {
        check(!data->data.empty());
        check(data->data.data() >= chunk.data() &&
              data->data.data() + data->data.size() <= chunk.data() + chunk.size());
        data_out_ += data->data.size();
        trace_.data(data->data);
      } else if (const auto* command = std::get_if<CommandReceived>(&*event)) {
        check(command->command >= Command::nop && command->command <= Command::ga);
        trace_.other({1, static_cast<std::size_t>(command->command)});
      } else if (const auto* changed = std::get_if<OptionChanged>(&*event)) {
        bool& shadow = enabled_[changed->option][static_cast<std::size_t>(changed->side)];
        check(shadow != changed->enabled);  // a change, never a repeat
        shadow = changed->enabled;
        trace_.other({2, changed->option, static_cast<std::size_t>(changed->side),
                      changed->enabled ? 1u : 0u});
      } else if (const auto* refused = std::get_if<OptionRefused>(&*event)) {
        check(!enabled_[refused->option][static_cast<std::size_t>(refused->side)]);
        trace_.other({5, refused->option, static_cast<std::size_t>(refused->side)});
      } else if (const auto* sb = std::get_if<SubnegotiationReceived>(&*event)) {
        check(sb->payload.size() <= limit_);
        trace_.other({3, sb->option}, sb->payload);
      } else if (const auto* error = std::get_if<ProtocolError>(&*event)) {
        check(&error->error.category() == &error_category());
        check(error->error.value() >= 1 && error->error.value() <= 4);
        trace_.other({4, static_cast<std::size_t>(error->error.value())});
      }
    }
    for (std::size_t option = 0; option < 256; ++option) {
      for (const Side side : {Side::local, Side::remote}) {
        check(codec_.is_enabled(static_cast<Byte>(option), side) ==
              enabled_[option][static_cast<std::size_t>(side)]);
      }
    }
  }

  Codec codec_;
  std::size_t limit_;
  std::size_t initial_output_ = 0;
  std::size_t fed_ = 0;
  std::size_t data_out_ = 0;
  std::array<std::array<bool, 2>, 256> enabled_{};
  Trace trace_;
};

void run_stream(Byte config, ByteView input) {
  const auto table = tables[config & 3];
  const std::size_t limit = limits[(config >> 2) & 3];
  const bool request_all = (config & 0x10) != 0;

  Checked whole{table, limit, request_all};
  whole.feed(input);

  Checked chunked{table, limit, request_all};
  unsigned seed = (config >> 5) & 3;
  while (!input.empty()) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t size = std::min<std::size_t>(input.size(), (seed >> 16) % 9);
    chunked.feed(input.first(size));  // size 0 too: an empty receive() must be harmless
    input = input.subspan(size);
  }

  const ByteView a = whole.output();
  const ByteView b = chunked.output();
  check(a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()));
  check(whole.trace() == chunked.trace());
}

// Moves up to n pending bytes from one codec to the other; everything when n is 0.
void deliver(Codec& from, Codec& to, std::size_t n) {
  if (n == 0) n = from.pending_output_size();
  ByteBuffer bytes;
  while (bytes.size() < n && !from.pending_output().empty()) {
    const ByteView pending = from.pending_output();
    const std::size_t size = std::min(n - bytes.size(), pending.size());
    bytes.insert(bytes.end(), pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(size));
    from.consume_output(size);
  }
  to.receive(bytes);
  while (auto event = to.next_event()) {
    // Two RFC 1143 ends on a reliable stream never contradict each other.
    check(!std::holds_alternative<ProtocolError>(*event));
  }
}

void run_link(Byte config, ByteView ops) {
  Codec a{tables[config & 3]};
  Codec b{tables[(config >> 2) & 3]};
  for (const Byte op : ops) {
    Codec& codec = (op & 0x20) != 0 ? b : a;
    switch (op >> 6) {
      case 1:
        deliver(a, b, (op & 0x3F) + 1u);
        break;
      case 2:
        deliver(b, a, (op & 0x3F) + 1u);
        break;
      default:
        codec.request(options[op & 7], (op & 8) != 0 ? Side::remote : Side::local,
                      (op & 0x10) != 0);
        break;
    }
  }
  int passes = 0;
  while (a.pending_output_size() > 0 || b.pending_output_size() > 0) {
    check(++passes <= 8);  // no negotiation loops
    deliver(a, b, 0);
    deliver(b, a, 0);
  }
  for (std::size_t option = 0; option < 256; ++option) {
    const auto o = static_cast<Byte>(option);
    check(a.is_enabled(o, Side::local) == b.is_enabled(o, Side::remote));
    check(a.is_enabled(o, Side::remote) == b.is_enabled(o, Side::local));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const Byte config = data[0];
  const ByteView rest{data + 1, size - 1};
  if ((config & 0x80) != 0) {
    run_link(config, rest);
  } else {
    run_stream(config, rest);
  }
  return 0;
}
