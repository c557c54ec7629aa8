#include "ttynet/esptool/error.hpp"

namespace ttynet::esptool {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "esptool"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::no_reply:
        return "no reply from the loader";
      case errc::port_failed:
        return "port failed";
      case errc::unsupported_command:
        return "command not supported by the loader";
      case errc::response_mismatch:
        return "response does not match request";
      case errc::command_failed:
        return "loader reported a failure";
      case errc::short_response:
        return "loader reply too short";
      case errc::connect_failed:
        return "failed to connect";
      case errc::unknown_chip:
        return "unknown chip";
      case errc::wrong_chip:
        return "wrong chip";
      case errc::digest_mismatch:
        return "MD5 digest mismatch";
      case errc::bad_argument:
        return "bad argument";
      case errc::file_error:
        return "file error";
    }
    return "unknown esptool error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

Error make_error(errc code, std::string message) {
  return {make_error_code(code), std::move(message)};
}

}  // namespace ttynet::esptool
