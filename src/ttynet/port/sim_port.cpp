#include "ttynet/port/sim_port.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <limits>

#include "ttynet/esp/chips.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/log.hpp"
#include "ttynet/port/notifier.hpp"
#include "ttynet/port/settings_check.hpp"

namespace ttynet::port {
namespace {

// Pacing wakes up at most this often: a batch of bytes per wake-up instead of one each.
constexpr Duration min_pace_step = std::chrono::milliseconds(1);
constexpr int bits_per_byte = 10;  // start + 8 data + stop

std::optional<std::uint32_t> parse_flash_size(std::string_view text) {
  for (std::uint32_t mib : {1u, 2u, 4u, 8u, 16u}) {
    if (text == fmt::format("{}MB", mib)) return mib << 20;
  }
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "aa:bb:cc:dd:ee:ff"
std::optional<esp::MacAddress> parse_mac(std::string_view text) {
  esp::MacAddress mac{};
  if (text.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const int high = hex_value(text[i * 3]);
    const int low = hex_value(text[i * 3 + 1]);
    if (high < 0 || low < 0 || (i + 1 < mac.size() && text[i * 3 + 2] != ':')) {
      return std::nullopt;
    }
    mac[i] = static_cast<Byte>(high * 16 + low);
  }
  return mac;
}

std::string valid_chips() {
  // The chips sim:// documents; find_chip() is the authority on what opens.
  return "esp32, esp32c3, esp32s3";
}

Error open_error(errc code, std::string message) { return {code, std::move(message)}; }

// Reads the whole file if it has exactly `size` bytes; nothing otherwise.
std::optional<ByteBuffer> read_exact_file(int fd, std::uint32_t size) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || status.st_size != static_cast<off_t>(size)) return std::nullopt;
  ByteBuffer contents(size);
  std::size_t got = 0;
  while (got < contents.size()) {
    const auto n =
        ::pread(fd, contents.data() + got, contents.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return contents;
}

bool write_all_at(int fd, ByteView bytes, std::size_t offset) {
  while (!bytes.empty()) {
    const auto n = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

struct SimPort::Signals {
  explicit Signals(const asio::any_io_executor& executor)
      : data_ready(executor), space_ready(executor) {}

  Notifier data_ready;
  Notifier space_ready;
  bool closed = false;
};

Result<esp::SimConfig, Error> sim_config(const PortUrl& url) {
  esp::SimConfig config;
  // Option values were checked against sim_url_options by the URL parser.
  config.flash_size = parse_flash_size(url.option("flash_size")).value_or(4u << 20);
  if (url.has_option("mac")) {
    config.mac = parse_mac(url.option("mac"));
    if (!config.mac) {
      return open_error(errc::bad_option_value,
                        fmt::format("bad value '{}' for option 'mac' of sim://: expected "
                                    "aa:bb:cc:dd:ee:ff",
                                    url.option("mac")));
    }
  }
  config.power_on =
      url.option("boot") == "app" ? esp::PowerOn::boot_flash : esp::PowerOn::in_download_mode;
  if (url.has_option("en_delay")) {
    config.strap_delay = std::chrono::duration_cast<Duration>(url.seconds("en_delay"));
  }
  config.busy_times = url.flag("pace");
  config.loader.stub = esp::parse_stub_flavor(url.option("stub"));  // auto: unset
  esp::SimFaults& faults = config.loader.faults;
  faults.fail_block_always = url.flag("fail_always");
  for (const std::string_view name : {"fail_block", "corrupt_read", "stop_after"}) {
    if (!url.has_option(name)) continue;
    const std::int64_t number = url.integer(name);
    if (number < 0 || number > std::numeric_limits<std::uint32_t>::max()) {
      return open_error(
          errc::bad_option_value,
          fmt::format("bad value '{}' for option '{}' of sim://: expected 0 to {}",
                      url.option(name), name, std::numeric_limits<std::uint32_t>::max()));
    }
    const auto value = static_cast<std::uint32_t>(number);
    if (name == "fail_block") faults.fail_block = value;
    if (name == "corrupt_read") faults.corrupt_read = value;
    if (name == "stop_after") faults.stop_after = value;
  }

  return config;
}

Result<std::unique_ptr<SimPort>, Error> SimPort::open(const asio::any_io_executor& executor,
                                                      const PortUrl& url, SimPortLimits limits) {
  auto chip = esp::find_chip(url.path);
  if (!chip) {
    return open_error(errc::bad_url, fmt::format("sim://: unknown chip '{}' in '{}'; valid: {}",
                                                 url.path, url.text, valid_chips()));
  }
  auto parsed = sim_config(url);
  if (!parsed) return parsed.error();
  esp::SimConfig config = std::move(*parsed);

  int fd = -1;
  bool is_loaded = false;
  if (url.has_option("flash_file")) {
    const std::string path(url.option("flash_file"));
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return open_error(errc::bad_option_value, fmt::format("sim://: cannot open flash_file {}: {}",
                                                            path, std::strerror(errno)));
    }
    if (auto contents = read_exact_file(fd, config.flash_size)) {
      config.initial_flash = std::move(*contents);
      is_loaded = true;
    } else {
      struct stat status {};
      if (::fstat(fd, &status) == 0 && status.st_size != 0) {
        logger("port.sim")
            ->warn("{}: {} bytes, not {}: starting with an erased flash", path, status.st_size,
                   config.flash_size);
      }
    }
  }
  if (auto ec = esp::SimChip::validate(**chip, config)) {
    if (fd >= 0) ::close(fd);
    return open_error(errc::bad_option_value, fmt::format("sim://: {}", ec.message()));
  }

  esp::SimChip sim(**chip, std::move(config));
  if (fd >= 0 && !is_loaded) {
    // The file gets the erased image now, so that it has the right size from the start.
    if (::ftruncate(fd, 0) != 0 || !write_all_at(fd, sim.flash(), 0)) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return open_error(
          errc::bad_option_value,
          fmt::format("sim://: cannot write flash_file {}: {}", url.option("flash_file"), why));
    }
  }
  sim.clear_flash_changes();
  std::unique_ptr<SimTraceWriter> trace;
  if (url.has_option("trace")) {
    auto created = SimTraceWriter::create(std::string(url.option("trace")), url.text, Clock::now());
    if (!created) {
      if (fd >= 0) ::close(fd);
      return open_error(errc::bad_option_value, fmt::format("sim://: {}", created.error().message));
    }
    trace = std::move(*created);
  }
  std::unique_ptr<SimPort> port(new SimPort(executor, url.text, std::move(sim), url.flag("pace"),
                                            fd, std::move(trace), limits));
  return port;
}

SimPort::SimPort(const asio::any_io_executor& executor, std::string url, esp::SimChip chip,
                 bool pace, int flash_fd, std::unique_ptr<SimTraceWriter> trace,
                 SimPortLimits limits)
    : chip_(std::move(chip)),
      limits_(limits),
      signals_(std::make_shared<Signals>(executor)),
      timer_(executor),
      pace_(pace),
      flash_fd_(flash_fd),
      trace_(std::move(trace)) {
  info_.url = url;
  info_.path = std::move(url);
  limits_.paced_input = std::max<std::size_t>(limits_.paced_input, 1);
  sync_idle_wire(Clock::now());
  step();  // powers up a chip that boots at open (boot=app)
}

SimPort::~SimPort() { close(); }

Duration SimPort::byte_time() const {
  const auto baud = std::max<std::uint32_t>(chip_.uart_baud(), 1);
  return std::chrono::duration_cast<Duration>(
      std::chrono::nanoseconds((std::int64_t{bits_per_byte} * 1'000'000'000 + baud - 1) / baud));
}

std::size_t SimPort::released() const { return std::min(released_, chip_.pending_output().size()); }

void SimPort::sync_idle_wire(TimePoint now) {
  if (!pace_) return;
  if (paced_input_.empty()) rx_wire_ = std::max(rx_wire_, now);
  if (released_ >= chip_.pending_output().size()) tx_wire_ = std::max(tx_wire_, now);
}

void SimPort::feed_paced_input(TimePoint now) {
  if (!pace_ || paced_input_.empty() || now < rx_wire_) return;
  const Duration each = byte_time();
  const auto due = static_cast<std::size_t>((now - rx_wire_) / each);
  const std::size_t n = std::min(due, paced_input_.size());
  if (n == 0) return;
  rx_wire_ += each * static_cast<Duration::rep>(n);
  chip_.receive(ByteView(paced_input_).first(n), now);
  if (trace_) trace_->rx(now, ByteView(paced_input_).first(n));
  paced_input_.erase(paced_input_.begin(), paced_input_.begin() + static_cast<std::ptrdiff_t>(n));
}

void SimPort::release_output(TimePoint now) {
  const std::size_t pending = chip_.pending_output().size();
  released_ = std::min(released_, pending);
  if (!pace_) {
    released_ = pending;
    return;
  }
  if (released_ == pending || now < tx_wire_) return;
  const Duration each = byte_time();
  const auto due = static_cast<std::size_t>((now - tx_wire_) / each);
  const std::size_t n = std::min(due, pending - released_);
  released_ += n;
  tx_wire_ += each * static_cast<Duration::rep>(n);
}

void SimPort::step() {
  if (signals_->closed) return;
  const TimePoint now = Clock::now();
  feed_paced_input(now);
  chip_.on_timer(now);
  release_output(now);

  if (flash_fd_ >= 0 && !flash_write_at_ && chip_.flash_changes()) {
    flash_write_at_ = now + limits_.flash_write_delay;
  }
  if (flash_write_at_ && *flash_write_at_ <= now) write_back_flash();

  if (released() > 0) signals_->data_ready.notify();
  if (pace_ && paced_input_.size() < limits_.paced_input) {
    signals_->space_ready.notify();
  }
  arm_timer(now);
}

void SimPort::arm_timer(TimePoint now) {
  std::optional<TimePoint> next = chip_.deadline();
  const auto earliest = [&](TimePoint at) { next = next ? std::min(*next, at) : at; };
  if (pace_ && !paced_input_.empty())
    earliest(std::max(rx_wire_ + byte_time(), now + min_pace_step));
  if (pace_ && released_ < chip_.pending_output().size()) {
    earliest(std::max(tx_wire_ + byte_time(), now + min_pace_step));
  }
  if (flash_write_at_) earliest(*flash_write_at_);

  if (next == armed_at_) return;
  armed_at_ = next;
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*next);
  // The handler looks at the shared signals first: the port may be gone by the time it runs.
  timer_.async_wait([signals = signals_, this](std::error_code ec) {
    if (ec || signals->closed) return;
    armed_at_.reset();
    sync_idle_wire(Clock::now());
    step();
  });
}

void SimPort::write_back_flash() {
  flash_write_at_.reset();
  if (flash_fd_ < 0) return;
  const auto changes = chip_.flash_changes();
  if (!changes) return;
  const ByteView range = chip_.flash().subspan(changes->begin, changes->end - changes->begin);
  if (!write_all_at(flash_fd_, range, changes->begin)) {
    logger("port.sim")->warn("{}: writing flash_file failed: {}", info_.url, std::strerror(errno));
  }
  chip_.clear_flash_changes();
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> SimPort::read_some(MutableByteView into) {
  const std::shared_ptr<Signals> signals = signals_;  // `this` may be gone when a wait ends
  while (!signals->closed && released() == 0 && !into.empty()) {
    if (auto ec = co_await signals->data_ready.wait_while_open(signals->closed)) {
      co_return std::make_tuple(ec, std::size_t{0});
    }
  }
  if (signals->closed) co_return std::make_tuple(make_error_code(errc::closed), std::size_t{0});

  const std::size_t n = std::min(into.size(), released());
  const ByteView output = chip_.pending_output();
  std::copy_n(output.begin(), n, into.begin());
  if (trace_) trace_->tx(Clock::now(), output.first(n));
  chip_.consume_output(n);
  released_ -= n;
  sync_idle_wire(Clock::now());
  step();  // a stream the chip held back (READ_FLASH) may go on
  co_return std::make_tuple(std::error_code{}, n);
}

asio::awaitable<std::error_code> SimPort::write(ByteView data) {
  const std::shared_ptr<Signals> signals = signals_;  // `this` may be gone when a wait ends
  if (!pace_) {
    if (signals->closed) co_return errc::closed;
    const TimePoint now = Clock::now();
    chip_.receive(data, now);
    if (trace_) trace_->rx(now, data);
    step();
    co_return std::error_code{};
  }
  while (!data.empty()) {
    if (signals->closed) co_return errc::closed;
    const std::size_t room =
        limits_.paced_input - std::min(limits_.paced_input, paced_input_.size());
    if (room == 0) {
      if (auto ec = co_await signals->space_ready.wait_while_open(signals->closed)) co_return ec;
      continue;
    }
    sync_idle_wire(Clock::now());
    const std::size_t n = std::min(room, data.size());
    paced_input_.insert(paced_input_.end(), data.begin(),
                        data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
    step();
  }
  co_return signals->closed ? make_error_code(errc::closed) : std::error_code{};
}

asio::awaitable<std::error_code> SimPort::apply_settings(const LineSettings& settings) {
  if (signals_->closed) co_return errc::closed;
  if (auto ec = detail::check_line_settings(settings)) co_return ec;
  settings_ = settings;
  sync_idle_wire(Clock::now());
  chip_.set_host_baud(settings.baud);
  if (trace_) trace_->baud(Clock::now(), settings.baud);
  step();
  co_return std::error_code{};
}

LineSettings SimPort::settings() const { return settings_; }

asio::awaitable<std::error_code> SimPort::set_control_lines(std::optional<bool> dtr,
                                                            std::optional<bool> rts) {
  if (signals_->closed) co_return errc::closed;
  if (dtr) control_lines_.dtr = *dtr;
  if (rts) control_lines_.rts = *rts;
  const TimePoint now = Clock::now();
  sync_idle_wire(now);
  chip_.set_lines(control_lines_.dtr, control_lines_.rts, now);
  if (trace_) trace_->lines(now, control_lines_.dtr, control_lines_.rts);
  step();
  co_return std::error_code{};
}

ControlLines SimPort::control_lines() const { return control_lines_; }

asio::awaitable<std::error_code> SimPort::set_break(bool on) {
  if (signals_->closed) co_return errc::closed;
  break_on_ = on;  // the simulated UART does not see BREAK
  co_return std::error_code{};
}

bool SimPort::break_state() const { return break_on_; }

asio::awaitable<std::error_code> SimPort::purge(Purge which) {
  if (signals_->closed) co_return errc::closed;
  if (which == Purge::receive || which == Purge::both) {
    chip_.consume_output(chip_.pending_output().size());
    if (trace_) trace_->purge(Clock::now());
    released_ = 0;
  }
  if (which == Purge::transmit || which == Purge::both) paced_input_.clear();
  sync_idle_wire(Clock::now());
  step();
  co_return std::error_code{};
}

asio::awaitable<Result<std::uint8_t>> SimPort::modem_state() {
  if (signals_->closed) co_return std::error_code(errc::closed);
  co_return static_cast<std::uint8_t>(modem::cts | modem::dsr | modem::cd);
}

bool SimPort::has_modem_lines() const { return true; }

const PortInfo& SimPort::info() const { return info_; }

void SimPort::restart_chip() {
  if (signals_->closed) return;
  const TimePoint now = Clock::now();
  sync_idle_wire(now);
  chip_.restart(esp::PowerOn::in_download_mode, now);
  if (trace_) trace_->restart(now);
  chip_.consume_output(chip_.pending_output().size());
  released_ = 0;
  paced_input_.clear();
  step();
}

void SimPort::close() {
  if (signals_->closed) return;
  write_back_flash();
  if (flash_fd_ >= 0) ::close(flash_fd_);
  flash_fd_ = -1;
  signals_->closed = true;
  timer_.cancel();
  armed_at_.reset();
  signals_->data_ready.notify();
  signals_->space_ready.notify();
}

asio::awaitable<OpenResult> open_sim_url(asio::any_io_executor executor, const PortUrl& url) {
  auto opened = SimPort::open(executor, url);
  if (!opened) co_return opened.error();
  std::unique_ptr<Port> port = std::move(*opened);
  co_return std::move(port);
}

}  // namespace ttynet::port
