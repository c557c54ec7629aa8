#include "ttynet/esp/sim_chip.hpp"

#include <algorithm>
#include <bit>
#include <utility>
#include <variant>

#include "ttynet/esp/error.hpp"
#include "ttynet/esp/reset_sequence.hpp"

namespace ttynet::esp {
namespace {

using std::chrono::milliseconds;

constexpr std::uint32_t rom_baud = 115200;
constexpr std::uint32_t min_uart_baud = 300;
constexpr std::uint32_t max_uart_baud = 5'000'000;
constexpr Duration reboot_delay = milliseconds(10);  // the loader flushes its reply first
constexpr Duration bootloader_log_delay = milliseconds(30);
constexpr Duration app_start_delay = milliseconds(250);

bool is_valid_flash_size(std::uint32_t size) {
  return std::has_single_bit(size) && size >= (1u << 20) && size <= (16u << 20);
}

bool is_valid_revision(const ChipInfo& chip, ChipRevision revision) {
  return revision.major <= 3 &&
         revision.minor <= (chip.efuse_layout == EfuseLayout::esp32 ? 3 : 15);
}

MacAddress default_mac(const ChipInfo& chip) {
  return {0x24, 0x6F, 0x28, 0x7A, 0xD8, static_cast<Byte>(0x84 + chip.image_chip_id)};
}

SimConfig checked(const ChipInfo& chip, SimConfig config) {
  const SimConfig defaults;
  if (!is_valid_flash_size(config.flash_size)) {
    config.flash_size = defaults.flash_size;
  }
  if (config.initial_flash.size() > config.flash_size) {
    config.initial_flash.resize(config.flash_size);
  }
  if (config.revision && !is_valid_revision(chip, *config.revision)) {
    config.revision.reset();
  }
  if (config.host_baud == 0) {
    config.host_baud = defaults.host_baud;
  }
  if (config.app_line_period <= Duration::zero()) {
    config.app_line_period = defaults.app_line_period;
  }
  return config;
}

}  // namespace

std::string_view to_string(SimState state) {
  switch (state) {
    case SimState::reset:
      return "reset";
    case SimState::booting:
      return "booting";
    case SimState::download:
      return "download";
    case SimState::stub:
      return "stub";
    case SimState::app:
      return "app";
  }
  return "unknown";
}

std::error_code SimChip::validate(const ChipInfo& chip, const SimConfig& config) {
  if (!is_valid_flash_size(config.flash_size)) {
    return errc::invalid_flash_size;
  }
  if (config.initial_flash.size() > config.flash_size) {
    return errc::initial_flash_too_large;
  }
  if (config.revision && !is_valid_revision(chip, *config.revision)) {
    return errc::invalid_revision;
  }
  return {};
}

SimChip::SimChip(const ChipInfo& chip, SimConfig config)
    : chip_(chip),
      config_(checked(chip, std::move(config))),
      mac_(config_.mac.value_or(default_mac(chip))),
      revision_(config_.revision.value_or(chip.default_revision)),
      hardware_{SimFlash(config_.flash_size, config_.initial_flash),
                SimRegisters(chip, mac_, revision_, config_.limits.max_written_registers)},
      loader_(chip, config_.loader),
      decoder_(config_.limits.slip),
      uart_(config_.host_baud, config_.limits.max_pending_output) {
  config_.initial_flash = {};  // copied into the flash; not needed twice
  power_on(config_.power_on);
}

void SimChip::power_on(PowerOn mode) {
  switch (mode) {
    case PowerOn::in_download_mode:
      state_ = SimState::download;
      latched_download_ = true;
      set_uart_baud(rom_baud);
      baud_locked_ = false;
      hardware_.registers.set_boot_strap(chip_.strap_download);
      loader_.start_rom(hardware_);
      break;
    case PowerOn::boot_download:
    case PowerOn::boot_flash:
      forced_download_ = mode == PowerOn::boot_download;
      begin_boot(std::nullopt, ResetReason::power_on);
      break;
  }
}

void SimChip::restart(PowerOn mode, TimePoint now) {
  advance(now);
  enter_reset();
  if (!en_high_) {
    return;  // EN is held low: the chip stays in reset until it rises
  }
  power_on(mode);
  advance(now);  // power comes up now
}

SimCounters SimChip::counters() const {
  SimCounters counters = counters_;
  counters.garbled_bytes = uart_.garbled_bytes();
  counters.dropped_output = uart_.dropped_output();
  return counters;
}

// ---------------------------------------------------------------------------------------
// Time

std::optional<TimePoint> SimChip::deadline() const {
  const auto due = timers_.earliest();
  return due ? std::optional<TimePoint>(due->at) : std::nullopt;
}

void SimChip::on_timer(TimePoint now) { advance(now); }

// Timers fire in time order, each at its own time, so work that waited on a late call
// happens as it would have. The loop ends: a timer that fires is cleared or set after `now`,
// or it lets the loader take a frame it already received.
void SimChip::advance(TimePoint now) {
  while (const auto due = timers_.earliest()) {
    if (due->at > now) {
      return;
    }
    timers_.clear(due->timer);
    fire(due->timer, due->at, now);
  }
}

void SimChip::fire(SimTimer timer, TimePoint at, TimePoint now) {
  switch (timer) {
    case SimTimer::power_up:
      timers_.set(SimTimer::latch_straps, now + config_.strap_delay);
      break;
    case SimTimer::latch_straps:
      latch_straps(at);
      break;
    case SimTimer::loader_reply:
      emit(deferred_reply_);
      apply(deferred_effect_, at);
      pump_stream();
      break;
    case SimTimer::loader_free:
      finish_work(at);
      break;
    case SimTimer::reboot:
      // A software reset keeps the straps latched at the last power-on or EN reset, so a
      // chip that was in download mode comes back to the ROM loader.
      enter_reset();
      forced_download_ = latched_download_;
      begin_boot(at, ResetReason::software);
      break;
    case SimTimer::app_output:
      app_tick(at, now);
      break;
  }
}

// ---------------------------------------------------------------------------------------
// Reset and boot

void SimChip::set_lines(bool dtr, bool rts, TimePoint now) {
  advance(now);
  const ChipPins pins = pins_for({.dtr = dtr, .rts = rts});
  const bool en_high = !pins.en_low;
  gpio0_low_ = pins.gpio0_low;
  if (en_high_ && !en_high) {
    enter_reset();
  } else if (!en_high_ && en_high) {
    begin_boot(now + config_.strap_delay, ResetReason::power_on);
  }
  en_high_ = en_high;
}

void SimChip::enter_reset() {
  state_ = SimState::reset;
  decoder_.reset();
  clear_work();
  loader_frames_ = 0;
  timers_.clear_all();
  forced_download_.reset();
  hardware_.registers.reset();
  hardware_.flash.reset_status();
  loader_.start_rom(hardware_);  // drops any transfer in progress
}

void SimChip::begin_boot(std::optional<TimePoint> latch_at, ResetReason reason) {
  state_ = SimState::booting;
  if (latch_at) {
    timers_.set(SimTimer::latch_straps, *latch_at);
  } else {
    timers_.set(SimTimer::power_up, TimePoint{});  // as soon as the chip is called
  }
  reset_reason_ = reason;
  decoder_.reset();
}

void SimChip::latch_straps(TimePoint at) {
  const bool download = forced_download_.value_or(gpio0_low_);
  forced_download_.reset();
  latched_download_ = download;
  boot_time_ = at;
  set_uart_baud(rom_baud);
  baud_locked_ = false;
  hardware_.registers.set_boot_strap(download ? chip_.strap_download : chip_.strap_spi_boot);
  hardware_.registers.set_flash_attached(false);
  emit(as_bytes(rom_boot_text(boot_facts(), reset_reason_, download)));
  if (download) {
    state_ = SimState::download;
    loader_.start_rom(hardware_);
  } else {
    start_app(at);
  }
}

// ---------------------------------------------------------------------------------------
// The application

void SimChip::start_app(TimePoint at) {
  clear_work();
  state_ = SimState::app;
  boot_time_ = at;
  app_stage_ = AppStage::bootloader;
  timers_.set(SimTimer::app_output, at + bootloader_log_delay);
  decoder_.reset();
  hardware_.registers.set_boot_strap(chip_.strap_spi_boot);
}

std::uint64_t SimChip::ms_since_boot(TimePoint at) const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(at - boot_time_).count());
}

void SimChip::app_tick(TimePoint at, TimePoint now) {
  switch (app_stage_) {
    case AppStage::bootloader:
      emit(as_bytes(bootloader_log(boot_facts(), ms_since_boot(at))));
      app_stage_ = AppStage::starting;
      timers_.set(SimTimer::app_output, boot_time_ + app_start_delay);
      break;
    case AppStage::starting:
      emit(as_bytes(app_start_log(boot_facts(), ms_since_boot(at))));
      app_stage_ = AppStage::running;
      timers_.set(SimTimer::app_output, boot_time_ + config_.app_line_period);
      break;
    case AppStage::running: {
      // One line per period; after a long gap only the latest is printed.
      const auto periods = (now - boot_time_) / config_.app_line_period;
      const TimePoint line_at = boot_time_ + periods * config_.app_line_period;
      const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(line_at - boot_time_);
      emit(as_bytes(app_tick_line(ms_since_boot(line_at), static_cast<std::uint64_t>(periods),
                                  static_cast<std::uint64_t>(uptime.count()))));
      timers_.set(SimTimer::app_output, line_at + config_.app_line_period);
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------
// UART

void SimChip::set_uart_baud(std::uint32_t baud) {
  uart_.set_baud(baud);
  hardware_.registers.set_uart_baud(baud);
}

void SimChip::emit(ByteView bytes) { uart_.transmit(bytes); }

void SimChip::consume_output(std::size_t n) {
  uart_.consume_output(n);
  pump_stream();
}

void SimChip::receive(ByteView from_host, TimePoint now) {
  advance(now);
  if (from_host.empty()) {
    return;
  }
  if (!is_listening()) {
    counters_.ignored_bytes += from_host.size();
    return;
  }
  const bool autobauding =
      state_ == SimState::download && config_.autobaud && !baud_locked_ && uart_.is_mismatched();
  const ByteView input = uart_.receive(from_host);
  if (autobauding) {
    // The ROM measures the incoming bit time and follows the host; what it measured on is
    // lost (real chips often miss the first SYNC).
    set_uart_baud(uart_.host_baud());
    baud_locked_ = true;
    return;
  }
  take_input(input, now);
}

// ---------------------------------------------------------------------------------------
// Loader

void SimChip::take_input(ByteView input, TimePoint now) {
  if (is_busy()) {
    take_input_while_busy(input);
    return;
  }
  decoder_.receive(input);
  while (auto event = decoder_.next_event()) {
    if (const auto* frame = std::get_if<slip::FrameReceived>(&*event)) {
      ++counters_.frames_received;
      working_slot_ = std::exchange(reading_slot_, reading_slot_ ^ 1u);
      const std::uint32_t baud_before = uart_.baud();
      handle_frame(frame->payload, now);
      if (!is_listening() || uart_.baud() != baud_before) {
        // Rebooted, or the UART now runs at another rate: the rest of this input was sent
        // for a receiver that is gone.
        decoder_.reset();
        break;
      }
      if (is_busy()) {
        take_input_while_busy(decoder_.take_unread());  // arrived while the loader works
        break;
      }
    } else if (const auto* noise = std::get_if<slip::NoiseReceived>(&*event)) {
      counters_.noise_bytes += noise->bytes.size();
    } else {
      ++counters_.frames_dropped;
    }
  }
}

void SimChip::take_input_while_busy(ByteView input) {
  if (input.empty()) {
    return;
  }
  if (state_ == SimState::download) {
    // The ROM polls its UART only between commands: the FIFO keeps 128 bytes.
    const std::size_t room =
        config_.limits.rom_rx_fifo - std::min(config_.limits.rom_rx_fifo, rx_fifo_.size());
    const std::size_t kept = std::min(room, input.size());
    append(rx_fifo_, input.first(kept));
    counters_.overrun_bytes += input.size() - kept;
    return;
  }
  // A stub receives in its UART interrupt into one of two frame buffers.
  const bool flasher = loader_.stub_flavor() == StubFlavor::esp_flasher_stub;
  if (flasher && !rx_armed_) {
    counters_.ignored_bytes += input.size();  // no free buffer: the bytes go nowhere
    return;
  }
  decoder_.receive(input);
  while (auto event = decoder_.next_event()) {
    const auto* frame = std::get_if<slip::FrameReceived>(&*event);
    if (frame == nullptr) {
      continue;
    }
    ++counters_.frames_received;
    const unsigned slot = std::exchange(reading_slot_, reading_slot_ ^ 1u);
    if (!flasher && slot == working_slot_) {
      overwritten_.assign(frame->payload.begin(), frame->payload.end());
    }
    if (pending_frame_) {
      ++counters_.frames_lost;  // the legacy stub only remembers the latest frame
    }
    pending_frame_.emplace(frame->payload.begin(), frame->payload.end());
    pending_slot_ = slot;
    if (flasher) {
      // Both buffers hold a frame: reception stops until the loader frees one.
      rx_armed_ = false;
      counters_.ignored_bytes += decoder_.take_unread().size();
      decoder_.reset();
      return;
    }
  }
  if (!flasher && reading_slot_ == working_slot_ && overwritten_.empty()) {
    const ByteView partial = decoder_.partial_frame();
    overwritten_.assign(partial.begin(), partial.end());
  }
}

void SimChip::handle_frame(ByteView frame, TimePoint now) {
  const auto& stop_after = config_.loader.faults.stop_after;
  if (stop_after && loader_frames_ >= *stop_after) {
    ++counters_.frames_unanswered;
    return;
  }
  ++loader_frames_;
  scratch_.clear();
  const LoaderEffect effect = loader_.handle_frame(frame, hardware_, scratch_);
  if (state_ == SimState::download) {
    baud_locked_ = true;
  }
  const Duration busy = effect.busy_before_reply + effect.busy_after_reply;
  if (config_.busy_times && busy > Duration::zero()) {
    timers_.set(SimTimer::loader_free, now + busy);
  }
  if (config_.busy_times && effect.busy_before_reply > Duration::zero()) {
    deferred_reply_ = scratch_;
    deferred_effect_ = effect;
    timers_.set(SimTimer::loader_reply, now + effect.busy_before_reply);
    return;
  }
  emit(scratch_);
  apply(effect, now);
  pump_stream();
}

// The loader is done with a frame: what arrived meanwhile is taken now.
void SimChip::finish_work(TimePoint at) {
  if (!overwritten_.empty()) {
    loader_.overwrite_block_being_written(overwritten_, hardware_);
    overwritten_.clear();
  }
  if (state_ == SimState::download) {
    ByteBuffer fifo = std::exchange(rx_fifo_, {});
    take_input(fifo, at);
    return;
  }
  if (!pending_frame_) {
    return;
  }
  const ByteBuffer frame = std::move(*pending_frame_);
  pending_frame_.reset();
  working_slot_ = pending_slot_;
  if (!rx_armed_) {
    rx_armed_ = true;  // the stub frees a buffer as it takes the next frame
  }
  handle_frame(frame, at);
}

void SimChip::clear_work() {
  timers_.clear(SimTimer::loader_reply);
  timers_.clear(SimTimer::loader_free);
  deferred_reply_.clear();
  rx_fifo_.clear();
  pending_frame_.reset();
  rx_armed_ = true;
  reading_slot_ = 0;
  working_slot_ = 0;
  overwritten_.clear();
}

void SimChip::apply(const LoaderEffect& effect, TimePoint now) {
  switch (effect.kind) {
    case LoaderEffect::Kind::none:
      break;
    case LoaderEffect::Kind::change_baud:
      // The stub takes any value; the UART divider makes some rate of it.
      set_uart_baud(std::clamp(effect.baud, min_uart_baud, max_uart_baud));
      baud_locked_ = true;
      break;
    case LoaderEffect::Kind::start_stub:
      state_ = SimState::stub;
      loader_.start_stub(hardware_);
      hardware_.registers.set_flash_attached(true);  // the stub attaches the flash itself
      scratch_.clear();
      slip::append_frame(scratch_, as_bytes(chip_.stub_greeting));
      emit(scratch_);
      break;
    case LoaderEffect::Kind::reboot:
      timers_.set(SimTimer::reboot, now + reboot_delay);
      break;
    case LoaderEffect::Kind::run_user_code:
      start_app(now);
      break;
  }
}

void SimChip::pump_stream() {
  if (!loader_.is_streaming()) {
    return;
  }
  const std::size_t pending = uart_.pending_output_size();
  if (pending >= config_.limits.stream_high_water) {
    return;
  }
  scratch_.clear();
  loader_.pump(hardware_, scratch_, config_.limits.stream_high_water - pending);
  emit(scratch_);
}

}  // namespace ttynet::esp
