// Integration tests of the Sentinel and Cluster fixtures themselves, against
// real redis-server / redis-sentinel processes: that the topologies start
// settled, that killing a master yields a promoted replica (and the old
// master rejoins as a replica), that slot owners read from the nodes locate
// keys, and that resharding and slot migration move slots and their keys.
//
// Nothing here sleeps for synchronisation: every fixture operation returns
// once the state it waits for is observed, under a bound; the bounds are
// generous and never the thing under test.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <signal.h>
#include <string>
#include <vector>

#include "embedded/admin_command.hpp"
#include "redis_cluster.hpp"
#include "run_program.hpp"
#include "sentinel_topology.hpp"

namespace rcache::test {
namespace {

using embedded::admin_command;
using embedded::admin_target;
using namespace std::chrono_literals;

// Whether a process with this pid exists (a zombie counts: it is not reaped).
bool pid_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

admin_target tcp_target(std::uint16_t port) {
  admin_target target;
  target.port = port;
  return target;
}

// The fields of one SENTINEL REPLICAS / SENTINELS element ("k\nv\nk\nv...").
std::map<std::string, std::string> fields_of(const std::string& element) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  for (auto nl = element.find('\n'); nl != std::string::npos; nl = element.find('\n', pos)) {
    parts.push_back(element.substr(pos, nl - pos));
    pos = nl + 1;
  }
  parts.push_back(element.substr(pos));
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) out[parts[i]] = parts[i + 1];
  return out;
}

// CRC16/XMODEM, the cluster's key hash: the tests pick keys for given slots
// with it, and check it against CLUSTER KEYSLOT, so the fixture's slot
// lookups are tested against an independent computation.
std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (const unsigned char byte : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ (byte << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

// A key in `slot`: "{<tag>}:<name>", where the hash tag <tag> is the first
// decimal number that hashes to the slot.
std::string key_in_slot(int slot, const std::string& name) {
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> t(redis_cluster::slot_count);
    std::size_t found = 0;
    for (unsigned n = 0; found < t.size(); ++n) {
      auto& tag = t[crc16(std::to_string(n)) % redis_cluster::slot_count];
      if (tag.empty()) {
        tag = std::to_string(n);
        ++found;
      }
    }
    return t;
  }();
  return "{" + tags.at(static_cast<std::size_t>(slot)) + "}:" + name;
}

// ---------------------------------------------------------------------------
// Sentinel
// ---------------------------------------------------------------------------

TEST(FixtureSentinel, StartsSettledWithTheSentinelsAgreeingOnTheMaster) {
  sentinel_topology topology;
  const auto master = topology.server_port(0);
  EXPECT_EQ(topology.master_port(), master);
  EXPECT_EQ(topology.master_name(), "mymaster");

  std::set<std::uint16_t> ports;
  for (std::size_t i = 0; i < sentinel_topology::server_count; ++i) {
    ports.insert(topology.server_port(i));
    EXPECT_GT(topology.server_pid(i), 0);
  }
  std::string expected_list;
  const auto addresses = topology.sentinel_addresses();
  ASSERT_EQ(addresses.size(), sentinel_topology::sentinel_count);
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    EXPECT_EQ(addresses[i].host, "127.0.0.1");
    EXPECT_EQ(addresses[i].port, topology.sentinel_port(i));
    ports.insert(addresses[i].port);
    expected_list += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(addresses[i].port);
  }
  EXPECT_EQ(ports.size(), sentinel_topology::server_count + sentinel_topology::sentinel_count);
  EXPECT_EQ(topology.sentinel_list(), expected_list);

  for (std::size_t i = 0; i < sentinel_topology::sentinel_count; ++i) {
    SCOPED_TRACE("sentinel " + std::to_string(i));
    EXPECT_EQ(topology.master_port_from(i), master);
    // Over TCP, as a client would ask.
    const auto by_tcp = admin_command(tcp_target(topology.sentinel_port(i)),
                                      {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"});
    ASSERT_TRUE(by_tcp) << by_tcp.error().message();
    EXPECT_EQ(by_tcp->elements, (std::vector<std::string>{"127.0.0.1", std::to_string(master)}));
    const auto replicas = topology.sentinel_command(i, {"SENTINEL", "REPLICAS", "mymaster"});
    std::set<std::uint16_t> replica_ports;
    for (const auto& r : replicas.elements) {
      replica_ports.insert(static_cast<std::uint16_t>(std::stoi(fields_of(r)["port"])));
    }
    EXPECT_EQ(replica_ports,
              (std::set<std::uint16_t>{topology.server_port(1), topology.server_port(2)}));
    EXPECT_EQ(topology.sentinel_command(i, {"SENTINEL", "SENTINELS", "mymaster"}).elements.size(),
              sentinel_topology::sentinel_count - 1);
    EXPECT_EQ(
        topology.sentinel_command(i, {"SENTINEL", "CKQUORUM", "mymaster"}).text.rfind("OK", 0), 0u);
  }

  // Replication works: a write both replicas have processed is on both.
  EXPECT_EQ(topology.server_command(0, {"SET", "k", "v"}).text, "OK");
  topology.wait_for_replication(0, 2);
  for (const std::size_t i : {1u, 2u}) {
    EXPECT_EQ(topology.server_command(i, {"ROLE"}).elements.at(0), "slave");
    EXPECT_EQ(topology.server_command(i, {"GET", "k"}).text, "v");
  }
}

TEST(FixtureSentinel, KillingTheMasterPromotesAReplicaAndTheOldMasterRejoinsAsReplica) {
  sentinel_topology topology;
  const auto old_master = topology.master_port();
  ASSERT_EQ(old_master, topology.server_port(0));
  ASSERT_EQ(topology.server_command(0, {"SET", "before", "failover"}).text, "OK");
  topology.wait_for_replication(0, 2);

  const pid_t pid = topology.server_pid(0);
  topology.kill_server(0);
  EXPECT_FALSE(pid_exists(pid));
  EXPECT_EQ(topology.server_pid(0), -1);

  const auto new_master = topology.wait_for_failover(old_master, 30s);
  ASSERT_NE(new_master, old_master);
  const auto promoted = topology.server_index(new_master);
  EXPECT_NE(promoted, 0u);
  for (std::size_t i = 0; i < sentinel_topology::sentinel_count; ++i) {
    EXPECT_EQ(topology.master_port_from(i), new_master) << "sentinel " << i;
  }
  EXPECT_EQ(topology.server_command(promoted, {"ROLE"}).elements.at(0), "master");
  EXPECT_EQ(topology.server_command(promoted, {"GET", "before"}).text, "failover");
  EXPECT_EQ(topology.server_command(promoted, {"SET", "after", "failover"}).text, "OK");

  // The other replica follows the new master.
  const auto other = promoted == 1 ? 2u : 1u;
  topology.wait_until_replica(other, new_master, 30s);

  // The old master comes back as a master (its config says so) until the
  // sentinels turn it into a replica of the new one. Shorter Sentinel
  // periods (only now: the failover above ran on the defaults) save ~8 s.
  topology.set_sentinel_debug("publish-period", "500");
  topology.set_sentinel_debug("info-period", "1000");
  topology.restart_server(0);
  topology.wait_until_replica(0, new_master, 60s);
  EXPECT_EQ(topology.server_command(0, {"ROLE"}).elements.at(0), "slave");
  topology.wait_for_replication(promoted, 2);
  EXPECT_EQ(topology.server_command(0, {"GET", "after"}).text, "failover");
  EXPECT_EQ(topology.master_port(), new_master);
  for (std::size_t i = 0; i < sentinel_topology::sentinel_count; ++i) {
    std::set<std::string> replica_ports;
    for (const auto& r :
         topology.sentinel_command(i, {"SENTINEL", "REPLICAS", "mymaster"}).elements) {
      replica_ports.insert(fields_of(r)["port"]);
    }
    EXPECT_EQ(replica_ports.count(std::to_string(old_master)), 1u) << "sentinel " << i;
  }
}

TEST(FixtureSentinel, CredentialsGuardServersAndSentinels) {
  sentinel_topology topology({.server_password = "server secret", .sentinel_password = "s3ntinel"});
  const auto master = topology.master_port();
  EXPECT_EQ(master, topology.server_port(0));

  auto sentinel = tcp_target(topology.sentinel_port(0));
  const auto unauthenticated = admin_command(sentinel, {"PING"});
  ASSERT_TRUE(unauthenticated) << unauthenticated.error().message();
  EXPECT_TRUE(unauthenticated->is_error);
  EXPECT_EQ(unauthenticated->text.rfind("NOAUTH", 0), 0u) << unauthenticated->text;
  sentinel.password = "server secret";
  EXPECT_EQ(admin_command(sentinel, {"PING"}).error(), rcache::error::auth_failed);
  sentinel.password = "s3ntinel";
  EXPECT_EQ(
      admin_command(sentinel, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"}).value().elements,
      (std::vector<std::string>{"127.0.0.1", std::to_string(master)}));

  auto server = tcp_target(master);
  EXPECT_EQ(admin_command(server, {"PING"}).value().text.rfind("NOAUTH", 0), 0u);
  server.password = "server secret";
  EXPECT_EQ(admin_command(server, {"PING"}).value().text, "PONG");
  // The replicas authenticated to the master with masterauth.
  ASSERT_EQ(topology.server_command(0, {"SET", "k", "v"}).text, "OK");
  topology.wait_for_replication(0, 2);
  EXPECT_EQ(topology.server_command(1, {"GET", "k"}).text, "v");
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

TEST(FixtureCluster, StartsWithAllSlotsCoveredByThreeMastersWithAReplicaEach) {
  redis_cluster cluster;
  ASSERT_EQ(cluster.size(), 6u);
  const auto nodes = cluster.nodes();
  std::map<std::uint16_t, int> replicas_of;
  std::set<std::string> ids;
  std::set<std::uint16_t> ports;
  for (const auto& node : nodes) {
    SCOPED_TRACE("node " + std::to_string(node.index));
    EXPECT_EQ(node.id.size(), 40u);
    ids.insert(node.id);
    ports.insert(node.port);
    ports.insert(cluster.bus_port(node.index));
    EXPECT_GT(node.pid, 0);
    ASSERT_NE(node.role, cluster_role::unknown);
    if (node.role == cluster_role::replica) ++replicas_of[node.master_port];
    const auto info = cluster.command(node.index, {"CLUSTER", "INFO"}).text;
    EXPECT_NE(info.find("cluster_state:ok"), std::string::npos) << info;
    EXPECT_NE(info.find("cluster_slots_assigned:16384"), std::string::npos) << info;
  }
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(ports.size(), 12u);  // client and bus ports all distinct

  const auto masters = cluster.master_ports();
  ASSERT_EQ(masters.size(), 3u);
  std::size_t covered = 0;
  for (const auto master : masters) {
    EXPECT_EQ(replicas_of[master], 1) << "master " << master;
    const auto slots = cluster.slots_of(master);
    EXPECT_FALSE(slots.empty());
    covered += slots.size();
  }
  EXPECT_EQ(covered, static_cast<std::size_t>(redis_cluster::slot_count));
  EXPECT_EQ(replicas_of.size(), 3u);
}

TEST(FixtureCluster, AKeyWrittenOnItsOwnerIsReadBackAndOtherMastersRedirect) {
  redis_cluster cluster;
  for (const std::string key : {"user:1", "user:2", "{tagged}:a", "{tagged}:b", "session:xyz"}) {
    SCOPED_TRACE(key);
    const auto slot = cluster.key_slot(key);
    EXPECT_EQ(slot, crc16(key.find('{') == 0 ? key.substr(1, key.find('}') - 1) : key) %
                        redis_cluster::slot_count);
    const auto owner = cluster.key_owner(key);
    const auto on_owner = cluster.index_of(owner);
    EXPECT_EQ(cluster.command(on_owner, {"SET", key, "value of " + key}).text, "OK");
    EXPECT_EQ(cluster.command(on_owner, {"GET", key}).text, "value of " + key);
    for (const auto master : cluster.master_ports()) {
      if (master == owner) continue;
      const auto moved = cluster.command(cluster.index_of(master), {"GET", key});
      EXPECT_TRUE(moved.is_error);
      EXPECT_EQ(moved.text,
                "MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(owner));
    }
  }
  // redis-cli -c follows the redirections the fixture's slot map predicts.
  const auto cli =
      run_program({"redis-cli", "-c", "-p", std::to_string(cluster.port(0)), "GET", "session:xyz"});
  EXPECT_EQ(cli.output, "value of session:xyz\n");
}

TEST(FixtureCluster, KillingAMasterPromotesItsReplicaAndTheOldMasterRejoinsAsReplica) {
  redis_cluster cluster;
  const std::string key = "survives:failover";
  const auto slot = cluster.key_slot(key);
  const auto old_master = cluster.slot_owner(slot);
  const auto dead = cluster.index_of(old_master);
  std::uint16_t replica = 0;
  for (const auto& node : cluster.nodes()) {
    if (node.role == cluster_role::replica && node.master_port == old_master) replica = node.port;
  }
  ASSERT_NE(replica, 0);
  ASSERT_EQ(cluster.command(dead, {"SET", key, "v"}).text, "OK");
  cluster.wait_for_replication(old_master, 1);

  const pid_t pid = cluster.pid(dead);
  cluster.kill(dead);
  EXPECT_FALSE(pid_exists(pid));

  const auto promoted = cluster.wait_for_failover(old_master, 30s);
  EXPECT_EQ(promoted, replica);
  EXPECT_EQ(cluster.slot_owner(slot), promoted);
  EXPECT_EQ(cluster.command(cluster.index_of(promoted), {"GET", key}).text, "v");
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (i == dead) continue;
    EXPECT_NE(cluster.command(i, {"CLUSTER", "INFO"}).text.find("cluster_state:ok"),
              std::string::npos)
        << "node " << i;
  }

  cluster.restart(dead);
  cluster.wait_until_ok(30s);
  const auto rejoined = cluster.nodes().at(dead);
  EXPECT_EQ(rejoined.role, cluster_role::replica);
  EXPECT_EQ(rejoined.master_port, promoted);
  EXPECT_EQ(cluster.slot_owner(slot), promoted);
}

TEST(FixtureCluster, APausedMasterIsReplacedAndRejoinsAsReplicaWhenResumed) {
  redis_cluster cluster;
  const auto old_master = cluster.master_ports().front();
  const auto paused = cluster.index_of(old_master);
  const auto slot = cluster.slots_of(old_master).front();
  cluster.pause(paused);
  // The paused node is alive but silent; the waits leave it out.
  EXPECT_TRUE(pid_exists(cluster.pid(paused)));
  EXPECT_EQ(cluster.nodes().at(paused).role, cluster_role::unknown);

  const auto promoted = cluster.wait_for_failover(old_master, 30s);
  EXPECT_NE(promoted, old_master);
  EXPECT_EQ(cluster.slot_owner(slot), promoted);

  // Resumed, it learns it lost its slots and follows its successor.
  cluster.resume(paused);
  cluster.wait_until_ok(30s);
  const auto resumed = cluster.nodes().at(paused);
  EXPECT_EQ(resumed.role, cluster_role::replica);
  EXPECT_EQ(resumed.master_port, promoted);
}

TEST(FixtureCluster, ReshardingAndSlotMigrationMoveSlotsWithTheirKeys) {
  redis_cluster cluster;
  const auto masters = cluster.master_ports();
  ASSERT_EQ(masters.size(), 3u);
  const auto from = masters[0];
  const auto to = masters[1];
  const auto from_slots = cluster.slots_of(from);

  // A key in each of the lowest and highest 20 slots of the source, so the
  // keys of whichever slots redis-cli picks can be followed.
  std::map<int, std::string> keys;
  for (std::size_t i = 0; i < 20; ++i) {
    for (const auto slot : {from_slots[i], from_slots[from_slots.size() - 1 - i]}) {
      keys[slot] = key_in_slot(slot, "k");
      ASSERT_EQ(cluster.key_slot(keys[slot]), slot);
      ASSERT_EQ(cluster.command(cluster.index_of(from), {"SET", keys[slot], keys[slot]}).text,
                "OK");
    }
  }

  const auto moved = cluster.reshard(from, to, 10);
  ASSERT_EQ(moved.size(), 10u);
  EXPECT_EQ(cluster.slots_of(from).size(), from_slots.size() - 10);
  std::size_t moved_keys = 0;
  for (const auto slot : moved) {
    EXPECT_EQ(cluster.slot_owner(slot), to) << "slot " << slot;
    EXPECT_TRUE(std::binary_search(from_slots.begin(), from_slots.end(), slot));
  }
  for (const auto& [slot, key] : keys) {
    SCOPED_TRACE(key);
    const bool was_moved = std::binary_search(moved.begin(), moved.end(), slot);
    const auto owner = was_moved ? to : from;
    EXPECT_EQ(cluster.slot_owner(slot), owner);
    EXPECT_EQ(cluster.command(cluster.index_of(owner), {"GET", key}).text, key);
    if (was_moved) {
      ++moved_keys;
      EXPECT_TRUE(cluster.command(cluster.index_of(from), {"GET", key}).is_error);
    }
  }
  EXPECT_GT(moved_keys, 0u) << "redis-cli moved none of the slots the test wrote keys into";

  // One slot by hand, with several keys in it, to the third master.
  const auto third = masters[2];
  const auto slot = cluster.slots_of(from).back();
  for (const auto* name : {"a", "b", "c"}) {
    ASSERT_EQ(cluster.command(cluster.index_of(from), {"SET", key_in_slot(slot, name), name}).text,
              "OK");
  }
  cluster.begin_slot_migration(slot, third);
  // Mid-migration the source still serves the slot.
  EXPECT_EQ(cluster.slot_owner(slot), from);
  cluster.finish_slot_migration(slot, third);
  EXPECT_EQ(cluster.slot_owner(slot), third);
  for (const auto* name : {"a", "b", "c"}) {
    EXPECT_EQ(cluster.command(cluster.index_of(third), {"GET", key_in_slot(slot, name)}).text,
              name);
  }
  EXPECT_EQ(cluster.command(cluster.index_of(from), {"GET", key_in_slot(slot, "a")}).text,
            "MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(third));
  cluster.wait_until_ok(30s);
}

}  // namespace
}  // namespace rcache::test
