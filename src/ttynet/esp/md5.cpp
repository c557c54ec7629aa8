#include "ttynet/esp/md5.hpp"

#include <openssl/evp.h>

#include <cassert>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ttynet::esp {

void Md5::Free::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

Md5::Md5() : context_(EVP_MD_CTX_new()) {
  [[maybe_unused]] const int ok = EVP_DigestInit_ex(context_.get(), EVP_md5(), nullptr);
  assert(ok == 1);
}

void Md5::update(ByteView data) {
  if (!data.empty()) {
    EVP_DigestUpdate(context_.get(), data.data(), data.size());
  }
}

Md5Digest Md5::finish() {
  Md5Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_.get(), digest.data(), &length);
  assert(length == digest.size());
  return digest;
}

Md5Digest md5(ByteView data) {
  Md5 md5;
  md5.update(data);
  return md5.finish();
}

std::string to_hex(const Md5Digest& digest) { return fmt::format("{:02x}", fmt::join(digest, "")); }

}  // namespace ttynet::esp
