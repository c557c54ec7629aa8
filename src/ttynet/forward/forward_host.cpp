#include "ttynet/forward/forward_host.hpp"

#include <spdlog/spdlog.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>

#include "ttynet/server/client_socket.hpp"
#include "ttynet/server/device_pump.hpp"
#include "ttynet/server/listener.hpp"
#include "ttynet/server/log.hpp"
#include "ttynet/version.hpp"

namespace ttynet::forward {
namespace {

using server::log;
using OpenResult = Result<std::unique_ptr<port::Port>, Error>;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// How long a far server has to close its side once a client has left; the far end restores
// its device itself meanwhile.
constexpr auto upstream_linger = std::chrono::seconds(2);
// Shorter while stopping, so that SIGTERM ends the process within 2 s.
constexpr auto stopping_linger = std::chrono::milliseconds(500);
// After a failed accept (out of file descriptors and the like), instead of spinning.
constexpr auto accept_backoff = std::chrono::milliseconds(500);

// open_port() in a coroutine of its own, which the cancellation slot bound to its completion can
// cancel. Cancelled, the open fails ("open cancelled") having released what it held, rather
// than throwing at its next co_await as a cancelled coroutine does by default. In an optional
// because co_spawn needs a default value for the result.
asio::awaitable<std::optional<OpenResult>> open_port_cancellably(asio::any_io_executor executor,
                                                                 std::string url) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return co_await port::open_port(std::move(executor), url);
}

}  // namespace

struct ForwardHost::Link {
  explicit Link(const asio::any_io_executor& executor) : pump_ended(executor) {}

  // Cancels the upstream open (stop()), later the upstream pump (the session is over); emitted
  // only while that operation is in flight.
  asio::cancellation_signal cancel;
  bool is_opening = false;
  std::shared_ptr<server::Session> session;  // once the upstream is open
  bool is_pumping = false;
  port::Notifier pump_ended;
  bool is_session_over = false;   // the client left or was dropped: the pump is cancelled
  bool is_upstream_lost = false;  // the upstream ended before the session: nothing to restore
};

ForwardHost::ForwardHost(asio::any_io_executor executor, ForwardHostConfig config)
    : executor_(std::move(executor)), config_(std::move(config)), links_changed_(executor_) {}

ForwardHost::~ForwardHost() = default;

asio::awaitable<MaybeError> ForwardHost::start() {
  auto listeners = server::open_listeners(executor_, config_.bind_address, config_.tcp_port);
  if (!listeners) co_return listeners.error();
  acceptors_ = std::move(*listeners);
  for (const auto& endpoint : local_endpoints()) {
    log().info("forwarding {} on {} ({})", config_.upstream_url,
               server::describe_endpoint(endpoint),
               config_.protocol == server::Protocol::raw ? "raw TCP" : "RFC 2217");
  }
  co_return std::nullopt;
}

std::vector<asio::ip::tcp::endpoint> ForwardHost::local_endpoints() const {
  return server::local_endpoints(acceptors_);
}

asio::awaitable<void> ForwardHost::run() {
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(executor_, accept_clients(acceptor), asio::detached);
  }
  while (!is_stopping_ || !links_.empty()) co_await links_changed_.wait();
}

void ForwardHost::stop() {
  if (is_stopping_) return;
  is_stopping_ = true;
  for (auto& acceptor : acceptors_) {
    std::error_code ignored;
    acceptor.close(ignored);
  }
  for (const auto& link : links_) {
    if (link->session) {
      link->session->close();  // serve_link() then shuts the upstream down
    } else if (link->is_opening) {
      link->cancel.emit(asio::cancellation_type::terminal);
    }
  }
  links_changed_.notify();
}

asio::awaitable<void> ForwardHost::accept_clients(asio::ip::tcp::acceptor& acceptor) {
  asio::steady_timer backoff(executor_);
  while (!is_stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(as_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || is_stopping_) co_return;
      log().warn("{}: accept failed: {}", config_.upstream_url, ec.message());
      backoff.expires_after(accept_backoff);
      co_await backoff.async_wait(as_tuple);
      continue;
    }
    asio::co_spawn(executor_, serve_client(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> ForwardHost::serve_client(asio::ip::tcp::socket socket) {
  const auto link = std::make_shared<Link>(executor_);
  links_.insert(link);
  co_await serve_link(*link, std::move(socket));
  links_.erase(link);
  links_changed_.notify();
}

// The client's lifetime: open its upstream (or refuse it), run its session while the pump
// carries the upstream's output to it, then restore and shut the upstream down.
asio::awaitable<void> ForwardHost::serve_link(Link& link, asio::ip::tcp::socket socket) {
  auto opened = co_await open_upstream(link);
  if (!opened) {
    if (!is_stopping_) {
      server::refuse_client(std::move(socket), config_.upstream_url, opened.error().message);
    }
    co_return;
  }
  auto upstream = std::move(*opened);
  if (is_stopping_) {  // stop() came as the open completed, too late to cancel it
    co_await upstream->shutdown(stopping_linger);
    co_return;
  }
  report_pacing(*upstream);
  if (config_.wrap_upstream) upstream = config_.wrap_upstream(std::move(upstream));

  const auto session =
      std::make_shared<server::Session>(std::move(socket), *upstream, session_config(*upstream));
  link.session = session;
  session->report()(spdlog::level::info, " connected");
  link.is_pumping = true;
  // The link outlives the pump: we wait for pump_ended below.
  asio::co_spawn(executor_, pump_upstream(link, *upstream),
                 asio::bind_cancellation_slot(link.cancel.slot(), asio::detached));
  co_await session->run();
  session->report()(spdlog::level::info, " disconnected");

  link.is_session_over = true;
  if (link.is_pumping) link.cancel.emit(asio::cancellation_type::terminal);
  while (link.is_pumping) co_await link.pump_ended.wait();
  // While stopping, the far server's replies could outlast the time the process has to exit;
  // a far ttynet restores its device itself when the connection ends anyway.
  if (!link.is_upstream_lost && !is_stopping_) co_await session->restore_device();
  co_await upstream->shutdown(is_stopping_ ? stopping_linger : upstream_linger);
  link.session.reset();
}

asio::awaitable<OpenResult> ForwardHost::open_upstream(Link& link) {
  link.is_opening = true;
  auto [exception, opened] =
      co_await asio::co_spawn(executor_, open_port_cancellably(executor_, config_.upstream_url),
                              asio::bind_cancellation_slot(link.cancel.slot(), as_tuple));
  link.is_opening = false;
  if (exception) std::rethrow_exception(exception);
  co_return std::move(*opened);
}

asio::awaitable<void> ForwardHost::pump_upstream(Link& link, port::Port& upstream) {
  // Cancelled once the session is over: the upstream read then ends as aborted rather than
  // throwing at the pump's next co_await.
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto session = link.session;
  const auto ec = co_await server::pump_device_output(
      upstream, [&session](ByteView data) { return session->from_device(data); });
  if (!link.is_session_over) {
    link.is_upstream_lost = true;
    const std::string what =
        ec == asio::error::eof
            ? fmt::format("far end {} closed the connection", config_.upstream_url)
            : fmt::format("far end {} lost: {}", config_.upstream_url, ec.message());
    session->report()(spdlog::level::info, fmt::format(": {}; dropping the client", what));
    session->device_lost();
    co_await session->close_with_message(what);
  }
  link.is_pumping = false;
  link.pump_ended.notify();
}

void ForwardHost::report_pacing(const port::Port& upstream) {
  if (is_pacing_reported_) return;
  is_pacing_reported_ = true;
  if (upstream.paces_esp_frames()) {
    log().info("upstream {} paces ESP frames: ESP acceleration on", config_.upstream_url);
  } else {
    log().info("{} does not pace ESP frames: forwarding as a plain re-export",
               config_.upstream_url);
  }
}

server::SessionConfig ForwardHost::session_config(const port::Port& upstream) const {
  server::SessionConfig config;
  config.protocol = config_.protocol;
  config.port_name = config_.upstream_url;
  config.signature = fmt::format("ttynet {} {}", version, port::describe(upstream.info()));
  config.clients = config_.clients;
  return config;
}

}  // namespace ttynet::forward
