#include "ttynet/esp/sim_chip.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <iterator>
#include <utility>
#include <variant>

#include <fmt/format.h>

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

// What a UART receiving at the wrong rate delivers: framing-error patterns. None is a SLIP
// END or ESC, so garbage never forms a frame and a host at the wrong baud cannot sync.
constexpr std::array<Byte, 12> junk = {0x00, 0x80, 0xF0, 0xF8, 0xFC, 0xFE,
                                       0xE0, 0x1E, 0x78, 0x86, 0x66, 0x9E};

// Bytes sent at `sender` baud as a receiver at `receiver` baud sees them: about
// n * receiver / sender bytes (at most 4 per byte sent), each junk.
void garble(ByteView in, std::uint32_t sender, std::uint32_t receiver, std::uint64_t& carry,
            std::uint64_t& count, ByteBuffer& out) {
  const std::uint64_t per_byte = std::min<std::uint64_t>(receiver, std::uint64_t{sender} * 4);
  for (const Byte b : in) {
    carry += per_byte;
    while (carry >= sender) {
      carry -= sender;
      out.push_back(junk[(b + count++) % junk.size()]);
    }
  }
}

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
      host_baud_(config_.host_baud) {
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
  if (state_ == SimState::booting) {
    latch_at_ = now + config_.strap_delay;
  }
}

// ---------------------------------------------------------------------------------------
// Time

std::optional<TimePoint> SimChip::deadline() const {
  switch (state_) {
    case SimState::reset:
      return std::nullopt;
    case SimState::booting:
      return latch_at_.value_or(TimePoint{});  // power-on time unknown: as soon as possible
    case SimState::download:
    case SimState::stub: {
      std::optional<TimePoint> due = reboot_at_;
      for (const auto& at : {reply_at_, busy_until_}) {
        if (at && (!due || *at < *due)) {
          due = at;
        }
      }
      return due;
    }
    case SimState::app:
      return next_app_at_;
  }
  return std::nullopt;
}

void SimChip::on_timer(TimePoint now) { advance(now); }

void SimChip::advance(TimePoint now) {
  // Every step moves the deadline forward or clears it; the bound is a safety net.
  for (int step = 0; step < 16; ++step) {
    const auto due = deadline();
    if (!due || *due > now) {
      return;
    }
    fire(now);
  }
}

void SimChip::fire(TimePoint now) {
  switch (state_) {
    case SimState::booting:
      if (!latch_at_) {
        latch_at_ = now + config_.strap_delay;  // power comes up now
      } else {
        latch_straps(*latch_at_);
      }
      break;
    case SimState::download:
    case SimState::stub:
      if (reply_at_ && *reply_at_ <= now) {
        const TimePoint at = *std::exchange(reply_at_, std::nullopt);
        emit(deferred_reply_);
        apply(deferred_effect_, at);
        pump_stream();
      } else if (busy_until_ && *busy_until_ <= now) {
        finish_work();
      } else if (reboot_at_ && *reboot_at_ <= now) {
        // A software reset keeps the straps latched at the last power-on or EN reset, so a
        // chip that was in download mode comes back to the ROM loader.
        const TimePoint at = *reboot_at_;
        enter_reset();
        forced_download_ = latched_download_;
        begin_boot(at, ResetReason::software);
      }
      break;
    case SimState::app:
      app_tick(now);
      break;
    case SimState::reset:
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
  reboot_at_.reset();
  latch_at_.reset();
  next_app_at_.reset();
  forced_download_.reset();
  hardware_.registers.reset();
  hardware_.flash.reset_status();
  loader_.start_rom(hardware_);  // drops any transfer in progress
}

void SimChip::begin_boot(std::optional<TimePoint> latch_at, ResetReason reason) {
  state_ = SimState::booting;
  latch_at_ = latch_at;
  reset_reason_ = reason;
  decoder_.reset();
}

void SimChip::latch_straps(TimePoint at) {
  const bool download = forced_download_.value_or(gpio0_low_);
  forced_download_.reset();
  latched_download_ = download;
  latch_at_.reset();
  boot_time_ = at;
  set_uart_baud(rom_baud);
  baud_locked_ = false;
  hardware_.registers.set_boot_strap(download ? chip_.strap_download : chip_.strap_spi_boot);
  hardware_.registers.set_flash_attached(false);
  emit_text(rom_boot_text(download));
  if (download) {
    state_ = SimState::download;
    loader_.start_rom(hardware_);
  } else {
    start_app(at);
  }
}

std::string SimChip::rom_boot_text(bool download) const {
  const RomText& rom = chip_.rom;
  const bool early = revision_.major < rom.early_before_major && !rom.early_banner.empty();
  std::string text{early ? rom.early_banner : rom.banner};
  text += reset_reason_ == ResetReason::software ? rom.software_reset : rom.power_on_reset;
  fmt::format_to(std::back_inserter(text), ",boot:{:#x} ({})\r\n",
                 download ? chip_.strap_download : chip_.strap_spi_boot,
                 download ? rom.download_mode : rom.flash_mode);
  text += download ? rom.waiting : rom.flash_boot;
  return text;
}

// ---------------------------------------------------------------------------------------
// The application

void SimChip::start_app(TimePoint at) {
  state_ = SimState::app;
  boot_time_ = at;
  app_stage_ = AppStage::bootloader;
  next_app_at_ = at + bootloader_log_delay;
  decoder_.reset();
  hardware_.registers.set_boot_strap(chip_.strap_spi_boot);
}

std::uint64_t SimChip::ms_since_boot(TimePoint at) const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(at - boot_time_).count());
}

void SimChip::app_tick(TimePoint now) {
  switch (app_stage_) {
    case AppStage::bootloader:
      emit_text(bootloader_log());
      app_stage_ = AppStage::starting;
      next_app_at_ = boot_time_ + app_start_delay;
      break;
    case AppStage::starting:
      emit_text(app_start_log(*next_app_at_));
      app_stage_ = AppStage::running;
      next_app_at_ = boot_time_ + config_.app_line_period;
      break;
    case AppStage::running: {
      // One line per period; after a long gap only the latest is printed.
      const auto periods = (now - boot_time_) / config_.app_line_period;
      const TimePoint at = boot_time_ + periods * config_.app_line_period;
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at - boot_time_);
      emit_text(fmt::format("I ({}) main: tick {}, uptime {} s\r\n", ms_since_boot(at), periods,
                            seconds.count()));
      next_app_at_ = at + config_.app_line_period;
      break;
    }
  }
}

std::string SimChip::bootloader_log() const {
  const bool multicore = chip_.efuse_layout == EfuseLayout::esp32 || chip_.name == "esp32s3";
  std::string log;
  auto out = std::back_inserter(log);
  std::uint64_t t = ms_since_boot(boot_time_ + bootloader_log_delay) - 4;
  fmt::format_to(out, "I ({}) boot: ESP-IDF v5.1.4 2nd stage bootloader\r\n", t);
  fmt::format_to(out, "I ({}) boot: compile time Jun 12 2024 10:03:17\r\n", t);
  if (multicore) {
    fmt::format_to(out, "I ({}) boot: Multicore bootloader\r\n", t);
  }
  fmt::format_to(out, "I ({}) boot: chip revision: v{}.{}\r\n", t + 4, revision_.major,
                 revision_.minor);
  fmt::format_to(out, "I ({}) boot.{}: SPI Speed      : 40MHz\r\n", t + 8, chip_.name);
  fmt::format_to(out, "I ({}) boot.{}: SPI Mode       : DIO\r\n", t + 12, chip_.name);
  fmt::format_to(out, "I ({}) boot.{}: SPI Flash Size : {}MB\r\n", t + 17, chip_.name,
                 hardware_.flash.size() >> 20);
  fmt::format_to(out, "I ({}) boot: Enabling RNG early entropy source...\r\n", t + 21);
  fmt::format_to(out, "I ({}) boot: Partition Table:\r\n", t + 27);
  fmt::format_to(out, "I ({}) boot: ## Label            Usage          Type ST Offset   Length\r\n",
                 t + 30);
  fmt::format_to(
      out, "I ({}) boot:  0 nvs              WiFi data        01 02 00009000 00006000\r\n", t + 38);
  fmt::format_to(
      out, "I ({}) boot:  1 phy_init         RF data          01 01 0000f000 00001000\r\n", t + 45);
  fmt::format_to(
      out, "I ({}) boot:  2 factory          factory app      00 00 00010000 00100000\r\n", t + 53);
  fmt::format_to(out, "I ({}) boot: End of partition table\r\n", t + 60);
  fmt::format_to(out, "I ({}) boot: Loaded app from partition at offset 0x10000\r\n", t + 66);
  fmt::format_to(out, "I ({}) boot: Disabling RNG early entropy source...\r\n", t + 72);
  return log;
}

std::string SimChip::app_start_log(TimePoint at) const {
  const std::uint64_t t = ms_since_boot(at);
  std::string log;
  auto out = std::back_inserter(log);
  fmt::format_to(out, "I ({}) cpu_start: Pro cpu start user code\r\n", t - 10);
  fmt::format_to(out, "I ({}) app_init: Project name:     ttynet-sim\r\n", t - 6);
  fmt::format_to(out, "I ({}) app_init: ESP-IDF:          v5.1.4\r\n", t - 3);
  fmt::format_to(out,
                 "I ({}) main: simulated {} (revision v{}.{}), {}MB flash, "
                 "MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\r\n",
                 t, chip_.chip_name, revision_.major, revision_.minor, hardware_.flash.size() >> 20,
                 mac_[0], mac_[1], mac_[2], mac_[3], mac_[4], mac_[5]);
  return log;
}

// ---------------------------------------------------------------------------------------
// UART

void SimChip::set_host_baud(std::uint32_t baud) {
  if (baud != 0) {
    host_baud_ = baud;
  }
}

void SimChip::set_uart_baud(std::uint32_t baud) {
  uart_baud_ = baud;
  hardware_.registers.set_uart_baud(baud);
}

bool SimChip::is_baud_mismatched() const {
  const std::uint64_t difference =
      host_baud_ > uart_baud_ ? host_baud_ - uart_baud_ : uart_baud_ - host_baud_;
  return difference * 100 > std::uint64_t{uart_baud_} * 5;
}

void SimChip::emit(ByteView bytes) {
  if (bytes.empty()) {
    return;
  }
  if (is_baud_mismatched()) {
    counters_.garbled_bytes += bytes.size();
    garble(bytes, uart_baud_, host_baud_, tx_garble_carry_, garble_count_, out_);
  } else {
    append(out_, bytes);
  }
  const std::size_t pending = out_.size() - out_start_;
  if (pending > config_.limits.max_pending_output) {
    const std::size_t drop = pending - config_.limits.max_pending_output;
    out_start_ += drop;
    counters_.dropped_output += drop;
  }
}

void SimChip::consume_output(std::size_t n) {
  assert(n <= out_.size() - out_start_);
  out_start_ += n;
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  } else if (out_start_ >= 4096 && out_start_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_start_));
    out_start_ = 0;
  }
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
  ByteView input = from_host;
  if (is_baud_mismatched()) {
    counters_.garbled_bytes += from_host.size();
    if (state_ == SimState::download && config_.autobaud && !baud_locked_) {
      // The ROM measures the incoming bit time and follows the host; what it measured on is
      // lost (real chips often miss the first SYNC).
      set_uart_baud(host_baud_);
      baud_locked_ = true;
      return;
    }
    rx_garbled_.clear();
    garble(from_host, host_baud_, uart_baud_, rx_garble_carry_, garble_count_, rx_garbled_);
    input = rx_garbled_;
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
      const std::uint32_t baud_before = uart_baud_;
      handle_frame(frame->payload, now);
      if (!is_listening() || uart_baud_ != baud_before) {
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
    busy_until_ = now + busy;
  }
  if (config_.busy_times && effect.busy_before_reply > Duration::zero()) {
    deferred_reply_ = scratch_;
    deferred_effect_ = effect;
    reply_at_ = now + effect.busy_before_reply;
    return;
  }
  emit(scratch_);
  apply(effect, now);
  pump_stream();
}

// The loader is done with a frame: what arrived meanwhile is taken now.
void SimChip::finish_work() {
  const TimePoint at = *std::exchange(busy_until_, std::nullopt);
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
  reply_at_.reset();
  busy_until_.reset();
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
      reboot_at_ = now + reboot_delay;
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
  const std::size_t pending = out_.size() - out_start_;
  if (pending >= config_.limits.stream_high_water) {
    return;
  }
  scratch_.clear();
  loader_.pump(hardware_, scratch_, config_.limits.stream_high_water - pending);
  emit(scratch_);
}

}  // namespace ttynet::esp
