#include "ttynet/server/admission.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ttynet::server {
namespace {

namespace fs = std::filesystem;

// The test CA's files (tests/tls/make_certs.sh) in a directory of their own.
class PortSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ttynet-admission-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    const std::string command = std::string(TTYNET_MAKE_CERTS) + " " + dir_.string();
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  SecurityOptions tls(bool client_ca = false) const {
    SecurityOptions options;
    options.tls_cert = file("server.pem");
    options.tls_key = file("server.key");
    if (client_ca) options.tls_client_ca = file("ca.pem");
    return options;
  }
  std::string token_file(const std::string& token, mode_t mode = 0600) const {
    const std::string path = file("t.token");
    std::ofstream(path) << token << "\n";
    ::chmod(path.c_str(), mode);
    return path;
  }

  fs::path dir_;
};

TEST_F(PortSecurityTest, NothingConfiguredLetsEveryoneControl) {
  auto security = make_port_security({}, {}, "esp-1");
  ASSERT_TRUE(security) << security.error().message;
  EXPECT_TRUE((*security)->rules.empty());
  EXPECT_FALSE((*security)->tls);
  EXPECT_FALSE((*security)->identities);
}

TEST_F(PortSecurityTest, ReadsTlsFilesRulesAndTheIdentitiesOfThePort) {
  SecurityOptions options = tls(true);
  options.allow = {"192.0.2.0/24"};
  const std::vector<IdentityOptions> identities = {
      {.token_file = token_file("sesame"), .ports = {"esp-*"}, .permission = Permission::monitor},
  };
  auto security = make_port_security(options, identities, "esp-1");
  ASSERT_TRUE(security) << security.error().message;
  EXPECT_TRUE((*security)->tls);
  EXPECT_TRUE((*security)->rules.has_allow_list());
  ASSERT_TRUE((*security)->identities);
  EXPECT_EQ((*security)->identities->for_token("esp-1", "sesame"), Permission::monitor);
  // Another port: the identity does not apply, so there is nothing to check.
  auto other = make_port_security(options, identities, "stm32");
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_FALSE((*other)->identities);
}

TEST_F(PortSecurityTest, IdentitiesWithoutTlsAreAnErrorNotAnOpenPort) {
  const std::vector<IdentityOptions> identities = {
      {.token_file = token_file("sesame"), .permission = Permission::control},
  };
  auto security = make_port_security({}, identities, "esp-1");
  ASSERT_FALSE(security);
  EXPECT_EQ(security.error().message,
            "port esp-1: identities apply to it, but it has no TLS to check them over (give "
            "tls_cert and tls_key)");
}

TEST_F(PortSecurityTest, CertificateIdentitiesNeedAClientCa) {
  const std::vector<IdentityOptions> identities = {
      {.certificate_subject = "CN=ci-runner,O=lab", .permission = Permission::control},
  };
  auto security = make_port_security(tls(), identities, "esp-1");
  ASSERT_FALSE(security);
  EXPECT_NE(security.error().message.find("no tls_client_ca"), std::string::npos);
  EXPECT_TRUE(make_port_security(tls(true), identities, "esp-1"));
}

TEST_F(PortSecurityTest, RefusesSecretsOthersMayRead) {
  ::chmod(file("server.key").c_str(), 0644);
  auto loose_key = make_port_security(tls(), {}, "esp-1");
  ASSERT_FALSE(loose_key);
  EXPECT_EQ(loose_key.error().message,
            "key file " + file("server.key") + " is readable by group or others (chmod 600 it)");
  ::chmod(file("server.key").c_str(), 0600);

  const std::vector<IdentityOptions> identities = {
      {.token_file = token_file("sesame", 0640), .permission = Permission::control},
  };
  auto loose_token = make_port_security(tls(), identities, "esp-1");
  ASSERT_FALSE(loose_token);
  EXPECT_NE(loose_token.error().message.find(file("t.token")), std::string::npos);
  EXPECT_EQ(loose_token.error().message.find("sesame"), std::string::npos);
}

TEST_F(PortSecurityTest, BadRulesNameTheEntry) {
  SecurityOptions options;
  options.deny = {"10.0.0.1/8"};
  auto security = make_port_security(options, {}, "esp-1");
  ASSERT_FALSE(security);
  EXPECT_EQ(security.error().message,
            "deny: '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?");
}

}  // namespace
}  // namespace ttynet::server
