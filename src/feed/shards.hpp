// The change log's shards: which stream a key's changes go to, and each
// stream's keys (rcache/feed.hpp says why the slot ranges).
//
// Threading: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::feed {

class shard_layout {
 public:
  /// `count` shards (1..1024) under `prefix`; throws std::invalid_argument
  /// outside that range or for a prefix holding '{' or '}'.
  shard_layout(std::string prefix, unsigned count);

  [[nodiscard]] unsigned count() const noexcept { return static_cast<unsigned>(streams_.size()); }
  /// The shard of a Redis key (by its hash slot).
  [[nodiscard]] unsigned shard_of(std::string_view redis_key) const noexcept;
  /// Shard `s`'s stream key and epoch key.
  [[nodiscard]] const std::string& stream(unsigned s) const { return streams_.at(s); }
  [[nodiscard]] const std::string& epoch_key(unsigned s) const { return epochs_.at(s); }
  /// Whether `redis_key` is one of this layout's streams or epoch keys.
  [[nodiscard]] bool owns(std::string_view redis_key) const noexcept;

 private:
  std::string prefix_;
  std::vector<std::string> streams_;
  std::vector<std::string> epochs_;
};

}  // namespace rcache::feed
