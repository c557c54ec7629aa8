#include "ttynet/telnet/error.hpp"

#include <string>

namespace ttynet::telnet {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ttynet.telnet"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::subnegotiation_too_long:
        return "sub-negotiation longer than the limit, dropped";
      case errc::se_without_sb:
        return "IAC SE without an open sub-negotiation, ignored";
      case errc::command_inside_sb:
        return "telnet command inside a sub-negotiation, dropped";
      case errc::negotiation_violation:
        return "peer answered contrary to an outstanding option request";
    }
    return "unknown telnet error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace ttynet::telnet
