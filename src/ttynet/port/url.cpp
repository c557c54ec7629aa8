#include "ttynet/port/url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>

#include "ttynet/port/error.hpp"
#include "ttynet/port/loop_port.hpp"
#include "ttynet/port/rfc2217_port.hpp"
#include "ttynet/port/sim_port.hpp"
#include "ttynet/port/socket_port.hpp"
#include "ttynet/port/tty_port.hpp"
#include "ttynet/util/parse.hpp"

namespace ttynet::port {
namespace {

// Registry of schemes. A new backend is one row here plus its option table. A +tls scheme is
// its plain scheme's backend over TLS (tls_options.hpp): the same opener, which reads the TLS
// options from the URL.
constexpr std::array<SchemeSpec, 7> registry = {{
    {"",
     UrlForm::device_path,
     {},
     "a local serial device (termios), e.g. /dev/ttyUSB0",
     &open_tty_url},
    {"loop",
     UrlForm::bare,
     {},
     "in-process loopback: what is written is read back; RTS loops to CTS, DTR to DSR, CD on",
     &open_loop_url},
    {"rfc2217", UrlForm::host_port, rfc2217_url_options,
     "RFC 2217 (Telnet Com Port Control): line settings, DTR/RTS and BREAK reach the remote port",
     &open_rfc2217_url},
    {"rfc2217+tls", UrlForm::host_port, rfc2217_tls_url_options,
     "rfc2217:// over TLS: the server's certificate is checked; a client certificate or a token "
     "may name the client",
     &open_rfc2217_url},
    {"socket", UrlForm::host_port, socket_url_options,
     "raw TCP: bytes pass untouched; line settings and control lines are accepted and ignored",
     &open_socket_url},
    {"socket+tls", UrlForm::host_port, socket_tls_url_options,
     "socket:// over TLS: the server's certificate is checked; a client certificate or a token "
     "may name the client",
     &open_socket_url},
    {"sim", UrlForm::name, sim_url_options,
     "simulated Espressif chip (esp32, esp32c3, esp32s3) with the auto-reset circuit on DTR/RTS",
     &open_sim_url},
}};

// Seconds options larger than this are refused (they would overflow a millisecond count and
// are surely a typo).
constexpr double max_seconds = 1e9;

Error fail(errc code, std::string message) { return Error{code, std::move(message)}; }

std::string display_name(const SchemeSpec& spec) {
  return spec.form == UrlForm::device_path ? "a device path" : fmt::format("{}://", spec.scheme);
}

std::string valid_schemes(std::span<const SchemeSpec> schemes) {
  std::string list;
  bool has_paths = false;
  for (const auto& spec : schemes) {
    if (spec.form == UrlForm::device_path) {
      has_paths = true;
      continue;
    }
    if (!list.empty()) list += ", ";
    list += display_name(spec);
  }
  if (has_paths) list += list.empty() ? "a device path" : ", or a device path";
  return list.empty() ? "(none)" : list;
}

std::string valid_options(const SchemeSpec& spec) {
  std::string list;
  for (const auto& option : spec.options) {
    if (!list.empty()) list += ", ";
    list += option.name;
  }
  return list.empty() ? "(none)" : list;
}

const OptionSpec* find_option(const SchemeSpec& spec, std::string_view name) {
  const auto it = std::find_if(spec.options.begin(), spec.options.end(),
                               [&](const OptionSpec& option) { return option.name == name; });
  return it == spec.options.end() ? nullptr : &*it;
}

std::string expected_value(const OptionSpec& option) {
  switch (option.type) {
    case OptionType::flag:
      return "no value, or one of 1, 0, true, false, yes, no, on, off";
    case OptionType::integer:
      return "an integer";
    case OptionType::seconds:
      return "a number of seconds";
    case OptionType::text:
      return "a value";
    case OptionType::choice: {
      std::string text = "one of ";
      for (const char c : option.choices) text += c == '|' ? std::string(", ") : std::string(1, c);
      return text;
    }
  }
  return "a value";
}

std::optional<bool> parse_flag(std::string_view value) {
  if (value.empty() || value == "1" || value == "true" || value == "yes" || value == "on") {
    return true;
  }
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_integer(std::string_view value) {
  return parse_whole<std::int64_t>(value);
}

std::optional<double> parse_seconds(std::string_view value) {
  double number = 0;
  const auto [end, ec] =
      std::from_chars(value.data(), value.data() + value.size(), number, std::chars_format::fixed);
  if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
  if (!std::isfinite(number) || number < 0 || number > max_seconds) return std::nullopt;
  return number;
}

bool is_choice(const OptionSpec& option, std::string_view value) {
  std::string_view rest = option.choices;
  while (!rest.empty()) {
    const auto bar = rest.find('|');
    if (rest.substr(0, bar) == value) return true;
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return false;
}

bool is_valid(const OptionSpec& option, std::string_view value) {
  switch (option.type) {
    case OptionType::flag:
      return parse_flag(value).has_value();
    case OptionType::integer:
      return parse_integer(value).has_value();
    case OptionType::seconds:
      return parse_seconds(value).has_value();
    case OptionType::text:
      return !value.empty();
    case OptionType::choice:
      return is_choice(option, value);
  }
  return false;
}

std::optional<std::uint16_t> parse_tcp_port(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto number = parse_integer(text);
  if (!number || *number < 1 || *number > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*number);
}

// HOST:PORT, [V6]:PORT, with one optional trailing '/'.
MaybeError parse_host_port(std::string_view address, const SchemeSpec& spec, PortUrl& url) {
  const auto bad = [&](std::string_view why) {
    return fail(errc::bad_url, fmt::format("{}: {} in '{}'; expected {}HOST:PORT",
                                           display_name(spec), why, url.text, display_name(spec)));
  };
  if (!address.empty() && address.back() == '/') address.remove_suffix(1);
  std::string_view host;
  std::string_view rest;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = address.substr(1, close - 1);
    rest = address.substr(close + 1);
    if (host.empty()) return bad("empty IPv6 address");
    // A zone ("fe80::1%eth0") is written %25eth0 in URLs (RFC 6874); the raw form is accepted.
    const auto percent = host.find('%');
    const std::string_view literal = host.substr(0, percent);
    if (literal.empty() ||
        literal.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad("bad IPv6 address");
    }
    if (percent != std::string_view::npos) {
      std::string_view zone = host.substr(percent + 1);
      if (zone.starts_with("25") && zone.size() > 2) zone.remove_prefix(2);
      if (zone.empty() || zone.find_first_of("%/?#[]") != std::string_view::npos) {
        return bad("bad IPv6 zone");
      }
      url.host = fmt::format("{}%{}", literal, zone);
    } else {
      url.host = std::string(literal);
    }
  } else {
    const auto colon = address.rfind(':');
    host = address.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : address.substr(colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address needs brackets ([::1]:4000)");
    }
    if (host.empty()) return bad("no host");
    if (host.find_first_of("/@[] ") != std::string_view::npos) return bad("bad host");
  }
  if (rest.empty() || rest.front() != ':') return bad("no port");
  const auto port = parse_tcp_port(rest.substr(1));
  if (!port) return bad(fmt::format("bad port '{}' (1..65535)", rest.substr(1)));
  if (url.host.empty()) url.host = std::string(host);
  url.port = *port;
  return std::nullopt;
}

// The address of UrlForm::name: one word, no path.
bool is_name(std::string_view text) {
  return !text.empty() && text.find('/') == std::string_view::npos;
}

// Checks one option against the scheme's table and adds it to `url`.
MaybeError add_option(const SchemeSpec& spec, const std::string& name, const std::string& value,
                      PortUrl& url) {
  const OptionSpec* option = find_option(spec, name);
  if (option == nullptr) {
    return fail(errc::unknown_option, fmt::format("unknown option '{}' for {}; valid: {}", name,
                                                  display_name(spec), valid_options(spec)));
  }
  if (!is_valid(*option, value)) {
    if (value.empty()) {
      return fail(errc::bad_option_value, fmt::format("option '{}' of {} needs a value ({})", name,
                                                      display_name(spec), expected_value(*option)));
    }
    return fail(errc::bad_option_value,
                fmt::format("bad value '{}' for option '{}' of {}: expected {}", value, name,
                            display_name(spec), expected_value(*option)));
  }
  if (url.options.contains(name)) {
    return fail(errc::bad_url, fmt::format("option '{}' given twice in '{}'", name, url.text));
  }
  url.options.emplace(name, value);
  return std::nullopt;
}

// %-escapes everything but unreserved characters and '/', for a value inside a URL.
std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

MaybeError parse_options(std::string_view query, const SchemeSpec& spec, PortUrl& url) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;

    const auto equals = item.find('=');
    const auto name = percent_decode(item.substr(0, equals));
    if (!name) {
      return fail(errc::bad_url, fmt::format("bad %-escape in option '{}'", item));
    }
    const auto value = equals == std::string_view::npos ? std::optional<std::string>(std::string{})
                                                        : percent_decode(item.substr(equals + 1));
    if (!value) {
      return fail(
          errc::bad_option_value,
          fmt::format("bad %-escape in the value of option '{}' of {}", *name, display_name(spec)));
    }
    if (auto error = add_option(spec, *name, *value, url)) {
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace

std::span<const SchemeSpec> port_schemes() { return registry; }

Result<PortUrl, Error> parse_port_url(std::string_view text) {
  return parse_port_url(text, registry);
}

Result<PortUrl, Error> parse_port_url(std::string_view text, std::span<const SchemeSpec> schemes) {
  PortUrl url;
  url.text = std::string(text);
  if (text.empty()) {
    return fail(errc::bad_url, fmt::format("empty port URL; expected {}", valid_schemes(schemes)));
  }

  const auto separator = text.find("://");
  if (separator == std::string_view::npos) {
    const auto paths = std::find_if(schemes.begin(), schemes.end(), [](const SchemeSpec& spec) {
      return spec.form == UrlForm::device_path;
    });
    if (paths == schemes.end() || (text.front() != '/' && text.front() != '.')) {
      return fail(errc::bad_url,
                  fmt::format("'{}' is neither a URL nor a device path (starting with / or .); "
                              "valid: {}",
                              text, valid_schemes(schemes)));
    }
    url.path = url.text;
    url.spec = &*paths;
    return url;
  }

  std::string scheme(text.substr(0, separator));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  const auto spec = std::find_if(schemes.begin(), schemes.end(), [&](const SchemeSpec& row) {
    return row.form != UrlForm::device_path && row.scheme == scheme;
  });
  if (spec == schemes.end()) {
    return fail(errc::unknown_scheme,
                fmt::format("unknown URL scheme '{}'; valid: {}", text.substr(0, separator),
                            valid_schemes(schemes)));
  }
  url.scheme = std::move(scheme);
  url.spec = &*spec;

  std::string_view rest = text.substr(separator + 3);
  const auto question = rest.find('?');
  const std::string_view address = rest.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : rest.substr(question + 1);

  switch (spec->form) {
    case UrlForm::device_path:
      break;  // not reached: device paths have no "://"
    case UrlForm::bare:
      if (!address.empty() && address != "/") {
        return fail(errc::bad_url,
                    fmt::format("{} takes no address, got '{}'", display_name(*spec), address));
      }
      break;
    case UrlForm::host_port:
      if (auto error = parse_host_port(address, *spec, url)) return std::move(*error);
      break;
    case UrlForm::name:
      if (!is_name(address)) {
        return fail(errc::bad_url, fmt::format("{} needs a name, as in {}NAME; got '{}'",
                                               display_name(*spec), display_name(*spec), address));
      }
      url.path = std::string(address);
      break;
  }

  if (auto error = parse_options(query, *spec, url)) return std::move(*error);
  return url;
}

Result<PortUrl, Error> make_port_url(std::string_view scheme, std::string_view name,
                                     std::span<const UrlOption> options) {
  const auto spec = std::find_if(registry.begin(), registry.end(), [&](const SchemeSpec& row) {
    return row.form == UrlForm::name && row.scheme == scheme;
  });
  if (spec == registry.end() || !is_name(name)) {
    return fail(errc::bad_url, fmt::format("no port URL {}://{}", scheme, name));
  }
  PortUrl url;
  url.scheme = std::string(scheme);
  url.spec = &*spec;
  url.path = std::string(name);
  url.text = fmt::format("{}://{}", scheme, name);
  for (const auto& [option, value] : options) {
    url.text +=
        fmt::format("{}{}={}", url.options.empty() ? '?' : '&', option, percent_encode(value));
    if (auto error = add_option(*spec, option, value, url)) return std::move(*error);
  }
  return url;
}

bool PortUrl::has_option(std::string_view name) const { return options.contains(name); }

std::string_view PortUrl::option(std::string_view name) const {
  if (const auto it = options.find(name); it != options.end()) return it->second;
  if (spec != nullptr) {
    if (const OptionSpec* row = find_option(*spec, name)) return row->default_value;
  }
  return {};
}

bool PortUrl::flag(std::string_view name) const {
  if (!has_option(name)) {
    const auto fallback = option(name);
    return !fallback.empty() && parse_flag(fallback).value_or(false);
  }
  return parse_flag(option(name)).value_or(false);
}

std::int64_t PortUrl::integer(std::string_view name) const {
  return parse_integer(option(name)).value_or(0);
}

std::chrono::milliseconds PortUrl::seconds(std::string_view name) const {
  const double value = parse_seconds(option(name)).value_or(0.0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(value));
}

std::string port_url_help() {
  std::string text = "Port URLs:\n";
  for (const auto& spec : registry) {
    std::string form;
    switch (spec.form) {
      case UrlForm::device_path:
        form = "/dev/PATH";
        break;
      case UrlForm::bare:
        form = fmt::format("{}://", spec.scheme);
        break;
      case UrlForm::host_port:
        form = fmt::format("{}://HOST:PORT", spec.scheme);
        break;
      case UrlForm::name:
        form = fmt::format("{}://NAME", spec.scheme);
        break;
    }
    if (!spec.options.empty()) form += "[?OPTIONS]";
    text += fmt::format("  {:<34} {}\n", form, spec.help);
    for (const auto& option : spec.options) {
      text += fmt::format("      {:<30} {}", option.name, option.help);
      if (!option.default_value.empty()) text += fmt::format(" (default {})", option.default_value);
      text += "\n";
    }
  }
  return text;
}

}  // namespace ttynet::port
