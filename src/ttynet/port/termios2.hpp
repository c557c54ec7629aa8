#pragma once
// A tty's termios through TCGETS2/TCSETS2, which carry the baud rate as a plain integer
// (BOTHER), so any rate the driver accepts can be set. The kernel's <asm/termbits.h> defines a
// `struct termios` that clashes with glibc's <termios.h>; only termios2.cpp includes it, and this
// header mirrors the kernel's struct termios2 in plain integers (termios2.cpp checks the layout).

#include <array>
#include <cstdint>
#include <system_error>

#include "ttynet/util/line_settings.hpp"

namespace ttynet::port::detail {

struct Termios2 {
  std::uint32_t iflag = 0;
  std::uint32_t oflag = 0;
  std::uint32_t cflag = 0;
  std::uint32_t lflag = 0;
  std::uint8_t line = 0;
  std::array<std::uint8_t, 19> cc{};
  std::uint32_t ispeed = 0;
  std::uint32_t ospeed = 0;
};

// TCGETS2. On a pseudo-terminal master this reads the slave's termios.
std::error_code read_termios2(int fd, Termios2& out);
// TCSETS2: takes effect now, without waiting for output to drain.
std::error_code write_termios2(int fd, const Termios2& termios);

// Raw mode as cfmakeraw() makes it, plus: no flow control, no parity checking or stripping,
// CLOCAL (ignore CD) and CREAD, VMIN=1/VTIME=0 (reads are non-blocking anyway; this is the
// sane value should O_NONBLOCK ever be cleared). Baud and stop bits stay as found.
void make_raw(Termios2& termios);

// Writes baud, data bits, parity, stop bits and flow control into `termios`, leaving the rest.
// Linux has no 1.5 stop bits: CSTOPB means 1.5 with 5 data bits and 2 otherwise, so
// StopBits::one_and_half and StopBits::two both set CSTOPB and decode tells which holds.
// Standard rates use their Bxxx code, any other rate BOTHER.
void encode_line_settings(const LineSettings& settings, Termios2& termios);
// What `termios` holds, in LineSettings terms (parity off unless PARENB, whatever PARODD and
// CMSPAR say; XON/XOFF when IXON or IXOFF; RTS/CTS wins if both are set).
LineSettings decode_line_settings(const Termios2& termios);

// The kernel's flag bits, for tests that inspect a Termios2.
namespace termios_bits {
std::uint32_t cs7();
std::uint32_t csize();
std::uint32_t cstopb();
std::uint32_t parenb();
std::uint32_t parodd();
std::uint32_t cmspar();
std::uint32_t crtscts();
std::uint32_t ixon();
std::uint32_t ixoff();
std::uint32_t bother();
std::uint32_t cbaud();
}  // namespace termios_bits

}  // namespace ttynet::port::detail
