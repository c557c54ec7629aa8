#pragma once
// Who may do what on which port (docs/design/security.md, "Who the peer is" and
// "Permission"): each identity is a token or a verified certificate's subject, the ports it
// applies to, and a permission. Tokens are held only as SHA-256 digests and compared with
// CRYPTO_memcmp against every token identity, so neither the time taken nor anything else
// tells which token matched, or whether one did. Nothing here logs or formats a token.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ttynet/server/options.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server {

using TokenDigest = std::array<std::uint8_t, 32>;  // SHA-256

// The digest of a token; nothing if OpenSSL cannot compute it.
std::optional<TokenDigest> digest_token(std::string_view token);

// The digest of the token in a token file (port/token_file.hpp), whose plaintext is wiped once
// hashed. The error is a sentence naming the path, never quoting the content.
Result<TokenDigest, std::string> read_token_file(const std::string& path);

struct CertificateSubject {
  std::string text;  // "CN=ci-runner,O=lab", compared as given
};

struct Identity {
  std::variant<TokenDigest, CertificateSubject> name;
  // Port names or fnmatch(3) globs of them ("esp-*").
  std::vector<std::string> ports;
  Permission permission = Permission::monitor;
};

class Identities {
 public:
  void add(Identity identity);

  bool empty() const { return identities_.empty(); }
  // Whether any token identity applies to the port: then a TLS client not named by its
  // certificate is asked for a token.
  bool has_tokens_for(std::string_view port_name) const;
  // Whether any certificate identity applies to the port.
  bool has_certificate_subjects_for(std::string_view port_name) const;

  // The permission `presented_token` gives on the port, the strongest if several identities
  // match; nothing if none does.
  std::optional<Permission> for_token(std::string_view port_name,
                                      std::string_view presented_token) const;
  // The same for a verified certificate's subject.
  std::optional<Permission> for_certificate_subject(std::string_view port_name,
                                                    std::string_view subject) const;

 private:
  std::vector<Identity> identities_;
};

}  // namespace ttynet::server
