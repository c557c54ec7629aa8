#pragma once
// Port URLs (README.md, "Port URLs"): the grammar, one option table per scheme, and the registry
// of schemes that open_port() dispatches on. Adding a backend means adding a row to the registry
// in url.cpp; callers of open_port() and parse_port_url() do not change.
//
//   /dev/ttyUSB0, ./link               a local device: the whole text is the path, no options
//   loop://[?OPTS]                     a scheme without an address
//   rfc2217://HOST:PORT[/][?OPTS]      HOST is a name, an IPv4 address or [IPv6]
//   sim://NAME[?OPTS]                  a scheme whose address is one word (PortUrl::path)
//   OPTS = NAME[=VALUE]('&'NAME[=VALUE])*   values are %-decoded; valueless options allowed

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ttynet/port/port.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

enum class OptionType : std::uint8_t {
  flag,     // valueless, or 1/0, true/false, yes/no, on/off
  integer,  // a decimal integer
  seconds,  // a non-negative decimal number of seconds
  text,     // any non-empty text
  choice,   // one of OptionSpec::choices
};

struct OptionSpec {
  std::string_view name;
  OptionType type;
  std::string_view default_value;  // empty: none (a flag: off)
  std::string_view help;
  std::string_view choices = {};  // for OptionType::choice: "debug|info|warning|error"
};

enum class UrlForm : std::uint8_t {
  device_path,  // no scheme: "/dev/ttyUSB0", "./ttyV0"
  bare,         // "loop://"
  host_port,    // "rfc2217://HOST:PORT"
  name,         // "sim://esp32"
};

struct SchemeSpec;

struct PortUrl {
  std::string text;    // as given
  std::string scheme;  // lower case, without "://"; empty for a device path
  std::string host;    // without the brackets of an IPv6 literal
  std::uint16_t port = 0;
  std::string path;  // the device path, or the NAME of UrlForm::name
  // Options as given, %-decoded; a valueless option maps to "".
  std::map<std::string, std::string, std::less<>> options;
  const SchemeSpec* spec = nullptr;  // the registry row the URL was validated against

  bool has_option(std::string_view name) const;
  // The given value, else the table's default, else "".
  std::string_view option(std::string_view name) const;
  // Typed reads of options the parser has already validated against the table.
  bool flag(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  std::chrono::milliseconds seconds(std::string_view name) const;
};

using OpenResult = Result<std::unique_ptr<Port>, Error>;
using Opener = asio::awaitable<OpenResult> (*)(asio::any_io_executor executor, const PortUrl& url);

struct SchemeSpec {
  std::string_view scheme;  // "loop"; empty for device paths
  UrlForm form;
  std::span<const OptionSpec> options;
  std::string_view help;
  Opener open;
};

// The registry: every scheme open_port() knows, device paths first.
std::span<const SchemeSpec> port_schemes();

// Parses and validates `text` against the registry. Errors name what is wrong and what is valid:
// "unknown URL scheme 'foo'; valid: loop://, or a device path",
// "unknown option 'x' for loop://; valid: (none)",
// "bad value 'abc' for option 'timeout' of rfc2217://: expected a number of seconds".
Result<PortUrl, Error> parse_port_url(std::string_view text);
// The same against any table of schemes (tests, fuzzing). PortUrl::spec points into `schemes`.
Result<PortUrl, Error> parse_port_url(std::string_view text, std::span<const SchemeSpec> schemes);

// A URL of the form SCHEME://NAME?OPTS made from its parts (a front end's own flags), checked
// as parse_port_url() checks text; its text spells it out, values %-escaped.
struct UrlOption {
  std::string name;
  std::string value;
};
Result<PortUrl, Error> make_port_url(std::string_view scheme, std::string_view name,
                                     std::span<const UrlOption> options);

// Every scheme with its options and their help, for --help.
std::string port_url_help();

}  // namespace ttynet::port
