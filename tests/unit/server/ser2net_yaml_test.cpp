#include "ttynet/server/ser2net_yaml.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ttynet::server {
namespace {

std::vector<Ser2netConnection> parse_ok(std::string_view text) {
  auto parsed = parse_ser2net_yaml(text, "ser2net.yaml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : std::vector<Ser2netConnection>{};
}

std::string parse_error(std::string_view text) {
  auto parsed = parse_ser2net_yaml(text, "ser2net.yaml");
  EXPECT_FALSE(parsed);
  if (parsed) return std::string();
  EXPECT_EQ(parsed.error().code, std::errc::invalid_argument);
  EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  return parsed.error().message;
}

// One connection around the given accepter, connector and extra lines.
std::string connection(std::string_view accepter, std::string_view connector,
                       std::string_view extra = "") {
  return "connection: &con01\n  accepter: " + std::string(accepter) +
         "\n  connector: " + std::string(connector) + "\n" + std::string(extra);
}

std::string accepter_error(std::string_view accepter) {
  return parse_error(connection(accepter, "serialdev,/dev/ttyUSB0,115200n81"));
}

std::string connector_error(std::string_view connector) {
  return parse_error(connection("tcp,4001", connector));
}

Ser2netConnection with_connector(std::string_view connector) {
  auto connections = parse_ok(connection("tcp,4001", connector));
  return connections.empty() ? Ser2netConnection{} : connections.front();
}

// What labgrid's exporter passes, as it passes it.
const std::vector<std::string> labgrid_fragments = {
    "connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,4001",
    "  connector: serialdev(nouucplock=true),/dev/ttyUSB0,115200n81,local",
    "  options:", "    max-connections: 10"};

TEST(Ser2netYaml, ReadsLabgridsFragments) {
  auto parsed = parse_ser2net_fragments(labgrid_fragments);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 1u);
  const auto& con01 = parsed->front();
  EXPECT_EQ(con01.name, "con01");
  EXPECT_EQ(con01.protocol, Protocol::rfc2217);
  EXPECT_FALSE(con01.bind.has_value());
  EXPECT_EQ(con01.tcp_port, 4001);
  EXPECT_EQ(con01.device, "/dev/ttyUSB0");
  EXPECT_EQ(to_string(con01.settings), "115200 8N1");
  EXPECT_EQ(con01.max_connections, 10u);
  EXPECT_FALSE(con01.kick_old_user);
  EXPECT_EQ(con01.timeout, std::chrono::seconds(0));
  EXPECT_TRUE(con01.enabled);
  EXPECT_EQ(con01.signature, "");
  EXPECT_EQ(con01.banner, "");
}

TEST(Ser2netYaml, FragmentsAreTheFileWithHashesAsLineBreaks) {
  std::string joined;
  for (const auto& fragment : labgrid_fragments) joined += fragment + "\n";
  std::replace(joined.begin(), joined.end(), '#', '\n');
  EXPECT_EQ(*parse_ser2net_fragments(labgrid_fragments), parse_ok(joined));
  // In a file '#' starts a comment, as in YAML.
  const auto commented = parse_ok(connection("tcp,4001  # raw", "serialdev,/dev/ttyS0 # here"));
  ASSERT_EQ(commented.size(), 1u);
  EXPECT_EQ(commented[0].device, "/dev/ttyS0");
}

TEST(Ser2netYaml, FragmentErrorsCountTheLinesHashesStart) {
  auto parsed = parse_ser2net_fragments(
      {"connection: &con01#  accepter: tcp,4001#  connector: sol,/dev/ttyS0"});
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message,
            "ser2net -Y:3:14: connection con01: unknown connector 'sol' (ttynet serves "
            "serialdev)");
}

TEST(Ser2netYaml, PlainTcpIsRaw) {
  const auto connections = parse_ok(connection("tcp,4001", "serialdev,/dev/ttyS0,9600e71"));
  ASSERT_EQ(connections.size(), 1u);
  EXPECT_EQ(connections[0].protocol, Protocol::raw);
  EXPECT_EQ(connections[0].tcp_port, 4001);
  EXPECT_FALSE(connections[0].bind.has_value());
  EXPECT_EQ(to_string(connections[0].settings), "9600 7E1");
}

TEST(Ser2netYaml, TcpWithAnAddressBindsToIt) {
  const auto connections =
      parse_ok(connection("telnet(rfc2217),tcp,127.0.0.1,4001", "serialdev,/dev/ttyS0"));
  ASSERT_EQ(connections.size(), 1u);
  EXPECT_EQ(connections[0].bind, "127.0.0.1");
  EXPECT_EQ(connections[0].tcp_port, 4001);
  EXPECT_EQ(connections[0].protocol, Protocol::rfc2217);
  const auto v6 = parse_ok(connection("tcp,::1,4001", "serialdev,/dev/ttyS0"));
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].bind, "::1");
}

TEST(Ser2netYaml, ReadsRepeatedConnectionKeysInOrder) {
  const auto connections = parse_ok(R"(%YAML 1.1
---
# two ports
connection: &con01
  accepter: telnet(rfc2217),tcp,4001
  connector: serialdev,/dev/ttyUSB0,115200n81,local
connection: &con02
  accepter: tcp,4002
  timeout: 30
  enable: off
  connector: serialdev,
             /dev/ttyUSB1,
             57600o82,rtscts
  options:
    kickolduser: true
    banner: '\r\nport \p on \d\r\n'
    signature: lab-7
    chardelay: false
)");
  ASSERT_EQ(connections.size(), 2u);
  EXPECT_EQ(connections[0].name, "con01");
  EXPECT_EQ(connections[0].tcp_port, 4001);
  const auto& con02 = connections[1];
  EXPECT_EQ(con02.name, "con02");
  EXPECT_EQ(con02.protocol, Protocol::raw);
  EXPECT_EQ(con02.tcp_port, 4002);
  EXPECT_EQ(con02.device, "/dev/ttyUSB1");
  EXPECT_EQ(to_string(con02.settings), "57600 8O2 rtscts");
  EXPECT_EQ(con02.timeout, std::chrono::seconds(30));
  EXPECT_FALSE(con02.enabled);
  EXPECT_TRUE(con02.kick_old_user);
  EXPECT_EQ(con02.banner, R"(\r\nport \p on \d\r\n)");  // ser2net's escapes, kept verbatim
  EXPECT_EQ(con02.signature, "lab-7");
  EXPECT_EQ(con02.max_connections, 1u);
}

TEST(Ser2netYaml, ReadsTheVersion2Form) {
  const auto connections = parse_ok(R"(connections:
  con01:
    accepter: telnet(rfc2217),tcp,4001
    connector: serialdev,/dev/ttyUSB0,115200n81
  con02: { accepter: "tcp,4002", connector: "serialdev,/dev/ttyUSB1" }
)");
  ASSERT_EQ(connections.size(), 2u);
  EXPECT_EQ(connections[0].name, "con01");
  EXPECT_EQ(connections[0].protocol, Protocol::rfc2217);
  EXPECT_EQ(connections[1].name, "con02");
  EXPECT_EQ(connections[1].device, "/dev/ttyUSB1");
  EXPECT_EQ(to_string(connections[1].settings), "9600 8N1");  // ser2net's default
}

TEST(Ser2netYaml, AConnectionWithoutAnchorHasNoName) {
  const auto connections =
      parse_ok("connection:\n  accepter: tcp,4001\n  connector: serialdev,/dev/ttyS0\n");
  ASSERT_EQ(connections.size(), 1u);
  EXPECT_EQ(connections[0].name, "");
  EXPECT_EQ(parse_error("connection:\n  accepter: tcp,4001\n"),
            "ser2net.yaml:2:3: connection #1: no connector");
}

TEST(Ser2netYaml, TelnetParameters) {
  for (const auto* accepter :
       {"telnet(rfc2217),tcp,4001", "telnet(rfc2217=true,mode=server),tcp,4001",
        "telnet(winsize,rfc2217),tcp,4001", "telnet(rfc2217, winsize=80x24),tcp,4001"}) {
    const auto connections = parse_ok(connection(accepter, "serialdev,/dev/ttyS0"));
    ASSERT_EQ(connections.size(), 1u) << accepter;
    EXPECT_EQ(connections[0].protocol, Protocol::rfc2217) << accepter;
  }
}

TEST(Ser2netYaml, RefusesTelnetWithoutRfc2217) {
  for (const auto* accepter : {"telnet,tcp,4001", "telnet(rfc2217=false),tcp,4001",
                               "telnet(rfc2217,rfc2217=false),tcp,4001", "telnet(),tcp,4001"}) {
    EXPECT_NE(accepter_error(accepter).find("telnet without rfc2217 is not supported"),
              std::string::npos)
        << accepter;
  }
  EXPECT_NE(accepter_error("telnet(rfc2217,mode=client),tcp,4001")
                .find("telnet mode=client is not supported (ttynet is the server)"),
            std::string::npos);
}

TEST(Ser2netYaml, UnknownAccepterWordsAreNamed) {
  EXPECT_EQ(accepter_error("sctp,4001"),
            "ser2net.yaml:2:13: connection con01: unknown accepter 'sctp' (ttynet serves "
            "telnet(rfc2217),tcp and tcp)");
  EXPECT_NE(accepter_error("telnet(rfc2217),ssl,tcp,4001").find("unknown accepter 'ssl'"),
            std::string::npos);
  EXPECT_NE(accepter_error("telnet(rfc2217,echo),tcp,4001").find("unknown telnet option 'echo'"),
            std::string::npos);
  EXPECT_NE(accepter_error("tcp(nodelay),4001").find("tcp takes no options"), std::string::npos);
  EXPECT_NE(accepter_error("telnet(rfc2217").find("expected telnet(rfc2217),tcp,PORT"),
            std::string::npos);
}

TEST(Ser2netYaml, RefusesBadPorts) {
  for (const auto* port : {"0", "65536", "-1", "http", "4001x", "99999999999999999999"}) {
    EXPECT_NE(accepter_error("tcp," + std::string(port))
                  .find("bad port '" + std::string(port) + "' (expected 1 to 65535)"),
              std::string::npos)
        << port;
  }
  EXPECT_NE(accepter_error("tcp").find("expected tcp,PORT or tcp,ADDRESS,PORT"), std::string::npos);
  EXPECT_NE(accepter_error("tcp,localhost,4001,5").find("expected tcp,PORT or tcp,ADDRESS,PORT"),
            std::string::npos);
  EXPECT_NE(accepter_error("tcp,,4001").find("empty address"), std::string::npos);
  EXPECT_NE(accepter_error("telnet(rfc2217)").find("expected tcp,PORT after telnet"),
            std::string::npos);
}

TEST(Ser2netYaml, UnknownConnectorWordsAreNamed) {
  EXPECT_EQ(connector_error("ipmisol,lan -U user server,9600"),
            "ser2net.yaml:3:14: connection con01: unknown connector 'ipmisol' (ttynet serves "
            "serialdev)");
  EXPECT_NE(
      connector_error("serialdev(rs485=on),/dev/ttyS0").find("unknown serialdev option 'rs485=on'"),
      std::string::npos);
  EXPECT_NE(
      connector_error("serialdev,/dev/ttyS0,115200n81,dtr").find("unknown serialdev setting 'dtr'"),
      std::string::npos);
  EXPECT_NE(connector_error("serialdev").find("expected serialdev,DEVICE"), std::string::npos);
  EXPECT_NE(connector_error("serialdev,,9600n81").find("expected serialdev,DEVICE"),
            std::string::npos);
}

TEST(Ser2netYaml, SerialSettingsAndFlags) {
  EXPECT_EQ(to_string(with_connector("serialdev,/dev/ttyS0,115200N81").settings), "115200 8N1");
  EXPECT_EQ(to_string(with_connector("serialdev,/dev/ttyS0,300m52").settings), "300 5M2");
  EXPECT_EQ(to_string(with_connector("serialdev,/dev/ttyS0,1200s61").settings), "1200 6S1");
  EXPECT_EQ(to_string(with_connector("serialdev,/dev/ttyS0,xonxoff,19200n81").settings),
            "19200 8N1 xonxoff");
  EXPECT_EQ(to_string(with_connector("serialdev,/dev/ttyS0,9600n81,rtscts,-rtscts").settings),
            "9600 8N1");
  EXPECT_EQ(to_string(with_connector("serialdev(nouucplock),/dev/ttyS0,local,-local,"
                                     "hangup-when-done,nobreak,-xonxoff")
                          .settings),
            "9600 8N1");
  EXPECT_NE(connector_error("serialdev,/dev/ttyS0,rtscts,xonxoff").find("rtscts and xonxoff"),
            std::string::npos);
  EXPECT_NE(connector_error("serialdev,/dev/ttyS0,9600n81,19200n81").find("given twice"),
            std::string::npos);
}

TEST(Ser2netYaml, RefusesBadSerialSettings) {
  for (const auto* spec : {"115200", "115200n8", "115200x81", "115200n91", "115200n41", "115200n83",
                           "115200n811", "0n81", "4294967296n81"}) {
    EXPECT_NE(connector_error("serialdev,/dev/ttyS0," + std::string(spec))
                  .find("bad serial settings '" + std::string(spec) + "'"),
              std::string::npos)
        << spec;
  }
}

TEST(Ser2netYaml, MaxConnectionsIsOneToOneHundred) {
  const auto hundred = parse_ok(
      connection("tcp,4001", "serialdev,/dev/ttyS0", "  options:\n    max-connections: 100\n"));
  ASSERT_EQ(hundred.size(), 1u);
  EXPECT_EQ(hundred[0].max_connections, 100u);
  for (const auto* count : {"0", "101", "-1", "ten", "[1]"}) {
    EXPECT_NE(
        parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0",
                               "  options:\n    max-connections: " + std::string(count) + "\n"))
            .find("max-connections: expected 1 to 100"),
        std::string::npos)
        << count;
  }
}

TEST(Ser2netYaml, UnknownOptionsAndKeysAreNamed) {
  EXPECT_EQ(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0",
                                   "  options:\n    remaddr: 10.0.0.0/8\n")),
            "ser2net.yaml:5:5: connection con01: unknown option 'remaddr' (ttynet reads "
            "max-connections, kickolduser, signature, banner)");
  EXPECT_NE(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0", "  rotator: x\n"))
                .find("connection con01: unknown key 'rotator'"),
            std::string::npos);
  EXPECT_NE(parse_error("define: &banner hello\n" + connection("tcp,4001", "serialdev,/dev/ttyS0"))
                .find("ser2net.yaml:1:1: ser2net config: unknown top-level key 'define'"),
            std::string::npos);
  EXPECT_NE(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0", "  accepter: tcp,4002\n"))
                .find("'accepter' given twice"),
            std::string::npos);
}

TEST(Ser2netYaml, RefusesBadValues) {
  EXPECT_NE(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0", "  timeout: soon\n"))
                .find("timeout: expected seconds"),
            std::string::npos);
  EXPECT_NE(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0", "  enable: maybe\n"))
                .find("enable: expected on or off"),
            std::string::npos);
  EXPECT_NE(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0",
                                   "  options:\n    kickolduser: sometimes\n"))
                .find("kickolduser: expected true or false"),
            std::string::npos);
  EXPECT_NE(parse_error(connection("[tcp]", "serialdev,/dev/ttyS0")).find("accepter ''"),
            std::string::npos);
}

TEST(Ser2netYaml, RefusesDuplicateNames) {
  EXPECT_EQ(parse_error(connection("tcp,4001", "serialdev,/dev/ttyS0") +
                        connection("tcp,4002", "serialdev,/dev/ttyS1")),
            "ser2net.yaml:4:13: connection con01: name already used by the connection on line 1");
}

TEST(Ser2netYaml, MalformedYamlIsAnErrorNotAnException) {
  for (const auto* text :
       {"connection: &con01\n  accepter: [tcp\n", "connection: &con01\n\t accepter: x\n",
        "connection: *nowhere\n", "%YAML 2.0\n---\nconnection: x\n", "\"unterminated",
        "connection: &a [*a]\n", "{{{{{{{{", "- - - -", "connection: &con01\n  : :\n",
        "\xff\xfe\x00\x00garbage", ",", ",\n a", "connection: &con01\n,\n a"}) {
    const std::string message = parse_error(text);
    EXPECT_EQ(message.rfind("ser2net.yaml", 0), 0u) << message;
  }
  EXPECT_EQ(parse_error("connection: &con01\n  accepter: [tcp\n"),
            "ser2net.yaml:3:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(parse_error(std::string(600, '[')).find("ser2net.yaml:1:"), 0u);
  // yaml-cpp 0.7 would read this as empty documents for ever.
  EXPECT_EQ(parse_error(",\n a"),
            "ser2net.yaml:1:1: invalid YAML: nothing can start with this character");
}

TEST(Ser2netYaml, NothingToServeIsAnError) {
  for (const auto* text : {"", "# nothing\n", "%YAML 1.1\n---\n"}) {
    EXPECT_EQ(parse_error(text),
              "ser2net.yaml: no connections (expected connection: or connections:)");
  }
  EXPECT_FALSE(parse_ser2net_fragments({}));
}

TEST(Ser2netYaml, Bounds) {
  const std::string one = connection("tcp,4001", "serialdev,/dev/ttyS0");
  const std::string big = one + "#" + std::string(max_ser2net_text_size, 'x');
  EXPECT_EQ(parse_error(big), "ser2net.yaml: " + std::to_string(big.size()) +
                                  " bytes of configuration; at most 65536");
  // Fragments count with the line breaks that join them.
  auto fragments =
      parse_ser2net_fragments({one, std::string(max_ser2net_text_size - one.size(), ' ')});
  ASSERT_FALSE(fragments);
  EXPECT_EQ(fragments.error().message, "ser2net -Y: 65537 bytes of configuration; at most 65536");
  EXPECT_TRUE(
      parse_ser2net_fragments({one, std::string(max_ser2net_text_size - one.size() - 1, ' ')}));

  std::string many;
  for (int i = 1; i <= 257; ++i) {
    many += "connection:\n  accepter: tcp," + std::to_string(i) +
            "\n  connector: serialdev,/dev/ttyS0\n";
  }
  EXPECT_NE(parse_error(many).find("connection #257: more than 256 connections"),
            std::string::npos);
}

}  // namespace
}  // namespace ttynet::server
