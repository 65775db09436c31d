// Session ids and where a session's keys live.
//
// An id is 32 bytes from OpenSSL's CSPRNG in URL-safe base64 without
// padding (43 characters), a '.', and the user's bucket as two lower-case
// hex digits: "<43 chars>.<bb>". The bucket (0..255) is 8 bits of a 32-bit
// FNV-1a hash of the user id — fixed forever, since stored ids name it.
// Every key of a bucket carries the hash tag "{bb}", so a user's session
// hashes, index, the bucket's expiry index and its event stream share one
// Redis Cluster slot and one script can touch them all:
//   <prefix>{bb}:s:<id>      the session (a hash)
//   <prefix>{bb}:u:<user>    the user's index (a sorted set: id -> expiry ms)
//   <prefix>{bb}:expiry      the bucket's index for the sweeper ("<id> <user>" -> expiry ms)
//   <prefix>{bb}:events      the bucket's event stream
//
// Threading: pure functions; new_session_id uses RAND_bytes, which is
// thread-safe.
#pragma once

#include <rcache/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rcache::session_detail {

inline constexpr std::size_t bucket_count = 256;
inline constexpr std::size_t id_random_bytes = 32;
inline constexpr std::size_t id_length = 43 + 1 + 2;

/// The bucket of a user id.
[[nodiscard]] std::uint8_t bucket_of_user(std::string_view user) noexcept;

/// A fresh id in `bucket`; fails only when the CSPRNG does.
[[nodiscard]] result<std::string> new_session_id(std::uint8_t bucket);

/// The bucket an id names, or nullopt when `id` is not an id's shape
/// (such an id is unknown, never an error).
[[nodiscard]] std::optional<std::uint8_t> bucket_of_id(std::string_view id) noexcept;

/// "<prefix>{bb}:", the start of every key of the bucket.
[[nodiscard]] std::string bucket_base(std::string_view prefix, std::uint8_t bucket);

}  // namespace rcache::session_detail
