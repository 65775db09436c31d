// Integration tests of rcache::session_store on the topologies: Redis
// Cluster (a session's keys share a slot; every operation, the event
// streams and the sweeper span all masters) and Sentinel (with durability =
// replica, no acknowledged session is lost when the master is killed under
// session churn).
#include <rcache/blocking_client.hpp>
#include <rcache/session.hpp>

#include <atomic>
#include <gtest/gtest.h>
#include <mutex>
#include <set>
#include <thread>

#include "fake_session_clock.hpp"
#include "redis_cluster.hpp"
#include "sentinel_topology.hpp"

namespace rcache {
namespace {

using namespace std::chrono_literals;
using test::fake_session_clock;
using test::redis_cluster;
using test::sentinel_topology;

// ---- Redis Cluster ---------------------------------------------------------------------

TEST(SessionCluster, EveryOperationWorksAcrossMastersAndTheSweeperCoversThemAll) {
  redis_cluster cluster;
  client_config cfg;
  cfg.cluster_nodes.push_back(endpoint{.host = cluster.host(), .port = cluster.port(0)});
  cfg.command_timeout = 10s;
  blocking_client redis(cfg);
  fake_session_clock clock;
  session_options o;
  o.prefix = "s:";
  o.idle_timeout = 60s;
  o.sweep_interval = 0s;
  o.max_per_user = 2;
  o.clock = clock.fn();
  blocking_session_store store(redis.async(), o);

  constexpr int users = 200;
  std::vector<session> sessions;
  for (int u = 0; u < users; ++u) {
    auto s = store.create("user-" + std::to_string(u), {"dev", "ua", "10.0.0.1"}, {{"n", "1"}});
    ASSERT_TRUE(s) << s.error().message();
    sessions.push_back(std::move(*s));
  }
  // A session's hash and its user's index are in one slot; the users spread
  // over every master.
  std::set<std::uint16_t> owners;
  for (int u = 0; u < users; u += 20) {
    const auto& s = sessions[static_cast<std::size_t>(u)];
    const auto tag = s.id.substr(s.id.size() - 2);
    const auto hash_key = "s:{" + tag + "}:s:" + s.id;
    const auto index_key = "s:{" + tag + "}:u:" + s.user;
    EXPECT_EQ(cluster.key_slot(hash_key), cluster.key_slot(index_key));
    EXPECT_EQ(
        cluster.command(cluster.index_of(cluster.key_owner(hash_key)), {"EXISTS", hash_key}).text,
        "1");
  }
  for (const auto& s : sessions) {
    owners.insert(cluster.key_owner("s:{" + s.id.substr(s.id.size() - 2) + "}:s:" + s.id));
  }
  EXPECT_EQ(owners.size(), cluster.master_ports().size());

  for (const auto& s : sessions) {
    auto v = store.validate(s.id);
    ASSERT_TRUE(v && *v) << s.user;
    ASSERT_TRUE(store.update(s.id, {.set = {{"n", "2"}}}).value());
  }
  auto rotated = store.rotate(sessions[0].id).value();
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(store.create("user-1"));
  ASSERT_TRUE(store.create("user-1"));  // a cap of 2: the oldest is evicted
  EXPECT_EQ(store.list("user-1")->size(), 2u);
  EXPECT_EQ(store.destroy_all("user-2", "").value(), 1u);

  const auto events = store.read_events({}, 10000);
  ASSERT_TRUE(events) << events.error().message();
  std::map<session_event::kind, int> kinds;
  for (const auto& e : events->events) ++kinds[e.what];
  EXPECT_EQ(kinds[session_event::kind::created], users + 2);
  EXPECT_EQ(kinds[session_event::kind::rotated], 1);
  EXPECT_EQ(kinds[session_event::kind::evicted], 1);
  EXPECT_EQ(kinds[session_event::kind::destroyed], 1);

  // Everything dies; one sweep clears every master.
  clock.advance(61s);
  const auto swept = store.sweep();
  ASSERT_TRUE(swept) << swept.error().message();
  EXPECT_TRUE(swept->swept);
  EXPECT_EQ(swept->expired, static_cast<std::size_t>(users + 2 - 1 - 1));
  for (const auto port : cluster.master_ports()) {
    const auto i = cluster.index_of(port);
    // Left, at most: the rotated id's stub, which Redis expires by its own
    // clock at the end of the grace period (the test's clock is not Redis's).
    for (const auto& key : cluster.command(i, {"KEYS", "s:*:s:*"}).elements) {
      EXPECT_EQ(cluster.command(i, {"HEXISTS", key, "rotated_to"}).text, "1") << key;
    }
    EXPECT_TRUE(cluster.command(i, {"KEYS", "s:*:u:*"}).elements.empty()) << "master " << port;
    EXPECT_TRUE(cluster.command(i, {"KEYS", "s:*:expiry"}).elements.empty()) << "master " << port;
  }
}

// ---- Sentinel: durability = replica -------------------------------------------------------

TEST(SessionSentinel, NoAcknowledgedSessionIsLostWhenTheMasterIsKilled) {
  sentinel_topology t;
  client_config cfg;
  for (const auto& a : t.sentinel_addresses()) {
    cfg.sentinels.push_back(endpoint{.host = a.host, .port = a.port});
  }
  cfg.sentinel_master = t.master_name();
  cfg.connect_timeout = 1000ms;
  cfg.command_timeout = 2000ms;
  cfg.reconnect_backoff_initial = 20ms;
  cfg.reconnect_backoff_max = 200ms;
  blocking_client redis(cfg);
  session_options o;
  o.prefix = "s:";
  o.sweep_interval = 0s;
  o.durability = session_durability::replica;
  o.replica_timeout = 1000ms;
  blocking_session_store store(redis.async(), o);

  // Churn: creates (and destroys of every third) until told to stop; only
  // acknowledged results count.
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::thread churn([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto s = store.create("user-" + std::to_string(i % 50), {"dev"});
      if (!s) {
        ++failed;
        continue;
      }
      if (i % 3 == 0) {
        if (store.destroy(s->id)) continue;  // destroyed: no longer expected
      }
      std::lock_guard lock(mu);
      acknowledged.push_back(s->id);
    }
  });
  auto acked = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size();
  };
  // Polls for `n` acknowledged sessions, for at most a minute.
  auto wait_for_acked = [&](std::size_t n) {
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (acked() < n && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(5ms);
    }
    return acked() >= n;
  };
  EXPECT_TRUE(wait_for_acked(100));

  const auto old_master = t.master_port();
  t.kill_server(t.server_index(old_master));
  const auto new_master = t.wait_for_failover(old_master);
  EXPECT_NE(new_master, old_master);
  EXPECT_TRUE(wait_for_acked(acked() + 100)) << "churn goes on on the new master";
  stop = true;
  churn.join();

  std::size_t lost = 0;
  for (const auto& id : acknowledged) {
    auto r = store.read(id);
    ASSERT_TRUE(r) << r.error().message();
    if (!*r) ++lost;
  }
  std::cout << "durability=replica: " << acknowledged.size() << " acknowledged sessions, "
            << failed.load() << " creates failed during the failover, " << lost << " lost\n";
  EXPECT_EQ(lost, 0u);
}

}  // namespace
}  // namespace rcache
