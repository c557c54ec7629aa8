#pragma once
// One HTTP/1.1 request read from a connection's bytes (docs/design/dashboard.md), through
// Node's http-parser. Sans-I/O: feed() takes bytes as they come, split anywhere, and stops at
// the end of the request, so what follows it (a pipelined request, or a WebSocket's first
// frames after an upgrade) stays with the caller.
//
// Limits, each a status to answer with: headers over max_header_bytes (431), a body over
// max_body_bytes (413; the dashboard takes none), a request line or header http-parser rejects
// (400), a version other than 1.x (505). Memory is bounded by those limits.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ttynet::http {

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as sent: "/ports/a%20b?x=1"
  std::string path;    // the target's path, percent-decoded: "/ports/a b"
  std::string query;   // the target's query, without '?', not decoded
  // Names lower-cased, values with surrounding blanks removed, in the order sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool upgrade = false;     // "Connection: upgrade" with an "Upgrade" header
  bool keep_alive = false;  // the connection may carry another request after this one

  // The first header of that (lower-case) name.
  std::optional<std::string_view> header(std::string_view lower_name) const;
};

struct Limits {
  std::size_t max_header_bytes = 8192;  // request line and headers together
  std::size_t max_body_bytes = 0;
};

class RequestReader {
 public:
  enum class State { need_more, done, failed };

  explicit RequestReader(Limits limits = {});
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Reads from the start of `input` up to the end of one request (or the byte that makes it
  // fail) and returns how many bytes it took. Takes nothing once done or failed.
  std::size_t feed(std::string_view input);

  State state() const { return state_; }
  // The request, once done.
  const Request& request() const { return request_; }
  // Once failed: the status to answer with (400, 413, 431, 505) and a one-line reason.
  int error_status() const { return error_status_; }
  std::string_view error() const { return error_; }

  // Ready for the connection's next request.
  void reset();

 private:
  struct Parser;
  friend struct Parser;

  void start();
  void end_headers();
  void fail(int status, std::string why);

  Limits limits_;
  std::unique_ptr<Parser> parser_;
  State state_ = State::need_more;
  Request request_;
  std::size_t header_bytes_ = 0;
  bool headers_complete_ = false;
  std::string header_name_;  // the header being read; values arrive after it
  bool in_value_ = false;
  int error_status_ = 0;
  std::string error_;
};

// A response's bytes: status line, Content-Type, Content-Length, Connection (keep-alive or
// close), Cache-Control: no-store, the extra headers, then the body.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};
};
std::string serialize(const Response& response, bool keep_alive);
// "OK", "Not Found", ...; "Unknown" for a status without a phrase here.
std::string_view reason_phrase(int status);

}  // namespace ttynet::http
