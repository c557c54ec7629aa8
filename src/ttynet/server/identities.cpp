#include "ttynet/server/identities.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <system_error>

#include "ttynet/port/token_file.hpp"
#include "ttynet/server/token_hello.hpp"

namespace ttynet::server {
namespace {

bool applies_to(const Identity& identity, const std::string& port_name) {
  return std::any_of(identity.ports.begin(), identity.ports.end(), [&](const std::string& pattern) {
    return ::fnmatch(pattern.c_str(), port_name.c_str(), 0) == 0;
  });
}

std::optional<Permission> strongest(bool control, bool monitor) {
  if (control) return Permission::control;
  if (monitor) return Permission::monitor;
  return std::nullopt;
}

}  // namespace

std::optional<TokenDigest> digest_token(std::string_view token) {
  TokenDigest digest{};
  unsigned int size = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

Result<TokenDigest, std::string> read_token_file(const std::string& path) {
  auto token = port::read_token_file(path);
  if (!token) return token.error().message;
  const auto digest = digest_token((*token)->text());
  if (!digest) return fmt::format("cannot hash the token in {}", path);
  return *digest;
}

void Identities::add(Identity identity) { identities_.push_back(std::move(identity)); }

bool Identities::has_tokens_for(std::string_view port_name) const {
  const std::string name(port_name);
  return std::any_of(identities_.begin(), identities_.end(), [&](const Identity& identity) {
    return std::holds_alternative<TokenDigest>(identity.name) && applies_to(identity, name);
  });
}

bool Identities::has_certificate_subjects_for(std::string_view port_name) const {
  const std::string name(port_name);
  return std::any_of(identities_.begin(), identities_.end(), [&](const Identity& identity) {
    return std::holds_alternative<CertificateSubject>(identity.name) && applies_to(identity, name);
  });
}

std::optional<Permission> Identities::for_token(std::string_view port_name,
                                                std::string_view presented_token) const {
  const auto presented = digest_token(presented_token);
  if (!presented) return std::nullopt;
  const std::string name(port_name);
  // Every token identity is compared, and a match only sets a bit: no early exit and no branch
  // on the result, so the time taken depends on the configuration, not on the token.
  unsigned control = 0;
  unsigned monitor = 0;
  for (const auto& identity : identities_) {
    const auto* digest = std::get_if<TokenDigest>(&identity.name);
    if (digest == nullptr) continue;
    const auto same = static_cast<unsigned>(
        CRYPTO_memcmp(digest->data(), presented->data(), digest->size()) == 0);
    const auto granted = same & static_cast<unsigned>(applies_to(identity, name));
    if (identity.permission == Permission::control) {
      control |= granted;
    } else {
      monitor |= granted;
    }
  }
  return strongest(control != 0, monitor != 0);
}

std::optional<Permission> Identities::for_certificate_subject(std::string_view port_name,
                                                              std::string_view subject) const {
  const std::string name(port_name);
  bool control = false;
  bool monitor = false;
  for (const auto& identity : identities_) {
    const auto* named = std::get_if<CertificateSubject>(&identity.name);
    if (named == nullptr || named->text != subject || !applies_to(identity, name)) continue;
    (identity.permission == Permission::control ? control : monitor) = true;
  }
  return strongest(control, monitor);
}

}  // namespace ttynet::server
