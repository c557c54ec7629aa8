#pragma once
// The client side: a TCP connection to the server, plain or TLS, speaking raw bytes or Telnet
// with RFC 2217.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "deadline.hpp"
#include "protocol.hpp"
#include "tls_client.hpp"
#include "ttynet/telnet/codec.hpp"
#include "ttynet/util/bytes.hpp"
#include "unique_fd.hpp"

namespace ttynet::bench {

class Connection {
 public:
  // Connects to 127.0.0.1:port, retrying a refused connection until the deadline; with `tls`,
  // the TLS handshake follows, bounded by the same deadline.
  Connection(std::uint16_t port, Protocol protocol, const TlsContext* tls,
             const Deadline& deadline);

  int fd() const { return fd_.get(); }

  void send_data(ByteView data);
  std::size_t queued_output() const {
    return codec_ ? codec_->pending_output_size() : raw_out_.size() - raw_out_start_;
  }

  // Writes as much queued output as the socket takes now.
  void write_some();

  // Reads what the socket has now; data bytes go to on_data. False at end of stream.
  bool read_some(const std::function<void(ByteView)>& on_data);

  // True when read_some() must run again before waiting for the socket to be readable: TLS
  // keeps input the last read left (see TlsSession::has_unread_input).
  bool has_unread_input() const { return tls_ && tls_->has_unread_input(); }

  // RFC 2217 progress.
  bool is_com_port_accepted() const { return com_port_accepted_; }
  bool is_com_port_refused() const { return com_port_refused_; }
  bool are_settings_acknowledged() const;
  // SET-BAUDRATE, SET-DATASIZE, SET-PARITY, SET-STOPSIZE back to back, as pyserial does.
  void send_line_settings();

  // Half-closes and waits (bounded) for the server to close too, so that a server accepting
  // one client at a time is free again before the next connect.
  void close_gracefully();

 private:
  bool try_connect(std::uint16_t port, const Deadline& deadline);
  // The transport: the socket itself, or the TLS session over it.
  // Bytes read into rx_ (0: none now), nothing at the end of the stream.
  std::optional<std::size_t> receive();
  // Bytes of `data` the transport took (0: none now).
  std::size_t transmit(ByteView data);
  ByteView pending() {
    return codec_ ? codec_->pending_output() : ByteView{raw_out_}.subspan(raw_out_start_);
  }
  void consume(std::size_t n);
  void note_option(const telnet::OptionChanged& change);
  void note_subnegotiation(const telnet::SubnegotiationReceived& sub);

  UniqueFd fd_;
  std::optional<TlsSession> tls_;  // over fd_; declared after it, so destroyed before it
  std::optional<telnet::Codec> codec_;
  ByteBuffer raw_out_;
  std::size_t raw_out_start_ = 0;
  ByteBuffer rx_;
  bool com_port_accepted_ = false;
  bool com_port_refused_ = false;
  unsigned acknowledged_ = 0;  // bit i: the server acknowledged line_setting_commands[i]
};

}  // namespace ttynet::bench
