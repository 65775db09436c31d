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

#include "codec/value_codec.hpp"

namespace rcache::cache_detail {

struct stored_read {
  enum class kind : std::uint8_t { missing, absent, value };
  kind what = kind::missing;
  std::string plain{};  // kind::value: the decoded value
};

/// What `got` (the reply to GET `full`, given up: a plain value is moved
/// out of it) holds. Errors: error_of() an error reply, and the
/// codec's (value_tampered, ...) for stored bytes it cannot read.
[[nodiscard]] inline result<stored_read> read_stored(value&& got, std::string_view full,
                                                     const codec::codec_options& options) {
  if (got.is_error()) return error_of(got);
  if (got.is_null()) return stored_read{};
  if (codec::is_absent_marker(got.str)) return stored_read{stored_read::kind::absent};
  auto plain = codec::decode_owned(std::move(got.str), full, options);
  if (!plain) return plain.error();
  return stored_read{stored_read::kind::value, std::move(*plain)};
}

}  // namespace rcache::cache_detail
