#include "ttynet/esp/requests.hpp"

#include <algorithm>
#include <initializer_list>

namespace ttynet::esp {
namespace {

void append_words(ByteBuffer& out, std::initializer_list<std::uint32_t> words) {
  for (const std::uint32_t word : words) append_u32(out, word);
}

void append_optional(ByteBuffer& out, const std::optional<std::uint32_t>& word) {
  if (word) append_u32(out, *word);
}

// A body's words, at most Body::max_words of them.
struct Words {
  std::array<std::uint32_t, 6> values{};
  std::size_t count = 0;
  std::uint32_t operator[](std::size_t i) const { return values[i]; }
  std::optional<std::uint32_t> optional(std::size_t i) const {
    return i < count ? std::optional(values[i]) : std::nullopt;
  }
};

template <typename Body>
std::optional<Words> read_words(ByteView data) {
  static_assert(Body::max_words <= std::tuple_size_v<decltype(Words::values)>);
  Words words;
  words.count = std::min(data.size() / 4, Body::max_words);
  if (words.count < Body::required_words) return std::nullopt;
  for (std::size_t i = 0; i < words.count; ++i) words.values[i] = load_u32(data, i * 4);
  return words;
}

}  // namespace

void append_body(ByteBuffer& out, const BeginRequest& request) {
  append_words(out, {request.size, request.blocks, request.block_size, request.offset});
  append_optional(out, request.encrypted);
}

void append_body(ByteBuffer& out, const FlashEndRequest& request) {
  append_words(out, {request.run_user_code});
}

void append_body(ByteBuffer& out, const MemEndRequest& request) {
  append_words(out, {request.no_entry, request.entry});
}

void append_body(ByteBuffer& out, const ReadRegRequest& request) {
  append_words(out, {request.address});
}

void append_body(ByteBuffer& out, const WriteRegRequest& request) {
  append_words(out, {request.address, request.value, request.mask, request.delay_us});
}

void append_body(ByteBuffer& out, const SpiAttachRequest& request) {
  append_words(out, {request.config});
  append_optional(out, request.legacy);
}

void append_body(ByteBuffer& out, const SpiSetParamsRequest& request) {
  append_words(out, {request.id, request.total_size, request.block_size, request.sector_size,
                     request.page_size, request.status_mask});
}

void append_body(ByteBuffer& out, const Md5Request& request) {
  append_words(out, {request.address, request.size, request.reserved0, request.reserved1});
}

void append_body(ByteBuffer& out, const RegionRequest& request) {
  append_words(out, {request.offset, request.size});
}

void append_body(ByteBuffer& out, const ChangeBaudrateRequest& request) {
  append_words(out, {request.baud, request.old_baud});
}

void append_body(ByteBuffer& out, const ReadFlashRequest& request) {
  append_words(out, {request.offset, request.size, request.packet_size, request.max_in_flight});
}

template <>
std::optional<BeginRequest> decode_body<BeginRequest>(ByteView data) {
  const auto w = read_words<BeginRequest>(data);
  if (!w) return std::nullopt;
  return BeginRequest{(*w)[0], (*w)[1], (*w)[2], (*w)[3], w->optional(4)};
}

template <>
std::optional<FlashEndRequest> decode_body<FlashEndRequest>(ByteView data) {
  const auto w = read_words<FlashEndRequest>(data);
  if (!w) return std::nullopt;
  return FlashEndRequest{(*w)[0]};
}

template <>
std::optional<MemEndRequest> decode_body<MemEndRequest>(ByteView data) {
  const auto w = read_words<MemEndRequest>(data);
  if (!w) return std::nullopt;
  return MemEndRequest{(*w)[0], (*w)[1]};
}

template <>
std::optional<ReadRegRequest> decode_body<ReadRegRequest>(ByteView data) {
  const auto w = read_words<ReadRegRequest>(data);
  if (!w) return std::nullopt;
  return ReadRegRequest{(*w)[0]};
}

template <>
std::optional<WriteRegRequest> decode_body<WriteRegRequest>(ByteView data) {
  const auto w = read_words<WriteRegRequest>(data);
  if (!w) return std::nullopt;
  return WriteRegRequest{(*w)[0], (*w)[1], (*w)[2], (*w)[3]};
}

template <>
std::optional<SpiAttachRequest> decode_body<SpiAttachRequest>(ByteView data) {
  const auto w = read_words<SpiAttachRequest>(data);
  if (!w) return std::nullopt;
  return SpiAttachRequest{(*w)[0], w->optional(1)};
}

template <>
std::optional<SpiSetParamsRequest> decode_body<SpiSetParamsRequest>(ByteView data) {
  const auto w = read_words<SpiSetParamsRequest>(data);
  if (!w) return std::nullopt;
  return SpiSetParamsRequest{(*w)[0], (*w)[1], (*w)[2], (*w)[3], (*w)[4], (*w)[5]};
}

template <>
std::optional<Md5Request> decode_body<Md5Request>(ByteView data) {
  const auto w = read_words<Md5Request>(data);
  if (!w) return std::nullopt;
  return Md5Request{(*w)[0], (*w)[1], (*w)[2], (*w)[3]};
}

template <>
std::optional<RegionRequest> decode_body<RegionRequest>(ByteView data) {
  const auto w = read_words<RegionRequest>(data);
  if (!w) return std::nullopt;
  return RegionRequest{(*w)[0], (*w)[1]};
}

template <>
std::optional<ChangeBaudrateRequest> decode_body<ChangeBaudrateRequest>(ByteView data) {
  const auto w = read_words<ChangeBaudrateRequest>(data);
  if (!w) return std::nullopt;
  return ChangeBaudrateRequest{(*w)[0], (*w)[1]};
}

template <>
std::optional<ReadFlashRequest> decode_body<ReadFlashRequest>(ByteView data) {
  const auto w = read_words<ReadFlashRequest>(data);
  if (!w) return std::nullopt;
  return ReadFlashRequest{(*w)[0], (*w)[1], (*w)[2], (*w)[3]};
}

}  // namespace ttynet::esp
