#include "ttynet/port/tls_connect.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <string_view>
#include <utility>

#include "ttynet/port/tls_options.hpp"
#include "ttynet/port/token_file.hpp"

namespace ttynet::port {
namespace {

using asio::experimental::awaitable_operators::operator||;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// The line that presents a token, `TTYNET-TOKEN <token>\r\n`, in a buffer of its own that is
// wiped when it goes, whichever way the open ends.
class TokenLine {
 public:
  explicit TokenLine(std::string_view token) {
    auto end = std::copy(token_line_keyword.begin(), token_line_keyword.end(), bytes_.begin());
    end = std::copy(token.begin(), token.end(), end);
    *end++ = '\r';
    *end++ = '\n';
    size_ = static_cast<std::size_t>(end - bytes_.begin());
  }
  TokenLine(const TokenLine&) = delete;
  TokenLine& operator=(const TokenLine&) = delete;
  ~TokenLine() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

  asio::const_buffer buffer() const { return asio::buffer(bytes_.data(), size_); }

 private:
  std::array<char, token_line_keyword.size() + max_token_size + 2> bytes_{};
  std::size_t size_ = 0;
};

// What the TLS step of an open needs, loaded before connecting.
struct TlsStep {
  TlsContext context;
  std::string server_name;
  std::unique_ptr<TokenLine> token;  // null: no token line
};

// Loads the files of `tls`. Errors name the file at fault.
Result<std::unique_ptr<TlsStep>, Error> prepare_tls(const TlsClientOptions& tls,
                                                    const std::string& host) {
  auto step = std::make_unique<TlsStep>();
  auto context = make_client_tls_context(tls.files);
  if (!context) return context.error();
  step->context = std::move(*context);
  step->server_name = tls.server_name.empty() ? host : tls.server_name;
  if (!tls.token_file.empty()) {
    auto token = read_token_file(tls.token_file);
    if (!token) return token.error();
    step->token = std::make_unique<TokenLine>((*token)->text());
  }
  return step;
}

// Whether the coroutine that awaits this was cancelled (an open given up by its caller).
asio::awaitable<bool> is_cancelled() {
  const auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

// Writes the token line by `deadline` (std::errc::timed_out after it).
asio::awaitable<std::error_code> send_token(NetStream& stream, const TokenLine& token,
                                            Clock::time_point deadline) {
  asio::steady_timer timer(stream.get_executor(), deadline);
  auto written = co_await (asio::async_write(stream, token.buffer(), as_tuple_awaitable) ||
                           timer.async_wait(as_tuple_awaitable));
  if (written.index() == 1) co_return std::make_error_code(std::errc::timed_out);
  co_return std::get<0>(std::get<0>(written));
}

// "TLSv1.3 (TLS_AES_256_GCM_SHA384), server CN=localhost", for the debug log.
std::string describe_session(NetStream& stream) {
  SSL* ssl = stream.tls_handle();
  return fmt::format("{} ({}), server {}", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                     verified_peer_subject(stream));
}

// The stream over `connection`: with `step`, the handshake, then the token line, by `deadline`
// (`timeout` after the open began, for the messages); without, the connection as it is.
asio::awaitable<Result<NetConnection, Error>> finish_open(
    TcpConnection connection, std::unique_ptr<TlsStep> step, Clock::time_point deadline,
    std::chrono::milliseconds timeout, std::string url, std::shared_ptr<spdlog::logger> log) {
  if (!step) {
    co_return NetConnection{NetStream(std::move(connection.socket)), connection.remote,
                            connection.connect_time};
  }
  const auto failed = [&url](std::error_code code, std::string_view why) {
    return Error{code, fmt::format("{}: {}", url, why)};
  };
  // Rounded up, so that a handshake that runs out of time ends at or after the deadline.
  const auto left = std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                             std::chrono::milliseconds::zero());
  auto secured =
      co_await connect_tls(std::move(connection.socket), step->context, step->server_name, left);
  const bool cancelled_in_handshake = co_await is_cancelled();
  if (cancelled_in_handshake) {
    co_return failed(make_error_code(asio::error::operation_aborted), "open cancelled");
  }
  if (!secured) {
    // The handshake had what was left of the open's time: say so in the open's terms.
    if (Clock::now() >= deadline) {
      co_return failed(std::make_error_code(std::errc::timed_out),
                       fmt::format("no TLS handshake within {}", seconds_text(timeout)));
    }
    co_return failed(std::make_error_code(std::errc::protocol_error), secured.error());
  }
  NetConnection secure_connection{std::move(*secured), connection.remote, connection.connect_time};
  log->debug("{}: {}", url, describe_session(secure_connection.stream));
  if (!step->token) co_return secure_connection;

  const auto ec = co_await send_token(secure_connection.stream, *step->token, deadline);
  step->token.reset();  // wiped: it is not needed any more
  const bool cancelled_in_token = co_await is_cancelled();
  if (cancelled_in_token) {
    co_return failed(make_error_code(asio::error::operation_aborted), "open cancelled");
  }
  if (ec == std::errc::timed_out) {
    co_return failed(ec, fmt::format("cannot present the token within {}", seconds_text(timeout)));
  }
  if (ec) co_return failed(ec, fmt::format("cannot present the token: {}", ec.message()));
  log->debug("{}: token presented", url);
  co_return secure_connection;
}

}  // namespace

std::shared_ptr<const TlsClientOptions> tls_client_options(const PortUrl& url) {
  if (!url.scheme.ends_with(tls_scheme_suffix)) return nullptr;
  auto options = std::make_shared<TlsClientOptions>();
  options->files.ca = std::string(url.option("ca"));
  options->files.certificate = std::string(url.option("cert"));
  options->files.key = std::string(url.option("key"));
  options->server_name = std::string(url.option("servername"));
  options->token_file = std::string(url.option("token_file"));
  return options;
}

asio::awaitable<Result<NetConnection, Error>> connect_net_stream(
    asio::any_io_executor executor, TcpTarget target, std::shared_ptr<const TlsClientOptions> tls,
    std::chrono::milliseconds timeout, std::string url, std::shared_ptr<spdlog::logger> log) {
  timeout = std::max(timeout, std::chrono::milliseconds::zero());
  const auto deadline = Clock::now() + timeout;
  // The files first: a bad CA, key or token file fails the open before any connection.
  std::unique_ptr<TlsStep> step;
  if (tls) {
    auto prepared = prepare_tls(*tls, target.host);
    if (!prepared) {
      co_return Error{prepared.error().code, fmt::format("{}: {}", url, prepared.error().message)};
    }
    step = std::move(*prepared);
  }
  auto connected = co_await connect_tcp(std::move(executor), std::move(target), timeout, url, log);
  if (!connected) co_return connected.error();
  co_return co_await finish_open(std::move(*connected), std::move(step), deadline, timeout,
                                 std::move(url), std::move(log));
}

}  // namespace ttynet::port
