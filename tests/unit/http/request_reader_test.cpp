#include "ttynet/http/request_reader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ttynet::http {
namespace {

using State = RequestReader::State;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string browser_get =
    "GET /ports/a%20b?x=1&y=%41 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent:   Mozilla/5.0 \t\r\n"
    "Accept: */*\r\n"
    "X-Empty:\r\n"
    "\r\n";

const std::string upgrade_request =
    "GET /ws/ports/esp HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// Feeds `input` one byte at a time until the reader stops taking bytes.
std::size_t feed_bytewise(RequestReader& reader, std::string_view input) {
  std::size_t used = 0;
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::size_t took = reader.feed(input.substr(i, 1));
    used += took;
    if (took == 0 || reader.state() != State::need_more) break;
  }
  return used;
}

void expect_same(const Request& a, const Request& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.query, b.query);
  EXPECT_EQ(a.headers, b.headers);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.upgrade, b.upgrade);
  EXPECT_EQ(a.keep_alive, b.keep_alive);
}

// The status a request gets, fed whole and fed one byte at a time (they must agree).
int status_of(std::string_view input, Limits limits = {}) {
  RequestReader whole(limits);
  whole.feed(input);
  RequestReader bytewise(limits);
  feed_bytewise(bytewise, input);
  EXPECT_EQ(whole.state(), bytewise.state()) << input;
  EXPECT_EQ(whole.error_status(), bytewise.error_status()) << input;
  if (whole.state() == State::failed) {
    EXPECT_FALSE(whole.error().empty());
    return whole.error_status();
  }
  EXPECT_TRUE(whole.error().empty());
  return whole.state() == State::done ? 200 : 0;
}

TEST(RequestReader, ParsesAGetRequest) {
  RequestReader reader;
  EXPECT_EQ(reader.state(), State::need_more);
  EXPECT_EQ(reader.feed(browser_get), browser_get.size());
  ASSERT_EQ(reader.state(), State::done);
  const Request& request = reader.request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/ports/a%20b?x=1&y=%41");
  EXPECT_EQ(request.path, "/ports/a b");
  EXPECT_EQ(request.query, "x=1&y=%41");
  const Headers expected = {{"host", "127.0.0.1:8080"},
                            {"user-agent", "Mozilla/5.0"},
                            {"accept", "*/*"},
                            {"x-empty", ""}};
  EXPECT_EQ(request.headers, expected);
  EXPECT_TRUE(request.body.empty());
  EXPECT_FALSE(request.upgrade);
  EXPECT_TRUE(request.keep_alive);
  EXPECT_EQ(reader.error_status(), 0);
  EXPECT_TRUE(reader.error().empty());
  // Done: nothing more is taken.
  EXPECT_EQ(reader.feed("GET / HTTP/1.1\r\n\r\n"), 0u);
  EXPECT_EQ(reader.request().path, "/ports/a b");
}

TEST(RequestReader, OneByteAtATimeGivesTheSameRequest) {
  RequestReader whole;
  ASSERT_EQ(whole.feed(browser_get), browser_get.size());
  RequestReader bytewise;
  for (std::size_t i = 0; i + 1 < browser_get.size(); ++i) {
    EXPECT_EQ(bytewise.feed(browser_get.substr(i, 1)), 1u) << i;
    EXPECT_EQ(bytewise.state(), State::need_more) << i;
  }
  EXPECT_EQ(bytewise.feed(browser_get.substr(browser_get.size() - 1)), 1u);
  ASSERT_EQ(bytewise.state(), State::done);
  expect_same(bytewise.request(), whole.request());
}

TEST(RequestReader, AnySplitInTwoGivesTheSameRequest) {
  RequestReader whole;
  ASSERT_EQ(whole.feed(upgrade_request), upgrade_request.size());
  for (std::size_t split = 0; split <= upgrade_request.size(); ++split) {
    RequestReader reader;
    const std::size_t first = reader.feed(std::string_view(upgrade_request).substr(0, split));
    const std::size_t second = reader.feed(std::string_view(upgrade_request).substr(split));
    EXPECT_EQ(first + second, upgrade_request.size()) << split;
    ASSERT_EQ(reader.state(), State::done) << split;
    expect_same(reader.request(), whole.request());
  }
}

TEST(RequestReader, StopsAfterOneRequestOfAPipeline) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string second = "GET /b?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string both = first + second;
  RequestReader reader;
  EXPECT_EQ(reader.feed(both), first.size());
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_EQ(reader.request().path, "/a");
  EXPECT_TRUE(reader.request().keep_alive);

  reader.reset();
  EXPECT_EQ(reader.state(), State::need_more);
  EXPECT_EQ(reader.feed(std::string_view(both).substr(first.size())), second.size());
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_EQ(reader.request().path, "/b");
  EXPECT_EQ(reader.request().query, "q");
  const Headers expected = {{"host", "x"}, {"connection", "close"}};
  EXPECT_EQ(reader.request().headers, expected);
  EXPECT_FALSE(reader.request().keep_alive);
}

TEST(RequestReader, LeavesTheWebSocketBytesAfterAnUpgrade) {
  // A masked text frame "Hello" (RFC 6455, section 5.7), sent right behind the request.
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  const std::string input = upgrade_request + frame;
  RequestReader reader;
  EXPECT_EQ(reader.feed(input), upgrade_request.size());
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_TRUE(reader.request().upgrade);
  EXPECT_EQ(reader.request().path, "/ws/ports/esp");
  EXPECT_EQ(reader.request().header("upgrade"), "websocket");
  EXPECT_EQ(reader.feed(frame), 0u);

  RequestReader bytewise;
  EXPECT_EQ(feed_bytewise(bytewise, input), upgrade_request.size());
  EXPECT_EQ(bytewise.state(), State::done);
  EXPECT_TRUE(bytewise.request().upgrade);
}

TEST(RequestReader, AnUpgradeHeaderAloneIsNotAnUpgrade) {
  RequestReader reader;
  reader.feed("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_FALSE(reader.request().upgrade);
}

TEST(RequestReader, PercentDecodesThePathOnly) {
  RequestReader reader;
  reader.feed("GET /a%2fb/%C3%A9+c?name=a%20b+c HTTP/1.1\r\n\r\n");
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_EQ(reader.request().path, "/a/b/\xC3\xA9+c");
  EXPECT_EQ(reader.request().query, "name=a%20b+c");
}

TEST(RequestReader, RefusesBadPercentEscapes) {
  for (const std::string target : {"/a%zz", "/a%2", "/a%", "/%g1", "/a%00b"}) {
    EXPECT_EQ(status_of("GET " + target + " HTTP/1.1\r\n\r\n"), 400) << target;
  }
  // The query is not decoded, so not checked either.
  EXPECT_EQ(status_of("GET /a?%zz HTTP/1.1\r\n\r\n"), 200);
}

// A request of exactly `size` bytes, all of them request line and headers.
std::string request_of_size(std::size_t size) {
  const std::string head = "GET / HTTP/1.1\r\nX-Filler: ";
  const std::string tail = "\r\n\r\n";
  return head + std::string(size - head.size() - tail.size(), 'f') + tail;
}

TEST(RequestReader, HeadersUpToTheLimitAreRead) {
  const std::string request = request_of_size(100);
  RequestReader reader({.max_header_bytes = 100});
  EXPECT_EQ(reader.feed(request), request.size());
  EXPECT_EQ(reader.state(), State::done);
  EXPECT_EQ(status_of(request, {.max_header_bytes = 100}), 200);
}

TEST(RequestReader, HeadersOverTheLimitAre431) {
  const std::string request = request_of_size(101);
  RequestReader reader({.max_header_bytes = 100});
  const std::size_t used = reader.feed(request);
  ASSERT_EQ(reader.state(), State::failed);
  EXPECT_EQ(reader.error_status(), 431);
  EXPECT_LE(used, 101u);
  EXPECT_EQ(reader.feed("more"), 0u);
  EXPECT_EQ(status_of(request, {.max_header_bytes = 100}), 431);
}

TEST(RequestReader, EndlessHeadersFedInPiecesAre431) {
  RequestReader reader;  // the default limit, 8 KiB
  std::size_t used = reader.feed("GET / HTTP/1.1\r\n");
  const std::string header = "X-Header: " + std::string(50, 'v') + "\r\n";
  for (int i = 0; i < 1000 && reader.state() == State::need_more; ++i) {
    for (std::size_t at = 0; at < header.size(); at += 7) {
      used += reader.feed(std::string_view(header).substr(at, 7));
    }
  }
  ASSERT_EQ(reader.state(), State::failed);
  EXPECT_EQ(reader.error_status(), 431);
  EXPECT_EQ(used, Limits{}.max_header_bytes + 1);
  EXPECT_EQ(reader.error(), "request headers over 8192 bytes");
}

TEST(RequestReader, AnyHeaderLimitWorks) {
  RequestReader unlimited({.max_header_bytes = SIZE_MAX});
  EXPECT_EQ(unlimited.feed(browser_get), browser_get.size());
  EXPECT_EQ(unlimited.state(), State::done);
  EXPECT_EQ(status_of(browser_get, {.max_header_bytes = 0}), 431);
}

TEST(RequestReader, ALongTargetCountsAsHeaderBytes) {
  EXPECT_EQ(status_of("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n"), 431);
}

const std::string post_hello =
    "POST /api/ports HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
const std::string chunked_hello =
    "POST /api/ports HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";

TEST(RequestReader, ABodyIs413ByDefault) {
  EXPECT_EQ(status_of(post_hello), 413);
  EXPECT_EQ(status_of(chunked_hello), 413);
  // An empty body is no body.
  EXPECT_EQ(status_of("POST /api/ports HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 200);
}

TEST(RequestReader, ABodyWithinTheLimitIsRead) {
  RequestReader reader({.max_body_bytes = 5});
  EXPECT_EQ(reader.feed(post_hello + "GET"), post_hello.size());
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_EQ(reader.request().method, "POST");
  EXPECT_EQ(reader.request().body, "hello");

  RequestReader chunked({.max_body_bytes = 5});
  EXPECT_EQ(chunked.feed(chunked_hello), chunked_hello.size());
  ASSERT_EQ(chunked.state(), State::done);
  EXPECT_EQ(chunked.request().body, "hello");

  RequestReader bytewise({.max_body_bytes = 5});
  EXPECT_EQ(feed_bytewise(bytewise, chunked_hello), chunked_hello.size());
  EXPECT_EQ(bytewise.request().body, "hello");
}

TEST(RequestReader, ABodyOverTheLimitIs413) {
  EXPECT_EQ(status_of(post_hello, {.max_body_bytes = 4}), 413);
  EXPECT_EQ(status_of(chunked_hello, {.max_body_bytes = 4}), 413);
}

TEST(RequestReader, GarbageIs400) {
  const std::vector<std::string> garbage = {
      "HELLO WORLD\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS ClientHello
      "GET / FTP/1.1\r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const std::string& input : garbage) EXPECT_EQ(status_of(input), 400) << input;
}

TEST(RequestReader, FailsAtTheBadByte) {
  RequestReader reader;
  EXPECT_EQ(reader.feed("GET / HTTP/1.1\r\nBad@Header: x\r\n\r\n"), 20u);
  EXPECT_EQ(reader.state(), State::failed);
  EXPECT_EQ(reader.error_status(), 400);
  EXPECT_EQ(reader.error(), "bad request: invalid character in header");
}

TEST(RequestReader, VersionsOtherThan1xAreRefused) {
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET /\r\n\r\n"), 505);  // HTTP/0.9 has no version
  EXPECT_EQ(status_of("GET / HTTP/1.10\r\n\r\n"), 400);
  EXPECT_EQ(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 400);  // HTTP/2's preface

  RequestReader reader;
  reader.feed("GET / HTTP/2.0\r\n\r\n");
  EXPECT_EQ(reader.error(), "HTTP version 2.0 not supported");
}

TEST(RequestReader, Http10ClosesUnlessAskedToKeepAlive) {
  RequestReader reader;
  reader.feed("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_FALSE(reader.request().keep_alive);
  reader.reset();
  reader.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_TRUE(reader.request().keep_alive);
}

TEST(RequestReader, ResetAfterAFailureReadsTheNextRequest) {
  RequestReader reader({.max_header_bytes = 64});
  reader.feed(request_of_size(65));
  ASSERT_EQ(reader.state(), State::failed);
  reader.reset();
  EXPECT_EQ(reader.error_status(), 0);
  EXPECT_TRUE(reader.error().empty());
  const std::string request = request_of_size(64);
  EXPECT_EQ(reader.feed(request), request.size());
  ASSERT_EQ(reader.state(), State::done);
  EXPECT_EQ(reader.request().headers.size(), 1u);
}

TEST(RequestReader, HeaderLooksUpTheFirstOfAName) {
  RequestReader reader;
  reader.feed("GET / HTTP/1.1\r\nX-Twice: one\r\nx-twice: two\r\nHOST: h\r\n\r\n");
  ASSERT_EQ(reader.state(), State::done);
  const Request& request = reader.request();
  EXPECT_EQ(request.header("x-twice"), "one");
  EXPECT_EQ(request.header("host"), "h");
  EXPECT_EQ(request.header("Host"), std::nullopt);  // names are looked up lower-case
  EXPECT_EQ(request.header("missing"), std::nullopt);
}

TEST(Serialize, WritesStatusHeadersAndBody) {
  const Response response{.status = 200,
                          .content_type = "application/json",
                          .body = "{}",
                          .headers = {{"X-Extra", "1"}}};
  EXPECT_EQ(serialize(response, true),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 2\r\n"
            "Connection: keep-alive\r\n"
            "Cache-Control: no-store\r\n"
            "X-Extra: 1\r\n"
            "\r\n"
            "{}");
}

TEST(Serialize, SaysCloseWhenTheConnectionEnds) {
  const Response response{.status = 404, .body = "no such port\n"};
  EXPECT_EQ(serialize(response, false),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 13\r\n"
            "Connection: close\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n"
            "no such port\n");
}

TEST(Serialize, SwitchingProtocolsHasOnlyTheHandshakesHeaders) {
  const Response response{.status = 101,
                          .content_type = "",
                          .body = "",
                          .headers = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}};
  EXPECT_EQ(serialize(response, true),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "\r\n");
}

TEST(Serialize, NoContentHasNoBody) {
  const Response response{.status = 204};
  EXPECT_EQ(serialize(response, true),
            "HTTP/1.1 204 No Content\r\n"
            "Connection: keep-alive\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n");
}

TEST(ReasonPhrase, NamesTheStatusesTheServerSends) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(413), "Payload Too Large");
  EXPECT_EQ(reason_phrase(426), "Upgrade Required");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  for (const int status :
       {101, 200, 204, 301, 302, 304, 400, 403, 404, 405, 409, 413, 426, 431, 500, 503, 505}) {
    EXPECT_NE(reason_phrase(status), "Unknown") << status;
  }
  EXPECT_EQ(reason_phrase(299), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
}

}  // namespace
}  // namespace ttynet::http
