#include "ttynet/esp/md5.hpp"

#include <md5.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ttynet::esp {

void Md5::Free::operator()(MD5Context* context) const { delete context; }

Md5::Md5() : context_(new MD5Context) { MD5Init(context_.get()); }

void Md5::update(ByteView data) { MD5Update(context_.get(), data.data(), data.size()); }

Md5Digest Md5::finish() {
  Md5Digest digest{};
  MD5Final(digest.data(), context_.get());
  return digest;
}

Md5Digest md5(ByteView data) {
  Md5 md5;
  md5.update(data);
  return md5.finish();
}

std::string to_hex(const Md5Digest& digest) { return fmt::format("{:02x}", fmt::join(digest, "")); }

}  // namespace ttynet::esp
