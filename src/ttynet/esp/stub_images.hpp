#pragma once
// The flasher stubs esptool uploads, told apart by the image a client uploads: the simulated
// chip answers in the dialect of the stub that would be running. A stub is known by its
// chip, the size and load address of its text segment and its entry point (exact values of
// the images esptool v4.8.1 to v5.3.x ship); see docs/esp-simulator.md for the table and
// the rule for images not in it.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ttynet/esp/chips.hpp"

namespace ttynet::esp {

enum class StubFlavor : std::uint8_t {
  legacy,            // esptool-legacy-flasher-stub before v1.10: FLASH_BEGIN takes 4 words
  legacy_v1_10,      // esptool-legacy-flasher-stub v1.10 and later: also the encrypt word
  esp_flasher_stub,  // esp-flasher-stub (esptool v5.3's default)
};
std::string_view to_string(StubFlavor flavor);
std::optional<StubFlavor> parse_stub_flavor(std::string_view text);  // "legacy", "flasher"

// One RAM segment of an upload (MEM_BEGIN's size and address).
struct UploadedSegment {
  std::uint32_t address;
  std::uint32_t size;
};

// The stub a known image is; an image not in the table is taken as esp-flasher-stub, the
// stub current esptool uploads by default.
StubFlavor identify_stub(const ChipInfo& chip, std::span<const UploadedSegment> segments,
                         std::uint32_t entry);

}  // namespace ttynet::esp
