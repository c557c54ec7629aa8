#include "ttynet/rfc2217/error.hpp"

#include <string>

namespace ttynet::rfc2217 {

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ttynet.rfc2217"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_value:
        return "RFC 2217 command with an undefined value ignored";
      case errc::missing_value:
        return "RFC 2217 command without its value ignored";
      case errc::com_port_refused:
        return "server refused the RFC 2217 COM-PORT option";
      case errc::negotiation_timeout:
        return "server did not agree to the RFC 2217 COM-PORT option in time";
      case errc::reply_timeout:
        return "server did not answer an RFC 2217 request in time";
      case errc::value_rejected:
        return "server rejected an RFC 2217 setting";
      case errc::not_open:
        return "RFC 2217 port is not open";
      case errc::bad_message:
        return "malformed paced-ESP message ignored";
    }
    return "unknown RFC 2217 error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace ttynet::rfc2217
