#include "ttynet/server/options.hpp"

#include "ttynet/util/parse.hpp"

namespace ttynet::server {

Result<EspResetConfig, EspOptionError> make_esp_reset_config(const EspOptions& options) {
  EspResetConfig config;
  config.bootloader =
      esp::tight_reset(options.r0 ? esp::extra_reset_delay : esp::default_reset_delay);
  if (!options.reset_sequence.empty()) {
    auto parsed = esp::parse_reset_sequence(options.reset_sequence);
    if (!parsed)
      return EspOptionError{EspOptionError::Field::reset_sequence, parsed.error().message};
    config.bootloader = std::move(*parsed);
  }
  if (!options.hard_reset_sequence.empty()) {
    auto parsed = esp::parse_reset_sequence(options.hard_reset_sequence);
    if (!parsed)
      return EspOptionError{EspOptionError::Field::hard_reset_sequence, parsed.error().message};
    config.hard = std::move(*parsed);
  }
  return config;
}

std::string_view to_string(Permission permission) {
  return permission == Permission::control ? "control" : "monitor";
}

std::optional<Permission> parse_permission(std::string_view text) {
  if (text == "control") return Permission::control;
  if (text == "monitor") return Permission::monitor;
  return std::nullopt;
}

std::string_view to_string(Takeover takeover) {
  switch (takeover) {
    case Takeover::idle:
      return "idle";
    case Takeover::always:
      return "always";
    case Takeover::never:
      break;
  }
  return "never";
}

std::optional<Takeover> parse_takeover(std::string_view text) {
  for (const Takeover takeover : {Takeover::never, Takeover::idle, Takeover::always}) {
    if (text == to_string(takeover)) return takeover;
  }
  return std::nullopt;
}

std::optional<HttpListen> parse_http_listen(std::string_view text) {
  HttpListen listen;
  std::string_view port_text = text;
  if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
      return std::nullopt;  // an IPv6 address without brackets
    }
    if (host.empty()) return std::nullopt;
    if (host != "*") listen.bind_address = std::string(host);
  } else {
    listen.bind_address = "127.0.0.1";
  }
  const auto port = parse_whole<std::uint32_t>(port_text);
  if (!port || *port > 65535) return std::nullopt;
  listen.tcp_port = static_cast<std::uint16_t>(*port);
  return listen;
}

}  // namespace ttynet::server
