// Unit tests of the change log's shards: the hash-slot ranges, each shard's
// stream and epoch keys living in their own shard's range, owns(), and the
// arguments refused.
#include "feed/shards.hpp"

#include <gtest/gtest.h>
#include <set>
#include <stdexcept>
#include <string>

#include "cluster/slot_map.hpp"

namespace rcache::feed {
namespace {

using cluster::key_slot;
using cluster::slot_count;

// The first slot of shard `s` of `count`: shard s holds the slots in
// [s * 16384 / count, (s + 1) * 16384 / count) (exact quotients), i.e. from
// the quotient rounded up to the next one rounded up.
unsigned range_begin(unsigned s, unsigned count) {
  return static_cast<unsigned>((std::uint64_t{s} * slot_count + count - 1) / count);
}

TEST(Shards, EveryShardsStreamHashesIntoItsOwnRange) {
  for (unsigned count : {1u, 2u, 3u, 7u, 16u, 100u, 1000u, 1024u}) {
    const shard_layout layout("rcache:feed:", count);
    ASSERT_EQ(layout.count(), count);
    std::set<std::string> keys;
    for (unsigned s = 0; s < count; ++s) {
      const auto& stream = layout.stream(s);
      ASSERT_TRUE(stream.starts_with("rcache:feed:{")) << stream;
      ASSERT_TRUE(stream.ends_with("}")) << stream;
      EXPECT_EQ(layout.epoch_key(s), stream + ":epoch");
      const unsigned slot = key_slot(stream);
      EXPECT_EQ(key_slot(layout.epoch_key(s)), slot) << "the epoch sits with its stream";
      EXPECT_GE(slot, range_begin(s, count)) << count << " shards, shard " << s << ": " << stream;
      EXPECT_LT(slot, range_begin(s + 1, count))
          << count << " shards, shard " << s << ": " << stream;
      EXPECT_EQ(layout.shard_of(stream), s);
      EXPECT_EQ(layout.shard_of(layout.epoch_key(s)), s);
      keys.insert(stream);
    }
    EXPECT_EQ(keys.size(), count) << "distinct streams";
    EXPECT_THROW((void)layout.stream(count), std::out_of_range);
    EXPECT_THROW((void)layout.epoch_key(count), std::out_of_range);
  }
}

TEST(Shards, AKeysShardIsThatOfItsSlotsRange) {
  for (unsigned count : {1u, 3u, 16u, 1024u}) {
    const shard_layout layout("p:", count);
    for (int i = 0; i < 5000; ++i) {
      const auto key = "ns:" + std::to_string(i);
      const unsigned slot = key_slot(key);
      const unsigned s = layout.shard_of(key);
      ASSERT_LT(s, count);
      EXPECT_GE(slot, range_begin(s, count)) << key;
      EXPECT_LT(slot, range_begin(s + 1, count)) << key;
    }
    // Keys sharing a hash tag share a slot, hence a shard.
    EXPECT_EQ(layout.shard_of("{user1000}.following"), layout.shard_of("{user1000}.followers"));
    EXPECT_EQ(layout.shard_of("cache:{42}:a"), layout.shard_of("42"));
  }
  // The edges of the slot space.
  const shard_layout four("p:", 4);
  EXPECT_EQ(four.shard_of(""), 0u) << "slot 0";
  // crc16 of these keys are known: "foo" is slot 12182, "somekey" 11058.
  EXPECT_EQ(four.shard_of("foo"), 12182u * 4 / slot_count);
  EXPECT_EQ(four.shard_of("somekey"), 2u);
}

TEST(Shards, OneShardTakesEveryKey) {
  const shard_layout one("rcache:feed:", 1);
  EXPECT_EQ(one.count(), 1u);
  for (std::string_view k : {"", "a", "foo", "{x}y", "rcache:feed:{0}"}) {
    EXPECT_EQ(one.shard_of(k), 0u) << k;
  }
  EXPECT_TRUE(one.owns(one.stream(0)));
  EXPECT_TRUE(one.owns(one.epoch_key(0)));
}

TEST(Shards, OwnsItsStreamsAndEpochKeysOnly) {
  const shard_layout layout("rcache:feed:", 16);
  for (unsigned s = 0; s < layout.count(); ++s) {
    EXPECT_TRUE(layout.owns(layout.stream(s))) << layout.stream(s);
    EXPECT_TRUE(layout.owns(layout.epoch_key(s))) << layout.epoch_key(s);
    EXPECT_FALSE(layout.owns(layout.stream(s) + "x"));
    EXPECT_FALSE(layout.owns(layout.epoch_key(s) + "x"));
    EXPECT_FALSE(layout.owns(layout.stream(s) + ":epoc"));
    EXPECT_FALSE(layout.owns(layout.stream(s).substr(0, layout.stream(s).size() - 1)));
    EXPECT_FALSE(layout.owns("other:" + layout.stream(s)));
  }
  EXPECT_FALSE(layout.owns(""));
  EXPECT_FALSE(layout.owns("rcache:feed:"));
  EXPECT_FALSE(layout.owns("rcache:feed:{"));
  EXPECT_FALSE(layout.owns("rcache:feed:x"));
  EXPECT_FALSE(layout.owns("rcache:feed"));
  EXPECT_FALSE(layout.owns("users:42"));

  // A tag that is not the one chosen for its shard is not a stream of ours.
  std::set<std::string> streams;
  for (unsigned s = 0; s < layout.count(); ++s) streams.insert(layout.stream(s));
  int foreign = 0;
  for (int n = 0; n < 2000; ++n) {
    const auto key = "rcache:feed:{" + std::to_string(n) + "}";
    if (streams.contains(key)) continue;
    EXPECT_FALSE(layout.owns(key)) << key;
    EXPECT_FALSE(layout.owns(key + ":epoch")) << key;
    ++foreign;
  }
  EXPECT_GT(foreign, 1000);

  // Another prefix's layout owns none of these.
  const shard_layout other("other:", 16);
  for (unsigned s = 0; s < layout.count(); ++s) EXPECT_FALSE(other.owns(layout.stream(s)));
}

TEST(Shards, AnEmptyPrefixWorks) {
  const shard_layout layout("", 8);
  for (unsigned s = 0; s < layout.count(); ++s) {
    EXPECT_TRUE(layout.stream(s).starts_with("{"));
    EXPECT_TRUE(layout.owns(layout.stream(s)));
    EXPECT_EQ(layout.shard_of(layout.stream(s)), s);
  }
  EXPECT_FALSE(layout.owns("users:42"));
}

TEST(Shards, RefusesCountsAndPrefixesOutOfRange) {
  EXPECT_THROW(shard_layout("p:", 0), std::invalid_argument);
  EXPECT_THROW(shard_layout("p:", 1025), std::invalid_argument);
  EXPECT_THROW(shard_layout("p:", 100000), std::invalid_argument);
  EXPECT_THROW(shard_layout("p{:", 4), std::invalid_argument);
  EXPECT_THROW(shard_layout("p}:", 4), std::invalid_argument);
  EXPECT_THROW(shard_layout("{}", 4), std::invalid_argument);
  EXPECT_NO_THROW(shard_layout("p:", 1));
  EXPECT_NO_THROW(shard_layout("p:", 1024));
}

}  // namespace
}  // namespace rcache::feed
