#pragma once
// sim://CHIP[?OPTS]: a simulated Espressif chip (esp::SimChip) behind the Port interface, in
// process. What the host writes reaches the chip's RX pin, what the chip sends is read back;
// DTR/RTS drive the chip's auto-reset circuit (EN and GPIO0), the host's baud rate is compared
// with the chip's UART (a mismatch garbles bytes, as on real hardware). CTS, DSR and CD read
// as on; RI off.
//
// One steady_timer, armed from the earliest of the chip's deadline(), the pacing of the wire
// and the flash write-back, drives everything: no sleeps, no threads.
//
// Options (sim_url_options):
//   flash_size=1MB|2MB|4MB|8MB|16MB   (default 4MB)
//   flash_file=PATH   flash contents kept in a file: loaded at open when the file has exactly
//                     flash_size bytes, else the chip starts erased and the file is (re)written
//                     erased; changes are written back shortly after they happen and at close.
//   mac=aa:bb:cc:dd:ee:ff
//   pace=1            a strict chip in time: bytes take the time the chip's UART baud implies
//                     (10 bits per byte) in both directions, host writes wait while the
//                     input buffer is full, and the loaders take their flash work's time and
//                     lose what a real chip loses meanwhile (esp::SimChip, busy times).
//   boot=download|app the chip's state at open, until DTR/RTS first change: download (the
//                     default) = already waiting in the ROM loader, as after an esptool reset
//                     long ago; app = powered up with GPIO0 high, boots the application from
//                     flash and prints its boot log.
//   en_delay=SECONDS  time from EN rising to the strapping pins being sampled (default 0.005):
//                     boards with a large EN capacitor take tens of milliseconds.
//   stub=auto|legacy|flasher  the flasher stub the chip runs after an upload: told from the
//                     uploaded image (auto), or esptool v4's legacy stub, or esp-flasher-stub.
// Fault injection (docs/esp-simulator.md):
//   fail_block=K      the write of flash block K (its sequence number) fails once, with the
//                     loader's real error; fail_always=1: every attempt of every write.
//   stop_after=N      the chip stops answering after N loader frames since its last reset.
//   corrupt_read=N    byte N of each flash read's data is inverted on its way to the host.
//   trace=FILE        every event at the chip's pins (bytes each way, DTR/RTS, baud,
//                     restarts) written to FILE as they happen (sim_trace.hpp), for replay.
//
// The port does not know about hosts: when the server's client leaves, the server puts the
// lines back as it found them, so a port whose lines were never touched stays as it was.

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "ttynet/esp/sim_chip.hpp"
#include "ttynet/port/port.hpp"
#include "ttynet/port/sim_trace.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

inline constexpr std::array<OptionSpec, 12> sim_url_options{{
    {"flash_size", OptionType::choice, "4MB", "size of the simulated SPI flash",
     "1MB|2MB|4MB|8MB|16MB"},
    {"flash_file", OptionType::text, "",
     "file that keeps the flash contents across runs (created erased if missing)"},
    {"mac", OptionType::text, "", "base MAC address, aa:bb:cc:dd:ee:ff"},
    {"pace", OptionType::flag, "",
     "strict timing: bytes take the time the UART's baud rate implies, flash work its time"},
    {"boot", OptionType::choice, "download",
     "state at open until DTR/RTS change: ROM download mode, or boot the application",
     "download|app"},
    {"en_delay", OptionType::seconds, "0.005",
     "time from EN release to GPIO0 sampling (the EN RC network; larger on big capacitors)"},
    {"stub", OptionType::choice, "auto",
     "flasher stub run after an upload: told from the image, or forced", "auto|legacy|flasher"},
    {"fail_block", OptionType::integer, "",
     "fault: the write of this flash block (sequence number) fails once"},
    {"fail_always", OptionType::flag, "", "fault: fail_block fails on every attempt"},
    {"stop_after", OptionType::integer, "",
     "fault: the chip stops answering after this many loader frames since reset"},
    {"corrupt_read", OptionType::integer, "",
     "fault: this byte of each flash read's data is inverted on the way to the host"},
    {"trace", OptionType::text, "", "file that records every event at the chip's pins"},
}};

struct SimPortLimits {
  std::size_t paced_input = 4096;  // host bytes accepted ahead of the wire with pace=1
  Duration flash_write_delay = std::chrono::milliseconds(200);  // debounce of the write-back
};

class SimPort final : public Port {
 public:
  // Parses the options of `url` (a validated sim:// URL), loads the flash file, powers the chip.
  static Result<std::unique_ptr<SimPort>, Error> open(const asio::any_io_executor& executor,
                                                      const PortUrl& url,
                                                      SimPortLimits limits = {});
  ~SimPort() override;

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(
      MutableByteView into) override;
  asio::awaitable<std::error_code> write(ByteView data) override;
  asio::awaitable<std::error_code> apply_settings(const LineSettings& settings) override;
  LineSettings settings() const override;
  asio::awaitable<std::error_code> set_control_lines(std::optional<bool> dtr,
                                                     std::optional<bool> rts) override;
  ControlLines control_lines() const override;
  asio::awaitable<std::error_code> set_break(bool on) override;
  bool break_state() const override;
  asio::awaitable<std::error_code> purge(Purge which) override;
  asio::awaitable<Result<std::uint8_t>> modem_state() override;
  bool has_modem_lines() const override;
  const PortInfo& info() const override;
  // Writes back pending flash changes, then closes.
  void close() override;

  // Restarts the chip into download mode, whatever the lines say (for links that carry no
  // DTR/RTS, when their host goes away), and drops output not yet read.
  void restart_chip();
  const esp::SimChip& chip() const { return chip_; }

 private:
  // Wake-up signals and the closed flag, shared with waiting coroutines and the timer's
  // handler so that a port destroyed right after close() leaves them something to look at.
  struct Signals;

  SimPort(const asio::any_io_executor& executor, std::string url, esp::SimChip chip, bool pace,
          int flash_fd, std::unique_ptr<SimTraceWriter> trace, SimPortLimits limits);

  void step();  // brings chip, wire and write-back up to now, re-arms the timer
  void sync_idle_wire(TimePoint now);
  void feed_paced_input(TimePoint now);
  void release_output(TimePoint now);
  void arm_timer(TimePoint now);
  Duration byte_time() const;
  std::size_t released() const;
  void write_back_flash();

  PortInfo info_;
  esp::SimChip chip_;
  SimPortLimits limits_;
  std::shared_ptr<Signals> signals_;
  asio::steady_timer timer_;
  std::optional<TimePoint> armed_at_;
  LineSettings settings_;
  ControlLines control_lines_;
  bool break_on_ = false;

  // pace=1: each direction is a wire that is busy until *_wire_; a byte leaves every
  // byte_time(). An idle wire earns no credit.
  bool pace_ = false;
  ByteBuffer paced_input_;    // host bytes not yet on the chip's RX pin
  std::size_t released_ = 0;  // prefix of chip output that has crossed the wire
  TimePoint rx_wire_{};
  TimePoint tx_wire_{};

  int flash_fd_ = -1;  // flash_file, kept open for write-back
  std::optional<TimePoint> flash_write_at_;
  std::unique_ptr<SimTraceWriter> trace_;  // trace=FILE
};

// The chip's configuration from a sim:// URL's options (not flash_file, trace): for the port,
// and for replaying a trace (sim_trace.hpp) into a chip.
Result<esp::SimConfig, Error> sim_config(const PortUrl& url);

// The registry's opener for sim:// (url.hpp).
asio::awaitable<OpenResult> open_sim_url(asio::any_io_executor executor, const PortUrl& url);

}  // namespace ttynet::port
