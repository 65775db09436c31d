// Unit tests of hash slots (CRC16, hash tags), slot-map parsing from
// CLUSTER SHARDS (RESP3 maps and RESP2 arrays) and CLUSTER SLOTS, and MOVED /
// ASK parsing. The integration test compares them with a real cluster.
#include "cluster/slot_map.hpp"

#include <gtest/gtest.h>

namespace rcache::cluster {
namespace {

value str(std::string s) {
  return value::make_string(std::move(s));
}
value num(std::int64_t i) {
  return value::make_integer(i);
}
value arr(std::vector<value> v, resp_type t = resp_type::array) {
  return value::make_array(std::move(v), t);
}

TEST(Slots, Crc16AndHashTagsFollowTheClusterSpecification) {
  EXPECT_EQ(crc16("123456789"), 0x31C3) << "the XMODEM check value";
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("foo{hash_tag}"), 2515) << "only the tag is hashed";
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar")) << "the first tag";
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar")) << "up to the first '}'";
  EXPECT_EQ(key_slot("foo{}{bar}"), 8363) << "an empty tag: the whole key";
  EXPECT_EQ(key_slot("foo{bar"), crc16("foo{bar") % slot_count) << "no closing brace";
  EXPECT_EQ(key_slot(""), 0);
}

value shard_entry(std::vector<value> slots, std::vector<value> nodes, resp_type t) {
  return arr({str("slots"), arr(std::move(slots)), str("nodes"), arr(std::move(nodes))}, t);
}

value shard_node(std::string id, std::uint16_t port, std::string role, resp_type t,
                 std::string health = "online") {
  return arr({str("id"), str(std::move(id)), str("port"), num(port), str("ip"), str("127.0.0.1"),
              str("endpoint"), str("127.0.0.1"), str("role"), str(std::move(role)),
              str("replication-offset"), num(42), str("health"), str(std::move(health))},
             t);
}

TEST(SlotMap, ParsesClusterShardsInResp3AndResp2) {
  for (auto t : {resp_type::map, resp_type::array}) {
    const auto reply = arr({
        shard_entry({num(0), num(5460)},
                    {shard_node("a", 7000, "master", t), shard_node("d", 7003, "replica", t)}, t),
        shard_entry(
            {num(5461), num(10922)},
            {shard_node("e", 7004, "replica", t, "failed"), shard_node("b", 7001, "master", t)}, t),
        shard_entry({num(10923), num(12000), num(12001), num(16383)},
                    {shard_node("c", 7002, "master", t)}, t),
        shard_entry({}, {shard_node("x", 7009, "master", t)}, t),  // no slots: left out
    });
    auto map = parse_cluster_shards(reply);
    ASSERT_TRUE(map) << map.error().message();
    EXPECT_EQ(map->shards().size(), 3u);
    EXPECT_EQ(map->unassigned(), 0u);
    EXPECT_EQ(map->master_for(0)->port, 7000);
    EXPECT_EQ(map->master_for(5461)->port, 7001) << "the master, whatever its position";
    EXPECT_EQ(map->master_for(12000)->id, "c");
    EXPECT_EQ(map->master_for(16383)->port, 7002);
    ASSERT_EQ(map->shard_for(6000)->replicas.size(), 1u);
    EXPECT_FALSE(map->shard_for(6000)->replicas[0].healthy);
  }
}

TEST(SlotMap, ParsesClusterSlotsAndRefusesOtherShapes) {
  const auto reply = arr({
      arr({num(0), num(8191), arr({str("127.0.0.1"), num(7000), str("a")}),
           arr({str("127.0.0.1"), num(7003), str("d")})}),
      arr({num(8192), num(16000), arr({str("127.0.0.1"), num(7001), str("b")})}),
  });
  auto map = parse_cluster_slots(reply);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->master_for(100)->port, 7000);
  EXPECT_TRUE(map->master_for(100)->master);
  EXPECT_EQ(map->shard_for(100)->replicas.at(0).port, 7003);
  EXPECT_EQ(map->master_for(16001), nullptr);
  EXPECT_EQ(map->unassigned(), 16384u - 16001u);

  EXPECT_FALSE(parse_cluster_slots(str("nope")));
  EXPECT_FALSE(parse_cluster_slots(arr({arr({num(0), num(20000), arr({str("h"), num(1)})})})))
      << "a slot past 16383";
  EXPECT_FALSE(parse_cluster_slots(arr({arr({num(10), num(5), arr({str("h"), num(1)})})})))
      << "a range backwards";
  EXPECT_FALSE(parse_cluster_slots(arr({arr({num(0), num(5), arr({str("h"), num(0)})})})))
      << "port 0";
  EXPECT_FALSE(parse_cluster_shards(arr({arr({str("slots"), arr({num(1)})})})))
      << "an odd slot list and no nodes";
}

TEST(Redirect, MovedAndAskAreParsedOtherErrorsAreNot) {
  EXPECT_EQ(parse_redirect("MOVED 3999 127.0.0.1:6381"),
            (redirect{redirect::kind::moved, 3999, "127.0.0.1", 6381}));
  EXPECT_EQ(parse_redirect("ASK 12 [::1]:7000"), (redirect{redirect::kind::ask, 12, "::1", 7000}));
  EXPECT_EQ(parse_redirect("MOVED 1 :7000")->host, "") << "unknown endpoint: the same host";
  EXPECT_FALSE(parse_redirect("MOVED 16384 h:1"));
  EXPECT_FALSE(parse_redirect("MOVED x h:1"));
  EXPECT_FALSE(parse_redirect("MOVED 1 h"));
  EXPECT_FALSE(parse_redirect("ERR MOVED 1 h:1"));
  EXPECT_FALSE(parse_redirect("TRYAGAIN Multiple keys request during rehashing of slot"));
}

}  // namespace
}  // namespace rcache::cluster
