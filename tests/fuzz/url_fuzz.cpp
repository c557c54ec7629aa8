// The port URL grammar (port/url.cpp) on any text, against the real scheme registry.
// Invariants: parsing never throws; an error has a port error code and a message; a parsed URL
// points into the registry, has the fields its form calls for and only options its scheme
// lists, each valid for its type; printed back in canonical form (lower-case scheme,
// %-encoded options, IPv6 hosts in brackets) it parses to the same fields; and the scheme is
// case-insensitive.
//
// url.hpp names Asio's coroutine types; the openers the registry points at are stubs here
// (nothing is opened) and url.cpp is built from its source file (tests/fuzz/CMakeLists.txt).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "ttynet/port/error.hpp"
#include "ttynet/port/url.hpp"

namespace ttynet::port {

// The registry's openers; the parser only stores their addresses.
asio::awaitable<OpenResult> open_tty_url(asio::any_io_executor, const PortUrl&) { std::abort(); }
asio::awaitable<OpenResult> open_loop_url(asio::any_io_executor, const PortUrl&) { std::abort(); }
asio::awaitable<OpenResult> open_rfc2217_url(asio::any_io_executor, const PortUrl&) {
  std::abort();
}
asio::awaitable<OpenResult> open_socket_url(asio::any_io_executor, const PortUrl&) { std::abort(); }
asio::awaitable<OpenResult> open_sim_url(asio::any_io_executor, const PortUrl&) { std::abort(); }

}  // namespace ttynet::port

namespace {

using namespace ttynet::port;
using ttynet::fuzz::check;

ttynet::Result<PortUrl, ttynet::Error> parse(std::string_view text) {
  try {
    return parse_port_url(text);
  } catch (...) {
    std::abort();  // the parser reports every problem as a ttynet::Error
  }
}

std::string percent_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-' || c == '.') {
      out += c;
    } else {
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 0xF];
    }
  }
  return out;
}

// Whether `host` can be written in brackets: a non-empty IPv6-literal part, then optionally '%'
// and a zone. (A host parsed from brackets may hold characters a bare host may not, "[f%@]";
// one parsed bare may not fit in brackets, "g%x".)
bool is_bracket_host(std::string_view host) {
  const auto percent = host.find('%');
  const std::string_view literal = host.substr(0, percent);
  if (literal.empty() ||
      literal.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
    return false;
  }
  if (percent == std::string_view::npos) return true;
  const std::string_view zone = host.substr(percent + 1);
  return !zone.empty() && zone.find_first_of("%/?#[]") == std::string_view::npos;
}

// The canonical text of a parsed URL.
std::string format(const PortUrl& url) {
  if (url.spec->form == UrlForm::device_path) return url.path;
  std::string text = url.scheme + "://";
  switch (url.spec->form) {
    case UrlForm::device_path:
    case UrlForm::bare:
      break;
    case UrlForm::host_port: {
      const auto percent = url.host.find('%');
      if (url.host.find_first_of(":%") != std::string::npos && is_bracket_host(url.host)) {
        // An IPv6 literal, its zone written %25ZONE (RFC 6874).
        text += "[" + url.host.substr(0, percent);
        if (percent != std::string::npos) text += "%25" + url.host.substr(percent + 1);
        text += "]";
      } else {
        text += url.host;
      }
      text += ":" + std::to_string(url.port);
      break;
    }
    case UrlForm::name:
      text += url.path;
      break;
  }
  char separator = '?';
  for (const auto& [name, value] : url.options) {
    text += separator;
    separator = '&';
    text += percent_encode(name);
    if (!value.empty()) text += "=" + percent_encode(value);
  }
  return text;
}

bool same_fields(const PortUrl& a, const PortUrl& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.path == b.path &&
         a.options == b.options && a.spec == b.spec;
}

void check_fields(const PortUrl& url, std::string_view text) {
  const auto schemes = port_schemes();
  check(url.text == text);
  check(url.spec != nullptr && url.spec >= schemes.data() &&
        url.spec < schemes.data() + schemes.size());
  check(url.scheme == url.spec->scheme);
  check(std::none_of(url.scheme.begin(), url.scheme.end(),
                     [](char c) { return c >= 'A' && c <= 'Z'; }));
  switch (url.spec->form) {
    case UrlForm::device_path:
      check(url.path == text && (text.front() == '/' || text.front() == '.'));
      check(url.host.empty() && url.port == 0 && url.options.empty());
      break;
    case UrlForm::bare:
      check(url.host.empty() && url.port == 0 && url.path.empty());
      break;
    case UrlForm::host_port:
      check(!url.host.empty() && url.port != 0 && url.path.empty());
      break;
    case UrlForm::name:
      check(!url.path.empty() && url.path.find_first_of("/?") == std::string::npos);
      check(url.host.empty() && url.port == 0);
      break;
  }
  for (const auto& option : url.options) {
    const std::string& name = option.first;
    const std::string& value = option.second;
    const auto& options = url.spec->options;
    const auto row = std::find_if(options.begin(), options.end(),
                                  [&](const OptionSpec& spec) { return spec.name == name; });
    check(row != options.end());
    check(url.has_option(name) && url.option(name) == value);
    switch (row->type) {
      case OptionType::flag:
        (void)url.flag(name);
        break;
      case OptionType::integer:
        check(value.find_first_not_of("-0123456789") == std::string::npos);
        check(url.integer(name) != 0 || value.find_first_not_of("-0") == std::string::npos);
        break;
      case OptionType::seconds:
        check(value.find_first_not_of("-0123456789.") == std::string::npos);
        check(url.seconds(name).count() >= 0);
        break;
      case OptionType::text:
        check(!value.empty());
        break;
      case OptionType::choice:
        check(!value.empty() || row->choices.find("||") != std::string_view::npos ||
              row->choices.starts_with('|') || row->choices.ends_with('|'));
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse(text);
  if (!parsed) {
    const auto& error = parsed.error();
    check(error.code.category() == error_category());
    check(error.code == errc::bad_url || error.code == errc::unknown_scheme ||
          error.code == errc::unknown_option || error.code == errc::bad_option_value);
    check(!error.message.empty());
    return 0;
  }
  const PortUrl& url = *parsed;
  check_fields(url, text);

  const std::string canonical = format(url);
  const auto again = parse(canonical);
  check(again.has_value() && same_fields(*again, url));

  // The scheme is case-insensitive.
  if (const auto separator = text.find("://"); separator != std::string_view::npos) {
    std::string upper(text);
    std::transform(
        upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(separator), upper.begin(),
        [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; });
    const auto shouted = parse(upper);
    check(shouted.has_value() && same_fields(*shouted, url));
  }
  return 0;
}
