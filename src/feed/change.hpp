// A change record of the feed: what the change log appends for one write
// (its stream fields) and what the hub reads back, with its place in the
// log, the position a subscriber resumes from.
//
// Stream IDs are compared as Redis does ("<ms>-<seq>", both unsigned 64-bit
// numbers). A position names a shard, that shard's epoch and an ID; on the
// wire it is the epoch and the offset "<shard>:<id>".
//
// Threading: plain values and pure functions.
#pragma once

#include <rcache/cache.hpp>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rcache::feed {

/// A stream entry ID.
struct stream_id {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  friend auto operator<=>(const stream_id&, const stream_id&) = default;
  [[nodiscard]] std::string text() const;
  /// "<ms>-<seq>" (or "<ms>"); nullopt when malformed.
  [[nodiscard]] static std::optional<stream_id> parse(std::string_view s) noexcept;
};

/// The operation names logged in the `op` field.
[[nodiscard]] std::string_view op_name(write_event::kind k) noexcept;
[[nodiscard]] std::optional<write_event::kind> op_of(std::string_view name) noexcept;
/// Whether changes of kind `k` carry a value (and its size): set, and a
/// geo point added or moved.
[[nodiscard]] bool carries_value(write_event::kind k) noexcept;

/// One change as logged.
struct change {
  std::string ns;
  std::string key;
  write_event::kind op = write_event::kind::set;
  std::int64_t ttl_ms = -1;
  std::uint64_t size = 0;
  std::optional<std::string> value;  // set, when small enough to be logged
  // Where it was read from (set by the reader, not logged).
  unsigned shard = 0;
  stream_id id;
  /// Made straight into Redis, seen through a keyspace notification: no
  /// place in the log (shard and id mean nothing), no TTL or value.
  bool direct = false;
};

/// The XADD field/value pairs of `e` (the value only when it has at most
/// `value_max_bytes`).
[[nodiscard]] std::vector<std::string> stream_fields(const write_event& e,
                                                     std::size_t value_max_bytes);

/// A change from a stream entry's field/value pairs; nullopt when they are
/// not a change record (a foreign entry: skipped, never fatal).
[[nodiscard]] std::optional<change> change_of(
    const std::vector<std::pair<std::string, std::string>>& fields);

/// A subscriber's place in one shard.
struct position {
  unsigned shard = 0;
  std::string epoch;
  stream_id id;
  /// The wire offset: "<shard>:<id>".
  [[nodiscard]] std::string offset() const;
  /// From the wire's epoch and offset; nullopt when malformed.
  [[nodiscard]] static std::optional<position> parse(std::string_view epoch,
                                                     std::string_view offset) noexcept;
};

/// Whether a subscriber at `at` can be fed every later entry of a stream
/// whose oldest entry is `first` (nullopt: empty or missing), whose last
/// ID ever given is `last`, and from which nothing was ever removed when
/// `complete` (XINFO's entries-added equals its length): the stream must
/// be whole, or hold its position still, or end there. Otherwise entries
/// after it may have been trimmed.
[[nodiscard]] bool resumable(stream_id at, std::optional<stream_id> first, stream_id last,
                             bool complete) noexcept;

}  // namespace rcache::feed
