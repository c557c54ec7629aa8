#pragma once
// The host side of a serial link to a SimChip for the simulator's unit tests: fake time,
// framed requests, replies decoded, and esptool's command sequences (stub upload, flash ID,
// slow and fast reads).

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "esp_test_support.hpp"
#include "ttynet/esp/md5.hpp"
#include "ttynet/esp/sim_chip.hpp"

namespace ttynet::esp::test {

using std::chrono::milliseconds;

inline constexpr std::uint32_t all_bits = 0xFFFFFFFF;

template <typename F>
inline SimConfig make_config(F&& set) {
  SimConfig config;
  set(config);
  return config;
}

struct Reply {
  Op op;
  std::uint32_t value;
  Bytes data;  // with status
};

// The host side of a serial link to a SimChip, with fake time.
class Host {
 public:
  explicit Host(std::string_view chip_name = "esp32", SimConfig config = {})
      : chip(**find_chip(chip_name), std::move(config)) {}

  void run_until(TimePoint target) {
    for (int i = 0; i < 1'000'000; ++i) {
      const auto due = chip.deadline();
      if (!due || *due > target) {
        break;
      }
      now = std::max(now, *due);
      chip.on_timer(now);
      take_output();
    }
    now = target;
  }
  void wait(Duration d) { run_until(now + d); }
  void lines(bool dtr, bool rts) {
    chip.set_lines(dtr, rts, now);
    take_output();
  }
  void write(ByteView bytes) {
    chip.receive(bytes, now);
    take_output();
  }
  void take_output() {
    const ByteView out = chip.pending_output();
    reader.feed(out);
    chip.consume_output(out.size());
  }
  std::vector<Bytes> take_frames() { return std::exchange(reader.frames, {}); }
  std::string take_text() { return std::exchange(reader.text, {}); }

  // Sends a request and returns every frame that came back.
  std::vector<Bytes> exchange(Op op, ByteView data, std::uint32_t checksum = 0) {
    write(test::request(op, data, checksum));
    return take_frames();
  }
  // A request that must get exactly one reply.
  Reply command(Op op, ByteView data, std::uint32_t checksum = 0) {
    const auto frames = exchange(op, data, checksum);
    EXPECT_EQ(frames.size(), 1u) << "op " << static_cast<int>(op);
    return frames.empty() ? Reply{} : decode(frames.front());
  }
  Reply data_command(Op op, std::uint32_t sequence, ByteView payload) {
    Bytes data;
    append_data_block(data, sequence, payload);
    return command(op, data, checksum(payload));
  }
  static Reply decode(const Bytes& frame) {
    const auto response = decode_response(frame);
    EXPECT_TRUE(response);
    if (!response) {
      return {};
    }
    return {response->op, response->value, Bytes(response->data.begin(), response->data.end())};
  }

  // esptool's ClassicReset from a just-opened port (DTR and RTS asserted).
  void classic_reset(Duration delay = milliseconds(50), Duration gap = Duration::zero()) {
    lines(true, true);
    lines(false, true);  // D0: EN low
    lines(false, true);  // R1 + dummy DTR
    wait(milliseconds(100));
    lines(true, true);  // D1: EN released, GPIO0 still high
    wait(gap);
    lines(true, false);  // R0 + dummy DTR: GPIO0 low
    wait(delay);
    lines(false, false);  // D0
  }
  void hard_reset() {
    lines(false, true);
    wait(milliseconds(100));
    lines(false, false);
  }

  SimChip chip;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  test::OutputReader reader;
};

inline Status status_of(const Reply& reply, std::size_t length) {
  const auto body = split_status(reply.data, length);
  EXPECT_TRUE(body);
  return body ? body->status : Status{0xEE, 0xEE};
}
inline Bytes payload_of(const Reply& reply, std::size_t length) {
  const auto body = split_status(reply.data, length);
  return body ? Bytes(body->payload.begin(), body->payload.end()) : Bytes{};
}

inline void sync(Host& host, std::uint32_t expected_value) {
  const auto frames = host.exchange(Op::sync, sync_data());
  ASSERT_EQ(frames.size(), 8u);
  for (const Bytes& frame : frames) {
    const Reply reply = Host::decode(frame);
    EXPECT_EQ(reply.op, Op::sync);
    EXPECT_EQ(reply.value, expected_value);
    EXPECT_TRUE(status_of(reply, expected_value == 0 ? 2 : 4).is_ok());
  }
}

// A flasher stub image as esptool uploads it (sizes, addresses and entry point are those of
// esptool's stub JSON files; the contents here are filler).
struct StubImage {
  std::uint32_t text_address;
  std::uint32_t text_size;
  std::uint32_t data_address;
  std::uint32_t data_size;
  std::uint32_t entry;
};
// ESP32: the legacy stub v1.3.0 of esptool v4.8.1, and esp-flasher-stub v1.0.0 of v5.3.1.
inline constexpr StubImage esp32_legacy_stub{0x400BE000, 3532, 0x3FFDEBA8, 156, 0x400BE5EC};
inline constexpr StubImage esp32_flasher_stub{0x400A8000, 6140, 0x3FFDED68, 212, 0x400A9074};

// esptool's run_stub: text and data segments in 0x1800-byte blocks, then MEM_END. The
// status length is the ROM's (4) from the ROM, 2 from a running stub.
inline void upload_stub(Host& host, const StubImage& image = esp32_legacy_stub) {
  const std::size_t status_length = host.chip.state() == SimState::stub ? 2 : 4;
  const std::uint32_t block = 0x1800;
  for (const auto& [size, address] : {std::pair{image.text_size, image.text_address},
                                      std::pair{image.data_size, image.data_address}}) {
    const std::uint32_t blocks = (size + block - 1) / block;
    EXPECT_TRUE(
        status_of(host.command(Op::mem_begin, words({size, blocks, block, address})), status_length)
            .is_ok());
    const Bytes contents = test::pattern(size);
    for (std::uint32_t i = 0; i < blocks; ++i) {
      const ByteView chunk =
          ByteView{contents}.subspan(i * block).first(std::min(block, size - i * block));
      EXPECT_TRUE(status_of(host.data_command(Op::mem_data, i, chunk), status_length).is_ok());
    }
  }
  const auto frames = host.exchange(Op::mem_end, words({0, image.entry}));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(status_of(Host::decode(frames[0]), status_length).is_ok());
  EXPECT_EQ(frames[1], (Bytes{'O', 'H', 'A', 'I'}));
  EXPECT_EQ(host.chip.state(), SimState::stub);
}

inline std::uint32_t read_reg(Host& host, std::uint32_t address) {
  return host.command(Op::read_reg, words({address})).value;
}

inline void write_reg(Host& host, std::uint32_t address, std::uint32_t value) {
  host.command(Op::write_reg, words({address, value, all_bits, 0}));
}

// esptool's flash_id through the SPI controller registers.
inline std::uint32_t spi_rdid(Host& host) {
  const SpiRegisters& spi = host.chip.chip().spi;
  const std::uint32_t usr = read_reg(host, spi.usr());
  const std::uint32_t usr2 = read_reg(host, spi.usr2());
  write_reg(host, spi.miso_dlen(), 23);
  write_reg(host, spi.usr(), 0x90000000);
  write_reg(host, spi.usr2(), 0x7000009F);
  write_reg(host, spi.w0(), 0);
  write_reg(host, spi.cmd(), 1u << 18);
  EXPECT_EQ(read_reg(host, spi.cmd()) & (1u << 18), 0u);
  const std::uint32_t id = read_reg(host, spi.w0());
  write_reg(host, spi.usr(), usr);
  write_reg(host, spi.usr2(), usr2);
  return id;
}

inline Bytes rom_read_flash(Host& host, std::uint32_t offset, std::uint32_t length) {
  Bytes out;
  while (out.size() < length) {
    const auto n = std::min<std::uint32_t>(64, length - static_cast<std::uint32_t>(out.size()));
    const Reply reply = host.command(Op::read_flash_slow,
                                     words({offset + static_cast<std::uint32_t>(out.size()), n}));
    const Bytes data = payload_of(reply, 4);
    EXPECT_EQ(data.size(), 64u);
    out.insert(out.end(), data.begin(), data.begin() + n);
  }
  return out;
}

// The stub's READ_FLASH as esptool drives it: ack, data frames, a running count, digest.
inline Bytes stub_read_flash(Host& host, std::uint32_t offset, std::uint32_t length) {
  auto frames = host.exchange(Op::read_flash, words({offset, length, 0x1000, 64}));
  EXPECT_GE(frames.size(), 1u);
  EXPECT_TRUE(status_of(Host::decode(frames.front()), 2).is_ok());
  frames.erase(frames.begin());
  Bytes data;
  for (int guard = 0; guard < 10000 && data.size() < length; ++guard) {
    EXPECT_EQ(frames.size(), 1u);  // one 4 KiB frame per acknowledgement
    for (const Bytes& frame : frames) {
      data.insert(data.end(), frame.begin(), frame.end());
    }
    host.write(slip::encode_frame(words({static_cast<std::uint32_t>(data.size())})));
    frames = host.take_frames();
  }
  EXPECT_EQ(frames.size(), 1u);
  if (!frames.empty()) {
    const Md5Digest digest = md5(data);
    EXPECT_EQ(frames.back(), Bytes(digest.begin(), digest.end()));
  }
  return data;
}

inline Host download_mode_host(std::string_view chip = "esp32", SimConfig config = {}) {
  Host host(chip, std::move(config));
  host.classic_reset();
  host.take_text();
  return host;
}

}  // namespace ttynet::esp::test
