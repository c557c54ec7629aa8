// The client side: a TCP connection to the server, plain or TLS, speaking raw bytes or Telnet
// with RFC 2217.

#include "connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <variant>

#include <fmt/core.h>

#include "error.hpp"
#include "limits.hpp"
#include "ttynet/rfc2217/wire.hpp"
#include "ttynet/util/line_settings.hpp"

namespace ttynet::bench {

using namespace std::chrono_literals;

namespace {

// What the client agrees to, as pyserial's rfc2217 client does: BINARY and SGA both ways,
// the server's ECHO, COM-PORT both ways.
constexpr std::array client_options{
    telnet::OptionSupport{telnet::option::binary, true, true},
    telnet::OptionSupport{telnet::option::sga, true, true},
    telnet::OptionSupport{telnet::option::echo, false, true},
    telnet::OptionSupport{telnet::option::com_port, true, true},
};

// The line settings sent once COM-PORT is agreed, in this order; the line is 8N1.
constexpr std::array line_setting_commands{
    rfc2217::Command::set_baudrate,
    rfc2217::Command::set_datasize,
    rfc2217::Command::set_parity,
    rfc2217::Command::set_stopsize,
};
constexpr unsigned all_settings_acknowledged = (1u << line_setting_commands.size()) - 1;
constexpr Byte line_data_bits = 8;

}  // namespace

Connection::Connection(std::uint16_t port, Protocol protocol, const TlsContext* tls,
                       const Deadline& deadline)
    : rx_(io_chunk) {
  for (std::uint64_t round = 0; round < max_loop_rounds; ++round) {
    if (try_connect(port, deadline)) {
      break;
    }
    if (deadline.passed()) {
      fail("connect to 127.0.0.1:{}: timed out", port);
    }
    std::this_thread::sleep_for(10ms);
  }
  if (tls != nullptr) {
    tls_.emplace(*tls, fd_.get());
    tls_->handshake(deadline, fmt::format("127.0.0.1:{}", port));
  }
  if (protocol == Protocol::rfc2217) {
    codec_.emplace(client_options);
    // The opening pyserial sends: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT.
    codec_->request(telnet::option::echo, telnet::Side::remote, true);
    codec_->request(telnet::option::sga, telnet::Side::local, true);
    codec_->request(telnet::option::sga, telnet::Side::remote, true);
    codec_->request(telnet::option::com_port, telnet::Side::remote, true);
    codec_->request(telnet::option::com_port, telnet::Side::local, true);
  }
}

void Connection::send_data(ByteView data) {
  if (codec_) {
    codec_->send_data(data);
  } else {
    append(raw_out_, data);
  }
}

void Connection::write_some() {
  for (int round = 0; round < 64; ++round) {
    const ByteView out = pending();
    if (out.empty()) {
      return;
    }
    const std::size_t n = transmit(out);
    if (n == 0) {
      return;
    }
    consume(n);
  }
}

bool Connection::read_some(const std::function<void(ByteView)>& on_data) {
  const std::optional<std::size_t> n = receive();
  if (!n) {
    return false;
  }
  if (*n == 0) {
    return true;
  }
  const ByteView input{rx_.data(), *n};
  if (!codec_) {
    on_data(input);
    return true;
  }
  codec_->receive(input);
  for (int i = 0; i < 1'000'000; ++i) {
    auto event = codec_->next_event();
    if (!event) {
      break;
    }
    if (const auto* data = std::get_if<telnet::DataReceived>(&*event)) {
      on_data(data->data);
    } else if (const auto* change = std::get_if<telnet::OptionChanged>(&*event)) {
      note_option(*change);
    } else if (const auto* sub = std::get_if<telnet::SubnegotiationReceived>(&*event)) {
      note_subnegotiation(*sub);
    }
  }
  return true;
}

bool Connection::are_settings_acknowledged() const {
  return acknowledged_ == all_settings_acknowledged;
}

void Connection::send_line_settings() {
  ByteBuffer baud;
  rfc2217::append_baud(baud, line_baud);
  const Byte data_bits = line_data_bits;
  const Byte parity = rfc2217::to_wire(Parity::none);
  const Byte stop_bits = rfc2217::to_wire(StopBits::one);
  const std::array<ByteView, line_setting_commands.size()> values{
      ByteView{baud}, ByteView{&data_bits, 1}, ByteView{&parity, 1}, ByteView{&stop_bits, 1}};
  ByteBuffer payload;
  for (std::size_t i = 0; i < line_setting_commands.size(); ++i) {
    payload.assign(1, static_cast<Byte>(line_setting_commands[i]));
    append(payload, values[i]);
    codec_->send_subnegotiation(telnet::option::com_port, payload);
  }
}

void Connection::close_gracefully() {
  // TLS: close_notify first; what arrives after it is only waited through, so it is read raw.
  if (tls_) {
    tls_->close();
  }
  ::shutdown(fd_.get(), SHUT_WR);
  const Deadline deadline{close_timeout};
  for (std::uint64_t round = 0; round < max_loop_rounds && !deadline.passed(); ++round) {
    pollfd readable{fd_.get(), POLLIN, 0};
    if (::poll(&readable, 1, deadline.poll_ms()) <= 0) {
      break;
    }
    const ssize_t n = ::recv(fd_.get(), rx_.data(), rx_.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      break;
    }
  }
  fd_.reset();
}

bool Connection::try_connect(std::uint16_t port, const Deadline& deadline) {
  fd_ = UniqueFd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (fd_.get() < 0) {
    fail_errno("socket");
  }
  const int one = 1;
  ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    return true;
  }
  if (errno == ECONNREFUSED) {
    return false;
  }
  if (errno != EINPROGRESS) {
    fail_errno(fmt::format("connect to 127.0.0.1:{}", port));
  }
  pollfd writable{fd_.get(), POLLOUT, 0};
  if (::poll(&writable, 1, deadline.poll_ms()) <= 0) {
    fail("connect to 127.0.0.1:{}: timed out", port);
  }
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error == ECONNREFUSED) {
    return false;
  }
  if (error != 0) {
    fail("connect to 127.0.0.1:{}: {}", port, std::strerror(error));
  }
  return true;
}

std::optional<std::size_t> Connection::receive() {
  if (tls_) {
    return tls_->read(rx_);
  }
  const ssize_t n = ::recv(fd_.get(), rx_.data(), rx_.size(), 0);
  if (n == 0) {
    return std::nullopt;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      return 0;
    }
    if (errno == ECONNRESET) {
      return std::nullopt;
    }
    fail_errno("recv from server");
  }
  return static_cast<std::size_t>(n);
}

std::size_t Connection::transmit(ByteView data) {
  if (tls_) {
    return tls_->write(data);
  }
  const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      return 0;
    }
    fail_errno("send to server");
  }
  return static_cast<std::size_t>(n);
}

void Connection::consume(std::size_t n) {
  if (codec_) {
    codec_->consume_output(n);
    return;
  }
  raw_out_start_ += n;
  if (raw_out_start_ == raw_out_.size()) {
    raw_out_.clear();
    raw_out_start_ = 0;
  }
}

void Connection::note_option(const telnet::OptionChanged& change) {
  if (change.option != telnet::option::com_port || change.side != telnet::Side::local) {
    return;
  }
  // The server's DO COM-PORT enables our side; DONT (or a WONT-DONT answer) refuses it.
  if (change.enabled) {
    com_port_accepted_ = true;
  } else if (!com_port_accepted_) {
    com_port_refused_ = true;
  }
}

// The server acknowledges each setting with its command code + 100.
void Connection::note_subnegotiation(const telnet::SubnegotiationReceived& sub) {
  if (sub.option != telnet::option::com_port || sub.payload.empty()) {
    return;
  }
  for (std::size_t i = 0; i < line_setting_commands.size(); ++i) {
    if (sub.payload[0] == rfc2217::server_code(line_setting_commands[i])) {
      acknowledged_ |= 1u << i;
    }
  }
}

}  // namespace ttynet::bench
