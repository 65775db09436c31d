// Tags: invalidating every entry that carries a tag at once, by version.
//
// The design is Symfony's TagAwareAdapter's, not the member sets most tag
// caches keep (which never expire and race a flush against a refill): a
// tag is a version number in its own Redis key, an entry records the
// versions its tags had when its value was produced, and invalidating a
// tag is one INCR. A read that finds any recorded version different from
// the tag's current one treats the entry as a miss. Nothing lists a tag's
// entries, so nothing grows: a tag's key lives at least as long as the
// longest-lived entry written with it (each write extends it), and an
// entry outlived by its tag key is simply dead.
//
// This file is the pure part: tag names, their Redis keys, versions, and
// the tag section an entry's value begins with. The operations (reading
// versions through the near cache, the write scripts, invalidation) are in
// tagging.cpp; docs/tags.md tells the whole protocol and why it is safe.
//
// The tag section (before the value, inside the codec: compressed and
// encrypted with it; the codec's `tagged` flag says it is there):
//   count u8 (1..max_tags) | per tag: length u8 (1..max_tag_size) | name | version u64 BE
//
// Threading: pure functions.
#pragma once

#include <rcache/error.hpp>
#include <rcache/tags.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::cache_detail {

using rcache::max_tag_size;
using rcache::max_tags;
using rcache::tag_version_key;
using rcache::valid_tag;

/// `tags` checked (valid_tag, at most max_tags) and put in order without
/// repeats. Errors: invalid_argument.
[[nodiscard]] result<std::vector<std::string>> normalize_tags(std::vector<std::string> tags);

/// A tag version as Redis holds it (the decimal text INCR keeps); nullopt
/// for anything else (not a number, negative, too long).
[[nodiscard]] std::optional<std::uint64_t> parse_version(std::string_view text) noexcept;

/// The version a tag key starts from: random in [1, 2^62), so that a tag
/// key deleted and made again does not repeat versions entries recorded.
[[nodiscard]] std::uint64_t initial_version();

struct tag_version {
  std::string tag;
  std::uint64_t version = 0;
  friend bool operator==(const tag_version&, const tag_version&) = default;
};

/// The tag section for `tags` (non-empty, each valid) followed by `value`.
[[nodiscard]] std::string wrap(std::span<const tag_version> tags, std::string_view value);

struct unwrapped {
  std::vector<tag_version> tags;
  std::string value;
};

/// Splits what wrap() made. Errors: value_corrupt (a count of 0 or above
/// max_tags, a bad name length, bytes missing).
[[nodiscard]] result<unwrapped> unwrap(std::string_view plain);

/// Whether every recorded version equals the current one; `current[i]`
/// belongs to `recorded[i]` (nullopt: the tag key is gone, which no entry
/// survives).
[[nodiscard]] bool versions_hold(std::span<const tag_version> recorded,
                                 std::span<const std::optional<std::uint64_t>> current) noexcept;

}  // namespace rcache::cache_detail
