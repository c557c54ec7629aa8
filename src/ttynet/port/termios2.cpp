// The only file that includes the kernel's termios definitions (see termios2.hpp).
#include "ttynet/port/termios2.hpp"

// The kernel's header defines its own `struct termios`, which clashes with glibc's when
// <termios.h> is already in the translation unit (Asio's serial port headers bring it in through
// the precompiled header). Renaming the kernel's struct while including it keeps both; this file
// uses only struct termios2 and the flag macros, which are the kernel's values either way.
#define termios ttynet_kernel_termios
#include <asm/termbits.h>
#undef termios
#include <sys/ioctl.h>

#include <bit>
#include <cerrno>
#include <cstddef>

namespace ttynet::port::detail {
namespace {

static_assert(sizeof(Termios2) == sizeof(termios2));
static_assert(offsetof(Termios2, iflag) == offsetof(termios2, c_iflag));
static_assert(offsetof(Termios2, oflag) == offsetof(termios2, c_oflag));
static_assert(offsetof(Termios2, cflag) == offsetof(termios2, c_cflag));
static_assert(offsetof(Termios2, lflag) == offsetof(termios2, c_lflag));
static_assert(offsetof(Termios2, line) == offsetof(termios2, c_line));
static_assert(offsetof(Termios2, cc) == offsetof(termios2, c_cc));
static_assert(std::tuple_size_v<decltype(Termios2::cc)> == NCCS);
static_assert(offsetof(Termios2, ispeed) == offsetof(termios2, c_ispeed));
static_assert(offsetof(Termios2, ospeed) == offsetof(termios2, c_ospeed));

struct StandardRate {
  std::uint32_t baud;
  std::uint32_t code;
};

// The rates with a Bxxx code; drivers that predate BOTHER still understand these.
constexpr StandardRate standard_rates[] = {
    {50, B50},           {75, B75},           {110, B110},         {134, B134},
    {150, B150},         {200, B200},         {300, B300},         {600, B600},
    {1200, B1200},       {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
    {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
    {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
    {3500000, B3500000}, {4000000, B4000000},
};

std::uint32_t code_for(std::uint32_t baud) {
  for (const auto& rate : standard_rates) {
    if (rate.baud == baud) return rate.code;
  }
  return BOTHER;
}

std::uint32_t baud_for(std::uint32_t code) {
  for (const auto& rate : standard_rates) {
    if (rate.code == code) return rate.baud;
  }
  return 0;
}

std::uint32_t size_bits(std::uint8_t data_bits) {
  switch (data_bits) {
    case 5:
      return CS5;
    case 6:
      return CS6;
    case 7:
      return CS7;
    default:
      return CS8;
  }
}

}  // namespace

std::error_code read_termios2(int fd, Termios2& out) {
  termios2 kernel{};
  if (::ioctl(fd, TCGETS2, &kernel) != 0) return {errno, std::system_category()};
  out = std::bit_cast<Termios2>(kernel);
  return {};
}

std::error_code write_termios2(int fd, const Termios2& termios) {
  auto kernel = std::bit_cast<termios2>(termios);
  if (::ioctl(fd, TCSETS2, &kernel) != 0) return {errno, std::system_category()};
  return {};
}

void make_raw(Termios2& termios) {
  termios.iflag &= ~std::uint32_t{IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                                  IUCLC | IXON | IXOFF | IXANY | INPCK | IMAXBEL};
  termios.oflag &= ~std::uint32_t{OPOST | OLCUC | ONLCR | OCRNL | ONLRET};
  termios.lflag &=
      ~std::uint32_t{ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ICANON | ISIG | IEXTEN};
  termios.cflag &= ~std::uint32_t{CSIZE | PARENB | PARODD | CMSPAR | CRTSCTS};
  termios.cflag |= CS8 | CLOCAL | CREAD;
  termios.cc[VMIN] = 1;
  termios.cc[VTIME] = 0;
}

void encode_line_settings(const LineSettings& settings, Termios2& termios) {
  const std::uint32_t code = code_for(settings.baud);
  termios.cflag &= ~std::uint32_t{CBAUD | (CBAUD << IBSHIFT)};
  termios.cflag |= code | (code << IBSHIFT);
  termios.ispeed = settings.baud;
  termios.ospeed = settings.baud;

  termios.cflag &= ~std::uint32_t{CSIZE};
  termios.cflag |= size_bits(settings.data_bits);

  termios.cflag &= ~std::uint32_t{PARENB | PARODD | CMSPAR};
  switch (settings.parity) {
    case Parity::none:
      break;
    case Parity::odd:
      termios.cflag |= PARENB | PARODD;
      break;
    case Parity::even:
      termios.cflag |= PARENB;
      break;
    case Parity::mark:
      termios.cflag |= PARENB | PARODD | CMSPAR;
      break;
    case Parity::space:
      termios.cflag |= PARENB | CMSPAR;
      break;
  }

  if (settings.stop_bits == StopBits::one) {
    termios.cflag &= ~std::uint32_t{CSTOPB};
  } else {
    termios.cflag |= CSTOPB;
  }

  termios.cflag &= ~std::uint32_t{CRTSCTS};
  termios.iflag &= ~std::uint32_t{IXON | IXOFF | IXANY};
  switch (settings.flow) {
    case FlowControl::none:
      break;
    case FlowControl::rts_cts:
      termios.cflag |= CRTSCTS;
      break;
    case FlowControl::xon_xoff:
      termios.iflag |= IXON | IXOFF;
      break;
  }
}

LineSettings decode_line_settings(const Termios2& termios) {
  LineSettings settings;
  settings.baud = termios.ospeed != 0 ? termios.ospeed : baud_for(termios.cflag & CBAUD);

  switch (termios.cflag & CSIZE) {
    case CS5:
      settings.data_bits = 5;
      break;
    case CS6:
      settings.data_bits = 6;
      break;
    case CS7:
      settings.data_bits = 7;
      break;
    default:
      settings.data_bits = 8;
      break;
  }

  const bool odd = (termios.cflag & PARODD) != 0;
  if ((termios.cflag & PARENB) == 0) {
    settings.parity = Parity::none;
  } else if ((termios.cflag & CMSPAR) != 0) {
    settings.parity = odd ? Parity::mark : Parity::space;
  } else {
    settings.parity = odd ? Parity::odd : Parity::even;
  }

  if ((termios.cflag & CSTOPB) == 0) {
    settings.stop_bits = StopBits::one;
  } else {
    settings.stop_bits = settings.data_bits == 5 ? StopBits::one_and_half : StopBits::two;
  }

  if ((termios.cflag & CRTSCTS) != 0) {
    settings.flow = FlowControl::rts_cts;
  } else if ((termios.iflag & (IXON | IXOFF)) != 0) {
    settings.flow = FlowControl::xon_xoff;
  } else {
    settings.flow = FlowControl::none;
  }
  return settings;
}

namespace termios_bits {
std::uint32_t cs7() { return CS7; }
std::uint32_t csize() { return CSIZE; }
std::uint32_t cstopb() { return CSTOPB; }
std::uint32_t parenb() { return PARENB; }
std::uint32_t parodd() { return PARODD; }
std::uint32_t cmspar() { return CMSPAR; }
std::uint32_t crtscts() { return CRTSCTS; }
std::uint32_t ixon() { return IXON; }
std::uint32_t ixoff() { return IXOFF; }
std::uint32_t bother() { return BOTHER; }
std::uint32_t cbaud() { return CBAUD; }
}  // namespace termios_bits

}  // namespace ttynet::port::detail
