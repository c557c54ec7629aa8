#pragma once
// Makes a far ESP chip behind a pacing server (`ttynet serve --esp`) answer an unmodified
// esptool.py as fast as a local one: the policy of `ttynet forward`
// (docs/design/esp-forwarder.md has the rules and why).
//
// Between the tool and the far server, both directions go through here:
//   - the tool's SYNC is answered with the chip's own SYNC replies, fetched once per connect
//     through a paced batch, so esptool's 0.1 s window is met at any round trip;
//   - a READ_REG of a register that cannot change (the eFuse words, the chip's magic and date
//     registers) is answered with the chip's own reply to the same read earlier in the
//     session, byte for byte (esptool reads some of them six times while connecting); the
//     read still reaches the chip, whose reply is swallowed;
//   - the ROM's MEM_END is answered at once (esptool allows it 0.2 s), in the layout of the
//     chip's MEM_BEGIN reply; the real reply is checked and swallowed, the stub's greeting
//     after it passes;
//   - WRITE_REG is answered ahead like a block, as the chip's last WRITE_REG reply with the
//     value field the loader puts there (the ROM: the value of its last read; the stubs: 0);
//   - FLASH_DATA and FLASH_DEFL_DATA blocks are answered ahead, in the layout of the chip's
//     reply to their BEGIN, while a paced batch releases them to the chip one at a time; every
//     real reply is checked, in order. Never ahead: BEGIN, the last block of a BEGIN, blocks of
//     an encrypted write, anything else. A bounded window keeps every later reply the tool
//     waits for within esptool's timeouts at the measured round trip;
//   - a stub READ_FLASH goes to a far server that acknowledges the chip's data frames itself
//     (paced_esp::feature_server_read_acks), so the stub streams; the tool's own
//     acknowledgements are swallowed here, and the data and the stub's digest pass untouched;
//   - the ROM's READ_FLASH_SLOW (64 bytes a request) is read ahead once the tool reads
//     sequentially: the next requests, as esptool makes them, go to the chip before the tool
//     asks, and the tool's own are answered with their replies; a tool that goes elsewhere
//     has the rest swallowed;
//   - a block the chip fails is re-sent, three attempts in all; after the third every reply
//     the tool gets is a failure with the chip's status bytes, so esptool stops with its own
//     "Failed to ..." and never reports data that is not on the chip as written. A chip that
//     stops answering is given up the same way, but silently: esptool times out.
// Everything else passes unchanged, byte for byte, so non-ESP use works as through any relay.
//
// Sans-I/O: the caller feeds the tool's bytes, the far side's bytes and its paced reports,
// and tells of resets; it sends upstream() items to the far server in order and the
// tool_output() to the tool. The time comes in as an argument.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "ttynet/esp/packet.hpp"
#include "ttynet/esp/packet_splitter.hpp"
#include "ttynet/esp/requests.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::forward {

struct AcceleratorOptions {
  // How soon, at most, a reply the tool waits for must come once the window is drained:
  // esptool's shortest timeout for such a reply (FLASH_DEFL_END, READ_REG, a last block) is
  // 3 s; the rest is margin for a chip slower than measured and for jitter.
  Duration barrier_budget = std::chrono::milliseconds(1800);
  // Frame bytes answered ahead and not yet confirmed, at most: below the pacing server's
  // queue (256 KiB), like ttynet esptool's own window.
  std::size_t window_bytes = std::size_t{128} * 1024;
  int attempts = 3;  // per block, as esptool's WRITE_BLOCK_ATTEMPTS
  // For a tool that cannot change the port's baud itself (esptool over socket://): after the
  // chip's good reply to CHANGE_BAUDRATE, next_baud() says which rate the port must take. The
  // ESP32 ROM is asked for a rate skewed by its clock's error; the nearest standard rate
  // within 5 % is taken instead.
  bool follows_baud_changes = false;
};

// For the far server, in order: data (a frame or bytes passed through) or a paced message.
using Upstream = std::variant<ByteBuffer, rfc2217::paced_esp::Message>;

struct AcceleratorNote {
  enum class Level : std::uint8_t { debug, info, warn };
  Level level;
  std::string text;
};

struct AcceleratorCounters {
  std::uint64_t syncs_answered = 0;   // tool SYNCs answered from the chip's replies
  std::uint64_t reads_answered = 0;   // READ_REGs of constant registers answered likewise
  std::uint64_t answered_ahead = 0;   // blocks, WRITE_REGs, MEM_ENDs answered before the chip
  std::uint64_t registers_ahead = 0;  // of those, WRITE_REGs
  std::uint64_t confirmed = 0;        // of those, real replies checked good
  std::uint64_t resent = 0;           // blocks sent again after a failure or timeout
  std::uint64_t failed_replies = 0;   // failures given to the tool after the last attempt
  std::uint64_t reads_streamed = 0;   // READ_FLASHes acknowledged by the far server
  std::uint64_t reads_ahead = 0;      // READ_FLASH_SLOWs answered from a read ahead
};

class EspAccelerator {
 public:
  explicit EspAccelerator(AcceleratorOptions limits = {});

  // Bytes from the tool, for the chip.
  void from_tool(ByteView data, TimePoint now);
  // Bytes from the far side (the chip's output).
  void from_device(ByteView data, TimePoint now);
  // A BATCH-DONE or BATCH-ABORTED from the far server.
  void on_report(const rfc2217::paced_esp::Message& report);
  // The tool reset the chip (its DTR/RTS changes): the chip starts over in its ROM. Call
  // before the line changes go upstream; an open batch is ended first.
  void on_reset();
  // The far round trip as last measured, and the UART's baud: they size the window.
  void set_round_trip(Duration round_trip) { round_trip_ = round_trip; }
  void set_baud(std::uint32_t baud) { baud_ = baud; }
  // The paced_esp::feature_* bits the far server agreed to (none until it has answered).
  void set_far_features(std::uint8_t bits) { far_features_ = bits; }

  // What the far server must get next, in order; nothing when all was taken.
  std::optional<Upstream> next_upstream();
  // Bytes for the tool.
  ByteView tool_output() const { return to_tool_; }
  void consume_tool_output(std::size_t n);
  // The tool purged its input: what was not yet handed over is dropped.
  void drop_tool_output() { to_tool_.clear(); }
  std::optional<AcceleratorNote> next_note();
  // A baud the port must change to now (follows_baud_changes), once.
  std::optional<std::uint32_t> next_baud() { return std::exchange(baud_change_, std::nullopt); }

  const AcceleratorCounters& counters() const { return counters_; }
  // Frames answered ahead that the chip has not confirmed yet.
  std::size_t unconfirmed() const;

 private:
  enum class Answer : std::uint8_t {
    given,       // the tool has a reply made here; the real one is checked and swallowed
    held,        // as given, but the reply waits for room in the window
    passing,     // the real reply goes to the tool
    read_ahead,  // a READ_FLASH_SLOW sent before the tool asked: the reply goes to read_ahead_
    discarded,   // read ahead for a tool that went elsewhere: the reply is swallowed
  };
  // A frame sent to the chip inside the current batch whose reply has not come.
  struct Sent {
    esp::Op op;
    ByteBuffer frame;  // as the tool sent it, for a re-send
    rfc2217::paced_esp::FrameInfo info;
    Answer answer;
    // What the reply made here looks like (its write's BEGIN reply), kept with the frame: a
    // new BEGIN may come before the chip confirmed this one.
    ByteBuffer model{};
    std::uint32_t sequence = 0;  // of a data block
    int attempts = 1;
    rfc2217::paced_esp::BatchId batch = 0;
    std::uint16_t index = 0;  // in its batch
    TimePoint sent_at;
  };
  // The write in progress (from its BEGIN): what its blocks' replies look like.
  struct Write {
    esp::Op data_op;
    std::uint32_t blocks = 0;
    bool encrypted = false;
    std::optional<ByteBuffer> reply;  // the chip's reply to the BEGIN, unframed
  };

  void on_tool_packet(ByteView frame, const esp::Request& request, TimePoint now);
  void on_device_packet(ByteView frame, ByteView payload, const esp::Response& response,
                        TimePoint now);
  void on_tool_sync(ByteView frame);
  // READ_FLASH_SLOW: answered from the read ahead when it is the request expected next;
  // starts a read ahead when it continues the tool's last one.
  bool take_read_ahead(ByteView frame);
  bool start_read_ahead(Sent& sent, ByteView body);
  void read_ahead_more(TimePoint now);
  void cancel_read_ahead();
  void on_read_ahead_reply(ByteView frame, const esp::Response& response);
  // The far server dropped the rest of `batch` after a failure: what the tool waits for in
  // it is sent again; reads ahead in it are forgotten.
  void resend_dropped(rfc2217::paced_esp::BatchId batch);
  std::size_t read_window() const;
  // Starts a READ_FLASH the far server acknowledges; false when it cannot be one.
  bool stream_read(Sent& sent, ByteView body);
  // While a streamed read runs: the tool's acknowledgements are dropped; what follows the
  // last one (or anything that is not one) is returned for the usual path.
  ByteView drop_read_acks(ByteView data);
  // The chip's data frames and digest pass as they are; what follows the digest is returned.
  ByteView pass_read_data(ByteView data);
  void on_sync_reply(ByteView frame);
  void finish_sync();
  // Sends a frame inside the batch (opening one if needed); `ends_batch` closes it after.
  void send_in_batch(Sent sent, bool ends_batch);
  void send_plain(ByteView bytes);
  void open_batch();
  void end_batch();
  void confirm_front(TimePoint now);
  void fail_front(esp::Status status, bool timed_out);
  void give_held_answers();
  void answer_failure(esp::Op op);
  // A reply made here: `model` (an unframed reply of the chip) with the opcode set to `op`.
  void answer_like(ByteView model, esp::Op op);
  // The answer made here for a frame held for the window.
  void give_answer(const Sent& sent);
  // Hands the tool framed replies and notes the value field of the last.
  void give_replies(ByteView frames);
  // A WRITE_REG's reply as the chip will give it, when that is known: the chip's last
  // WRITE_REG reply with the value field the loader puts there.
  std::optional<ByteBuffer> write_reg_answer() const;
  // A MEM_END reply that passed: a good one starts the stub.
  void on_stub_start(const esp::Response& mem_end);
  // The stub runs: what was learnt of the ROM's replies no longer holds.
  void forget_rom();
  std::size_t window_frames() const;
  Duration frame_time_estimate(std::size_t frame_bytes) const;
  Duration wire_time(std::size_t bytes) const;
  esp::Status status_of(const esp::Response& response, std::size_t status_length) const;
  void note(AcceleratorNote::Level level, std::string text);

  AcceleratorOptions options_;
  esp::PacketSplitter from_tool_{esp::request_direction};
  esp::PacketSplitter from_device_{esp::response_direction};
  std::deque<Upstream> upstream_;
  ByteBuffer to_tool_;
  std::deque<AcceleratorNote> notes_;
  AcceleratorCounters counters_;

  Duration round_trip_{};
  std::uint32_t baud_ = 115200;
  rfc2217::paced_esp::BatchId last_batch_ = 0;
  bool batch_open_ = false;
  std::uint16_t batch_frames_ = 0;

  // SYNC: the chip's replies once fetched (until the tool moves on), the fetch in flight.
  std::optional<ByteBuffer> sync_replies_;
  ByteBuffer sync_collected_;
  std::size_t sync_collected_count_ = 0;
  std::optional<rfc2217::paced_esp::BatchId> sync_batch_;
  bool tool_awaits_sync_ = false;

  bool is_stub_ = false;  // a stub was started (its MEM_END passed); until the next reset
  std::size_t status_length_ = esp::stub_status_length;  // the chip's, from a BEGIN reply
  std::optional<ByteBuffer> mem_reply_;                  // the chip's last MEM_BEGIN/MEM_DATA reply
  bool swallow_mem_end_ = false;
  std::optional<Write> write_;
  std::optional<esp::Op> awaited_begin_;  // a BEGIN passed; its reply becomes write_->reply
  std::deque<Sent> in_flight_;
  std::optional<TimePoint> last_confirmed_at_;
  std::optional<Duration> frame_time_;  // measured chip time per block (smoothed)
  std::optional<esp::Status> failure_;  // given up: every reply to the tool fails with it
  bool chip_silent_ = false;            // given up on timeouts: nothing more is answered here
  // The chip's replies to reads of constant registers, by address, for the loader running
  // (their layout is the loader's); the read passed to the chip whose reply is awaited.
  std::map<std::uint32_t, ByteBuffer> constant_reads_;
  std::optional<std::uint32_t> awaited_constant_read_;
  std::size_t swallowed_reads_ = 0;              // replies to reads answered from constant_reads_
  std::optional<std::uint32_t> requested_baud_;  // a CHANGE_BAUDRATE passed; its reply decides
  std::optional<std::uint32_t> baud_change_;

  std::uint8_t far_features_ = 0;
  // The chip's last good WRITE_REG reply (unframed), for the loader running, and the value
  // field of the last reply the tool got (the ROM's stays in every reply until its next read).
  std::optional<ByteBuffer> write_reg_model_;
  std::optional<std::uint32_t> tool_value_;

  // READ_FLASH_SLOW read ahead: the requests sent before the tool asked, in order (at most
  // read_window()), with their replies once they came.
  struct ReadAhead {
    ByteBuffer request;  // as esptool will send it
    std::optional<ByteBuffer> reply;
    bool tool_waits = false;
  };
  std::deque<ReadAhead> read_ahead_;
  std::optional<esp::RegionRequest> last_slow_read_;  // the tool's last READ_FLASH_SLOW
  esp::RegionRequest next_read_ahead_;                // what to ask the chip next
  bool read_ahead_failed_ = false;                    // the chip failed one: no more until reset
  // The ROM's status length, from its SYNC replies (the ESP32's has 4 bytes).
  std::size_t rom_status_length_ = esp::stub_status_length;
  // A streamed READ_FLASH: its length while its reply is awaited, and while the chip's data
  // (then its digest) and the tool's acknowledgements are still to come.
  struct StreamedRead {
    std::uint32_t length = 0;
    rfc2217::paced_esp::BatchId batch = 0;
    std::uint32_t received = 0;  // data bytes from the chip so far
  };
  std::optional<StreamedRead> awaited_read_;
  std::optional<StreamedRead> device_read_;
  std::optional<std::uint32_t> tool_read_;  // the length the tool's last acknowledgement has
  esp::slip::Decoder read_frames_;          // the chip's frames during device_read_
  esp::slip::Decoder tool_acks_;            // the tool's during tool_read_
  ByteBuffer tool_resume_;                  // what the tool sent after its acknowledgements
};

// Whether a register of a supported chip cannot change while it runs: an eFuse read register,
// the chip-detect magic word, the ESP32's APB_CTL_DATE.
bool is_constant_register(std::uint32_t address);

// `baud` rounded to the nearest standard rate when one is within 5 %, else as it is.
std::uint32_t nearest_standard_baud(std::uint32_t baud);

}  // namespace ttynet::forward
