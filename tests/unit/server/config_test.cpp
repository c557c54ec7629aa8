#include "ttynet/server/config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ttynet::server {
namespace {

ServerConfig parse_ok(std::string_view text) {
  auto parsed = parse_config(text, "ports.toml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : ServerConfig{};
}

std::string parse_error(std::string_view text) {
  auto parsed = parse_config(text, "ports.toml");
  EXPECT_FALSE(parsed);
  if (parsed) return std::string();
  EXPECT_EQ(parsed.error().code, std::errc::invalid_argument);
  return parsed.error().message;
}

// The example of the documentation, as written.
constexpr std::string_view example = R"(
[defaults]            # applies to every port unless overridden
protocol = "rfc2217"  # or "raw"
baud = 115200
bind = "0.0.0.0"

[[port]]
name = "lab-esp32-1"
device = "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_..."
tcp_port = 4001
esp = true

[[port]]
name = "cp210x-{serial}"              # every matching device, now or hot-plugged later
match = { vid = "10c4", pid = "ea60" }
tcp_port_base = 4100                  # stable per device serial number across replug
)";

TEST(ConfigParse, ReadsTheDocumentedExample) {
  const auto config = parse_ok(example);
  ASSERT_EQ(config.ports.size(), 2u);
  const auto& esp32 = config.ports[0];
  EXPECT_EQ(esp32.name, "lab-esp32-1");
  EXPECT_EQ(esp32.source, PortEntry::Source::path);
  EXPECT_EQ(esp32.device, "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_...");
  EXPECT_EQ(esp32.tcp_port, 4001);
  EXPECT_FALSE(esp32.is_port_base);
  EXPECT_TRUE(esp32.esp.has_value());
  EXPECT_EQ(esp32.protocol, Protocol::rfc2217);
  EXPECT_EQ(esp32.initial_settings.baud, 115200u);
  EXPECT_EQ(esp32.bind, "0.0.0.0");
  EXPECT_EQ(esp32.line, 7u);

  const auto& cp210x = config.ports[1];
  EXPECT_EQ(cp210x.source, PortEntry::Source::match);
  EXPECT_EQ(cp210x.match.vid, 0x10c4);
  EXPECT_EQ(cp210x.match.pid, 0xea60);
  EXPECT_TRUE(cp210x.is_port_base);
  EXPECT_EQ(cp210x.tcp_port, 4100);
  EXPECT_FALSE(cp210x.esp.has_value());
  EXPECT_EQ(cp210x.bind, "0.0.0.0");
}

TEST(ConfigParse, EntriesOverrideDefaults) {
  const auto config = parse_ok(R"(
[defaults]
protocol = "raw"
baud = 9600
[[port]]
device = "loop://"
tcp_port = 0
baud = 230400
[[port]]
device = "sim://esp32"
tcp_port = 4002
protocol = "rfc2217"
esp = true
r0 = true
monitor_port = 5002
)");
  ASSERT_EQ(config.ports.size(), 2u);
  EXPECT_EQ(config.ports[0].source, PortEntry::Source::url);
  EXPECT_EQ(config.ports[0].protocol, Protocol::raw);
  EXPECT_EQ(config.ports[0].initial_settings.baud, 230400u);
  EXPECT_FALSE(config.ports[0].bind.has_value());
  EXPECT_EQ(config.ports[1].protocol, Protocol::rfc2217);
  EXPECT_EQ(config.ports[1].initial_settings.baud, 9600u);
  ASSERT_TRUE(config.ports[1].esp.has_value());
  EXPECT_TRUE(config.ports[1].esp->r0);
  EXPECT_EQ(config.ports[1].monitor_port, 5002);
}

TEST(ConfigParse, ClientLimitsComeFromDefaultsOrTheEntry) {
  const auto config = parse_ok(R"(
[defaults]
keepalive = 120
[[port]]
device = "loop://"
tcp_port = 0
[[port]]
device = "loop://"
tcp_port = 0
keepalive = 0
idle_timeout = 600
)");
  ASSERT_EQ(config.ports.size(), 2u);
  EXPECT_EQ(config.ports[0].clients,
            (ClientLimits{.keepalive = std::chrono::seconds(120), .idle_timeout = {}}));
  EXPECT_EQ(config.ports[1].clients, (ClientLimits{.keepalive = std::chrono::seconds(0),
                                                   .idle_timeout = std::chrono::seconds(600)}));
  EXPECT_EQ(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nidle_timeout = -1\n"),
            "ports.toml:4:16: port 1, 'idle_timeout': expected seconds, 0 to 86400 (0: never)");
}

TEST(ConfigParse, RecognisesGlobsAndMatchKeys) {
  const auto config = parse_ok(R"(
[[port]]
device = "/tmp/x/tty*"
tcp_port_base = 5000
monitor_port = 6000
[[port]]
match = { serial = "0001", by_id = "CP2102N" }
tcp_port_base = 5100
)");
  EXPECT_EQ(config.ports[0].source, PortEntry::Source::glob);
  EXPECT_TRUE(config.ports[0].is_multi_device());
  EXPECT_EQ(config.ports[1].match.serial, "0001");
  EXPECT_EQ(config.ports[1].match.by_id, "CP2102N");
  EXPECT_FALSE(config.ports[1].match.vid.has_value());
}

TEST(ConfigParse, EqualEntriesIgnoreTheirLine) {
  const auto a = parse_ok("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\n");
  const auto b = parse_ok("\n\n[[port]]\ntcp_port = 1\ndevice = \"loop://\"\n");
  EXPECT_NE(a.ports[0].line, b.ports[0].line);
  EXPECT_EQ(a.ports[0], b.ports[0]);
  const auto c = parse_ok("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nbaud = 9600\n");
  EXPECT_NE(a.ports[0], c.ports[0]);
}

TEST(ConfigParse, ReadsSecurityKeysAndIdentities) {
  const auto config = parse_ok(R"(
[defaults]
tls_cert = "/etc/ttynet/server.pem"
tls_key = "/etc/ttynet/server.key"
allow = ["10.1.0.0/16", "2001:db8::/32"]

[[port]]
device = "loop://"
tcp_port = 4000
tls_client_ca = "/etc/ttynet/ca.pem"
deny = ["10.1.9.0/24"]

[[identity]]
certificate_subject = "CN=ci-runner,O=lab"
ports = ["esp-*"]
permission = "control"

[[identity]]
token_file = "/etc/ttynet/watch.token"
permission = "monitor"
)");
  ASSERT_EQ(config.ports.size(), 1u);
  const PortEntry& port = config.ports[0];
  EXPECT_EQ(port.security.tls_cert, "/etc/ttynet/server.pem");
  EXPECT_EQ(port.security.tls_key, "/etc/ttynet/server.key");
  EXPECT_EQ(port.security.tls_client_ca, "/etc/ttynet/ca.pem");
  EXPECT_EQ(port.security.allow, (std::vector<std::string>{"10.1.0.0/16", "2001:db8::/32"}));
  EXPECT_EQ(port.security.deny, (std::vector<std::string>{"10.1.9.0/24"}));
  ASSERT_EQ(port.identities.size(), 2u);
  EXPECT_EQ(port.identities[0].certificate_subject, "CN=ci-runner,O=lab");
  EXPECT_EQ(port.identities[0].ports, (std::vector<std::string>{"esp-*"}));
  EXPECT_EQ(port.identities[0].permission, Permission::control);
  EXPECT_EQ(port.identities[1].token_file, "/etc/ttynet/watch.token");
  EXPECT_TRUE(port.identities[1].ports.empty());
  EXPECT_EQ(port.identities[1].permission, Permission::monitor);
}

TEST(ConfigParse, SharingComesFromDefaultsOrTheEntry) {
  const auto config = parse_ok(R"(
[defaults]
max_clients = 4
scrollback = "64KiB"
[[port]]
device = "loop://"
tcp_port = 0
[[port]]
device = "loop://"
tcp_port = 0
max_clients = 1
scrollback = 0
takeover = "idle"
takeover_idle = 30
)");
  ASSERT_EQ(config.ports.size(), 2u);
  EXPECT_EQ(config.ports[0].sharing, (SharingOptions{.max_clients = 4, .scrollback = 65536}));
  EXPECT_EQ(config.ports[0].sharing.for_controllers(), 65536u);
  EXPECT_EQ(config.ports[1].sharing, (SharingOptions{.max_clients = 1,
                                                     .scrollback = 0,
                                                     .takeover = Takeover::idle,
                                                     .takeover_idle = std::chrono::seconds(30)}));
  EXPECT_EQ(config.ports[1].sharing.for_monitors(), 0u);
  // Unset: monitors get the default, controllers nothing.
  const SharingOptions unset;
  EXPECT_EQ(unset.for_monitors(), default_monitor_scrollback);
  EXPECT_EQ(unset.for_controllers(), 0u);
}

TEST(ConfigErrors, SharingKeysAreChecked) {
  const std::string port = "[[port]]\ndevice = \"loop://\"\ntcp_port = 1\n";
  EXPECT_EQ(parse_error(port + "max_clients = 0\n"),
            "ports.toml:4:15: port 1, 'max_clients': expected an integer from 1 to 100");
  EXPECT_EQ(parse_error(port + "scrollback = \"64 KiB\"\n"),
            "ports.toml:4:14: port 1, 'scrollback': expected a size up to 16MiB as a string, "
            "e.g. \"64KiB\" (\"0\": none)");
  EXPECT_EQ(parse_error(port + "scrollback = \"32MiB\"\n"),
            "ports.toml:4:14: port 1, 'scrollback': expected a size up to 16MiB as a string, "
            "e.g. \"64KiB\" (\"0\": none)");
  EXPECT_EQ(parse_error(port + "takeover = \"sometimes\"\n"),
            "ports.toml:4:12: port 1, 'takeover': expected \"never\", \"idle\" or \"always\"");
  EXPECT_EQ(parse_error(port + "takeover_idle = -5\n"),
            "ports.toml:4:17: port 1, 'takeover_idle': expected seconds, 0 to 86400");
}

TEST(ConfigErrors, SecurityKeysAreChecked) {
  const std::string port = "[[port]]\ndevice = \"loop://\"\ntcp_port = 1\n";
  EXPECT_EQ(parse_error(port + "allow = [\"10.0.0.1/8\"]\n"),
            "ports.toml:4:9: port 1, 'allow': '10.0.0.1/8' has host bits set; did you mean "
            "10.0.0.0/8?");
  EXPECT_EQ(parse_error(port + "deny = \"10.0.0.0/8\"\n"),
            "ports.toml:4:8: port 1, 'deny': expected a list of addresses or networks, e.g. "
            "[\"10.0.0.0/8\"]");
  EXPECT_EQ(parse_error(port + "tls_cert = \"c.pem\"\n"),
            "ports.toml:1:1: port 1: TLS needs both 'tls_cert' and 'tls_key' ('tls_client_ca' "
            "needs them too)");
  EXPECT_EQ(parse_error(port + "[[identity]]\npermission = \"control\"\n"),
            "ports.toml:4:1: identity 1: give either 'token_file' or 'certificate_subject'");
  EXPECT_EQ(parse_error(port + "[[identity]]\ntoken_file = \"t\"\n"),
            "ports.toml:4:1: identity 1: give 'permission' (\"control\" or \"monitor\")");
  EXPECT_EQ(parse_error(port + "[[identity]]\ntoken_file = \"t\"\npermission = \"root\"\n"),
            "ports.toml:6:14: identity 1, 'permission': expected \"control\" or \"monitor\"");
  EXPECT_EQ(parse_error(port + "[[identity]]\ntoken = \"secret\"\n"),
            "ports.toml:5:9: identity 1, 'token': unknown key; valid: token_file, "
            "certificate_subject, ports, permission");
}

TEST(ConfigParse, AnAccessFileHoldsIdentitiesOnly) {
  auto identities = parse_identities(
      "[[identity]]\ntoken_file = \"/t\"\npermission = \"control\"\n", "access.toml");
  ASSERT_TRUE(identities) << identities.error().message;
  ASSERT_EQ(identities->size(), 1u);
  EXPECT_EQ((*identities)[0].token_file, "/t");
  auto wrong = parse_identities("[[port]]\ndevice = \"loop://\"\n", "access.toml");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message, "access.toml:1:1: 'port': unknown key; valid: [[identity]]");
}

TEST(ConfigErrors, NameFileLineAndKey) {
  EXPECT_EQ(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nbaud = \"fast\"\n"),
            "ports.toml:4:8: port 1, 'baud': expected an integer from 1 to 100000000");
  EXPECT_EQ(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nbauds = 1\n"),
            "ports.toml:4:9: port 1, 'bauds': unknown key; valid: name, device, match, tcp_port, "
            "tcp_port_base, monitor_port, protocol, baud, bind, esp, r0, reset_sequence, "
            "hard_reset_sequence, keepalive, idle_timeout, tls_cert, tls_key, tls_client_ca, "
            "allow, deny, max_clients, scrollback, takeover, takeover_idle");
  EXPECT_EQ(parse_error("[defaults]\nprotocol = \"telnet\"\n[[port]]\ndevice = \"loop://\"\n"
                        "tcp_port = 1\n"),
            "ports.toml:2:12: [defaults] 'protocol': expected \"rfc2217\" or \"raw\"");
  EXPECT_EQ(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 70000\n"),
            "ports.toml:3:12: port 1, 'tcp_port': expected an integer from 0 to 65535 (0 = any "
            "free port)");
}

TEST(ConfigErrors, SyntaxErrorsCarryTheirPosition) {
  const auto error = parse_error("[[port]]\ndevice = \"loop://\ntcp_port = 1\n");
  EXPECT_EQ(error.rfind("ports.toml:2:", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// TOML keeps non-ASCII text to strings and comments; toml++ 3.3 has undefined behaviour on some
// such characters elsewhere, so those files are refused before it reads them.
TEST(ConfigParse, KeepsNonAsciiTextInStringsAndComments) {
  const ServerConfig config = parse_ok(
      "# caf\u00e9 \u00b0 comment\n[[port]]\nname = \"caf\u00e9-\u0416\"  # \u00e9\n"
      "device = 'loop://'\ntcp_port = 4001\nesp = true\n"
      "reset_sequence = \"\"\"D0|R1|W0.1|\\\n   D1|R0\"\"\"\n");
  ASSERT_EQ(config.ports.size(), 1u);
  EXPECT_EQ(config.ports[0].name, "caf\u00e9-\u0416");
}

TEST(ConfigErrors, AMissingFileKeepsTheSystemsCode) {
  auto loaded = load_config("/nonexistent/ports.toml");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(loaded.error().message, "/nonexistent/ports.toml: cannot read the config file");
}

TEST(ConfigErrors, NonAsciiOutsideStringsNamesItsPosition) {
  EXPECT_EQ(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1 \u00e9\n"),
            "ports.toml:3:14: non-ASCII character outside a string or comment");
}

TEST(ConfigErrors, CheckEachEntryAsAWhole) {
  EXPECT_NE(parse_error("[[port]]\ntcp_port = 1\n").find("give either 'device' or 'match'"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\ndevice = \"loop://\"\n").find("give 'tcp_port'"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\ndevice = \"/dev/tty*\"\ntcp_port = 4000\n")
                .find("give 'tcp_port_base'"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nprotocol = \"raw\"\n"
                        "esp = true\n")
                .find("needs protocol \"rfc2217\""),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nr0 = true\n")
                .find("ports.toml:4:6: port 1: ESP reset options need esp = true"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\nmatch = { vid = \"xyz\" }\ntcp_port_base = 1\n")
                .find("port 1, 'match'.vid: expected four hex digits"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\nname = \"a\"\ndevice = \"loop://\"\ntcp_port = 1\n"
                        "[[port]]\nname = \"a\"\ndevice = \"loop://\"\ntcp_port = 2\n")
                .find("already the name of the entry on line 1"),
            std::string::npos);
  EXPECT_NE(parse_error("[[port]]\ndevice = \"loop://\"\ntcp_port = 1\nesp = true\n"
                        "reset_sequence = \"X1\"\n")
                .find("ports.toml:5:18: port 1, 'reset_sequence': bad reset step"),
            std::string::npos);
  EXPECT_NE(parse_error("").find("no [[port]] entries"), std::string::npos);
  EXPECT_NE(parse_error("ports = 1\n").find("unknown key"), std::string::npos);
}

TEST(ConfigParse, TheHttpTableSetsTheDashboard) {
  const std::string port = "[[port]]\ndevice = \"loop://\"\ntcp_port = 1\n";
  EXPECT_FALSE(parse_ok(port).http);
  const auto config = parse_ok(port +
                               "[http]\nlisten = \"*:8080\"\ntls_cert = \"c.pem\"\n"
                               "tls_key = \"k.pem\"\nallow = [\"10.0.0.0/8\"]\n");
  ASSERT_TRUE(config.http);
  EXPECT_EQ(config.http->listen, (HttpListen{.tcp_port = 8080}));
  EXPECT_EQ(config.http->security,
            (SecurityOptions{.tls_cert = "c.pem", .tls_key = "k.pem", .allow = {"10.0.0.0/8"}}));
}

TEST(ConfigErrors, TheHttpTableIsChecked) {
  const std::string port = "[[port]]\ndevice = \"loop://\"\ntcp_port = 1\n";
  EXPECT_EQ(parse_error(port + "[http]\nlisten = \"8080:x\"\n"),
            "ports.toml:5:10: [http] 'listen': expected \"PORT\", \"ADDRESS:PORT\" or \"*:PORT\"");
  EXPECT_EQ(parse_error(port + "[http]\nallow = [\"10.0.0.0/8\"]\n"),
            "ports.toml:4:1: [http]: 'listen' is required, e.g. \"127.0.0.1:8080\"");
  EXPECT_EQ(parse_error(port + "[http]\nlisten = \"8080\"\nport = 1\n"),
            "ports.toml:6:8: [http] 'port': unknown key; valid: listen, tls_cert, tls_key, "
            "tls_client_ca, allow, deny");
  EXPECT_EQ(parse_error(port + "[http]\nlisten = \"8080\"\ntls_key = \"k.pem\"\n"),
            "ports.toml:4:1: [http]: TLS needs both 'tls_cert' and 'tls_key' ('tls_client_ca' "
            "needs them too)");
}

TEST(HttpListenParse, TakesAPortAnAddressAndPortOrAllInterfaces) {
  EXPECT_EQ(parse_http_listen("8080"), (HttpListen{.bind_address = "127.0.0.1", .tcp_port = 8080}));
  EXPECT_EQ(parse_http_listen("0.0.0.0:80"),
            (HttpListen{.bind_address = "0.0.0.0", .tcp_port = 80}));
  EXPECT_EQ(parse_http_listen("[::1]:0"), (HttpListen{.bind_address = "::1", .tcp_port = 0}));
  EXPECT_EQ(parse_http_listen("*:9000"), (HttpListen{.tcp_port = 9000}));
  for (const char* bad : {"", ":80", "::1:80", "host:", "host:65536", "x", "[::1]", "1.2.3.4:-1"}) {
    EXPECT_FALSE(parse_http_listen(bad)) << bad;
  }
}

}  // namespace
}  // namespace ttynet::server
