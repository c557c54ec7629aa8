// HTTP requests (http/request_reader.cpp), as a connection brings them: one after the other,
// the reader reset after each. First byte: bits 0-1 pick the header limit, bits 2-3 the body
// limit, and the whole byte seeds the sizes of the pieces the rest is fed in (empty ones
// included).
//
// Invariants: feed() takes no more than it is given, and stops short only once done or
// failed; after that it takes nothing and the state stays. A failure is 400, 413, 431 or 505
// with a reason; a request read has the headers and body its limits allow, and took at least
// those bytes. The requests read, and the failure that ends them, do not depend on the split:
// a reader fed everything at once agrees.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "ttynet/http/request_reader.hpp"

namespace {

using namespace ttynet::http;
using State = RequestReader::State;
using ttynet::fuzz::check;

constexpr std::array<std::size_t, 4> header_limits = {64, 256, 1024, 8192};
constexpr std::array<std::size_t, 4> body_limits = {0, 1, 16, 4096};

// One request read, or how the reading ended, for comparing two feeds.
struct Outcome {
  State state = State::need_more;
  int status = 0;
  std::size_t used = 0;  // compared for requests read only: a failure's is not pinned down
  Request request{};

  bool operator==(const Outcome& other) const {
    if (state != other.state || status != other.status) return false;
    if (state != State::done) return true;
    const Request& a = request;
    const Request& b = other.request;
    return used == other.used && a.method == b.method && a.target == b.target && a.path == b.path &&
           a.query == b.query && a.headers == b.headers && a.body == b.body &&
           a.upgrade == b.upgrade && a.keep_alive == b.keep_alive;
  }
};

void check_state(const RequestReader& reader, const Limits& limits) {
  switch (reader.state()) {
    case State::done: {
      check(reader.error_status() == 0 && reader.error().empty());
      const Request& request = reader.request();
      check(!request.method.empty() && !request.target.empty());
      std::size_t header_bytes = request.target.size();
      for (const auto& [name, value] : request.headers) {
        check(!name.empty());
        for (const char c : name) check(c < 'A' || c > 'Z');
        check(value.empty() || (value.front() != ' ' && value.back() != ' '));
        header_bytes += name.size() + value.size();
      }
      check(header_bytes <= limits.max_header_bytes);
      check(request.body.size() <= limits.max_body_bytes);
      break;
    }
    case State::failed: {
      const int status = reader.error_status();
      check(status == 400 || status == 413 || status == 431 || status == 505);
      check(!reader.error().empty());
      break;
    }
    case State::need_more:
      check(reader.error_status() == 0 && reader.error().empty());
      break;
  }
}

Outcome outcome_of(const RequestReader& reader, std::size_t used) {
  Outcome outcome{.state = reader.state(), .status = reader.error_status(), .used = used};
  if (reader.state() == State::done) {
    outcome.request = reader.request();
    check(used >= outcome.request.target.size() + outcome.request.body.size());
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Limits limits{.max_header_bytes = header_limits[data[0] & 3],
                      .max_body_bytes = body_limits[(data[0] >> 2) & 3]};
  ttynet::fuzz::Choices choices(data[0]);
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<Outcome> in_pieces;
  {
    RequestReader reader(limits);
    std::string_view input = all;
    std::size_t used_by_request = 0;
    while (!input.empty() && reader.state() != State::failed) {
      const std::size_t piece =
          choices.next(8) == 0 ? 0 : 1 + choices.next(static_cast<std::uint32_t>(input.size()));
      const std::size_t used = reader.feed(input.substr(0, piece));
      check(used <= piece);
      if (used < piece) check(reader.state() != State::need_more);
      check_state(reader, limits);
      used_by_request += used;
      input.remove_prefix(used);
      if (reader.state() == State::need_more) continue;
      const State state = reader.state();
      check(reader.feed(input) == 0 && reader.state() == state);
      in_pieces.push_back(outcome_of(reader, used_by_request));
      if (state == State::done) {
        reader.reset();
        check(reader.state() == State::need_more && reader.error_status() == 0);
        used_by_request = 0;
      }
    }
    if (reader.state() == State::need_more) in_pieces.push_back(outcome_of(reader, 0));
  }

  std::vector<Outcome> whole;
  {
    RequestReader reader(limits);
    std::string_view input = all;
    while (true) {
      const std::size_t used = reader.feed(input);
      input.remove_prefix(used);
      if (reader.state() == State::need_more) check(input.empty());
      whole.push_back(outcome_of(reader, used));
      if (reader.state() != State::done || input.empty()) break;
      reader.reset();
    }
    // Input that ends right after a request leaves the pieces' reader waiting for the next.
    if (whole.back().state == State::done) whole.push_back(Outcome{});
  }
  check(in_pieces == whole);
  return 0;
}
