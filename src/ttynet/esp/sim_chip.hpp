#pragma once
// A simulated Espressif chip behind its UART, as a sans-I/O state machine: the two-transistor
// auto-reset circuit on DTR/RTS, ROM boot messages, the ROM serial loader (download mode),
// the flasher stub after a stub upload, and an application that boots from flash and keeps
// printing. Bytes and time in; bytes and a deadline out. It never reads a clock: every call
// takes `now`, and deadline() says when on_timer() is due.
//
// A thin port wraps it: bytes the host writes go to receive(), DTR/RTS changes to
// set_lines(), the host's baud to set_host_baud(); pending_output() is what the chip sent
// (consume_output() once delivered); a timer armed from deadline() calls on_timer(). A port
// without line control whose host goes away should restart() the chip, so that the next host
// finds the ROM loader and not a stub left running (esptool would skip its stub upload and
// SPI_ATTACH).
//
// Baud: the chip's UART runs at uart_baud() (115200 after reset, changed by
// CHANGE_BAUDRATE). If the host's baud differs by more than 5%, bytes in both directions are
// garbled deterministically (into framing-error junk that never contains a SLIP END), as on
// real hardware. In download mode the ROM auto-bauds once: the first bytes at a foreign rate
// are lost and the UART follows the host from then on (config.autobaud).
//
// Busy times (config.busy_times, sim:// pace=1): the loaders take the time their flash work
// takes (flash_timing in sim_flash.hpp). The ROM programs a block before it answers and does
// not read its UART meanwhile: input beyond its 128-byte receive FIFO is lost. A stub
// answers a block on receipt and writes it afterwards, receiving the next frame into its
// second buffer meanwhile; a third frame is dropped (esp-flasher-stub) or lands in the
// buffer still being written (legacy stub), as on the real chips.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ttynet/esp/chips.hpp"
#include "ttynet/esp/sim_boot_text.hpp"
#include "ttynet/esp/sim_flash.hpp"
#include "ttynet/esp/sim_loader.hpp"
#include "ttynet/esp/sim_timers.hpp"
#include "ttynet/esp/sim_uart.hpp"
#include "ttynet/esp/slip.hpp"
#include "ttynet/util/bytes.hpp"
#include "ttynet/util/time.hpp"

namespace ttynet::esp {

enum class SimState : std::uint8_t {
  reset,     // EN held low
  booting,   // EN released, straps not latched yet
  download,  // ROM serial loader
  stub,      // flasher stub running
  app,       // booted from flash, the application runs (host bytes are ignored)
};
std::string_view to_string(SimState state);

enum class PowerOn : std::uint8_t {
  in_download_mode,  // already waiting in the ROM loader, its boot text long gone (for links
                     // without line control: a pty, a TCP socket)
  boot_download,     // powers up at the first call with the boot button held
  boot_flash,        // powers up at the first call and boots the application
};

struct SimLimits {
  slip::Limits slip;
  std::size_t rom_rx_fifo = 128;  // what the ROM's UART holds while the loader works
  std::size_t max_pending_output = std::size_t{1} << 20;  // the oldest output is dropped beyond
  std::size_t stream_high_water = std::size_t{64} << 10;  // READ_FLASH data waits above this
  std::size_t max_written_registers = 256;
};

struct SimConfig {
  std::uint32_t flash_size = 4u << 20;   // 1, 2, 4, 8 or 16 MiB
  ByteBuffer initial_flash;              // the start of flash; the rest is erased (0xFF)
  std::optional<MacAddress> mac;         // default: 24:6f:28:7a:d8:xx
  std::optional<ChipRevision> revision;  // default: the chip row's
  PowerOn power_on = PowerOn::in_download_mode;
  std::uint32_t host_baud = 115200;
  bool autobaud = true;
  // EN rises through an RC network; the straps (GPIO0) are sampled this long after release.
  Duration strap_delay = std::chrono::milliseconds(5);
  Duration app_line_period = std::chrono::seconds(1);
  bool busy_times = false;  // loaders take their flash work's time (see above)
  LoaderOptions loader;     // stub flavour override, injected faults
  SimLimits limits;
};

struct SimCounters {
  std::uint64_t frames_received = 0;    // SLIP frames handed to the loader
  std::uint64_t frames_dropped = 0;     // bad SLIP frames
  std::uint64_t noise_bytes = 0;        // host bytes outside frames
  std::uint64_t ignored_bytes = 0;      // host bytes while nothing listens (reset, boot, app)
  std::uint64_t garbled_bytes = 0;      // bytes mangled by a baud mismatch, both directions
  std::uint64_t dropped_output = 0;     // output discarded because it was not consumed
  std::uint64_t overrun_bytes = 0;      // host bytes lost to a full ROM receive FIFO
  std::uint64_t frames_lost = 0;        // stub frames dropped or overwritten while it worked
  std::uint64_t frames_unanswered = 0;  // frames after SimFaults::stop_after
};

class SimChip {
 public:
  // `config` should pass validate(); invalid values fall back to the defaults.
  explicit SimChip(const ChipInfo& chip, SimConfig config = {});
  static std::error_code validate(const ChipInfo& chip, const SimConfig& config);

  // Host control lines, pyserial's sense (true = asserted = pin low). EN is low while DTR
  // is released and RTS asserted; GPIO0 is low while DTR is asserted and RTS released.
  // Reset while EN is low; boot when it rises, into download mode if GPIO0 is low when the
  // straps are sampled (config.strap_delay later). A software reset (FLASH_END with reboot)
  // keeps the latched straps: download mode comes back to the ROM loader.
  void set_lines(bool dtr, bool rts, TimePoint now);
  // Bytes arriving on the chip's RX pin.
  void receive(ByteView from_host, TimePoint now);
  void on_timer(TimePoint now);
  std::optional<TimePoint> deadline() const;
  // Restarts the chip as at power-on (see PowerOn), whatever GPIO0 says: for links that
  // carry no DTR/RTS, or a "reset" button. While EN is held low the chip just stays in reset.
  // Output not yet consumed stays.
  void restart(PowerOn mode, TimePoint now);

  // Bytes the chip sent on its TX pin. Valid until the next call into the chip.
  ByteView pending_output() const { return uart_.pending_output(); }
  void consume_output(std::size_t n);  // n <= pending_output().size()

  std::uint32_t uart_baud() const { return uart_.baud(); }
  void set_host_baud(std::uint32_t baud) { uart_.set_host_baud(baud); }
  std::uint32_t host_baud() const { return uart_.host_baud(); }

  SimState state() const { return state_; }
  bool is_en_high() const { return en_high_; }
  // The loader works on a frame (busy times) and takes no input from its UART.
  bool is_busy() const { return timers_.is_set(SimTimer::loader_free); }
  const SimLoader& loader() const { return loader_; }
  bool is_gpio0_low() const { return gpio0_low_; }
  const ChipInfo& chip() const { return chip_; }
  const MacAddress& mac() const { return mac_; }
  ChipRevision revision() const { return revision_; }
  SimCounters counters() const;

  // Flash contents, for a backing file kept by the I/O layer: what changed since the last
  // clear_flash_changes() is one range (or nothing).
  ByteView flash() const { return hardware_.flash.contents(); }
  std::optional<SimFlash::Range> flash_changes() const { return hardware_.flash.changes(); }
  void clear_flash_changes() { hardware_.flash.clear_changes(); }

 private:
  enum class AppStage : std::uint8_t { bootloader, starting, running };

  void advance(TimePoint now);
  void fire(SimTimer timer, TimePoint at, TimePoint now);
  void enter_reset();
  void power_on(PowerOn mode);
  void begin_boot(std::optional<TimePoint> latch_at, ResetReason reason);
  void latch_straps(TimePoint at);
  void start_app(TimePoint at);
  void app_tick(TimePoint at, TimePoint now);
  void take_input(ByteView input, TimePoint now);
  void take_input_while_busy(ByteView input);
  void handle_frame(ByteView frame, TimePoint now);
  void finish_work(TimePoint at);
  void apply(const LoaderEffect& effect, TimePoint now);
  void clear_work();
  void pump_stream();
  void set_uart_baud(std::uint32_t baud);
  bool is_listening() const { return state_ == SimState::download || state_ == SimState::stub; }
  void emit(ByteView bytes);
  SimBootFacts boot_facts() const { return {chip_, revision_, hardware_.flash.size(), mac_}; }
  std::uint64_t ms_since_boot(TimePoint at) const;

  ChipInfo chip_;
  SimConfig config_;
  MacAddress mac_;
  ChipRevision revision_;
  SimHardware hardware_;
  SimLoader loader_;
  slip::Decoder decoder_;
  SimUart uart_;
  SimTimers timers_;

  SimState state_ = SimState::download;
  bool en_high_ = true;
  bool gpio0_low_ = false;
  ResetReason reset_reason_ = ResetReason::power_on;
  std::optional<bool> forced_download_;  // boot mode not taken from GPIO0 (power-on, reboot)
  bool latched_download_ = true;         // the boot mode the straps last latched
  bool baud_locked_ = false;             // the ROM has auto-bauded (or heard a frame)
  TimePoint boot_time_{};
  AppStage app_stage_ = AppStage::bootloader;

  // The loader at work (busy times): its reply waits for SimTimer::loader_reply, input for
  // SimTimer::loader_free. Meanwhile the ROM's FIFO fills; a stub receives into its second
  // buffer.
  ByteBuffer deferred_reply_;
  LoaderEffect deferred_effect_;
  ByteBuffer rx_fifo_;
  std::optional<ByteBuffer> pending_frame_;  // stub: received, waiting for the loader
  bool rx_armed_ = true;                     // esp-flasher-stub: a receive buffer is free
  // Legacy stub: its two buffers alternate at every frame end, whatever the loader does.
  unsigned reading_slot_ = 0;
  unsigned pending_slot_ = 0;
  unsigned working_slot_ = 0;
  ByteBuffer overwritten_;           // what landed in the buffer being written from
  std::uint64_t loader_frames_ = 0;  // since the last reset (SimFaults::stop_after)

  ByteBuffer scratch_;
  SimCounters counters_;  // garbled_bytes and dropped_output are the UART's
};

}  // namespace ttynet::esp
