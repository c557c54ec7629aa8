#pragma once
// MD5 as the loaders use it to verify flash (SPI_FLASH_MD5, the READ_FLASH digest).

#include <array>
#include <memory>
#include <string>

#include "ttynet/util/bytes.hpp"

struct MD5Context;  // libmd's MD5_CTX

namespace ttynet::esp {

using Md5Digest = std::array<Byte, 16>;

// Incremental MD5: update() any number of times, then finish() once.
class Md5 {
 public:
  Md5();
  void update(ByteView data);
  Md5Digest finish();

 private:
  struct Free {
    void operator()(MD5Context* context) const;
  };
  std::unique_ptr<MD5Context, Free> context_;
};

Md5Digest md5(ByteView data);
// 32 lower-case hex digits, as the ROM sends them and Python's hexdigest() prints them.
std::string to_hex(const Md5Digest& digest);

}  // namespace ttynet::esp
