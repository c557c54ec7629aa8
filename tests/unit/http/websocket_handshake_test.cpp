#include "ttynet/http/websocket_handshake.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ttynet::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A browser's upgrade request as the reader gives it (names lower-case); `change` sets a
// header's value, or removes it when the value is empty.
Request upgrade(const Headers& change = {}) {
  Request request;
  request.method = "GET";
  request.target = request.path = "/ws/ports/esp";
  request.upgrade = true;
  request.headers = {{"host", "127.0.0.1:8080"},      {"connection", "Upgrade"},
                     {"upgrade", "websocket"},        {"origin", "http://127.0.0.1:8080"},
                     {"sec-websocket-version", "13"}, {"sec-websocket-key", std::string(rfc_key)}};
  for (const auto& header : change) {
    std::erase_if(request.headers, [&](const auto& old) { return old.first == header.first; });
    if (!header.second.empty()) request.headers.push_back(header);
  }
  return request;
}

int status_of(const Request& request, std::string_view allowed_origin_host = "127.0.0.1:8080") {
  const HandshakeAnswer answer = answer_websocket_upgrade(request, allowed_origin_host);
  EXPECT_EQ(answer.accepted, answer.response.status == 101);
  return answer.response.status;
}

TEST(WebSocketHandshake, AcceptKeyIsTheRfcExample) {
  EXPECT_EQ(websocket_accept_key(rfc_key), rfc_accept);
}

TEST(WebSocketHandshake, AcceptsAnUpgradeReadFromTheWire) {
  RequestReader reader;
  reader.feed(
      "GET /ws/ports/esp HTTP/1.1\r\n"
      "Host: 127.0.0.1:8080\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "Upgrade: WebSocket\r\n"
      "Origin: http://127.0.0.1:8080\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "\r\n");
  ASSERT_EQ(reader.state(), RequestReader::State::done);
  const HandshakeAnswer answer = answer_websocket_upgrade(reader.request(), "127.0.0.1:8080");
  ASSERT_TRUE(answer.accepted);
  EXPECT_EQ(answer.response.status, 101);
  const Headers expected = {{"Upgrade", "websocket"},
                            {"Connection", "Upgrade"},
                            {"Sec-WebSocket-Accept", std::string(rfc_accept)}};
  EXPECT_EQ(answer.response.headers, expected);
  EXPECT_EQ(serialize(answer.response, true),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
}

TEST(WebSocketHandshake, TokensAreMatchedInListsIgnoringCase) {
  EXPECT_EQ(status_of(upgrade({{"connection", "keep-alive, UPGRADE"}})), 101);
  EXPECT_EQ(status_of(upgrade({{"upgrade", "h2c ,websocket"}})), 101);
  EXPECT_EQ(status_of(upgrade({{"connection", "upgraded"}})), 400);
  EXPECT_EQ(status_of(upgrade({{"upgrade", "websockets"}})), 400);
}

TEST(WebSocketHandshake, RefusesAnythingButGet) {
  Request request = upgrade();
  request.method = "POST";
  EXPECT_EQ(status_of(request), 400);
}

TEST(WebSocketHandshake, RefusesWithoutUpgradeHeaders) {
  EXPECT_EQ(status_of(upgrade({{"upgrade", ""}})), 400);
  EXPECT_EQ(status_of(upgrade({{"connection", ""}})), 400);
  EXPECT_EQ(status_of(upgrade({{"connection", "keep-alive"}})), 400);
}

TEST(WebSocketHandshake, RefusesAMissingOrMalformedKey) {
  EXPECT_EQ(status_of(upgrade({{"sec-websocket-key", ""}})), 400);
  const std::vector<std::string> bad_keys = {
      "dGhlIHNhbXBsZSBub25j",          // 15 bytes
      "dGhlIHNhbXBsZSBub25jZQ",        // no padding
      "dGhlIHNhbXBsZSBub25jZQ==AAAA",  // 19 bytes
      "dGhlIHNhbXBs=SBub25jZQ==",      // padding inside
      "dGhlIHNhbXBsZSBub25jZ!==",      // not base64
      "dGhlIHNhbXBs ZSBub25jZQ=",      // a blank inside
  };
  for (const std::string& key : bad_keys) {
    const HandshakeAnswer answer =
        answer_websocket_upgrade(upgrade({{"sec-websocket-key", key}}), "127.0.0.1:8080");
    EXPECT_FALSE(answer.accepted) << key;
    EXPECT_EQ(answer.response.status, 400) << key;
    EXPECT_EQ(answer.response.body,
              "WebSocket handshake refused: Sec-WebSocket-Key is not base64 of 16 bytes\n");
  }
  // Any 16 bytes will do.
  EXPECT_EQ(status_of(upgrade({{"sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="}})), 101);
}

TEST(WebSocketHandshake, AnotherVersionGets426WithTheVersionSpoken) {
  for (const std::string version : {"8", "12", "13, 8", ""}) {
    const HandshakeAnswer answer =
        answer_websocket_upgrade(upgrade({{"sec-websocket-version", version}}), "127.0.0.1:8080");
    EXPECT_FALSE(answer.accepted) << version;
    EXPECT_EQ(answer.response.status, 426) << version;
    const Headers expected = {{"Sec-WebSocket-Version", "13"}};
    EXPECT_EQ(answer.response.headers, expected) << version;
  }
}

TEST(WebSocketHandshake, RefusesAPageFromElsewhere) {
  EXPECT_EQ(status_of(upgrade({{"origin", "http://evil.example"}})), 403);
  EXPECT_EQ(status_of(upgrade({{"origin", "http://127.0.0.1:8081"}})), 403);
  EXPECT_EQ(status_of(upgrade({{"origin", "http://127.0.0.1:8080.evil.example"}})), 403);
  EXPECT_EQ(status_of(upgrade({{"origin", "null"}})), 403);
  EXPECT_EQ(status_of(upgrade({{"origin", "127.0.0.1:8080"}})), 403);
}

TEST(WebSocketHandshake, OriginHostIsComparedIgnoringCase) {
  EXPECT_EQ(status_of(upgrade({{"origin", "https://LocalHost:8080"}}), "localhost:8080"), 101);
}

TEST(WebSocketHandshake, AcceptsAClientWithoutOrigin) {
  EXPECT_EQ(status_of(upgrade({{"origin", ""}})), 101);
}

TEST(WebSocketHandshake, AcceptsAnyOriginWhenNoneIsRequired) {
  EXPECT_EQ(status_of(upgrade({{"origin", "http://elsewhere.example"}}), ""), 101);
  EXPECT_EQ(status_of(upgrade({{"origin", "null"}}), ""), 101);
}

}  // namespace
}  // namespace ttynet::http
