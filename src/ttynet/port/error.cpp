#include "ttynet/port/error.hpp"

#include <string>

namespace ttynet::port {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ttynet.port"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::closed:
        return "port closed";
      case errc::bad_url:
        return "malformed port URL";
      case errc::unknown_scheme:
        return "unknown URL scheme";
      case errc::unknown_option:
        return "unknown URL option";
      case errc::bad_option_value:
        return "bad URL option value";
      case errc::not_a_tty:
        return "not a serial device";
      case errc::bad_line_settings:
        return "line settings out of range";
    }
    return "unknown port error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace ttynet::port
