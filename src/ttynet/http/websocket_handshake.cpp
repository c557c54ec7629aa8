#include "ttynet/http/websocket_handshake.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>

namespace ttynet::http {

namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t key_bytes = 16;
constexpr std::size_t key_base64_size = 24;  // 16 bytes, then "=="

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, {}, ascii_lower, ascii_lower);
}

std::string_view trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// Whether a comma-separated header (any of its lines) lists `token`, ignoring case.
bool lists_token(const Request& request, std::string_view name, std::string_view token) {
  for (const auto& [header, value] : request.headers) {
    if (header != name) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (equals_ignoring_case(trim_blanks(rest.substr(0, comma)), token)) return true;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return false;
}

// The key must be base64 of exactly 16 bytes; EVP_DecodeBlock would count the padding as data
// and take '=' anywhere, so the streaming decoder, which does not, is used.
bool valid_key(std::string_view key) {
  if (key.size() != key_base64_size) return false;
  const std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> context(
      EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!context) return false;
  std::array<unsigned char, key_base64_size> decoded{};
  int size = 0;
  int final_size = 0;
  EVP_DecodeInit(context.get());
  if (EVP_DecodeUpdate(context.get(), decoded.data(), &size,
                       reinterpret_cast<const unsigned char*>(key.data()),
                       static_cast<int>(key.size())) < 0) {
    return false;
  }
  if (EVP_DecodeFinal(context.get(), decoded.data() + size, &final_size) != 1) return false;
  return size + final_size == static_cast<int>(key_bytes);
}

// The host[:port] of an Origin such as "http://127.0.0.1:8080", which has no path.
bool origin_allowed(std::string_view origin, std::string_view allowed_host) {
  const auto scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;  // "null" included
  return equals_ignoring_case(origin.substr(scheme_end + 3), allowed_host);
}

HandshakeAnswer refuse(int status, std::string why) {
  HandshakeAnswer answer;
  answer.response.status = status;
  answer.response.body = "WebSocket handshake refused: " + std::move(why) + "\n";
  return answer;
}

}  // namespace

std::string websocket_accept_key(std::string_view client_key) {
  const std::string keyed = std::string(client_key) + std::string(websocket_guid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(keyed.data(), keyed.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) !=
      1) {
    return {};
  }
  // 4 characters per 3 bytes, and the terminating NUL EVP_EncodeBlock writes.
  std::array<unsigned char, (EVP_MAX_MD_SIZE + 2) / 3 * 4 + 1> encoded{};
  const int size = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_size));
  return {reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(size)};
}

HandshakeAnswer answer_websocket_upgrade(const Request& request,
                                         std::string_view allowed_origin_host) {
  if (request.method != "GET") return refuse(400, "not a GET request");
  if (!lists_token(request, "upgrade", "websocket")) return refuse(400, "no Upgrade: websocket");
  if (!lists_token(request, "connection", "upgrade")) {
    return refuse(400, "no Connection: Upgrade");
  }
  if (request.header("sec-websocket-version") != "13") {
    HandshakeAnswer answer = refuse(426, "Sec-WebSocket-Version is not 13");
    answer.response.headers.emplace_back("Sec-WebSocket-Version", "13");
    return answer;
  }
  const auto key = request.header("sec-websocket-key");
  if (!key || !valid_key(*key)) return refuse(400, "Sec-WebSocket-Key is not base64 of 16 bytes");
  const auto origin = request.header("origin");
  if (!allowed_origin_host.empty() && origin && !origin_allowed(*origin, allowed_origin_host)) {
    return refuse(403, "Origin not allowed");
  }
  const std::string accept = websocket_accept_key(*key);
  if (accept.empty()) return refuse(500, "SHA-1 unavailable");

  HandshakeAnswer answer;
  answer.accepted = true;
  answer.response.status = 101;
  answer.response.content_type.clear();
  answer.response.headers = {
      {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", accept}};
  return answer;
}

}  // namespace ttynet::http
