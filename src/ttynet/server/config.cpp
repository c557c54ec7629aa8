// The config file's schema: toml++'s tree (read through toml_guard.hpp) checked key by key
// into ServerConfig, each error one line naming the file, position and key.

#include "ttynet/server/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <tuple>

#include "ttynet/server/access_rules.hpp"
#include "ttynet/server/toml_guard.hpp"
#include "ttynet/util/one_line.hpp"
#include "ttynet/util/parse.hpp"

namespace ttynet::server {
namespace {

constexpr std::uint32_t max_baud = 100'000'000;

// Keys a port entry may take from [defaults]; the rest name or place one entry.
constexpr std::array<std::string_view, 18> setting_keys = {"protocol",
                                                           "baud",
                                                           "bind",
                                                           "esp",
                                                           "r0",
                                                           "reset_sequence",
                                                           "hard_reset_sequence",
                                                           "keepalive",
                                                           "idle_timeout",
                                                           "tls_cert",
                                                           "tls_key",
                                                           "tls_client_ca",
                                                           "allow",
                                                           "deny",
                                                           "max_clients",
                                                           "scrollback",
                                                           "takeover",
                                                           "takeover_idle"};
constexpr std::array<std::string_view, 4> identity_keys = {"token_file", "certificate_subject",
                                                           "ports", "permission"};
constexpr std::array<std::string_view, 6> entry_keys = {
    "name", "device", "match", "tcp_port", "tcp_port_base", "monitor_port"};
constexpr std::array<std::string_view, 4> match_keys = {"vid", "pid", "serial", "by_id"};
constexpr std::array<std::string_view, 6> http_keys = {"listen",        "tls_cert", "tls_key",
                                                       "tls_client_ca", "allow",    "deny"};

// Settings as [defaults] or an entry gives them; applied in that order.
struct Settings {
  Protocol protocol = Protocol::rfc2217;
  std::uint32_t baud = 115200;
  std::optional<std::string> bind;
  bool esp = false;
  EspOptions esp_options;
  ClientLimits clients;
  SharingOptions sharing;
  SecurityOptions security;
};

template <std::size_t N, std::size_t M = 0>
std::string valid_keys(const std::array<std::string_view, N>& first,
                       const std::array<std::string_view, M>& second = {}) {
  std::string text;
  for (auto key : first) text += fmt::format("{}{}", text.empty() ? "" : ", ", key);
  for (auto key : second) text += fmt::format(", {}", key);
  return text;
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

class Parser {
 public:
  explicit Parser(std::string_view source_name) : source_name_(source_name) {}

  Result<ServerConfig, Error> parse(const toml::table& root) {
    Settings defaults;
    const toml::array* ports = nullptr;
    std::vector<IdentityOptions> identities;
    std::optional<HttpOptions> http;
    for (auto&& [key, node] : root) {
      if (key == "defaults") {
        const auto* table = node.as_table();
        if (!table) return fail(node, "'defaults'", "expected a table ([defaults])");
        for (auto&& [name, value] : *table) {
          if (!contains(setting_keys, name.str())) {
            return fail(value, fmt::format("[defaults] '{}'", name.str()),
                        fmt::format("unknown key; valid: {}", valid_keys(setting_keys)));
          }
          if (auto error = parse_setting(defaults, name.str(), value, "[defaults]")) {
            return *error;
          }
        }
      } else if (key == "port") {
        ports = node.as_array();
        if (!ports || !ports->is_array_of_tables())
          return fail(node, "'port'", "expected [[port]] tables");
      } else if (key == "identity") {
        auto parsed = parse_identities(node);
        if (!parsed) return parsed.error();
        identities = std::move(*parsed);
      } else if (key == "http") {
        auto parsed = parse_http(node);
        if (!parsed) return parsed.error();
        http = std::move(*parsed);
      } else {
        return fail(node, fmt::format("'{}'", key.str()),
                    "unknown key; valid: [defaults], [[port]], [[identity]], [http]");
      }
    }
    ServerConfig config;
    config.http = std::move(http);
    if (!ports || ports->empty()) {
      return make_error(std::errc::invalid_argument,
                        fmt::format("{}: no [[port]] entries", source_name_));
    }
    std::size_t index = 0;
    for (const auto& node : *ports) {
      ++index;
      auto entry = parse_entry(*node.as_table(), defaults, index);
      if (!entry) return entry.error();
      for (const auto& other : config.ports) {
        if (!entry->name.empty() && other.name == entry->name) {
          return fail(node, fmt::format("port {}, 'name'", index),
                      fmt::format("'{}' is already the name of the entry on line {}", entry->name,
                                  other.line));
        }
      }
      entry->identities = identities;
      config.ports.push_back(std::move(*entry));
    }
    return config;
  }

  // A file of [[identity]] tables and nothing else (`serve --access`).
  Result<std::vector<IdentityOptions>, Error> parse_identities_file(const toml::table& root) {
    for (auto&& [key, node] : root) {
      if (key != "identity") {
        return fail(node, fmt::format("'{}'", key.str()), "unknown key; valid: [[identity]]");
      }
      return parse_identities(node);
    }
    return make_error(std::errc::invalid_argument,
                      fmt::format("{}: no [[identity]] entries", source_name_));
  }

  // The [[identity]] tables.
  Result<std::vector<IdentityOptions>, Error> parse_identities(const toml::node& node) {
    const auto* tables = node.as_array();
    if (!tables || !tables->is_array_of_tables()) {
      return fail(node, "'identity'", "expected [[identity]] tables");
    }
    std::vector<IdentityOptions> identities;
    std::size_t index = 0;
    for (const auto& table_node : *tables) {
      ++index;
      const auto& table = *table_node.as_table();
      IdentityOptions identity;
      bool has_permission = false;
      for (auto&& [key_node, value] : table) {
        const std::string_view key = key_node.str();
        const std::string at = fmt::format("identity {}, '{}'", index, key);
        if (!contains(identity_keys, key)) {
          return fail(value, at, fmt::format("unknown key; valid: {}", valid_keys(identity_keys)));
        }
        if (key == "ports") {
          auto names = string_list(value);
          if (!names) return fail(value, at, "expected a list of port names or globs");
          identity.ports = std::move(*names);
        } else if (key == "permission") {
          const auto text = value.value<std::string>();
          auto permission = text ? parse_permission(*text) : std::nullopt;
          if (!permission) return fail(value, at, "expected \"control\" or \"monitor\"");
          identity.permission = *permission;
          has_permission = true;
        } else {
          const auto* text = value.as_string();
          if (!text || text->get().empty()) return fail(value, at, "expected a non-empty string");
          (key == "token_file" ? identity.token_file : identity.certificate_subject) = text->get();
        }
      }
      const auto whole = [&](std::string_view message) {
        return fail(table, fmt::format("identity {}", index), message);
      };
      if (identity.token_file.empty() == identity.certificate_subject.empty()) {
        return whole("give either 'token_file' or 'certificate_subject'");
      }
      if (!has_permission) return whole("give 'permission' (\"control\" or \"monitor\")");
      identities.push_back(std::move(identity));
    }
    return identities;
  }

 private:
  Error fail(const toml::node& node, std::string_view where, std::string_view message) {
    const auto& begin = node.source().begin;
    // The message may quote the file's text, line breaks included.
    return make_error(std::errc::invalid_argument,
                      fmt::format("{}:{}:{}: {}: {}", source_name_, begin.line, begin.column, where,
                                  one_line(message)));
  }

  MaybeError parse_setting(Settings& settings, std::string_view key, const toml::node& value,
                           std::string_view where) {
    const std::string at = fmt::format("{} '{}'", where, key);
    if (key == "protocol") {
      const auto text = value.value<std::string>();
      if (text == "rfc2217") {
        settings.protocol = Protocol::rfc2217;
      } else if (text == "raw") {
        settings.protocol = Protocol::raw;
      } else {
        return fail(value, at, "expected \"rfc2217\" or \"raw\"");
      }
    } else if (key == "baud") {
      const auto* number = value.as_integer();
      if (!number || number->get() < 1 || number->get() > max_baud)
        return fail(value, at, fmt::format("expected an integer from 1 to {}", max_baud));
      settings.baud = static_cast<std::uint32_t>(number->get());
    } else if (key == "bind") {
      const auto text = value.value<std::string>();
      if (!text || !value.is_string() || text->empty())
        return fail(value, at, "expected an address or host name");
      settings.bind = *text;
    } else if (key == "keepalive" || key == "idle_timeout") {
      const auto* number = value.as_integer();
      if (!number || number->get() < 0 || number->get() > max_client_limit.count()) {
        return fail(value, at,
                    fmt::format("expected seconds, 0 to {} (0: never)", max_client_limit.count()));
      }
      (key == "keepalive" ? settings.clients.keepalive : settings.clients.idle_timeout) =
          std::chrono::seconds(number->get());
    } else if (key == "max_clients") {
      const auto* number = value.as_integer();
      if (!number || number->get() < 1 || number->get() > max_controllers) {
        return fail(value, at, fmt::format("expected an integer from 1 to {}", max_controllers));
      }
      settings.sharing.max_clients = static_cast<std::uint32_t>(number->get());
    } else if (key == "scrollback") {
      // "64KiB", or a number of bytes.
      const auto* text = value.as_string();
      const auto* number = value.as_integer();
      std::optional<std::size_t> size;
      if (text) size = parse_byte_size(text->get());
      if (number && number->get() >= 0) size = static_cast<std::size_t>(number->get());
      if (!size || *size > max_scrollback) {
        return fail(value, at,
                    "expected a size up to 16MiB as a string, e.g. \"64KiB\" (\"0\": none)");
      }
      settings.sharing.scrollback = *size;
    } else if (key == "takeover") {
      const auto text = value.value<std::string>();
      auto takeover = text ? parse_takeover(*text) : std::nullopt;
      if (!takeover) return fail(value, at, "expected \"never\", \"idle\" or \"always\"");
      settings.sharing.takeover = *takeover;
    } else if (key == "takeover_idle") {
      const auto* number = value.as_integer();
      if (!number || number->get() < 0 || number->get() > max_client_limit.count()) {
        return fail(value, at, fmt::format("expected seconds, 0 to {}", max_client_limit.count()));
      }
      settings.sharing.takeover_idle = std::chrono::seconds(number->get());
    } else if (key == "tls_cert" || key == "tls_key" || key == "tls_client_ca") {
      const auto* text = value.as_string();
      if (!text || text->get().empty()) return fail(value, at, "expected a file name");
      auto& field = key == "tls_cert"  ? settings.security.tls_cert
                    : key == "tls_key" ? settings.security.tls_key
                                       : settings.security.tls_client_ca;
      field = text->get();
    } else if (key == "allow" || key == "deny") {
      auto networks = string_list(value);
      if (!networks) {
        return fail(value, at, "expected a list of addresses or networks, e.g. [\"10.0.0.0/8\"]");
      }
      for (const auto& network : *networks) {
        if (auto parsed = parse_network(network); !parsed) return fail(value, at, parsed.error());
      }
      (key == "allow" ? settings.security.allow : settings.security.deny) = std::move(*networks);
    } else if (key == "esp" || key == "r0") {
      const auto* flag = value.as_boolean();
      if (!flag) return fail(value, at, "expected true or false");
      (key == "esp" ? settings.esp : settings.esp_options.r0) = flag->get();
    } else {  // reset_sequence, hard_reset_sequence
      const auto* text = value.as_string();
      if (!text)
        return fail(value, at, "expected a string in esptool's syntax, e.g. \"D0|R1|W0.1\"");
      auto& field = key == "reset_sequence" ? settings.esp_options.reset_sequence
                                            : settings.esp_options.hard_reset_sequence;
      field = text->get();
      if (field.empty()) return std::nullopt;
      auto parsed = esp::parse_reset_sequence(field);
      if (!parsed) return fail(value, at, parsed.error().message);
    }
    return std::nullopt;
  }

  // An array of non-empty strings.
  static std::optional<std::vector<std::string>> string_list(const toml::node& value) {
    const auto* array = value.as_array();
    if (!array) return std::nullopt;
    std::vector<std::string> items;
    for (const auto& item : *array) {
      const auto* text = item.as_string();
      if (!text || text->get().empty()) return std::nullopt;
      items.push_back(text->get());
    }
    return items;
  }

  std::optional<std::uint16_t> parse_tcp_port(const toml::node& value, std::int64_t low) {
    const auto* number = value.as_integer();
    if (!number || number->get() < low || number->get() > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(number->get());
  }

  MaybeError parse_match(DeviceMatch& match, const toml::node& node, std::string_view where) {
    const auto* table = node.as_table();
    if (!table)
      return fail(node, where, "expected a table such as { vid = \"10c4\", pid = \"ea60\" }");
    if (table->empty()) return fail(node, where, "empty: give vid, pid, serial or by_id");
    for (auto&& [key, value] : *table) {
      const std::string at = fmt::format("{}.{}", where, key.str());
      if (!contains(match_keys, key.str()))
        return fail(value, at, fmt::format("unknown key; valid: {}", valid_keys(match_keys)));
      const auto* text = value.as_string();
      if (key == "vid" || key == "pid") {
        std::uint16_t id = 0;
        const std::string digits = text ? text->get() : std::string();
        bool ok = !digits.empty() && digits.size() <= 4;
        for (char c : digits) {
          const int nibble = (c >= '0' && c <= '9')   ? c - '0'
                             : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                             : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                      : -1;
          if (nibble < 0) ok = false;
          id = static_cast<std::uint16_t>(id * 16 + (nibble < 0 ? 0 : nibble));
        }
        if (!ok) return fail(value, at, "expected four hex digits as a string, e.g. \"10c4\"");
        (key == "vid" ? match.vid : match.pid) = id;
      } else {
        if (!text || text->get().empty()) return fail(value, at, "expected a non-empty string");
        (key == "serial" ? match.serial : match.by_id) = text->get();
      }
    }
    return std::nullopt;
  }

  Result<HttpOptions, Error> parse_http(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return fail(node, "'http'", "expected a table ([http])");
    HttpOptions http;
    Settings settings;  // the TLS and access keys read as a port's are
    bool has_listen = false;
    for (auto&& [name, value] : *table) {
      const std::string at = fmt::format("[http] '{}'", name.str());
      if (!contains(http_keys, name.str())) {
        return fail(value, at, fmt::format("unknown key; valid: {}", valid_keys(http_keys)));
      }
      if (name.str() == "listen") {
        const auto* text = value.as_string();
        const auto listen = text ? parse_http_listen(text->get()) : std::nullopt;
        if (!listen) return fail(value, at, "expected \"PORT\", \"ADDRESS:PORT\" or \"*:PORT\"");
        http.listen = *listen;
        has_listen = true;
      } else if (auto error = parse_setting(settings, name.str(), value, "[http]")) {
        return *error;
      }
    }
    if (!has_listen) return fail(node, "[http]", "'listen' is required, e.g. \"127.0.0.1:8080\"");
    if ((settings.security.tls_cert.empty() != settings.security.tls_key.empty()) ||
        (!settings.security.tls_client_ca.empty() && settings.security.tls_cert.empty())) {
      return fail(node, "[http]",
                  "TLS needs both 'tls_cert' and 'tls_key' ('tls_client_ca' needs them too)");
    }
    http.security = std::move(settings.security);
    return http;
  }

  Result<PortEntry, Error> parse_entry(const toml::table& table, const Settings& defaults,
                                       std::size_t index) {
    PortEntry entry;
    entry.line = table.source().begin.line;
    Settings settings = defaults;
    bool has_device = false;
    bool has_match = false;
    bool has_fixed_port = false;
    bool has_esp_detail = false;
    const toml::node* esp_detail = nullptr;
    for (auto&& [key_node, value] : table) {
      const std::string_view key = key_node.str();
      const std::string at = fmt::format("port {}, '{}'", index, key);
      if (contains(setting_keys, key)) {
        if (auto error = parse_setting(settings, key, value, fmt::format("port {},", index)))
          return *error;
        if (key == "r0" || key == "reset_sequence" || key == "hard_reset_sequence") {
          has_esp_detail = true;
          esp_detail = &value;
        }
      } else if (key == "name") {
        const auto* text = value.as_string();
        if (!text || text->get().empty()) return fail(value, at, "expected a non-empty string");
        entry.name = text->get();
      } else if (key == "device") {
        const auto* text = value.as_string();
        if (!text || text->get().empty())
          return fail(value, at, "expected a device path, port URL or glob");
        entry.device = text->get();
        has_device = true;
      } else if (key == "match") {
        if (auto error = parse_match(entry.match, value, at)) return *error;
        has_match = true;
      } else if (key == "tcp_port") {
        auto port = parse_tcp_port(value, 0);
        if (!port)
          return fail(value, at, "expected an integer from 0 to 65535 (0 = any free port)");
        entry.tcp_port = *port;
        has_fixed_port = true;
      } else if (key == "tcp_port_base") {
        auto port = parse_tcp_port(value, 1);
        if (!port) return fail(value, at, "expected an integer from 1 to 65535");
        entry.tcp_port = *port;
        entry.is_port_base = true;
      } else if (key == "monitor_port") {
        auto port = parse_tcp_port(value, 0);
        if (!port)
          return fail(value, at, "expected an integer from 0 to 65535 (0 = any free port)");
        entry.monitor_port = *port;
      } else {
        return fail(value, at,
                    fmt::format("unknown key; valid: {}", valid_keys(entry_keys, setting_keys)));
      }
    }
    const auto whole = [&](std::string_view message) {
      return fail(table, fmt::format("port {}", index), message);
    };
    if (has_device == has_match) return whole("give either 'device' or 'match'");
    if (has_fixed_port && entry.is_port_base)
      return whole("give 'tcp_port' or 'tcp_port_base', not both");
    if (!has_fixed_port && !entry.is_port_base) return whole("give 'tcp_port' or 'tcp_port_base'");
    if (has_match) {
      entry.source = PortEntry::Source::match;
    } else if (entry.device.find("://") != std::string::npos) {
      entry.source = PortEntry::Source::url;
    } else if (entry.device.find_first_of("*?[") != std::string::npos) {
      entry.source = PortEntry::Source::glob;
    } else {
      entry.source = PortEntry::Source::path;
    }
    if (entry.is_multi_device() && !entry.is_port_base)
      return whole("a glob or 'match' can find several devices: give 'tcp_port_base'");
    if (entry.is_multi_device() && entry.monitor_port == 0)
      return whole("a glob or 'match' needs a 'monitor_port' base above 0");
    if (has_esp_detail && !settings.esp)
      return fail(*esp_detail, fmt::format("port {}", index), "ESP reset options need esp = true");
    if (settings.esp && settings.protocol == Protocol::raw)
      return whole("esp = true needs protocol \"rfc2217\" (a raw client cannot ask for DTR/RTS)");
    entry.protocol = settings.protocol;
    entry.initial_settings.baud = settings.baud;
    entry.bind = settings.bind;
    entry.clients = settings.clients;
    entry.sharing = settings.sharing;
    if ((settings.security.tls_cert.empty() != settings.security.tls_key.empty()) ||
        (!settings.security.tls_client_ca.empty() && settings.security.tls_cert.empty())) {
      return whole("TLS needs both 'tls_cert' and 'tls_key' ('tls_client_ca' needs them too)");
    }
    entry.security = settings.security;
    if (settings.esp) entry.esp = settings.esp_options;
    return entry;
  }

  std::string source_name_;
};

// Parses `text` as TOML, then its tree with `parse` (a Parser member).
template <typename Parse>
auto parse_text(std::string_view text, std::string_view source_name, Parse parse)
    -> decltype(parse(std::declval<Parser&>(), std::declval<const toml::table&>())) {
  auto root = parse_toml(text);
  if (!root) {
    const TomlError& error = root.error();
    return make_error(std::errc::invalid_argument,
                      fmt::format("{}:{}:{}: {}", source_name, error.line, error.column,
                                  one_line(error.description)));
  }
  Parser parser(source_name);
  return parse(parser, *root);
}

}  // namespace

bool operator==(const PortEntry& a, const PortEntry& b) {
  const auto fields = [](const PortEntry& e) {
    return std::tie(e.name, e.source, e.device, e.match, e.tcp_port, e.is_port_base, e.monitor_port,
                    e.protocol, e.initial_settings, e.bind, e.esp, e.clients, e.sharing, e.security,
                    e.identities);
  };
  return fields(a) == fields(b);
}

Result<ServerConfig, Error> parse_config(std::string_view text, std::string_view source_name) {
  return parse_text(text, source_name,
                    [](Parser& parser, const toml::table& root) { return parser.parse(root); });
}

namespace {

Result<std::string, Error> read_text_file(const std::filesystem::path& file,
                                          std::string_view what) {
  // The streams do not report why; errno from the failed open or read does, where set.
  const auto cannot_read = [&] {
    const std::error_code code = errno != 0 ? std::error_code(errno, std::generic_category())
                                            : std::make_error_code(std::errc::io_error);
    return Error{code, fmt::format("{}: cannot read the {}", file.string(), what)};
  };
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) return cannot_read();
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return cannot_read();
  return text.str();
}

}  // namespace

Result<ServerConfig, Error> load_config(const std::filesystem::path& file) {
  auto text = read_text_file(file, "config file");
  if (!text) return text.error();
  return parse_config(*text, file.string());
}

Result<std::vector<IdentityOptions>, Error> parse_identities(std::string_view text,
                                                             std::string_view source_name) {
  return parse_text(text, source_name, [](Parser& parser, const toml::table& root) {
    return parser.parse_identities_file(root);
  });
}

Result<std::vector<IdentityOptions>, Error> load_identities(const std::filesystem::path& file) {
  auto text = read_text_file(file, "access file");
  if (!text) return text.error();
  return parse_identities(*text, file.string());
}

}  // namespace ttynet::server
