// ser2net's YAML read with yaml-cpp, then checked key by key and word by word into
// Ser2netConnection; each error one line naming the source, position and connection.

#include "ttynet/server/ser2net_yaml.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "ttynet/util/one_line.hpp"
#include "ttynet/util/parse.hpp"

namespace ttynet::server {
namespace {

constexpr std::string_view fragments_source = "ser2net -Y";
constexpr std::uint32_t max_baud = 100'000'000;  // as ttynet's own config file allows

// Options ser2net tunes its own buffering, retries or mDNS with: ttynet has its own ways, and
// serves the port the same without them. Anything else ttynet does not read is refused.
constexpr std::array<std::string_view, 10> ignored_options = {
    "chardelay",           "chardelay-scale",      "chardelay-min",
    "chardelay-max",       "dev-to-net-bufsize",   "net-to-dev-bufsize",
    "accepter-retry-time", "connector-retry-time", "mdns",
    "telnet-brk-on-sync"};

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// Splits at the commas outside parentheses, trimming each item: YAML folds a connector written
// over several lines into "serialdev, /dev/ttyS0, 9600n81" (a blank line into a line break).
std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> items;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      depth = std::max(depth - 1, 0);  // a stray one is parse_word's to refuse
    } else if (text[i] == ',' && depth == 0) {
      items.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  items.push_back(trim(text.substr(start)));
  return items;
}

bool balanced(std::string_view text) {
  int depth = 0;
  for (const char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return false;
  }
  return depth == 0;
}

// One gensio layer as written: "telnet(rfc2217,mode=server)" is telnet with those parameters.
struct GensioWord {
  std::string_view text;
  std::string_view name;
  std::optional<std::string_view> parameters;
};

// Nothing when the parentheses do not enclose the parameters at the end.
std::optional<GensioWord> parse_word(std::string_view text) {
  const auto open = text.find('(');
  if (open == std::string_view::npos) {
    if (text.find(')') != std::string_view::npos) return std::nullopt;
    return GensioWord{text, text, std::nullopt};
  }
  const auto parameters = text.substr(open + 1, text.size() - open - 2);
  if (text.back() != ')' || !balanced(parameters)) return std::nullopt;
  return GensioWord{text, trim(text.substr(0, open)), parameters};
}

std::optional<std::vector<GensioWord>> parse_gensio(std::string_view text) {
  std::vector<GensioWord> words;
  for (const auto item : split_commas(text)) {
    auto word = parse_word(item);
    if (!word) return std::nullopt;
    words.push_back(*word);
  }
  return words;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  auto port = parse_whole<std::uint16_t>(text);
  if (!port || *port == 0) return std::nullopt;
  return port;
}

// "115200n81": baud, parity n|o|e|m|s, data bits 5-8, stop bits 1|2; either case. The flow
// control of `settings` stays.
std::optional<LineSettings> parse_line_settings(std::string_view text, LineSettings settings) {
  const auto digits = std::min(text.find_first_not_of("0123456789"), text.size());
  if (text.size() != digits + 3) return std::nullopt;
  const auto baud = parse_whole<std::uint32_t>(text.substr(0, digits));
  if (!baud || *baud == 0 || *baud > max_baud) return std::nullopt;
  settings.baud = *baud;
  switch (text[digits] | 0x20) {  // lower case
    case 'n':
      settings.parity = Parity::none;
      break;
    case 'o':
      settings.parity = Parity::odd;
      break;
    case 'e':
      settings.parity = Parity::even;
      break;
    case 'm':
      settings.parity = Parity::mark;
      break;
    case 's':
      settings.parity = Parity::space;
      break;
    default:
      return std::nullopt;
  }
  const char data_bits = text[digits + 1];
  const char stop_bits = text[digits + 2];
  if (data_bits < '5' || data_bits > '8' || (stop_bits != '1' && stop_bits != '2')) {
    return std::nullopt;
  }
  settings.data_bits = static_cast<std::uint8_t>(data_bits - '0');
  settings.stop_bits = stop_bits == '1' ? StopBits::one : StopBits::two;
  return settings;
}

// A first pass over a piece with yaml-cpp's event parser, before YAML::LoadAll() builds the tree:
// - the tree keeps no anchor names; the parser reports each, at the position of the node it
//   names, which is the node's Mark() in the tree;
// - yaml-cpp 0.7 reads a token no node can start with (the ',' of ",\n a") as an empty document
//   without moving past it, and so again and again: LoadAll() would never return (fixed
//   upstream in 2024, yaml-cpp pull request 1319). A document starting where the last one did
//   is that loop, and ends this pass with a ParserException instead; the tree is built only
//   after this pass went through.
class FirstPass : public YAML::EventHandler {
 public:
  std::string anchor_at(const YAML::Mark& mark) const {
    const auto found = anchors_.find(mark.pos);
    return found == anchors_.end() ? std::string() : found->second;
  }

  void OnAnchor(const YAML::Mark& mark, const std::string& name) override {
    anchors_[mark.pos] = name;
  }
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (mark.pos == last_document_start_) {
      throw YAML::ParserException(mark, "nothing can start with this character");
    }
    last_document_start_ = mark.pos;
  }
  // The other events carry nothing this pass needs.
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}

 private:
  std::map<int, std::string> anchors_;  // by Mark::pos
  int last_document_start_ = -1;
};

// A stretch of the text parsed as YAML on its own, and the line of the whole text it starts on.
struct Piece {
  std::string_view text;
  int first_line = 0;
};

// ser2net repeats the top-level key `connection:`, which YAML does not allow and yaml-cpp does
// not keep apart reliably: each line that starts with `connection:` starts a piece of its own.
std::vector<Piece> split_at_connections(std::string_view text) {
  std::vector<Piece> pieces;
  std::size_t start = 0;
  int start_line = 0;
  int line = 0;
  for (std::size_t at = 0; at < text.size(); ++line) {
    if (at != start && text.substr(at).starts_with("connection:")) {
      pieces.push_back({text.substr(start, at - start), start_line});
      start = at;
      start_line = line;
    }
    const auto end = text.find('\n', at);
    at = end == std::string_view::npos ? text.size() : end + 1;
  }
  pieces.push_back({text.substr(start), start_line});
  return pieces;
}

class Parser {
 public:
  explicit Parser(std::string_view source_name) : source_name_(source_name) {}

  Result<std::vector<Ser2netConnection>, Error> parse(std::string_view text) {
    if (text.size() > max_ser2net_text_size) return too_large(text.size());
    for (const auto& piece : split_at_connections(text)) {
      first_line_ = piece.first_line;
      try {
        const std::string yaml(piece.text);
        std::istringstream stream(yaml);
        YAML::Parser events(stream);
        FirstPass first_pass;
        while (events.HandleNextDocument(first_pass)) {
        }
        for (const auto& document : YAML::LoadAll(yaml)) {
          if (auto error = read_document(document, first_pass)) return *error;
        }
      } catch (const YAML::Exception& error) {
        return fail(error.mark, "invalid YAML", error.msg);
      }
    }
    if (connections_.empty()) {
      return make_error(
          std::errc::invalid_argument,
          fmt::format("{}: no connections (expected connection: or connections:)", source_name_));
    }
    return std::move(connections_);
  }

  Error too_large(std::size_t size) const {
    return make_error(std::errc::invalid_argument,
                      fmt::format("{}: {} bytes of configuration; at most {}", source_name_, size,
                                  max_ser2net_text_size));
  }

 private:
  Error fail(const YAML::Mark& mark, std::string_view where, std::string_view message) const {
    if (mark.is_null()) {
      return make_error(std::errc::invalid_argument,
                        one_line(fmt::format("{}: {}: {}", source_name_, where, message)));
    }
    return make_error(
        std::errc::invalid_argument,
        one_line(fmt::format("{}:{}:{}: {}: {}", source_name_, first_line_ + mark.line + 1,
                             mark.column + 1, where, message)));
  }

  MaybeError read_document(const YAML::Node& document, const FirstPass& first_pass) {
    if (document.IsNull()) return std::nullopt;  // comments only, or "%YAML 1.1\n---"
    if (!document.IsMap()) {
      return fail(document.Mark(), "ser2net config", "expected connection: or connections:");
    }
    for (const auto& entry : document) {
      const std::string key = entry.first.Scalar();
      if (key == "connection") {
        if (auto error = read_connection(entry.second, first_pass.anchor_at(entry.second.Mark()))) {
          return error;
        }
      } else if (key == "connections") {
        if (!entry.second.IsMap()) {
          return fail(entry.second.Mark(), "connections", "expected a mapping of NAME: connection");
        }
        for (const auto& named : entry.second) {
          if (!named.first.IsScalar() || named.first.Scalar().empty()) {
            return fail(named.first.Mark(), "connections", "expected a connection name");
          }
          if (auto error = read_connection(named.second, named.first.Scalar())) return error;
        }
      } else {
        return fail(entry.first.Mark(), "ser2net config",
                    fmt::format("unknown top-level key '{}' (ttynet reads connection: and "
                                "connections:)",
                                key));
      }
    }
    return std::nullopt;
  }

  MaybeError read_connection(const YAML::Node& node, const std::string& name) {
    const std::string where = name.empty() ? fmt::format("connection #{}", connections_.size() + 1)
                                           : fmt::format("connection {}", name);
    if (connections_.size() == max_ser2net_connections) {
      return fail(node.Mark(), where,
                  fmt::format("more than {} connections", max_ser2net_connections));
    }
    if (!node.IsMap()) {
      return fail(node.Mark(), where, "expected a mapping with accepter: and connector:");
    }
    Ser2netConnection connection;
    connection.name = name;
    connection.settings.baud = 9600;  // ser2net's default: 9600n81
    std::set<std::string> keys;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (!keys.insert(key).second) {
        return fail(entry.first.Mark(), where, fmt::format("'{}' given twice", key));
      }
      MaybeError error;
      if (key == "accepter") {
        error = read_accepter(value, where, connection);
      } else if (key == "connector") {
        error = read_connector(value, where, connection);
      } else if (key == "timeout") {
        const auto seconds =
            value.IsScalar() ? parse_whole<std::uint32_t>(value.Scalar()) : std::nullopt;
        if (!seconds || *seconds > max_client_limit.count()) {
          error = fail(value, where,
                       fmt::format("timeout: expected seconds, 0 to {} (0: never)",
                                   max_client_limit.count()));
        } else {
          connection.timeout = std::chrono::seconds(*seconds);
        }
      } else if (key == "enable") {
        if (!YAML::convert<bool>::decode(value, connection.enabled)) {
          error = fail(value, where, "enable: expected on or off");
        }
      } else if (key == "options") {
        error = read_options(value, where, connection);
      } else {
        error = fail(entry.first.Mark(), where,
                     fmt::format("unknown key '{}' (valid: accepter, connector, timeout, enable, "
                                 "options)",
                                 key));
      }
      if (error) return error;
    }
    if (!keys.contains("accepter")) return fail(node.Mark(), where, "no accepter");
    if (!keys.contains("connector")) return fail(node.Mark(), where, "no connector");
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      if (!name.empty() && connections_[i].name == name) {
        return fail(
            node.Mark(), where,
            fmt::format("name already used by the connection on line {}", connection_lines_[i]));
      }
    }
    connections_.push_back(std::move(connection));
    connection_lines_.push_back(first_line_ + node.Mark().line + 1);
    return std::nullopt;
  }

  Error fail(const YAML::Node& value, std::string_view where, std::string_view message) const {
    return fail(value.Mark(), where, message);
  }

  // [telnet(rfc2217[,...]),]tcp,[ADDRESS,]PORT
  MaybeError read_accepter(const YAML::Node& value, std::string_view where,
                           Ser2netConnection& connection) const {
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    const auto words = parse_gensio(text);
    if (text.empty() || !words) {
      return fail(
          value, where,
          fmt::format("accepter '{}': expected telnet(rfc2217),tcp,PORT or tcp,PORT", text));
    }
    std::size_t next = 0;
    connection.protocol = Protocol::raw;
    if (words->front().name == "telnet") {
      if (auto error = check_telnet(words->front().parameters)) {
        return fail(value, where, fmt::format("accepter '{}': {}", text, *error));
      }
      connection.protocol = Protocol::rfc2217;
      next = 1;
    }
    if (next == words->size()) {
      return fail(value, where, fmt::format("accepter '{}': expected tcp,PORT after telnet", text));
    }
    const auto& tcp = (*words)[next];
    if (tcp.name != "tcp") {
      return fail(value, where,
                  fmt::format("unknown accepter '{}' (ttynet serves telnet(rfc2217),tcp and tcp)",
                              tcp.name));
    }
    if (tcp.parameters) {
      return fail(value, where, fmt::format("accepter '{}': tcp takes no options in ttynet", text));
    }
    const std::size_t rest = words->size() - next - 1;
    if (rest != 1 && rest != 2) {
      return fail(value, where,
                  fmt::format("accepter '{}': expected tcp,PORT or tcp,ADDRESS,PORT", text));
    }
    if (rest == 2) {
      const auto address = (*words)[next + 1].text;
      if (address.empty()) {
        return fail(value, where, fmt::format("accepter '{}': empty address", text));
      }
      connection.bind = std::string(address);
    }
    const auto port_text = words->back().text;
    const auto port = parse_port(port_text);
    if (!port) {
      return fail(
          value, where,
          fmt::format("accepter '{}': bad port '{}' (expected 1 to 65535)", text, port_text));
    }
    connection.tcp_port = *port;
    return std::nullopt;
  }

  // Nothing when the parameters ask for RFC 2217 on the server side, the only telnet ttynet
  // speaks; else the reason.
  static std::optional<std::string> check_telnet(std::optional<std::string_view> parameters) {
    const std::string no_rfc2217 =
        "telnet without rfc2217 is not supported (ttynet serves RFC 2217: telnet(rfc2217))";
    if (!parameters) return no_rfc2217;
    bool rfc2217 = false;
    for (const auto parameter : split_commas(*parameters)) {
      if (parameter == "rfc2217" || parameter == "rfc2217=true") {
        rfc2217 = true;
      } else if (parameter == "rfc2217=false") {
        rfc2217 = false;
      } else if (parameter == "mode=client") {
        return "telnet mode=client is not supported (ttynet is the server)";
      } else if (!parameter.empty() && parameter != "mode=server" && parameter != "winsize" &&
                 !parameter.starts_with("winsize=")) {  // empty: "telnet()"
        return fmt::format("unknown telnet option '{}'", parameter);
      }
    }
    if (!rfc2217) return no_rfc2217;
    return std::nullopt;
  }

  // serialdev[(nouucplock[=true|false])],DEVICE[,SPEC][,FLAG...]
  MaybeError read_connector(const YAML::Node& value, std::string_view where,
                            Ser2netConnection& connection) const {
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    const auto words = parse_gensio(text);
    if (text.empty() || !words) {
      return fail(value, where,
                  fmt::format("connector '{}': expected serialdev,DEVICE,115200n81", text));
    }
    const auto& serialdev = words->front();
    if (serialdev.name != "serialdev") {
      return fail(value, where,
                  fmt::format("unknown connector '{}' (ttynet serves serialdev)", serialdev.name));
    }
    // nouucplock is accepted and left: ttynet locks the device its own way (flock and
    // TIOCEXCL, port/tty_port.hpp), never with uucp lock files.
    if (serialdev.parameters) {
      for (const auto parameter : split_commas(*serialdev.parameters)) {
        if (!parameter.empty() && parameter != "nouucplock" && parameter != "nouucplock=true" &&
            parameter != "nouucplock=false") {  // empty: "serialdev()"
          return fail(value, where, fmt::format("unknown serialdev option '{}'", parameter));
        }
      }
    }
    if (words->size() < 2 || (*words)[1].text.empty()) {
      return fail(value, where,
                  fmt::format("connector '{}': expected serialdev,DEVICE,115200n81", text));
    }
    connection.device = std::string((*words)[1].text);
    // local, hangup-when-done and nobreak are accepted and left: ttynet's ports always ignore
    // carrier detect (CLOCAL) and LineSettings has no place for the other two.
    bool has_line_settings = false;
    for (std::size_t i = 2; i < words->size(); ++i) {
      const auto word = (*words)[i].text;
      auto& flow = connection.settings.flow;
      if (!word.empty() && word.front() >= '0' && word.front() <= '9') {
        const auto settings = parse_line_settings(word, connection.settings);
        if (!settings) {
          return fail(value, where,
                      fmt::format("connector: bad serial settings '{}' (expected baud, parity "
                                  "n|o|e|m|s, data bits 5-8, stop bits 1|2, e.g. 115200n81)",
                                  word));
        }
        if (has_line_settings) {
          return fail(value, where,
                      fmt::format("connector: serial settings given twice ('{}')", word));
        }
        has_line_settings = true;
        connection.settings = *settings;
      } else if (word == "rtscts" || word == "xonxoff") {
        const auto wanted = word == "rtscts" ? FlowControl::rts_cts : FlowControl::xon_xoff;
        if (flow != FlowControl::none && flow != wanted) {
          return fail(value, where,
                      "connector: rtscts and xonxoff together (ttynet sets one flow control)");
        }
        flow = wanted;
      } else if (word == "-rtscts" || word == "-xonxoff") {
        if (flow == (word == "-rtscts" ? FlowControl::rts_cts : FlowControl::xon_xoff)) {
          flow = FlowControl::none;
        }
      } else if (word != "local" && word != "-local" && word != "hangup-when-done" &&
                 word != "nobreak") {
        return fail(value, where, fmt::format("unknown serialdev setting '{}'", word));
      }
    }
    return std::nullopt;
  }

  MaybeError read_options(const YAML::Node& options, std::string_view where,
                          Ser2netConnection& connection) const {
    if (options.IsNull()) return std::nullopt;
    if (!options.IsMap()) return fail(options, where, "options: expected a mapping");
    std::set<std::string> keys;
    for (const auto& entry : options) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (!keys.insert(key).second) {
        return fail(entry.first.Mark(), where, fmt::format("option '{}' given twice", key));
      }
      if (key == "max-connections") {
        const auto count =
            value.IsScalar() ? parse_whole<std::uint32_t>(value.Scalar()) : std::nullopt;
        if (!count || *count < 1 || *count > max_ser2net_max_connections) {
          return fail(
              value, where,
              fmt::format("max-connections: expected 1 to {}", max_ser2net_max_connections));
        }
        connection.max_connections = *count;
      } else if (key == "kickolduser") {
        if (!YAML::convert<bool>::decode(value, connection.kick_old_user)) {
          return fail(value, where, "kickolduser: expected true or false");
        }
      } else if (key == "signature" || key == "banner") {
        if (!value.IsScalar() && !value.IsNull()) {
          return fail(value, where, fmt::format("{}: expected text", key));
        }
        (key == "signature" ? connection.signature : connection.banner) = value.Scalar();
      } else if (std::find(ignored_options.begin(), ignored_options.end(), key) ==
                 ignored_options.end()) {
        return fail(entry.first.Mark(), where,
                    fmt::format("unknown option '{}' (ttynet reads max-connections, "
                                "kickolduser, signature, banner)",
                                key));
      }
    }
    return std::nullopt;
  }

  std::string_view source_name_;
  int first_line_ = 0;  // of the piece being read, counted from 0
  std::vector<Ser2netConnection> connections_;
  std::vector<int> connection_lines_;  // where each of connections_ starts
};

}  // namespace

Result<std::vector<Ser2netConnection>, Error> parse_ser2net_fragments(
    const std::vector<std::string>& fragments) {
  Parser parser(fragments_source);
  // Measured before joining, so that huge fragments are not copied to be refused.
  const std::size_t size = std::accumulate(
      fragments.begin(), fragments.end(), fragments.empty() ? 0 : fragments.size() - 1,
      [](std::size_t sum, const std::string& fragment) { return sum + fragment.size(); });
  if (size > max_ser2net_text_size) return parser.too_large(size);
  std::string text;
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    if (i > 0) text += '\n';
    text += fragments[i];
  }
  std::replace(text.begin(), text.end(), '#', '\n');
  return parser.parse(text);
}

Result<std::vector<Ser2netConnection>, Error> parse_ser2net_yaml(std::string_view text,
                                                                 std::string_view source_name) {
  return Parser(source_name).parse(text);
}

}  // namespace ttynet::server
