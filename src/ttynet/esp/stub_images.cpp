#include "ttynet/esp/stub_images.hpp"

#include <algorithm>
#include <array>

namespace ttynet::esp {
namespace {

struct KnownStub {
  std::string_view chip;
  std::uint32_t text_address;
  std::uint32_t text_size;
  std::uint32_t entry;
  StubFlavor flavor;
};

// From the stub JSON files of esptool's releases (targets/stub_flasher/1 and 2).
constexpr std::array known_stubs{
    // legacy v1.3.0 (esptool v4.8.1)
    KnownStub{"esp32", 0x400BE000, 3532, 0x400BE5EC, StubFlavor::legacy},
    KnownStub{"esp32c3", 0x40380000, 3868, 0x403806D0, StubFlavor::legacy},
    KnownStub{"esp32s3", 0x40378000, 5292, 0x40378A80, StubFlavor::legacy},
    // legacy v1.6.0 and v1.8.0 (esptool v4.9 to v5.1)
    KnownStub{"esp32", 0x400BE000, 3464, 0x400BE5E0, StubFlavor::legacy},
    KnownStub{"esp32c3", 0x40380000, 3736, 0x40380620, StubFlavor::legacy},
    KnownStub{"esp32s3", 0x40378000, 5632, 0x40378ADC, StubFlavor::legacy},
    // legacy v1.11.1 (esptool v5.2 and v5.3 with --stub-version 1)
    KnownStub{"esp32", 0x400BE000, 3540, 0x400BE658, StubFlavor::legacy_v1_10},
    KnownStub{"esp32c3", 0x40380000, 3812, 0x403806D2, StubFlavor::legacy_v1_10},
    KnownStub{"esp32s3", 0x40378000, 5676, 0x40378C94, StubFlavor::legacy_v1_10},
    // esp-flasher-stub v1.0.0 (esptool v5.3.x default)
    KnownStub{"esp32", 0x400A8000, 6140, 0x400A9074, StubFlavor::esp_flasher_stub},
    KnownStub{"esp32c3", 0x40380000, 6024, 0x40380F2E, StubFlavor::esp_flasher_stub},
    KnownStub{"esp32s3", 0x40378000, 7644, 0x40379474, StubFlavor::esp_flasher_stub},
};

}  // namespace

std::string_view to_string(StubFlavor flavor) {
  switch (flavor) {
    case StubFlavor::legacy:
      return "legacy flasher stub (4-word FLASH_BEGIN)";
    case StubFlavor::legacy_v1_10:
      return "legacy flasher stub v1.10+";
    case StubFlavor::esp_flasher_stub:
      return "esp-flasher-stub";
  }
  return "unknown";
}

std::optional<StubFlavor> parse_stub_flavor(std::string_view text) {
  if (text == "legacy") {
    return StubFlavor::legacy_v1_10;
  }
  if (text == "flasher") {
    return StubFlavor::esp_flasher_stub;
  }
  return std::nullopt;
}

StubFlavor identify_stub(const ChipInfo& chip, std::span<const UploadedSegment> segments,
                         std::uint32_t entry) {
  for (const KnownStub& known : known_stubs) {
    const bool has_text =
        std::any_of(segments.begin(), segments.end(), [&](const UploadedSegment& segment) {
          return segment.address == known.text_address && segment.size == known.text_size;
        });
    if (known.chip == chip.name && known.entry == entry && has_text) {
      return known.flavor;
    }
  }
  return StubFlavor::esp_flasher_stub;
}

}  // namespace ttynet::esp
