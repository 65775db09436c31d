// Session ids: CSPRNG bytes in URL-safe base64, and the user's bucket.
#include "session/session_id.hpp"

#include <array>
#include <boost/system/errc.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace rcache::session_detail {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

bool is_base64url(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::uint8_t bucket_of_user(std::string_view user) noexcept {
  std::uint32_t h = 2166136261u;  // FNV-1a, 32 bits
  for (unsigned char c : user) {
    h ^= c;
    h *= 16777619u;
  }
  // Fold the high bits in: FNV's low byte alone mixes the last input byte least.
  return static_cast<std::uint8_t>((h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 0xffu);
}

result<std::string> new_session_id(std::uint8_t bucket) {
  std::array<unsigned char, id_random_bytes> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return boost::system::errc::make_error_code(
        boost::system::errc::resource_unavailable_try_again);
  }
  // Standard base64 (44 characters with one '='), then the URL-safe alphabet.
  std::array<unsigned char, 4 * ((id_random_bytes + 2) / 3) + 1> text{};
  const int n = EVP_EncodeBlock(text.data(), raw.data(), static_cast<int>(raw.size()));
  std::string id;
  id.reserve(id_length);
  for (int i = 0; i < n; ++i) {
    const char c = static_cast<char>(text[static_cast<std::size_t>(i)]);
    if (c == '=') break;
    id.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  id.push_back('.');
  id.push_back(hex_digits[bucket >> 4]);
  id.push_back(hex_digits[bucket & 0xf]);
  return id;
}

std::optional<std::uint8_t> bucket_of_id(std::string_view id) noexcept {
  if (id.size() != id_length || id[43] != '.') return std::nullopt;
  for (std::size_t i = 0; i < 43; ++i) {
    if (!is_base64url(id[i])) return std::nullopt;
  }
  const int hi = hex_value(id[44]);
  const int lo = hex_value(id[45]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<std::uint8_t>(hi * 16 + lo);
}

std::string bucket_base(std::string_view prefix, std::uint8_t bucket) {
  std::string base;
  base.reserve(prefix.size() + 6);
  base.append(prefix);
  base.push_back('{');
  base.push_back(hex_digits[bucket >> 4]);
  base.push_back(hex_digits[bucket & 0xf]);
  base.append("}:");
  return base;
}

}  // namespace rcache::session_detail
