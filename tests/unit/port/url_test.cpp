#include "ttynet/port/url.hpp"

#include <gtest/gtest.h>

#include <array>

#include "ttynet/port/error.hpp"

namespace ttynet::port {
namespace {

// A registry as it will look once the network and simulator backends are in: the parser must
// handle their forms from the table alone.
constexpr std::array<OptionSpec, 4> remote_options = {{
    {"ign_set_control", OptionType::flag, "", "do not wait for SET-CONTROL replies"},
    {"poll_modem", OptionType::flag, "", "poll the modem state"},
    {"timeout", OptionType::seconds, "3", "negotiation and reply timeout"},
    {"logging", OptionType::choice, "", "log level", "debug|info|warning|error"},
}};
constexpr std::array<OptionSpec, 3> sim_options = {{
    {"flash_size", OptionType::text, "4MB", "flash size"},
    {"pace", OptionType::flag, "", "bytes take their time on the wire"},
    {"seed", OptionType::integer, "7", "random seed"},
}};
constexpr std::array<SchemeSpec, 4> future_registry = {{
    {"", UrlForm::device_path, {}, "a local device", nullptr},
    {"rfc2217", UrlForm::host_port, remote_options, "RFC 2217", nullptr},
    {"loop", UrlForm::bare, {}, "loopback", nullptr},
    {"sim", UrlForm::name, sim_options, "simulated chip", nullptr},
}};

PortUrl parse_ok(std::string_view text, std::span<const SchemeSpec> schemes = future_registry) {
  auto url = parse_port_url(text, schemes);
  EXPECT_TRUE(url.has_value()) << text << ": " << (url ? "" : url.error().message);
  return url ? *url : PortUrl{};
}

Error parse_error(std::string_view text, std::span<const SchemeSpec> schemes = future_registry) {
  auto url = parse_port_url(text, schemes);
  EXPECT_FALSE(url.has_value()) << text;
  return url ? Error{} : url.error();
}

TEST(PortUrl, TakesAnAbsoluteOrRelativePathAsADevice) {
  for (std::string_view text : {"/dev/ttyUSB0", "./ttyV0", "../dev/x?y", "/dev/serial/by-id/a:b"}) {
    const PortUrl url = parse_port_url(text).value();
    EXPECT_EQ(url.scheme, "");
    EXPECT_EQ(url.path, text);
    EXPECT_TRUE(url.options.empty());
    ASSERT_NE(url.spec, nullptr);
    EXPECT_EQ(url.spec->form, UrlForm::device_path);
  }
}

TEST(PortUrl, RefusesTextThatIsNeitherPathNorUrl) {
  const Error error = parse_error("COM3", port_schemes());
  EXPECT_EQ(error.code, errc::bad_url);
  EXPECT_EQ(error.message,
            "'COM3' is neither a URL nor a device path (starting with / or .); valid: loop://, "
            "rfc2217://, rfc2217+tls://, socket://, socket+tls://, sim://, or a device path");
  EXPECT_EQ(parse_error("", port_schemes()).message,
            "empty port URL; expected loop://, rfc2217://, rfc2217+tls://, socket://, "
            "socket+tls://, sim://, or a device path");
}

TEST(PortUrl, ParsesLoop) {
  const PortUrl url = parse_port_url("loop://").value();
  EXPECT_EQ(url.scheme, "loop");
  EXPECT_EQ(url.text, "loop://");
  EXPECT_TRUE(url.host.empty());
  EXPECT_TRUE(url.options.empty());
  EXPECT_EQ(parse_port_url("LOOP://").value().scheme, "loop");
}

TEST(PortUrl, NamesTheValidSchemesForAnUnknownOne) {
  const Error error = parse_error("foo://x", port_schemes());
  EXPECT_EQ(error.code, errc::unknown_scheme);
  EXPECT_EQ(error.message,
            "unknown URL scheme 'foo'; valid: loop://, rfc2217://, rfc2217+tls://, socket://, "
            "socket+tls://, sim://, or a device path");
  EXPECT_EQ(parse_error("foo://x").message,
            "unknown URL scheme 'foo'; valid: rfc2217://, loop://, sim://, or a device path");
}

TEST(PortUrl, NamesTheValidOptionsForAnUnknownOne) {
  Error error = parse_error("loop://?x", port_schemes());
  EXPECT_EQ(error.code, errc::unknown_option);
  EXPECT_EQ(error.message, "unknown option 'x' for loop://; valid: (none)");
  error = parse_error("rfc2217://host:4000?ign_set_control&polll_modem");
  EXPECT_EQ(error.code, errc::unknown_option);
  EXPECT_EQ(error.message,
            "unknown option 'polll_modem' for rfc2217://; valid: ign_set_control, poll_modem, "
            "timeout, logging");
}

TEST(PortUrl, RefusesAnAddressForLoop) {
  const Error error = parse_error("loop://host:1", port_schemes());
  EXPECT_EQ(error.code, errc::bad_url);
  EXPECT_EQ(error.message, "loop:// takes no address, got 'host:1'");
}

TEST(PortUrl, ParsesHostPortAndOptions) {
  const PortUrl url = parse_ok("rfc2217://esp.local:4000?ign_set_control&timeout=1.5");
  EXPECT_EQ(url.scheme, "rfc2217");
  EXPECT_EQ(url.host, "esp.local");
  EXPECT_EQ(url.port, 4000);
  ASSERT_EQ(url.options.size(), 2U);
  EXPECT_EQ(url.options.at("ign_set_control"), "");
  EXPECT_TRUE(url.flag("ign_set_control"));
  EXPECT_FALSE(url.flag("poll_modem"));
  EXPECT_EQ(url.seconds("timeout"), std::chrono::milliseconds(1500));
}

TEST(PortUrl, FillsDefaultsFromTheTable) {
  const PortUrl url = parse_ok("rfc2217://10.0.0.1:2217/");
  EXPECT_EQ(url.host, "10.0.0.1");
  EXPECT_EQ(url.port, 2217);
  EXPECT_FALSE(url.has_option("timeout"));
  EXPECT_EQ(url.option("timeout"), "3");
  EXPECT_EQ(url.seconds("timeout"), std::chrono::seconds(3));
  EXPECT_EQ(url.option("logging"), "");
}

TEST(PortUrl, ParsesBracketedIpv6Literals) {
  PortUrl url = parse_ok("rfc2217://[::1]:4000?poll_modem");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 4000);
  EXPECT_TRUE(url.flag("poll_modem"));
  url = parse_ok("rfc2217://[fe80::1%25eth0]:1");
  EXPECT_EQ(url.host, "fe80::1%eth0");
  EXPECT_EQ(url.port, 1);
}

TEST(PortUrl, RefusesBadHostsAndPorts) {
  struct Case {
    std::string_view text;
    std::string_view message;
  };
  const Case cases[] = {
      {"rfc2217://host", "rfc2217://: no port in 'rfc2217://host'; expected rfc2217://HOST:PORT"},
      {"rfc2217://:4000", "rfc2217://: no host in 'rfc2217://:4000'; expected rfc2217://HOST:PORT"},
      {"rfc2217://host:0",
       "rfc2217://: bad port '0' (1..65535) in 'rfc2217://host:0'; expected rfc2217://HOST:PORT"},
      {"rfc2217://host:65536",
       "rfc2217://: bad port '65536' (1..65535) in "
       "'rfc2217://host:65536'; expected rfc2217://HOST:PORT"},
      {"rfc2217://host:+1",
       "rfc2217://: bad port '+1' (1..65535) in 'rfc2217://host:+1'; "
       "expected rfc2217://HOST:PORT"},
      {"rfc2217://::1:4000",
       "rfc2217://: an IPv6 address needs brackets ([::1]:4000) in "
       "'rfc2217://::1:4000'; expected rfc2217://HOST:PORT"},
      {"rfc2217://[::1:4000",
       "rfc2217://: unclosed '[' in 'rfc2217://[::1:4000'; expected "
       "rfc2217://HOST:PORT"},
      {"rfc2217://[]:4000",
       "rfc2217://: empty IPv6 address in 'rfc2217://[]:4000'; expected "
       "rfc2217://HOST:PORT"},
      {"rfc2217://[::1]4000",
       "rfc2217://: no port in 'rfc2217://[::1]4000'; expected "
       "rfc2217://HOST:PORT"},
  };
  for (const auto& c : cases) {
    const Error error = parse_error(c.text);
    EXPECT_EQ(error.code, errc::bad_url) << c.text;
    EXPECT_EQ(error.message, c.message);
  }
}

TEST(PortUrl, NamesTheOptionWithABadValue) {
  Error error = parse_error("rfc2217://h:1?timeout=abc");
  EXPECT_EQ(error.code, errc::bad_option_value);
  EXPECT_EQ(error.message,
            "bad value 'abc' for option 'timeout' of rfc2217://: expected a number of seconds");
  error = parse_error("rfc2217://h:1?timeout=-1");
  EXPECT_EQ(error.code, errc::bad_option_value);
  error = parse_error("rfc2217://h:1?timeout");
  EXPECT_EQ(error.message, "option 'timeout' of rfc2217:// needs a value (a number of seconds)");
  error = parse_error("rfc2217://h:1?logging=loud");
  EXPECT_EQ(error.message,
            "bad value 'loud' for option 'logging' of rfc2217://: expected one of debug, info, "
            "warning, error");
  error = parse_error("rfc2217://h:1?poll_modem=maybe");
  EXPECT_EQ(error.message,
            "bad value 'maybe' for option 'poll_modem' of rfc2217://: expected no value, or one "
            "of 1, 0, true, false, yes, no, on, off");
  error = parse_error("sim://esp32?seed=1.5");
  EXPECT_EQ(error.message, "bad value '1.5' for option 'seed' of sim://: expected an integer");
}

TEST(PortUrl, ReadsFlagValues) {
  EXPECT_TRUE(parse_ok("rfc2217://h:1?poll_modem=yes").flag("poll_modem"));
  EXPECT_FALSE(parse_ok("rfc2217://h:1?poll_modem=0").flag("poll_modem"));
  EXPECT_TRUE(parse_ok("rfc2217://h:1?logging=debug").has_option("logging"));
}

TEST(PortUrl, RefusesAnOptionGivenTwice) {
  const Error error = parse_error("rfc2217://h:1?timeout=1&timeout=2");
  EXPECT_EQ(error.code, errc::bad_url);
  EXPECT_EQ(error.message, "option 'timeout' given twice in 'rfc2217://h:1?timeout=1&timeout=2'");
}

TEST(PortUrl, SkipsEmptyOptionsAndDecodesPercentEscapes) {
  const PortUrl url = parse_ok("sim://esp32?&flash_size=16%4DB&&seed=-3&");
  EXPECT_EQ(url.path, "esp32");
  EXPECT_EQ(url.options.size(), 2U);
  EXPECT_EQ(url.option("flash_size"), "16MB");
  EXPECT_EQ(url.integer("seed"), -3);
  EXPECT_EQ(parse_error("sim://esp32?flash_size=4%G0").code, errc::bad_option_value);
  EXPECT_EQ(parse_error("sim://esp32?flash_size=4%").code, errc::bad_option_value);
}

TEST(PortUrl, NeedsANameForNamedSchemes) {
  EXPECT_EQ(parse_ok("sim://esp32c3").path, "esp32c3");
  EXPECT_EQ(parse_ok("sim://esp32").integer("seed"), 7);
  const Error error = parse_error("sim://?pace");
  EXPECT_EQ(error.code, errc::bad_url);
  EXPECT_EQ(error.message, "sim:// needs a name, as in sim://NAME; got ''");
}

TEST(PortUrl, HelpListsEverySchemeOfTheRegistry) {
  const std::string help = port_url_help();
  EXPECT_NE(help.find("/dev/PATH"), std::string::npos);
  EXPECT_NE(help.find("loop://"), std::string::npos);
}

TEST(PortUrl, RegistryRowsAllHaveAnOpener) {
  for (const auto& spec : port_schemes()) EXPECT_NE(spec.open, nullptr) << spec.scheme;
}

}  // namespace
}  // namespace ttynet::port

namespace ttynet::port {
namespace {

TEST(MakePortUrl, BuildsANamedUrlThatReadsAsIfParsed) {
  const std::array<UrlOption, 2> options = {{{"flash_file", "/tmp/my flash&1.bin"}, {"pace", "1"}}};
  const auto made = make_port_url("sim", "esp32s3", options);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->path, "esp32s3");
  EXPECT_EQ(made->option("flash_file"), "/tmp/my flash&1.bin");
  EXPECT_TRUE(made->flag("pace"));
  EXPECT_EQ(made->option("flash_size"), "4MB");  // the table's default
  // Its text parses back to the same URL.
  const auto parsed = parse_port_url(made->text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->path, made->path);
  EXPECT_EQ(parsed->options, made->options);
}

TEST(MakePortUrl, ChecksOptionsAsTheParserDoes) {
  const std::array<UrlOption, 1> unknown = {{{"colour", "red"}}};
  const auto refused = make_port_url("sim", "esp32", unknown);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::unknown_option);
  const std::array<UrlOption, 1> bad_flag = {{{"pace", "maybe"}}};
  EXPECT_EQ(make_port_url("sim", "esp32", bad_flag).error().code, errc::bad_option_value);
  EXPECT_EQ(make_port_url("loop", "x", {}).error().code, errc::bad_url);  // not a named scheme
}

}  // namespace
}  // namespace ttynet::port
