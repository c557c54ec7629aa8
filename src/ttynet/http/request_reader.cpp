#include "ttynet/http/request_reader.hpp"

#include <http_parser.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>

#include "ttynet/util/parse.hpp"

namespace ttynet::http {

namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string_view url_field(std::string_view url, const http_parser_url& parts,
                           http_parser_url_fields field) {
  if ((parts.field_set & (1U << field)) == 0) return {};
  return url.substr(parts.field_data[field].off, parts.field_data[field].len);
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

// The parser pauses twice per request: when the headers are complete (to check them before a
// body is read, and to count their bytes exactly) and when the message is complete (so that
// feed() stops there).
struct RequestReader::Parser {
  http_parser parser{};

  static RequestReader& reader(http_parser* parser) {
    return *static_cast<RequestReader*>(parser->data);
  }

  static int on_url(http_parser* parser, const char* at, std::size_t length) {
    reader(parser).request_.target.append(at, length);
    return 0;
  }

  static int on_header_field(http_parser* parser, const char* at, std::size_t length) {
    RequestReader& self = reader(parser);
    if (self.headers_complete_) return 0;  // a chunked body's trailer: not kept
    self.in_value_ = false;
    self.header_name_.append(at, length);
    return 0;
  }

  static int on_header_value(http_parser* parser, const char* at, std::size_t length) {
    RequestReader& self = reader(parser);
    if (self.headers_complete_) return 0;
    if (!self.in_value_) {
      std::string name = std::move(self.header_name_);
      self.header_name_.clear();
      std::transform(name.begin(), name.end(), name.begin(), ascii_lower);
      self.request_.headers.emplace_back(std::move(name), std::string());
      self.in_value_ = true;
    }
    self.request_.headers.back().second.append(at, length);
    return 0;
  }

  static int on_headers_complete(http_parser* parser) {
    http_parser_pause(parser, 1);
    return 0;
  }

  static int on_body(http_parser* parser, const char* at, std::size_t length) {
    RequestReader& self = reader(parser);
    // A Content-Length was checked with the headers; a chunked body is checked as it comes.
    if (self.request_.body.size() + length > self.limits_.max_body_bytes) {
      self.fail(413, "request body over " + std::to_string(self.limits_.max_body_bytes) + " bytes");
      return 1;
    }
    self.request_.body.append(at, length);
    return 0;
  }

  static int on_message_complete(http_parser* parser) {
    http_parser_pause(parser, 1);
    return 0;
  }

  static constexpr http_parser_settings settings{
      .on_message_begin = nullptr,
      .on_url = on_url,
      .on_status = nullptr,
      .on_header_field = on_header_field,
      .on_header_value = on_header_value,
      .on_headers_complete = on_headers_complete,
      .on_body = on_body,
      .on_message_complete = on_message_complete,
      .on_chunk_header = nullptr,
      .on_chunk_complete = nullptr,
  };
};

RequestReader::RequestReader(Limits limits) : limits_(limits), parser_(std::make_unique<Parser>()) {
  start();
}

RequestReader::~RequestReader() = default;

void RequestReader::start() {
  http_parser_init(&parser_->parser, HTTP_REQUEST);
  parser_->parser.data = this;
}

std::size_t RequestReader::feed(std::string_view input) {
  http_parser* parser = &parser_->parser;
  std::size_t used = 0;
  while (state_ == State::need_more && used < input.size()) {
    std::string_view piece = input.substr(used);
    // Until the headers end, one byte past the limit at most, which is enough to see it
    // passed; http-parser's own limit (80 KiB, process-wide) is not ours.
    if (const std::size_t room = limits_.max_header_bytes - header_bytes_;
        !headers_complete_ && room < piece.size()) {
      piece = piece.substr(0, room + 1);
    }
    const std::size_t parsed =
        http_parser_execute(parser, &Parser::settings, piece.data(), piece.size());
    used += parsed;
    const auto code = HTTP_PARSER_ERRNO(parser);
    if (code == HPE_PAUSED) {
      http_parser_pause(parser, 0);
      if (headers_complete_) {
        state_ = State::done;
      } else {
        // Paused at the headers' last byte, the blank line's LF, which it reads on resuming.
        header_bytes_ += parsed + 1;
        end_headers();
      }
    } else if (code != HPE_OK) {
      if (state_ != State::failed) {
        fail(code == HPE_HEADER_OVERFLOW ? 431 : 400,
             std::string("bad request: ") + http_errno_description(code));
      }
    } else if (!headers_complete_) {
      header_bytes_ += parsed;
      if (header_bytes_ > limits_.max_header_bytes) {
        fail(431, "request headers over " + std::to_string(limits_.max_header_bytes) + " bytes");
      }
    }
    // The byte it failed at is taken too.
    if (state_ == State::failed && parsed < piece.size()) ++used;
  }
  return used;
}

void RequestReader::end_headers() {
  headers_complete_ = true;
  const http_parser& parser = parser_->parser;
  request_.method = http_method_str(static_cast<http_method>(parser.method));
  if (header_bytes_ > limits_.max_header_bytes) {
    return fail(431, "request headers over " + std::to_string(limits_.max_header_bytes) + " bytes");
  }
  if (parser.http_major != 1) {
    return fail(505, "HTTP version " + std::to_string(parser.http_major) + "." +
                         std::to_string(parser.http_minor) + " not supported");
  }
  for (auto& header : request_.headers) header.second = std::string(trim_blanks(header.second));

  // http_parser_url's offsets are 16 bits.
  if (request_.target.size() > std::numeric_limits<std::uint16_t>::max()) {
    return fail(400, "request target longer than 65535 bytes");
  }
  http_parser_url parts{};
  http_parser_url_init(&parts);
  if (http_parser_parse_url(request_.target.data(), request_.target.size(),
                            parser.method == HTTP_CONNECT ? 1 : 0, &parts) != 0) {
    return fail(400, "bad request target");
  }
  auto path = percent_decode(url_field(request_.target, parts, UF_PATH));
  // No %00: the path may reach C strings.
  if (!path || path->find('\0') != std::string::npos) {
    return fail(400, "bad percent escape in the request path");
  }
  request_.path = std::move(*path);
  request_.query = url_field(request_.target, parts, UF_QUERY);

  request_.upgrade = parser.upgrade != 0;
  request_.keep_alive = http_should_keep_alive(&parser) != 0;

  // content_length is ULLONG_MAX without a Content-Length header.
  const bool chunked = (parser.flags & F_CHUNKED) != 0;
  const bool has_length = parser.content_length != ULLONG_MAX;
  if ((chunked && limits_.max_body_bytes == 0) ||
      (has_length && parser.content_length > limits_.max_body_bytes)) {
    return fail(413, "request body over " + std::to_string(limits_.max_body_bytes) + " bytes");
  }
}

void RequestReader::fail(int status, std::string why) {
  state_ = State::failed;
  error_status_ = status;
  error_ = std::move(why);
}

void RequestReader::reset() {
  start();
  state_ = State::need_more;
  request_ = {};
  header_bytes_ = 0;
  headers_complete_ = false;
  header_name_.clear();
  in_value_ = false;
  error_status_ = 0;
  error_.clear();
}

std::string serialize(const Response& response, bool keep_alive) {
  // A 101's headers come from the handshake; 1xx, 204 and 304 answers have no body.
  const bool switching = response.status == 101;
  const bool bodiless = switching || response.status == 204 || response.status == 304;
  std::string out;
  const auto header = [&out](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  out.append("HTTP/1.1 ")
      .append(std::to_string(response.status))
      .append(" ")
      .append(reason_phrase(response.status))
      .append("\r\n");
  if (!bodiless) {
    if (!response.content_type.empty()) header("Content-Type", response.content_type);
    header("Content-Length", std::to_string(response.body.size()));
  }
  if (!switching) {
    header("Connection", keep_alive ? "keep-alive" : "close");
    header("Cache-Control", "no-store");
  }
  for (const auto& [name, value] : response.headers) header(name, value);
  out.append("\r\n");
  if (!bodiless) out.append(response.body);
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace ttynet::http
