// The change log's shards; see shards.hpp.
#include "feed/shards.hpp"

#include <stdexcept>

#include "cluster/slot_map.hpp"

namespace rcache::feed {

shard_layout::shard_layout(std::string prefix, unsigned count) : prefix_(std::move(prefix)) {
  if (count < 1 || count > 1024) throw std::invalid_argument("feed shards must be 1 to 1024");
  if (prefix_.find_first_of("{}") != std::string::npos) {
    throw std::invalid_argument("the feed's key prefix must not contain '{' or '}'");
  }
  // Shard s logs the slots [s * 16384 / count, (s + 1) * 16384 / count); its
  // tag is the first decimal number whose slot falls in that range, so the
  // stream sits with the keys it logs. (A range of at least 16 slots is hit
  // within a few thousand numbers.)
  streams_.resize(count);
  epochs_.resize(count);
  unsigned found = 0;
  for (std::uint64_t n = 0; found < count; ++n) {
    const auto tag = std::to_string(n);
    const unsigned s = cluster::key_slot(tag) * count / cluster::slot_count;
    if (!streams_[s].empty()) continue;
    streams_[s] = prefix_ + "{" + tag + "}";
    epochs_[s] = streams_[s] + ":epoch";
    ++found;
  }
}

unsigned shard_layout::shard_of(std::string_view redis_key) const noexcept {
  return cluster::key_slot(redis_key) * count() / cluster::slot_count;
}

bool shard_layout::owns(std::string_view redis_key) const noexcept {
  if (!redis_key.starts_with(prefix_) || redis_key.size() <= prefix_.size() ||
      redis_key[prefix_.size()] != '{') {
    return false;
  }
  const auto s = shard_of(redis_key);
  return redis_key == streams_[s] || redis_key == epochs_[s];
}

}  // namespace rcache::feed
