#include "ttynet/server/identities.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ttynet::server {
namespace {

const std::string ci_token = "ci-0123456789abcdef";
const std::string viewer_token = "viewer-fedcba9876543210";

Identity token_identity(std::string_view token, std::vector<std::string> ports,
                        Permission permission) {
  const auto digest = digest_token(token);
  EXPECT_TRUE(digest.has_value());
  return {
      .name = digest.value_or(TokenDigest{}), .ports = std::move(ports), .permission = permission};
}

Identity subject_identity(std::string subject, std::vector<std::string> ports,
                          Permission permission) {
  return {.name = CertificateSubject{std::move(subject)},
          .ports = std::move(ports),
          .permission = permission};
}

// A fresh directory for the test's files, removed with them afterwards.
class TokenFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ttynet-identities-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string write(const std::string& name, std::string_view content, mode_t mode = 0600) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string read_error(const std::string& path) {
    const auto read = read_token_file(path);
    EXPECT_FALSE(read.has_value()) << path;
    return read ? std::string() : read.error();
  }

  std::string dir_;
};

TEST(Permission, NamesRoundTrip) {
  EXPECT_EQ(to_string(Permission::control), "control");
  EXPECT_EQ(to_string(Permission::monitor), "monitor");
  EXPECT_EQ(parse_permission("control"), Permission::control);
  EXPECT_EQ(parse_permission("monitor"), Permission::monitor);
  EXPECT_EQ(parse_permission("Control"), std::nullopt);
  EXPECT_EQ(parse_permission(""), std::nullopt);
}

TEST(DigestToken, IsSha256) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  const TokenDigest abc{0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_EQ(digest_token("abc"), abc);
}

TEST_F(TokenFile, ReadsOneTokenWithOrWithoutANewline) {
  const auto expected = digest_token(ci_token);
  for (const std::string& content : {ci_token, ci_token + "\n", ci_token + "\r\n"}) {
    const auto read = read_token_file(write("ci.token", content));
    ASSERT_TRUE(read.has_value()) << read.error();
    EXPECT_EQ(*read, expected);
  }
  const auto owner_read_only = read_token_file(write("ro.token", ci_token, 0400));
  ASSERT_TRUE(owner_read_only.has_value()) << owner_read_only.error();
  const std::string longest(256, '~');
  const auto at_limit = read_token_file(write("long.token", longest + "\n"));
  ASSERT_TRUE(at_limit.has_value()) << at_limit.error();
  EXPECT_EQ(*at_limit, digest_token(longest));
}

TEST_F(TokenFile, RefusesAFileOthersCanReach) {
  for (const mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666}) {
    const std::string path = write("shared.token", ci_token, mode);
    const std::string error = read_error(path);
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find("group or others"), std::string::npos) << error;
    EXPECT_EQ(error.find(ci_token), std::string::npos) << error;
  }
  const std::string path = write("ci.token", ci_token, 0644);
  EXPECT_EQ(read_error(path),
            "token file " + path + " is readable by group or others (chmod 600 it)");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(read_token_file(path).has_value());
}

TEST_F(TokenFile, RefusesWhatIsNotOneToken) {
  const auto expect_refused = [&](std::string_view content, const std::string& why) {
    const std::string path = write("bad.token", content);
    const std::string error = read_error(path);
    EXPECT_EQ(error, fmt::format(fmt::runtime(why), path)) << "content: " << content;
    EXPECT_EQ(error.find("SECRET"), std::string::npos) << error;
  };
  const std::string empty = "token file {} is empty; it must hold one token on one line";
  expect_refused("", empty);
  expect_refused("\n", empty);
  expect_refused("\r\n", empty);
  const std::string two_lines =
      "token file {} has more than one line; it must hold one token on "
      "one line";
  expect_refused("SECRET\nSECRET2\n", two_lines);
  expect_refused("SECRET\nSECRET2", two_lines);
  expect_refused("SECRET\n\n", two_lines);
  expect_refused("\nSECRET", two_lines);
  const std::string outside =
      "token file {} holds a character outside printable ASCII (0x21 to 0x7E; no spaces or "
      "tabs)";
  expect_refused("SECRET with spaces", outside);
  expect_refused("SECRET ", outside);
  expect_refused(" SECRET", outside);
  expect_refused("SECRET\t", outside);
  expect_refused("SECRET\r", outside);
  expect_refused("SECRET\xC3\xA9", outside);
  expect_refused(std::string_view("SEC\0RET", 7), outside);
  const std::string too_long = "token file {} holds a token longer than 256 characters";
  expect_refused(std::string(257, 'S'), too_long);
  expect_refused(std::string(5000, 'S'), too_long);
}

TEST_F(TokenFile, RefusesMissingAndUnreadableFiles) {
  const std::string missing = dir_ + "/missing.token";
  EXPECT_EQ(read_error(missing),
            "cannot read token file " + missing + ": No such file or directory");
  EXPECT_EQ(read_error(dir_), "token file " + dir_ + " is not a regular file");
  if (::geteuid() != 0) {  // root reads anything
    const std::string unreadable = write("unreadable.token", ci_token, 0200);
    EXPECT_EQ(read_error(unreadable),
              "cannot read token file " + unreadable + ": Permission denied");
  }
}

TEST(Identities, EmptyGrantsNothing) {
  const Identities none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.has_tokens_for("esp-1"));
  EXPECT_EQ(none.for_token("esp-1", ci_token), std::nullopt);
  EXPECT_EQ(none.for_certificate_subject("esp-1", "CN=ci-runner,O=lab"), std::nullopt);
}

TEST(Identities, TokensGrantTheirPermissionOnTheirPorts) {
  Identities identities;
  identities.add(token_identity(ci_token, {"esp-*"}, Permission::control));
  identities.add(token_identity(viewer_token, {"esp-1", "stm32"}, Permission::monitor));
  EXPECT_FALSE(identities.empty());

  EXPECT_EQ(identities.for_token("esp-1", ci_token), Permission::control);
  EXPECT_EQ(identities.for_token("esp-lab-7", ci_token), Permission::control);
  EXPECT_EQ(identities.for_token("esp", ci_token), std::nullopt);  // the glob wants "esp-"
  EXPECT_EQ(identities.for_token("stm32", ci_token), std::nullopt);
  EXPECT_EQ(identities.for_token("esp-1", viewer_token), Permission::monitor);
  EXPECT_EQ(identities.for_token("stm32", viewer_token), Permission::monitor);
  EXPECT_EQ(identities.for_token("esp-2", viewer_token), std::nullopt);
  EXPECT_EQ(identities.for_token("stm32-x", viewer_token), std::nullopt);  // exact name

  EXPECT_TRUE(identities.has_tokens_for("esp-9"));
  EXPECT_TRUE(identities.has_tokens_for("stm32"));
  EXPECT_FALSE(identities.has_tokens_for("nrf52"));
  EXPECT_FALSE(identities.has_certificate_subjects_for("esp-9"));
}

TEST(Identities, WrongTokensGrantNothing) {
  Identities identities;
  identities.add(token_identity(ci_token, {"*"}, Permission::control));
  std::string same_length = ci_token;
  same_length.back() = same_length.back() == 'f' ? 'e' : 'f';
  EXPECT_EQ(identities.for_token("esp-1", same_length), std::nullopt);
  EXPECT_EQ(identities.for_token("esp-1", ci_token + "0"), std::nullopt);
  EXPECT_EQ(identities.for_token("esp-1", ci_token.substr(0, 4)), std::nullopt);
  EXPECT_EQ(identities.for_token("esp-1", ""), std::nullopt);
  EXPECT_EQ(identities.for_token("esp-1", ci_token), Permission::control);
}

TEST(Identities, TheStrongestMatchingPermissionApplies) {
  Identities identities;
  identities.add(token_identity(ci_token, {"*"}, Permission::monitor));
  identities.add(token_identity(ci_token, {"esp-*"}, Permission::control));
  identities.add(token_identity(ci_token, {"esp-*"}, Permission::monitor));
  EXPECT_EQ(identities.for_token("esp-1", ci_token), Permission::control);
  EXPECT_EQ(identities.for_token("stm32", ci_token), Permission::monitor);

  identities.add(subject_identity("CN=ci-runner,O=lab", {"*"}, Permission::monitor));
  identities.add(subject_identity("CN=ci-runner,O=lab", {"esp-[0-9]"}, Permission::control));
  EXPECT_EQ(identities.for_certificate_subject("esp-3", "CN=ci-runner,O=lab"), Permission::control);
  EXPECT_EQ(identities.for_certificate_subject("esp-a", "CN=ci-runner,O=lab"), Permission::monitor);
}

TEST(Identities, CertificateSubjectsAreComparedAsGiven) {
  Identities identities;
  identities.add(subject_identity("CN=ci-runner,O=lab", {"esp-*"}, Permission::control));
  EXPECT_EQ(identities.for_certificate_subject("esp-1", "CN=ci-runner,O=lab"), Permission::control);
  EXPECT_EQ(identities.for_certificate_subject("esp-1", "CN=ci-runner, O=lab"), std::nullopt);
  EXPECT_EQ(identities.for_certificate_subject("esp-1", "cn=ci-runner,o=lab"), std::nullopt);
  EXPECT_EQ(identities.for_certificate_subject("esp-1", "CN=ci-runner"), std::nullopt);
  EXPECT_EQ(identities.for_certificate_subject("stm32", "CN=ci-runner,O=lab"), std::nullopt);
  EXPECT_TRUE(identities.has_certificate_subjects_for("esp-1"));
  EXPECT_FALSE(identities.has_certificate_subjects_for("stm32"));
  EXPECT_FALSE(identities.has_tokens_for("esp-1"));
  // A subject is not a token, nor the other way round.
  EXPECT_EQ(identities.for_token("esp-1", "CN=ci-runner,O=lab"), std::nullopt);
}

TEST_F(TokenFile, ATokenReadFromItsFileIsRecognised) {
  const auto digest = read_token_file(write("ci.token", ci_token + "\n"));
  ASSERT_TRUE(digest.has_value()) << digest.error();
  Identities identities;
  identities.add({.name = *digest, .ports = {"esp-1"}, .permission = Permission::control});
  EXPECT_EQ(identities.for_token("esp-1", ci_token), Permission::control);
  EXPECT_EQ(identities.for_token("esp-1", ci_token + "\n"), std::nullopt);
}

}  // namespace
}  // namespace ttynet::server
