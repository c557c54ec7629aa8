#include "ttynet/esp/error.hpp"

#include <string>

namespace ttynet::esp {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ttynet.esp"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::slip_invalid_escape:
        return "invalid SLIP escape";
      case errc::slip_frame_too_long:
        return "SLIP frame too long";
      case errc::packet_too_short:
        return "packet shorter than its header";
      case errc::packet_bad_direction:
        return "packet has the wrong direction byte";
      case errc::data_block_too_short:
        return "data block shorter than its header";
      case errc::status_missing:
        return "response shorter than its status bytes";
      case errc::unknown_chip:
        return "unknown chip";
      case errc::invalid_flash_size:
        return "flash size must be 1, 2, 4, 8 or 16 MiB";
      case errc::initial_flash_too_large:
        return "initial flash contents larger than the flash";
      case errc::invalid_revision:
        return "chip revision not supported by the simulator";
      case errc::inflate_failed:
        return "corrupt zlib stream";
      case errc::inflate_checksum_failed:
        return "zlib stream checksum mismatch";
    }
    return "unknown ttynet.esp error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace ttynet::esp
