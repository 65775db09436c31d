// The value codec: turns a cache value into the bytes stored in Redis and
// back, with optional zstd compression and AES-256-GCM encryption.
//
// A value that is neither compressed nor encrypted is stored byte for byte,
// readable by any Redis client. Compressed or encrypted values carry a small
// header (magic, version, flags, original length, key id, nonce) and are
// opaque to other clients. A plain value that happens to begin with the
// magic is wrapped in a flag-less header, so decoding is never ambiguous for
// values rcache wrote. decode() returns any value without the magic as it
// is: values written by other clients are plain values. The byte layout,
// the choice of magic and the configuration are in docs/value-format.md.
//
// Encrypted values authenticate their header and the Redis key name (AES-GCM
// additional data): a modified or truncated value, or one copied to another
// key, fails with value_tampered and never decodes to other bytes.
// Unencrypted compressed values carry a zstd checksum instead.
//
// Threading: encode() and decode() are reentrant and may run on any number
// of threads at once with the same options (each thread keeps its own zstd
// contexts). The key ring is read, never written.
#pragma once

#include <rcache/error.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/key_ring.hpp"

namespace rcache::codec {

struct codec_options {
  /// Compress values of at least compress_threshold bytes with zstd
  /// (CACHE_COMPRESSION_ENABLED). A compressed form is kept only when it is
  /// smaller than the uncompressed form would be.
  bool compress = false;
  std::size_t compress_threshold = 1024;
  /// zstd level, ZSTD_minCLevel()..ZSTD_maxCLevel() (0: zstd's default, 3).
  int zstd_level = 3;
  /// Encrypt new values with keys->current_id(); null: no encryption. Values
  /// encrypted earlier decode whenever their key id is in the ring.
  std::shared_ptr<const key_ring> keys{};
  /// Refuse to decode anything that is not encrypted (plain values written
  /// by other clients, values written before encryption was turned on):
  /// value_tampered. Requires `keys`.
  bool require_encryption = false;
  /// Largest plain value encode() accepts and decode() produces. Bounds
  /// every allocation decode() makes, whatever a stored header declares.
  std::size_t max_value_size = 512u * 1024 * 1024;
};

/// What encode() did, for metrics.
struct encode_stats {
  std::size_t plain_bytes = 0;
  std::size_t stored_bytes = 0;
  bool compressed = false;
  bool encrypted = false;
};

/// Encodes `plain` for storage under the Redis key `redis_key` (bound into
/// encrypted values: decode must be given the same key). Both views are
/// only read during the call. Errors: value_too_large (plain longer than
/// max_value_size), invalid_argument (a zstd level out of range; keys set
/// without a current key; require_encryption without keys; the system's
/// random source or cipher failing), compression_failed. The stored form is
/// at most a few dozen bytes longer than `plain`. Fills `stats` if not null.
/// `tagged`: `plain` begins with a tag section (cache/tags.hpp); the header
/// is written whatever the options, with the `tagged` flag (0x04).
[[nodiscard]] result<std::string> encode(std::string_view plain, std::string_view redis_key,
                                         const codec_options& options,
                                         encode_stats* stats = nullptr, bool tagged = false);

/// Decodes bytes read from the Redis key `redis_key`. A value without the
/// rcache magic is returned as it is. Errors: value_corrupt (a truncated or
/// malformed header: bad version, unknown flags, lengths that do not add
/// up), value_key_unknown (encrypted with a key id not in options.keys, or
/// no key ring), value_tampered (authentication failed: modified,
/// truncated, or copied from another key; or not encrypted while
/// require_encryption is set), value_too_large (the plain value would exceed
/// max_value_size: checked before allocating), compression_failed (zstd
/// rejected the compressed bytes), invalid_argument (require_encryption
/// without keys). Never returns bytes other than those encoded. `tagged`,
/// if not null, is set to whether the value was encoded tagged (its plain
/// bytes then begin with the tag section, returned with them).
[[nodiscard]] result<std::string> decode(std::string_view stored, std::string_view redis_key,
                                         const codec_options& options, bool* tagged = nullptr);
/// decode() of bytes the caller gives up: a value without the rcache magic
/// is moved, not copied.
[[nodiscard]] result<std::string> decode_owned(std::string stored, std::string_view redis_key,
                                               const codec_options& options,
                                               bool* tagged = nullptr);

/// Whether `s` begins with the codec's magic ("\xC1RC"), or is a
/// non-empty proper prefix of it: the bytes decode() reads as a header
/// (and encode() never leaves a plain value as).
[[nodiscard]] bool has_magic(std::string_view s) noexcept;

/// What a stored value's header says, without decrypting or decompressing.
struct value_info {
  bool has_header = false;  // false: a plain value, stored as is
  bool compressed = false;
  bool encrypted = false;
  bool tagged = false;              // the plain bytes begin with a tag section
  std::uint32_t original_size = 0;  // compressed values: the declared plain length
  std::uint32_t key_id = 0;         // encrypted values: the key that encrypted it
};

/// Reads a stored value's header, e.g. to count values per key id before
/// retiring a key. Errors: value_corrupt as in decode(). Nothing is
/// authenticated: trust the answer only as far as you trust the store.
[[nodiscard]] result<value_info> inspect(std::string_view stored);

/// The stored form of "this key does not exist", for negative caching: a
/// header with the reserved `absent` flag (0x80) followed by the text
/// "rcache: no such value (negative-cache entry)", so another Redis client
/// sees what it is. encode() never produces it and decode() rejects it
/// (value_corrupt), so it cannot be confused with any value; callers test
/// for it before decoding. is_absent_marker also takes the bare header
/// that earlier versions wrote.
[[nodiscard]] std::string_view absent_marker() noexcept;
[[nodiscard]] bool is_absent_marker(std::string_view stored) noexcept;

}  // namespace rcache::codec
