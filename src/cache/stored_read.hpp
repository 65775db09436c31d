// Reading back what the cache stored under a key: the one decode path of
// every read (get, get_many, get_or_load).
//
// A GET reply is no key (nil), the negative-cache marker get_or_load
// stores for a loader's "no such value", or a value in the codec's stored
// form (docs/value-format.md), decoded here.
//
// Threading: pure functions.
#pragma once

#include <rcache/error.hpp>
#include <rcache/reply.hpp>
#include <rcache/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/tags.hpp"
#include "codec/value_codec.hpp"

namespace rcache::cache_detail {

struct stored_read {
  enum class kind : std::uint8_t { missing, absent, value };
  kind what = kind::missing;
  std::string plain{};  // kind::value: the decoded value
  /// kind::value of an entry with tags: the versions it recorded (tags.hpp).
  std::vector<tag_version> tags{};
};

/// A decoded value that the codec found tagged, split into its tags and
/// value. Errors: unwrap()'s.
[[nodiscard]] inline result<stored_read> tagged_read(std::string plain, bool tagged) {
  if (!tagged) return stored_read{stored_read::kind::value, std::move(plain)};
  auto u = unwrap(plain);
  if (!u) return u.error();
  return stored_read{stored_read::kind::value, std::move(u->value), std::move(u->tags)};
}

/// What `got` (the reply to GET `full`, given up: a plain value is moved
/// out of it) holds. Errors: error_of() an error reply, and the
/// codec's (value_tampered, ...) or unwrap()'s for stored bytes it cannot
/// read.
[[nodiscard]] inline result<stored_read> read_stored(value&& got, std::string_view full,
                                                     const codec::codec_options& options) {
  if (got.is_error()) return error_of(got);
  if (got.is_null()) return stored_read{};
  if (codec::is_absent_marker(got.str)) return stored_read{stored_read::kind::absent};
  bool tagged = false;
  auto plain = codec::decode_owned(std::move(got.str), full, options, &tagged);
  if (!plain) return plain.error();
  return tagged_read(std::move(*plain), tagged);
}

// ---- the near cache's form of a value ----------------------------------------------
//
// The near cache holds the value itself, as a get returns it, except for a
// value with tags (which must keep its versions to be checked at every
// hit) and one that begins with the codec's magic: those are held in the
// codec's plain form (its header, the tag section, the value), which no
// other value looks like. A hit on a value without the magic is therefore
// the value, ready to send.

/// The codec's options for the near cache's form: no compression, no key.
inline const codec::codec_options near_form_options{};

/// Whether a near-cache value is held in the codec's form (near_read
/// decodes it) rather than as the value itself.
[[nodiscard]] inline bool near_encoded(std::string_view held) noexcept {
  return codec::has_magic(held);
}

/// The near cache's form of `r` (kind::value).
[[nodiscard]] inline std::string near_form(const stored_read& r) {
  if (r.tags.empty() && !near_encoded(r.plain)) return r.plain;
  auto encoded = r.tags.empty()
                     ? codec::encode(r.plain, {}, near_form_options)
                     : codec::encode(wrap(r.tags, r.plain), {}, near_form_options, nullptr, true);
  return encoded ? std::move(*encoded) : std::string();  // plain form: cannot fail below 512 MB
}

/// Reads back what near_form() made.
[[nodiscard]] inline result<stored_read> near_read(std::string_view held) {
  if (!near_encoded(held)) return stored_read{stored_read::kind::value, std::string(held)};
  bool tagged = false;
  auto plain = codec::decode(held, {}, near_form_options, &tagged);
  if (!plain) return plain.error();
  return tagged_read(std::move(*plain), tagged);
}

}  // namespace rcache::cache_detail
