#include "ttynet/esptool/progress.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ttynet::esptool {
namespace {

constexpr int bar_width = 30;

}  // namespace

double seconds(Duration elapsed) { return std::chrono::duration<double>(elapsed).count(); }

double kbit_per_second(std::uint64_t bytes, Duration elapsed) {
  const double s = std::max(seconds(elapsed), 1e-6);
  return static_cast<double>(bytes) * 8 / s / 1000;
}

Progress::Progress(Console& console, std::string_view verb, std::uint64_t total)
    : console_(console), verb_(verb), total_(total), start_(Clock::now()) {}

void Progress::update(std::uint32_t address, std::uint64_t done) {
  const int percent =
      total_ == 0 ? 100 : static_cast<int>(std::min<std::uint64_t>(done, total_) * 100 / total_);
  if (percent == shown_percent_) return;
  shown_percent_ = percent;
  if (!console_.is_tty()) {
    console_.line(fmt::format("{} at 0x{:08x}... ({} %)", verb_, address, percent));
    return;
  }
  const int filled = percent * bar_width / 100;
  console_.print(fmt::format("\r{} at 0x{:08x} [{}{}] {:3} % {:8.1f} kbit/s", verb_, address,
                             std::string(static_cast<std::size_t>(filled), '#'),
                             std::string(static_cast<std::size_t>(bar_width - filled), '.'),
                             percent, kbit_per_second(done, elapsed())));
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) console_.line();
  drawn_ = false;
}

}  // namespace ttynet::esptool
