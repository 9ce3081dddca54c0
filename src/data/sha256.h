// SHA-256 (FIPS 180-4), small and dependency-free, for dataset content hashes in results JSON.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace erank {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();  // finalises; the object must not be updated afterwards
  std::string hex_digest();          // lowercase hex, as Python's hexdigest()

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes hashed
};

std::string sha256_hex(std::string_view s);

}  // namespace erank
