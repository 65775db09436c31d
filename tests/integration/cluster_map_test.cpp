// The cluster's sans-I/O pieces (src/cluster) against a real Redis Cluster:
// key_slot agrees with CLUSTER KEYSLOT, the slot map parsed from CLUSTER
// SHARDS and CLUSTER SLOTS (as rcache's client receives them, RESP3) agrees
// with the owners the nodes report, before and after a resharding, and a
// real MOVED / ASK error parses into the slot and node it names.
#include <rcache/blocking_client.hpp>

#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <random>
#include <thread>

#include "cluster/slot_map.hpp"
#include "redis_cluster.hpp"

namespace rcache::test {
namespace {

client_config node_config(const redis_cluster& c, std::size_t i) {
  client_config cfg;
  cfg.server.port = c.port(i);
  return cfg;
}

// The slot map as node `i` reports it, through CLUSTER SHARDS or SLOTS.
cluster::slot_map read_map(const redis_cluster& c, std::size_t i, bool shards) {
  blocking_client redis(node_config(c, i));
  auto reply = shards ? redis.command("CLUSTER", "SHARDS") : redis.command("CLUSTER", "SLOTS");
  if (!reply) throw std::runtime_error(reply.error().message());
  auto map = shards ? cluster::parse_cluster_shards(*reply) : cluster::parse_cluster_slots(*reply);
  if (!map) throw std::runtime_error("unparsable reply: " + map.error().message());
  return std::move(*map);
}

// Every slot's master in `map` is the owner the fixture finds (CLUSTER SLOTS
// through its admin channel, compared across nodes).
void expect_agrees(const cluster::slot_map& map, const redis_cluster& c) {
  EXPECT_EQ(map.unassigned(), 0u);
  int mismatches = 0;
  for (int slot = 0; slot < cluster::slot_count; slot += 97) {
    const auto* owner = map.master_for(static_cast<std::uint16_t>(slot));
    if (!owner || owner->port != c.slot_owner(slot)) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(ClusterMap, SlotsAndMapsAgreeWithARealClusterThroughAResharding) {
  redis_cluster c;
  // Hash slots: random keys, some with hash tags, against CLUSTER KEYSLOT.
  std::mt19937 rng(7);
  blocking_client node0(node_config(c, 0));
  for (int i = 0; i < 300; ++i) {
    std::string key = "k" + std::to_string(rng());
    if (i % 3 == 0) key = "{user" + std::to_string(i % 10) + "}." + key;
    if (i % 7 == 0) key = "x{}" + key;
    auto reply = node0.command("CLUSTER", "KEYSLOT", key);
    ASSERT_TRUE(reply);
    EXPECT_EQ(cluster::key_slot(key), reply->integer) << key;
  }

  // Node 0 learns the replicas' roles by gossip, which may trail their own
  // master links (all the fixture waits for): poll its map until it lists
  // them, with a deadline.
  auto before = read_map(c, 0, true);
  const auto listed = [](const cluster::slot_map& m) {
    const auto& shards = m.shards();
    return std::all_of(shards.begin(), shards.end(),
                       [](const auto& s) { return s.replicas.size() == 1; });
  };
  for (const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !listed(before) && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // between polls
    before = read_map(c, 0, true);
  }
  expect_agrees(before, c);
  expect_agrees(read_map(c, 3, false), c);
  EXPECT_EQ(before.shards().size(), 3u);
  for (const auto& s : before.shards()) EXPECT_EQ(s.replicas.size(), 1u);

  // A real MOVED from a node that does not own the key's slot.
  const std::string key = "somekey";
  const auto slot = cluster::key_slot(key);
  const auto owner = before.master_for(slot)->port;
  std::size_t other = 0;
  while (c.port(other) == owner || c.nodes()[other].role != cluster_role::master) ++other;
  blocking_client wrong(node_config(c, other));
  auto moved = wrong.command("GET", key);
  ASSERT_TRUE(moved && moved->is_error());
  const auto r = cluster::parse_redirect(moved->str);
  ASSERT_TRUE(r) << moved->str;
  EXPECT_EQ(r->type, cluster::redirect::kind::moved);
  EXPECT_EQ(r->slot, slot);
  EXPECT_EQ(r->port, owner);

  // Resharding moves slots: the maps follow.
  const auto masters = c.master_ports();
  const auto moved_slots = c.reshard(masters[0], masters[1], 10);
  ASSERT_EQ(moved_slots.size(), 10u);
  const auto after = read_map(c, 0, true);
  expect_agrees(after, c);
  for (int s : moved_slots) {
    EXPECT_EQ(after.master_for(static_cast<std::uint16_t>(s))->port, masters[1]) << s;
  }

  // ASK while a slot is being migrated, for a key not yet on the target.
  const auto ask_slot = cluster::key_slot("{ask}k");
  const auto from = after.master_for(ask_slot)->port;
  const auto to = from == masters[0] ? masters[1] : masters[0];
  blocking_client owner_client(node_config(c, c.index_of(from)));
  c.begin_slot_migration(ask_slot, to);
  auto ask = owner_client.command("GET", "{ask}k");  // absent on the source: ASK
  ASSERT_TRUE(ask && ask->is_error());
  const auto a = cluster::parse_redirect(ask->str);
  ASSERT_TRUE(a) << ask->str;
  EXPECT_EQ(a->type, cluster::redirect::kind::ask);
  EXPECT_EQ(a->slot, ask_slot);
  EXPECT_EQ(a->port, to);
  c.finish_slot_migration(ask_slot, to);
}

}  // namespace
}  // namespace rcache::test
