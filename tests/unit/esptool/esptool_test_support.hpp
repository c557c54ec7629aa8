#pragma once
// Shared by the flasher's tests: an in-process simulated chip behind BlockingPort, a
// temporary directory, file helpers.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>

#include "ttynet/port/blocking_port.hpp"
#include "ttynet/util/bytes.hpp"

namespace ttynet::esptool::test {

inline std::unique_ptr<port::BlockingPort> open_port(const std::string& url) {
  auto opened = port::BlockingPort::open(url);
  if (!opened) {
    ADD_FAILURE() << "cannot open " << url << ": " << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ttynet-esptool-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline ByteBuffer read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return ByteBuffer(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline ByteBuffer random_bytes(std::size_t size, unsigned seed = 2217) {
  std::mt19937 rng(seed);
  ByteBuffer out(size);
  for (auto& byte : out) byte = static_cast<Byte>(rng());
  return out;
}

}  // namespace ttynet::esptool::test
