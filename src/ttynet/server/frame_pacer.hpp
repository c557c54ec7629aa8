#pragma once
// Sans-I/O pacing of ESP loader frames for the paced-ESP extension
// (docs/design/paced-esp-frames.md): the client sends whole batches of SLIP frames, and the
// pacer releases them to the device one at a time, each when the device has answered the one
// before, as the Espressif loaders need.
//
// In, from the client in stream order: batch messages (receive()) and the data bytes between a
// BatchBegin and its BatchEnd (receive_data(), copied). In, from the device: everything it
// sends (receive_from_device()), decoded here to find replies. Out: the next frame to write
// (next_frame(), then frame_written()), reports for the client (next_report()), the time of
// the next timeout (deadline(), then expire()), and whether more client data may come
// (wants_input()). No sockets, no clock: the caller passes the time.
//
// Rules:
//   - frame N+1 of a batch is released once the device has sent as many replies to frame N
//     as its FrameInfo says; a reply is a device frame `01 <opcode> ...`, other device bytes
//     do not count. A batch's frames wait until every batch before it is finished;
//   - a reply's timeout runs from the moment its frame's write completed;
//   - a reply with a non-zero first status byte, a timeout, abort_all() and protocol errors
//     (bytes outside an announced frame, a BatchBegin inside a batch, a bad FrameInfo, a
//     BatchEnd with another id or inside a frame, an undecodable message) abort the batch:
//     one BatchAborted, nothing more of it released, and its data dropped up to its BatchEnd;
//   - a batch whose BatchEnd came and whose frames were all answered gets BatchDone;
//   - memory is bounded: wants_input() turns false at paced_esp::max_queued_bytes queued
//     (bookkeeping counted too), and a frame that alone passes it aborts (queue_limit);
//   - a stub READ_FLASH whose FrameInfo asks for server_acks_read: after its good reply, every
//     device frame is read data, acknowledged here with the running count of data bytes (a
//     4-byte frame that next_frame() hands out ahead of anything else) until the request's
//     length has come; the frame after that (the stub's digest) answers it. Each data frame
//     must come within the frame's timeout of the acknowledgement before it. A FrameInfo with
//     the flag on anything but a READ_FLASH is a protocol error.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <variant>

#include "ttynet/esp/slip.hpp"
#include "ttynet/rfc2217/paced_esp.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::server {

class FramePacer {
 public:
  using Report = std::variant<rfc2217::paced_esp::BatchDone, rfc2217::paced_esp::BatchAborted>;

  // A batch message from the client. False for one that belongs to no batch (FrameInfo or
  // BatchEnd outside a batch, a report sent the wrong way): ignored, the caller may log it.
  bool receive(const rfc2217::paced_esp::Message& message);
  // The client sent a paced-ESP message that could not be decoded: a protocol error for the
  // batch open in the stream, if any.
  void receive_undecodable();
  // Between a BatchBegin and its BatchEnd (aborted or not): the client's data belongs to the
  // batch and goes to receive_data().
  bool takes_data() const { return input_ != Input::outside; }
  void receive_data(ByteView data);
  // False while the queued frames reach the limit and some can still drain: stop reading from
  // the client. With nothing to drain, a frame being received must be read on (to its end, or
  // until it alone passes the limit) or it would wait for ever.
  bool wants_input() const {
    return queued_bytes_ < rfc2217::paced_esp::max_queued_bytes || (frames_.empty() && !released_);
  }

  // The next frame for the device, if one may go now. The view is valid until
  // frame_written(), which must come before the next call.
  std::optional<ByteView> next_frame();
  // The write of the frame from next_frame() finished (failed too: then abort_all()).
  void frame_written(TimePoint now);
  // Everything the device sent, in order.
  void receive_from_device(ByteView data);
  // When the released frame's reply timeout runs out, if one is running.
  std::optional<TimePoint> deadline() const;
  // Aborts the released frame's batch if its deadline has passed by `now`.
  void expire(TimePoint now);
  // Aborts every batch not finished, e.g. for a line change or a lost device.
  void abort_all(rfc2217::paced_esp::AbortReason reason);
  // Some batch is not finished (queued, released or still arriving).
  bool is_active() const { return !batches_.empty(); }

  std::optional<Report> next_report();

 private:
  // Where the client's stream is.
  enum class Input : std::uint8_t {
    outside,         // no batch open: data goes straight to the device, not here
    between_frames,  // expecting a FrameInfo or the BatchEnd
    announced,       // a FrameInfo came; expecting its frame's opening END
    in_frame,        // inside the announced frame
    dropping,        // the open batch was aborted: everything up to its BatchEnd is dropped
  };
  struct Batch {
    rfc2217::paced_esp::BatchId id = 0;
    std::size_t queued = 0;      // its frames in frames_ (complete, not released)
    std::size_t received = 0;    // its frames complete so far
    std::uint16_t answered = 0;  // released and answered with success
    bool ended = false;          // its BatchEnd came
  };
  struct Frame {
    rfc2217::paced_esp::FrameInfo info;
    ByteBuffer bytes;               // END, payload as sent, END
    std::uint32_t read_length = 0;  // server_acks_read: the READ_FLASH's length
  };
  // A READ_FLASH whose data frames are acknowledged here.
  struct ReadStream {
    std::uint32_t length = 0;
    std::uint32_t received = 0;  // data bytes so far
  };
  // The released frame of the front batch, until its replies are in.
  struct Released {
    rfc2217::paced_esp::FrameInfo info;
    std::uint8_t replies_left = 0;
    std::optional<TimePoint> deadline;  // set once written
    std::optional<ReadStream> read;     // server_acks_read, until the digest came
  };

  // Bookkeeping counted against the limit, so floods of empty batches or tiny frames are
  // bounded as well as big frames.
  static constexpr std::size_t batch_cost = sizeof(Batch);
  static constexpr std::size_t frame_cost = sizeof(Frame);

  bool is_input_open() const { return input_ != Input::outside && input_ != Input::dropping; }
  void begin_batch(rfc2217::paced_esp::BatchId id);
  void announce_frame(const rfc2217::paced_esp::FrameInfo& info);
  void end_batch(rfc2217::paced_esp::BatchId id);
  void finish_frame();
  void on_device_frame(ByteView payload);
  void on_read_frame(ByteView payload);
  void on_frame_answered();
  // Abort the batch the client's stream is in, or the front (released) batch.
  void abort_open_batch(rfc2217::paced_esp::AbortReason reason);
  void abort_front_batch(rfc2217::paced_esp::AbortReason reason, ByteView status = {});
  void report_aborted(const Batch& batch, rfc2217::paced_esp::AbortReason reason, ByteView status);
  void drop_queued(std::size_t first, std::size_t count);
  void clear_partial();
  // Sends BatchDone for every finished batch at the front.
  void finish_done_batches();

  std::deque<Batch> batches_;  // front: the one being released; back: the one in the stream
  std::deque<Frame> frames_;   // complete frames not yet released, in order across batches
  Input input_ = Input::outside;
  rfc2217::paced_esp::FrameInfo announced_;
  ByteBuffer partial_;  // the frame being received
  std::size_t queued_bytes_ = 0;

  std::optional<Released> released_;
  ByteBuffer writing_;  // the released frame's bytes (or acks_) until frame_written()
  bool is_writing_ = false;
  bool is_writing_acks_ = false;
  ByteBuffer acks_;  // read acknowledgements not yet handed out, framed
  esp::slip::Decoder device_frames_;

  std::deque<Report> reports_;
};

}  // namespace ttynet::server
