// The +tls port URLs (socket+tls://, rfc2217+tls://) against an in-process TLS server on
// 127.0.0.1, with the certificates of tests/tls/make_certs.sh: data both ways, the token line,
// the RFC 2217 negotiation inside TLS, and every refusal the client makes itself (wrong CA,
// wrong name, expired certificate, key and token files others may read).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <variant>

#include "test_support.hpp"
#include "ttynet/port/rfc2217_port.hpp"
#include "ttynet/port/socket_port.hpp"
#include "ttynet/port/tls.hpp"
#include "ttynet/port/tls_connect.hpp"
#include "ttynet/port/url.hpp"
#include "ttynet/port/write_output.hpp"
#include "ttynet/rfc2217/server.hpp"

namespace ttynet::port {
namespace {

using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using test::run;
using test::run_until;
using test::spawn;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// A token as a token file holds it; it must never show in an error.
constexpr std::string_view token = "s3cr3t-T0ken_42";

std::string text_of(ByteView bytes) { return {bytes.begin(), bytes.end()}; }

void write_file(const std::string& path, std::string_view content, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

// Reads exactly `n` bytes from the server's end, or what came before an error.
asio::awaitable<ByteBuffer> read_stream(NetStream& stream, std::size_t n) {
  ByteBuffer bytes(n);
  auto [ec, got] = co_await asio::async_read(stream, asio::buffer(bytes), as_tuple_awaitable);
  bytes.resize(got);
  co_return bytes;
}

asio::awaitable<std::error_code> write_stream(NetStream& stream, ByteView data) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(data.data(), data.size()),
                                            as_tuple_awaitable);
  co_return ec;
}

asio::awaitable<std::error_code> accept_plain(tcp::acceptor& acceptor, tcp::socket& peer) {
  auto [ec] = co_await acceptor.async_accept(peer, as_tuple_awaitable);
  co_return ec;
}

// A tiny RFC 2217 access server on the server's end of the connection: grants every request
// as asked, and keeps what the client sent as data and the last baud rate it set.
struct Responder {
  rfc2217::Server core;
  ByteBuffer data;
  std::optional<std::uint32_t> baud;

  void on_event(const rfc2217::Event& event) {
    std::visit(
        [this](const auto& request) {
          using Request = std::decay_t<decltype(request)>;
          if constexpr (std::is_same_v<Request, rfc2217::DataReceived>) {
            append(data, request.data);
          } else if constexpr (std::is_same_v<Request, rfc2217::SignatureRequested>) {
            core.reply_signature("tls test");
          } else if constexpr (std::is_same_v<Request, rfc2217::BaudRequested>) {
            if (request.baud) baud = request.baud;
            core.reply_baud(baud.value_or(115200));
          } else if constexpr (std::is_same_v<Request, rfc2217::DataBitsRequested>) {
            core.reply_data_bits(request.data_bits.value_or(8));
          } else if constexpr (std::is_same_v<Request, rfc2217::ParityRequested>) {
            core.reply_parity(request.parity.value_or(Parity::none));
          } else if constexpr (std::is_same_v<Request, rfc2217::StopBitsRequested>) {
            core.reply_stop_bits(request.stop_bits.value_or(StopBits::one));
          } else if constexpr (std::is_same_v<Request, rfc2217::ControlRequested>) {
            core.reply_control(request.value);
          } else if constexpr (std::is_same_v<Request, rfc2217::PurgeRequested>) {
            core.reply_purge(request.which);
          }
        },
        event);
  }

  // Serves `stream` until it ends; returns why it ended.
  asio::awaitable<std::error_code> serve(NetStream& stream) {
    ByteBuffer buffer(4096);
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), as_tuple_awaitable);
      if (ec) co_return ec;
      core.receive(ByteView(buffer).first(n));
      while (auto event = core.next_event()) on_event(*event);
      const auto write_ec = co_await write_output(stream, core);
      if (write_ec) co_return write_ec;
    }
  }
};

class TlsPortTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ttynet-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    certs_ = pattern;
    const std::string command = fmt::format("{} {}", TTYNET_MAKE_CERTS, certs_);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(certs_, ignored);
  }
  static std::string file(std::string_view name) { return fmt::format("{}/{}", certs_, name); }

  void TearDown() override {
    if (accepted_ && *accepted_ && (*accepted_)->has_value()) (*accepted_)->value().close();
    io_.run_for(100ms);
  }

  // Accepts the next connection as a TLS server with `files` (default: server.pem, no client
  // certificates asked for).
  void serve(TlsServerFiles files = {}) {
    if (files.certificate.empty()) files.certificate = file("server.pem");
    if (files.key.empty()) files.key = file("server.key");
    auto context = make_server_tls_context(files);
    ASSERT_TRUE(context) << context.error().message;
    server_context_ = *context;
    accepted_ = spawn(io_, accept_one());
  }

  asio::awaitable<Result<NetStream, std::string>> accept_one() {
    auto [ec, socket] = co_await acceptor_.async_accept(as_tuple_awaitable);
    if (ec) co_return ec.message();
    co_return co_await accept_tls(std::move(socket), server_context_, 5s);
  }

  // The server's end of the connection, once its handshake is done.
  NetStream& server_end() {
    run_until(io_, [&] { return accepted_->has_value(); });
    if (!accepted_->has_value()) throw std::runtime_error("the server accepted nothing");
    if (!(*accepted_)->has_value()) throw std::runtime_error((*accepted_)->error());
    return (*accepted_)->value();
  }

  std::string url(std::string_view scheme, std::string_view options) const {
    return fmt::format("{}://127.0.0.1:{}?ca={}{}{}", scheme, acceptor_.local_endpoint().port(),
                       file("ca.pem"), options.empty() ? "" : "&", options);
  }

  std::unique_ptr<Port> open_url(const std::string& text) {
    auto opened = run(io_, open_port(io_.get_executor(), text), 10s);
    if (!opened || !opened->has_value()) {
      ADD_FAILURE() << text << ": " << (opened ? opened->error().message : "did not complete");
      return nullptr;
    }
    return std::move(opened->value());
  }

  Error open_error(const std::string& text) {
    auto opened = run(io_, open_port(io_.get_executor(), text), 10s);
    if (!opened) return Error{{}, "did not complete"};
    if (opened->has_value()) return Error{{}, "opened"};
    return opened->error();
  }

  // Whether a connection waits in the accept queue (serve() not called).
  bool connection_pending() {
    acceptor_.non_blocking(true);
    tcp::socket peer(io_);
    std::error_code ec;
    acceptor_.accept(peer, ec);
    return !ec;
  }

  static inline std::string certs_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {asio::ip::address_v4::loopback(), 0}};
  TlsContext server_context_;
  std::shared_ptr<std::optional<Result<NetStream, std::string>>> accepted_;
};

TEST_F(TlsPortTest, SocketTlsCarriesEveryByteValueBothWays) {
  serve();
  const std::string text = url("socket+tls", "");
  auto port = open_url(text);
  ASSERT_TRUE(port);
  NetStream& server = server_end();
  EXPECT_EQ(port->info().url, text);
  EXPECT_EQ(describe(port->info()), text);

  ByteBuffer all(256);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(run(io_, port->write(all)), std::error_code{});
  EXPECT_EQ(run(io_, read_stream(server, all.size())), all);

  EXPECT_EQ(run(io_, write_stream(server, all)), std::error_code{});
  EXPECT_EQ(run(io_, test::read_exactly(*port, all.size())), all);
  EXPECT_TRUE(port->round_trip());
}

TEST_F(TlsPortTest, TheTokenLineComesFirstAndExactly) {
  serve();
  const std::string token_file = file("token");
  write_file(token_file, fmt::format("{}\n", token), 0600);
  auto port = open_url(url("socket+tls", "token_file=" + token_file));
  ASSERT_TRUE(port);
  NetStream& server = server_end();
  EXPECT_EQ(run(io_, port->write(as_bytes(std::string_view("data")))), std::error_code{});
  const std::string line = fmt::format("TTYNET-TOKEN {}\r\n", token);
  EXPECT_EQ(text_of(run(io_, read_stream(server, line.size() + 4)).value()), line + "data");
}

TEST_F(TlsPortTest, Rfc2217TlsNegotiatesInsideTlsAfterTheToken) {
  serve();
  const std::string token_file = file("token");
  write_file(token_file, token, 0600);
  // open_port() takes a view: the text must outlive the open.
  const std::string text = url("rfc2217+tls", "timeout=1&token_file=" + token_file);
  auto opening = spawn(io_, open_port(io_.get_executor(), text));
  NetStream& server = server_end();
  const std::string line = fmt::format("TTYNET-TOKEN {}\r\n", token);
  const ByteBuffer first = run(io_, read_stream(server, line.size() + 1)).value();
  ASSERT_EQ(first.size(), line.size() + 1);
  EXPECT_EQ(text_of(ByteView(first).first(line.size())), line);
  EXPECT_EQ(first.back(), 0xFF);  // Telnet IAC: the RFC 2217 negotiation begins

  server.close();
  ASSERT_TRUE(run_until(io_, [&] { return opening->has_value(); }));
  ASSERT_FALSE((*opening)->has_value());
  EXPECT_NE((*opening)->error().message.find("during the RFC 2217 negotiation"), std::string::npos)
      << (*opening)->error().message;
}

TEST_F(TlsPortTest, Rfc2217TlsOpensCarriesDataAndChangesTheBaud) {
  serve();
  Responder responder;
  const std::string text = url("rfc2217+tls", "timeout=2");
  auto opening = spawn(io_, open_port(io_.get_executor(), text));
  NetStream& server = server_end();
  auto served = spawn(io_, responder.serve(server));
  ASSERT_TRUE(run_until(io_, [&] { return opening->has_value(); }));
  ASSERT_TRUE((*opening)->has_value()) << (*opening)->error().message;
  std::unique_ptr<Port> port = std::move((*opening)->value());
  EXPECT_EQ(port->info().url, text);
  EXPECT_TRUE(port->has_modem_lines());

  LineSettings settings;
  settings.baud = 921600;
  EXPECT_EQ(run(io_, port->apply_settings(settings)), std::error_code{});
  EXPECT_EQ(responder.baud, 921600U);

  const ByteBuffer data{0x41, 0xFF, 0x42};
  EXPECT_EQ(run(io_, port->write(data)), std::error_code{});
  ASSERT_TRUE(run_until(io_, [&] { return responder.data.size() >= data.size(); }));
  EXPECT_EQ(responder.data, data);

  responder.core.send_data(ByteBuffer{0xFF, 0x00, 0x7A});
  EXPECT_EQ(run(io_, write_output(server, responder.core)), std::error_code{});
  EXPECT_EQ(run(io_, test::read_exactly(*port, 3)), (ByteBuffer{0xFF, 0x00, 0x7A}));
  port->close();
  EXPECT_TRUE(run_until(io_, [&] { return served->has_value(); }));  // before responder goes
}

TEST_F(TlsPortTest, AClientCertificateNamesTheClient) {
  TlsServerFiles files;
  files.client_ca = file("ca.pem");
  serve(files);
  auto port = open_url(
      url("socket+tls", fmt::format("cert={}&key={}", file("client.pem"), file("client.key"))));
  ASSERT_TRUE(port);
  const std::string subject = verified_peer_subject(server_end());
  EXPECT_NE(subject.find("CN=ci-runner"), std::string::npos) << subject;
  EXPECT_NE(subject.find("O=lab"), std::string::npos) << subject;
}

TEST_F(TlsPortTest, AServerCertificateFromAnotherCaIsRefused) {
  serve();
  const std::string text = fmt::format("socket+tls://127.0.0.1:{}?ca={}",
                                       acceptor_.local_endpoint().port(), file("other-ca.pem"));
  const Error error = open_error(text);
  EXPECT_TRUE(error.message.starts_with(text + ": TLS handshake failed: ")) << error.message;
  EXPECT_TRUE(error.message.find("certificate verify failed") != std::string::npos ||
              error.message.find("unable to get local issuer certificate") != std::string::npos)
      << error.message;
}

TEST_F(TlsPortTest, AServerCertificateForAnotherNameIsRefused) {
  serve();
  const Error error = open_error(url("socket+tls", "servername=other.example"));
  EXPECT_NE(error.message.find("TLS handshake failed: hostname mismatch"), std::string::npos)
      << error.message;
}

TEST_F(TlsPortTest, TheServerNameMayDifferFromTheAddress) {
  serve();
  auto port = open_url(url("socket+tls", "servername=localhost"));
  EXPECT_TRUE(port);
}

TEST_F(TlsPortTest, AnExpiredServerCertificateIsRefused) {
  TlsServerFiles files;
  files.certificate = file("expired-server.pem");
  files.key = file("expired-server.key");
  serve(files);
  const Error error = open_error(url("rfc2217+tls", ""));
  EXPECT_NE(error.message.find("TLS handshake failed: certificate has expired"), std::string::npos)
      << error.message;
}

TEST_F(TlsPortTest, AKeyFileOthersMayReadIsRefusedBeforeConnecting) {
  const std::string key = file("open.key");
  std::filesystem::copy_file(file("client.key"), key,
                             std::filesystem::copy_options::overwrite_existing);
  ::chmod(key.c_str(), 0644);
  const Error error =
      open_error(url("socket+tls", fmt::format("cert={}&key={}", file("client.pem"), key)));
  EXPECT_NE(error.message.find(fmt::format("key file {} is readable by group or others", key)),
            std::string::npos)
      << error.message;
  EXPECT_FALSE(connection_pending());
}

TEST_F(TlsPortTest, ACertificateWithoutItsKeyIsRefused) {
  const Error error = open_error(url("socket+tls", "cert=" + file("client.pem")));
  EXPECT_NE(error.message.find("needs its key"), std::string::npos) << error.message;
}

TEST_F(TlsPortTest, AMissingCaFileIsNamed) {
  const std::string text = fmt::format("socket+tls://127.0.0.1:{}?ca={}",
                                       acceptor_.local_endpoint().port(), file("none.pem"));
  const Error error = open_error(text);
  EXPECT_TRUE(
      error.message.starts_with(fmt::format("{}: cannot load CA {}: ", text, file("none.pem"))))
      << error.message;
}

TEST_F(TlsPortTest, ATokenFileOthersMayReadIsRefusedWithoutShowingTheToken) {
  const std::string token_file = file("open-token");
  write_file(token_file, token, 0644);
  const std::string text = url("socket+tls", "token_file=" + token_file);
  const Error error = open_error(text);
  EXPECT_EQ(error.message,
            fmt::format("{}: token file {} is readable by group or others (chmod 600 it)", text,
                        token_file));
  EXPECT_EQ(error.message.find(token), std::string::npos);
  EXPECT_FALSE(connection_pending());
}

TEST_F(TlsPortTest, ABadTokenFileIsRefusedWithoutShowingItsContent) {
  const std::string token_file = file("bad-token");
  for (const std::string& content :
       {std::string(), fmt::format("{} {}", token, token), fmt::format("{}\n{}\n", token, token),
        std::string(257, 'x'), fmt::format("{}\t", token)}) {
    write_file(token_file, content, 0600);
    const Error error = open_error(url("socket+tls", "token_file=" + token_file));
    EXPECT_NE(error.message.find(fmt::format("token file {} ", token_file)), std::string::npos)
        << error.message;
    EXPECT_EQ(error.message.find(token), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find("xxxx"), std::string::npos) << error.message;
  }
  EXPECT_FALSE(connection_pending());
}

TEST_F(TlsPortTest, TheTokenNeverShowsInAHandshakeError) {
  serve();
  const std::string token_file = file("token");
  write_file(token_file, token, 0600);
  const Error error =
      open_error(fmt::format("socket+tls://127.0.0.1:{}?ca={}&token_file={}",
                             acceptor_.local_endpoint().port(), file("other-ca.pem"), token_file));
  EXPECT_NE(error.message.find("TLS handshake failed"), std::string::npos) << error.message;
  EXPECT_EQ(error.message.find(token), std::string::npos) << error.message;
}

TEST_F(TlsPortTest, AServerThatNeverHandshakesTimesOutTheOpen) {
  // Accepted by the kernel, never answered.
  SocketConnectOptions options;
  options.timeout = 300ms;
  auto tls = std::make_shared<TlsClientOptions>();
  tls->files.ca = file("ca.pem");
  options.tls = tls;
  auto opened =
      run(io_, SocketPort::connect(io_.get_executor(),
                                   SocketTarget{"127.0.0.1", acceptor_.local_endpoint().port()},
                                   std::move(options)));
  ASSERT_TRUE(opened);
  ASSERT_FALSE(opened->has_value());
  EXPECT_EQ(opened->error().code, std::errc::timed_out);
  EXPECT_EQ(opened->error().message,
            fmt::format("socket+tls://127.0.0.1:{}: no TLS handshake within 0.3 s",
                        acceptor_.local_endpoint().port()));
}

TEST_F(TlsPortTest, AReceivePurgeDropsWhatTlsHasDecrypted) {
  serve();
  auto port = open_url(url("socket+tls", ""));
  ASSERT_TRUE(port);
  NetStream& server = server_end();
  // One TLS record; reading 4 bytes of it leaves the rest decrypted inside OpenSSL.
  EXPECT_EQ(run(io_, write_stream(server, as_bytes(std::string_view("0123456789")))),
            std::error_code{});
  EXPECT_EQ(text_of(run(io_, test::read_exactly(*port, 4)).value()), "0123");
  EXPECT_EQ(run(io_, port->purge(Purge::receive)), std::error_code{});
  EXPECT_EQ(run(io_, write_stream(server, as_bytes(std::string_view("after")))), std::error_code{});
  EXPECT_EQ(text_of(run(io_, test::read_exactly(*port, 5)).value()), "after");
}

TEST_F(TlsPortTest, APlainServerFailsTheHandshake) {
  const std::string text = url("socket+tls", "");
  auto opening = spawn(io_, open_port(io_.get_executor(), text));
  tcp::socket peer(io_);
  auto accepted = spawn(io_, accept_plain(acceptor_, peer));
  ASSERT_TRUE(run_until(io_, [&] { return accepted->has_value(); }));
  const std::string_view banner = "hello, this is not TLS\r\n";
  asio::write(peer, asio::buffer(banner.data(), banner.size()));
  ASSERT_TRUE(run_until(io_, [&] { return opening->has_value(); }));
  ASSERT_FALSE((*opening)->has_value());
  EXPECT_NE((*opening)->error().message.find(": TLS handshake failed: "), std::string::npos)
      << (*opening)->error().message;
}

// The URLs themselves.

TEST(TlsPortUrl, ParsesBothSchemesWithTheirPlainOptionsAndTheTlsOnes) {
  const PortUrl socket_url =
      parse_port_url(
          "socket+tls://box.lab:4000?ca=/etc/ca.pem&cert=/c.pem&key=/c.key&token_file=/t&"
          "servername=esp.lab&logging=debug")
          .value();
  EXPECT_EQ(socket_url.scheme, "socket+tls");
  EXPECT_EQ(socket_url.host, "box.lab");
  EXPECT_EQ(socket_url.port, 4000);
  const auto tls = tls_client_options(socket_url);
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->files.ca, "/etc/ca.pem");
  EXPECT_EQ(tls->files.certificate, "/c.pem");
  EXPECT_EQ(tls->files.key, "/c.key");
  EXPECT_EQ(tls->token_file, "/t");
  EXPECT_EQ(tls->server_name, "esp.lab");

  const PortUrl rfc2217_url =
      parse_port_url("RFC2217+TLS://[::1]:2217?ign_set_control&timeout=0.5&ca=ca.pem").value();
  EXPECT_EQ(rfc2217_url.scheme, "rfc2217+tls");
  EXPECT_EQ(rfc2217_url.host, "::1");
  EXPECT_TRUE(rfc2217_url.flag("ign_set_control"));
  EXPECT_EQ(rfc2217_url.seconds("timeout"), 500ms);
  const auto defaults = tls_client_options(parse_port_url("rfc2217+tls://h:1").value());
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->files.ca, "");     // the system's store
  EXPECT_EQ(defaults->server_name, "");  // the host
  EXPECT_FALSE(tls_client_options(parse_port_url("rfc2217://h:1").value()));
}

TEST(TlsPortUrl, RefusesUnknownOptionsAndTlsOptionsOnPlainSchemes) {
  auto error = parse_port_url("socket+tls://h:1?cafile=x").error();
  EXPECT_EQ(error.message,
            "unknown option 'cafile' for socket+tls://; valid: logging, ca, cert, key, "
            "token_file, servername");
  error = parse_port_url("rfc2217://h:1?token_file=/t").error();
  EXPECT_EQ(error.message,
            "unknown option 'token_file' for rfc2217://; valid: ign_set_control, poll_modem, "
            "timeout, logging");
  EXPECT_FALSE(parse_port_url("socket://h:1?ca=x"));
  EXPECT_FALSE(parse_port_url("socket+tls://h:1?ca="));  // a file needs a name
  EXPECT_FALSE(parse_port_url("socket+tls://h?ca=x"));   // and the address a port
}

TEST(TlsPortUrl, HelpListsBothSchemesAndTheirOptions) {
  const std::string help = port_url_help();
  for (std::string_view text :
       {"rfc2217+tls://HOST:PORT[?OPTIONS]", "socket+tls://HOST:PORT[?OPTIONS]", "token_file",
        "servername", "the system's store"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace ttynet::port
