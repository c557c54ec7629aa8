#pragma once
// Token files (docs/design/security.md): one token, 1 to 256 printable ASCII characters (0x21
// to 0x7E), on one line, in a regular file that only its owner may read or write. Both sides
// read them: the server keeps the token's digest (server/identities.hpp), a +tls URL's
// token_file presents it (tls_connect.hpp). The token lives in a buffer that is wiped when it
// goes; errors name the file and what is wrong with it, never a byte of it.

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::port {

inline constexpr std::size_t max_token_size = 256;
// How the token is presented inside TLS: this, the token, "\r\n" (server/token_hello.hpp).
inline constexpr std::string_view token_line_keyword = "TTYNET-TOKEN ";

class SecretToken {
 public:
  SecretToken() = default;
  SecretToken(const SecretToken&) = delete;
  SecretToken& operator=(const SecretToken&) = delete;
  ~SecretToken();

  std::string_view text() const { return {bytes_.data(), size_}; }

 private:
  friend Result<std::unique_ptr<SecretToken>, Error> read_token_file(const std::string& path);
  // A token, its line end ("\r\n"), and one byte more to tell a longer file.
  std::array<char, max_token_size + 3> bytes_{};
  std::size_t size_ = 0;
};

// "cannot read token file /t: No such file or directory", "token file /t is readable by group
// or others (chmod 600 it)", "token file /t has more than one line; ...".
Result<std::unique_ptr<SecretToken>, Error> read_token_file(const std::string& path);

}  // namespace ttynet::port
