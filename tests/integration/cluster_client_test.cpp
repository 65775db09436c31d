// The client and the cache on Redis Cluster (issue 5, items 3 and 5),
// against a real 3 + 3 cluster (tests/support/redis_cluster): routing by
// slot (checked against the owners the nodes report), multi-key commands
// split by slot and merged back in order, pipelines split per node,
// transactions, scripts, per-node commands, MOVED after a resharding done
// behind the client's back, ASK during a slot migration, a live resharding
// under load with no error reaching a caller, a killed master, and the
// near cache kept coherent across nodes and failovers.
#include <rcache/blocking_client.hpp>
#include <rcache/cache.hpp>
#include <rcache/subscriber.hpp>

#include <atomic>
#include <future>
#include <gtest/gtest.h>
#include <thread>

#include "async_test.hpp"
#include "network_partition.hpp"
#include "redis_cluster.hpp"
#include "stale_probe.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::eventually;
using test::nothrow;
using test::redis_cluster;

client_config via_cluster(const redis_cluster& c, bool all_seeds = false) {
  client_config cfg;
  // One seed is enough: the client learns the rest from the slot map.
  for (std::size_t i = 0; i < (all_seeds ? c.size() : 1); ++i) {
    cfg.cluster_nodes.push_back(endpoint{.host = c.host(), .port = c.port(i)});
  }
  cfg.connect_timeout = 1000ms;
  cfg.command_timeout = 2000ms;
  cfg.reconnect_backoff_initial = 20ms;
  cfg.reconnect_backoff_max = 200ms;
  return cfg;
}

std::string key(int i) {
  return "key:" + std::to_string(i);
}

// What the node owning `k` holds for it, by the fixture's own oracle.
std::string owner_value(const redis_cluster& c, std::string_view k) {
  return c.command(c.index_of(c.key_owner(k)), {"GET", k}).text;
}

// A key whose slot `port` serves.
std::string key_on(const redis_cluster& c, std::uint16_t port, std::string_view prefix) {
  for (int i = 0;; ++i) {
    auto k = std::string(prefix) + std::to_string(i);
    if (c.key_owner(k) == port) return k;
  }
}

// One cluster for the tests that leave it whole.
class ClusterClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new redis_cluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static redis_cluster* cluster_;
};
redis_cluster* ClusterClient::cluster_ = nullptr;

TEST_F(ClusterClient, EveryKeyGoesToTheMasterOfItsSlot) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  for (int i = 0; i < 60; ++i) {
    auto r = redis.command("SET", key(i), "v" + std::to_string(i));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_FALSE(r->is_error()) << r->str;
  }
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(owner_value(c, key(i)), "v" + std::to_string(i)) << key(i);
    auto r = redis.command("GET", key(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str, "v" + std::to_string(i));
  }
  const auto masters = redis.async().masters();
  EXPECT_EQ(masters.size(), 3u);
  for (auto port : c.master_ports()) {
    EXPECT_NE(std::find(masters.begin(), masters.end(), c.host() + ":" + std::to_string(port)),
              masters.end());
  }
  EXPECT_EQ(redis.async().state(), connection_state::connected);
}

TEST_F(ClusterClient, TheUrlFormNamesTheSeeds) {
  auto& c = *cluster_;
  auto cfg = parse_url("redis-cluster://" + c.seed_list() + "?timeout_ms=2000");
  ASSERT_TRUE(cfg);
  blocking_client redis(*cfg);
  auto w = redis.command("SET", "via-url", "yes");
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(owner_value(c, "via-url"), "yes");
}

TEST_F(ClusterClient, SubscribersAndTypedCommandsOnACluster) {
  auto& c = *cluster_;
  const auto ports = c.master_ports();
  const auto s1 = key_on(c, ports[0], "sch:");
  const auto s2 = key_on(c, ports[1], "sch:");
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client redis(ex, via_cluster(c));
    subscriber sub(redis);
    std::vector<std::string> shards{s1, s2};
    auto [e1] = co_await sub.async_ssubscribe(shards, nothrow);
    EXPECT_FALSE(e1) << "each shard channel on the master of its slot: " << e1.message();
    std::vector<std::string> channels{"news"};
    auto [e2] = co_await sub.async_subscribe(channels, nothrow);
    EXPECT_FALSE(e2) << e2.message();
    EXPECT_EQ(c.command(c.index_of(ports[1]), {"SPUBLISH", s2, "to-s2"}).text, "1");
    auto [r1, m1] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r1);
    EXPECT_EQ(m1.kind, subscription_kind::shard_channel);
    EXPECT_EQ(m1.channel, s2);
    EXPECT_EQ(m1.payload, "to-s2");
    // A PUBLISH on any node reaches a subscription on another.
    c.command(c.index_of(ports[2]), {"PUBLISH", "news", "everywhere"});
    auto [r2, m2] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r2);
    EXPECT_EQ(m2.payload, "everywhere");
    auto set = co_await redis.async_command(cmd::set(s1, "x"), asio::use_awaitable);
    EXPECT_TRUE(set) << set.error().message;
    auto got = co_await redis.async_command(cmd::get(s1), asio::use_awaitable);
    EXPECT_EQ(got.value(), std::optional<std::string>("x"));
    EXPECT_EQ(owner_value(c, s1), "x");
  });
}

TEST_F(ClusterClient, MultiKeyCommandsAreSplitBySlotAndMergedInOrder) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  request mset;
  std::vector<std::string> args;
  for (int i = 0; i < 40; ++i) {
    args.push_back("m" + std::to_string(i));
    args.push_back("value" + std::to_string(i));
  }
  mset.push_range("MSET", args);
  const auto requests_before = redis.async().stats().requests;
  auto r = redis.exec(std::move(mset));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->at(0).str, "OK");
  EXPECT_EQ(redis.async().stats().requests, requests_before + 1)
      << "one request, whatever its parts";
  for (int i = 0; i < 40; i += 7) {
    EXPECT_EQ(owner_value(c, "m" + std::to_string(i)), "value" + std::to_string(i));
  }

  // Keys in an order that interleaves the nodes, a missing one, a repeat.
  std::vector<std::string> keys = {"m39", "m0", "missing", "m17", "m3", "m0", "m28"};
  request mget;
  mget.push_range("MGET", keys);
  auto got = redis.exec(std::move(mget));
  ASSERT_TRUE(got) << got.error().message();
  const auto& v = got->at(0);
  ASSERT_EQ(v.elements.size(), keys.size()) << to_display(v);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == "missing") {
      EXPECT_TRUE(v.elements[i].is_null());
    } else {
      EXPECT_EQ(v.elements[i].str, "value" + keys[i].substr(1)) << i;
    }
  }

  auto exists = redis.command("EXISTS", "m1", "m2", "missing", "m1");
  ASSERT_TRUE(exists);
  EXPECT_EQ(exists->integer, 3);
  auto touched = redis.command("TOUCH", "m5", "m6", "nope");
  ASSERT_TRUE(touched);
  EXPECT_EQ(touched->integer, 2);
  auto deleted = redis.command("DEL", "m1", "m2", "m3", "missing");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->integer, 3);
  EXPECT_TRUE(c.command(c.index_of(c.key_owner("m2")), {"GET", "m2"}).is_nil);
  auto unlinked = redis.command("UNLINK", "m4", "m5");
  ASSERT_TRUE(unlinked);
  EXPECT_EQ(unlinked->integer, 2);
}

TEST_F(ClusterClient, APipelineIsSplitPerNodeAndAnsweredInOrder) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  request r;
  for (int i = 0; i < 30; ++i) {
    r.push("SET", "p" + std::to_string(i), i);
    r.push("INCR", "p" + std::to_string(i));
  }
  r.push("PING");
  auto resp = redis.exec(std::move(r));
  ASSERT_TRUE(resp) << resp.error().message();
  ASSERT_EQ(resp->size(), 61u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(resp->at(2 * i).str, "OK");
    EXPECT_EQ(resp->at(2 * i + 1).integer, i + 1) << "the reply of p" << i;
  }
  EXPECT_EQ(resp->back().str, "PONG");
}

TEST_F(ClusterClient, TransactionsScriptsAndPerNodeCommands) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  request tx;
  tx.push("MULTI").push("SET", "{t}a", "1").push("INCR", "{t}a").push("EXEC");
  auto resp = redis.exec(std::move(tx));
  ASSERT_TRUE(resp) << resp.error().message();
  ASSERT_EQ(resp->size(), 4u);
  ASSERT_EQ(resp->at(3).elements.size(), 2u) << to_display(resp->at(3));
  EXPECT_EQ(resp->at(3).elements[1].integer, 2);
  EXPECT_EQ(owner_value(c, "{t}a"), "2");

  // Keys of two slots in one transaction: Redis refuses it, as a value.
  const auto masters = c.master_ports();
  request cross;
  cross.push("MULTI")
      .push("SET", key_on(c, masters[0], "x"), "1")
      .push("SET", key_on(c, masters[1], "y"), "2")
      .push("EXEC");
  auto refused = redis.exec(std::move(cross));
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_TRUE(refused->at(3).is_error()) << to_display(refused->at(3));

  // A command before MULTI runs once, even when the transaction is refused.
  const auto counter = key_on(c, masters[0], "counter");
  request mixed;
  mixed.push("INCR", counter)
      .push("MULTI")
      .push("SET", key_on(c, masters[1], "z"), "1")
      .push("EXEC");
  auto once = redis.exec(std::move(mixed));
  ASSERT_TRUE(once) << once.error().message();
  EXPECT_EQ(owner_value(c, counter), "1") << "INCR ran more than once";

  request bad_node({.node = "no-port"});
  bad_node.push("PING");
  auto refused_node = redis.exec(std::move(bad_node));
  ASSERT_FALSE(refused_node);
  EXPECT_EQ(refused_node.error(), make_error_code(error::invalid_argument));

  script incr_by("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  for (int i = 0; i < 6; ++i) {
    auto k = "s" + std::to_string(i);
    auto v = redis.eval(incr_by, {k}, {"5"});
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->integer, 5) << to_display(*v);
    EXPECT_EQ(owner_value(c, k), "5");
  }

  // DBSIZE per master through request::options::node adds up to the keys.
  std::int64_t total = 0;
  for (const auto& m : redis.async().masters()) {
    request r({.node = m});
    r.push("DBSIZE");
    auto n = redis.exec(std::move(r));
    ASSERT_TRUE(n) << n.error().message();
    total += n->at(0).integer;
  }
  std::int64_t oracle = 0;
  for (auto port : c.master_ports()) {
    oracle += std::stoll(c.command(c.index_of(port), {"DBSIZE"}).text);
  }
  EXPECT_EQ(total, oracle);
}

TEST_F(ClusterClient, FollowsMovedAfterAReshardingBehindItsBack) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  const auto masters = c.master_ports();
  const auto k = key_on(c, masters[0], "moving:");
  ASSERT_TRUE(redis.command("SET", k, "here"));
  const auto retries_before = redis.async().stats().retries;
  c.migrate_slot(c.key_slot(k), masters[1]);  // the client's map is now stale
  ASSERT_EQ(c.key_owner(k), masters[1]);
  auto r = redis.command("GET", k);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->str, "here");
  EXPECT_GT(redis.async().stats().retries, retries_before) << "a MOVED was followed";
  auto w = redis.command("SET", k, "there");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->str, "OK");
  EXPECT_EQ(owner_value(c, k), "there");
}

TEST_F(ClusterClient, FollowsAskDuringASlotMigration) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  const auto masters = c.master_ports();
  const auto k = key_on(c, masters[2], "asking:");
  const auto slot = c.key_slot(k);
  ASSERT_TRUE(redis.command("SET", k, "migrated"));
  c.begin_slot_migration(slot, masters[0]);
  // Move the key itself; the slot still belongs to its old owner, which
  // answers ASK for a key it no longer has.
  auto moved = c.command(c.index_of(masters[2]),
                         {"MIGRATE", c.host(), std::to_string(masters[0]), k, "0", "5000"});
  ASSERT_FALSE(moved.is_error) << moved.text;
  auto r = redis.command("GET", k);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->str, "migrated");
  c.finish_slot_migration(slot, masters[0]);
  r = redis.command("GET", k);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str, "migrated");
}

TEST_F(ClusterClient, TheCacheInvalidatesAPatternOnEveryMaster) {
  auto& c = *cluster_;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_cluster(c);
    auto cache = cache::create(ex, o);
    for (int i = 0; i < 40; ++i) {
      auto [e, ok] = co_await cache->async_set("inv", "a" + std::to_string(i), "x", {}, nothrow);
      EXPECT_TRUE(ok) << e.message();
    }
    co_await cache->async_set("inv", "keep", "x", {}, nothrow);
    auto [ec, n] = co_await cache->async_invalidate("inv", "a*", nothrow);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 40);
    for (int i = 0; i < 40; i += 3) {
      const auto k = "inv:a" + std::to_string(i);
      EXPECT_TRUE(c.command(c.index_of(c.key_owner(k)), {"GET", k}).is_nil) << k;
    }
    EXPECT_EQ(owner_value(c, "inv:keep"), "x");
  });
}

TEST_F(ClusterClient, AKeyReadThroughAskLeavesTheNearCacheWhenItsNodeConnectionDrops) {
  auto& c = *cluster_;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_cluster(c);
    auto cache = cache::create(ex, o);
    EXPECT_TRUE(
        co_await eventually([&] { return cache->redis().state() == connection_state::connected; }));
    const auto masters = c.master_ports();
    const auto k = key_on(c, masters[0], "n:asked-").substr(2);
    auto [e1, ok] = co_await cache->async_set("n", k, "v", {}, nothrow);
    EXPECT_TRUE(ok) << e1.message();
    const auto slot = c.key_slot("n:" + k);
    c.begin_slot_migration(slot, masters[1]);
    auto moved = c.command(c.index_of(masters[0]), {"MIGRATE", c.host(), std::to_string(masters[1]),
                                                    "n:" + k, "0", "5000"});
    EXPECT_FALSE(moved.is_error) << moved.text;
    auto [e2, v] = co_await cache->async_get("n", k, nothrow);  // ASK -> read on masters[1]
    EXPECT_EQ(v, std::optional<std::string>("v")) << e2.message();
    EXPECT_EQ(cache->try_get_near("n", k), std::optional<std::string>("v")) << "in the near cache";
    // The connection that tracks it drops (the map still gives the slot to
    // masters[0]): the entry must go, its invalidations would be lost.
    c.command(c.index_of(masters[1]), {"CLIENT", "KILL", "TYPE", "normal"});
    EXPECT_TRUE(co_await eventually([&] { return !cache->try_get_near("n", k).has_value(); }))
        << "still in the near cache after the connection that tracked it dropped";
    c.finish_slot_migration(slot, masters[1]);
  });
}

TEST_F(ClusterClient, RetriesTryAgainUntilTheMigrationEnds) {
  auto& c = *cluster_;
  blocking_client redis(via_cluster(c));
  const auto masters = c.master_ports();
  // Two keys of one slot; mid-migration, one of them already moved: a
  // multi-key command on them gets TRYAGAIN until the slot has moved.
  const auto a = "{" + key_on(c, masters[1], "tag") + "}.a";
  const auto b = a.substr(0, a.find('}') + 1) + ".b";
  ASSERT_TRUE(redis.command("MSET", a, "1", b, "2"));
  const auto slot = c.key_slot(a);
  c.begin_slot_migration(slot, masters[2]);
  auto moved = c.command(c.index_of(masters[1]),
                         {"MIGRATE", c.host(), std::to_string(masters[2]), a, "0", "5000"});
  ASSERT_FALSE(moved.is_error) << moved.text;

  const auto retries_before = redis.async().stats().retries;
  auto reader = std::async(std::launch::async, [&] {
    request r({.timeout = 20s});
    r.push("MGET", a, b);
    return redis.exec(std::move(r));
  });
  // Finish the migration only once the client has seen a TRYAGAIN.
  const auto limit = std::chrono::steady_clock::now() + 20s;
  while (redis.async().stats().retries == retries_before &&
         std::chrono::steady_clock::now() < limit) {
    std::this_thread::yield();
  }
  EXPECT_GT(redis.async().stats().retries, retries_before) << "no TRYAGAIN seen";
  c.finish_slot_migration(slot, masters[2]);
  auto got = reader.get();
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->at(0).elements.size(), 2u) << to_display(got->at(0));
  EXPECT_EQ(got->at(0).elements[0].str, "1");
  EXPECT_EQ(got->at(0).elements[1].str, "2");
}

// ---- tests that change the cluster for good: a cluster each ----------------

// Traffic from another thread until stopped: single-key writes and reads of
// keys spread over every slot; counts every error a caller saw.
struct load {
  explicit load(client_config cfg) : redis(std::move(cfg)) {
    worker = std::thread([this] {
      for (int i = 0; !stop.load(); i = (i + 1) % 500) {
        const auto k = "load:" + std::to_string(i);
        auto w = redis.command("SET", k, i);
        auto r = redis.command("GET", k);
        ++ops;
        if (!w || w->is_error() || !r || r->str != std::to_string(i)) {
          ++errors;
          std::lock_guard lock(mu);
          last = !w              ? w.error().message()
                 : w->is_error() ? w->str
                 : !r            ? r.error().message()
                                 : r->str;
        }
      }
    });
  }
  ~load() { finish(); }
  void finish() {
    stop = true;
    if (worker.joinable()) worker.join();
  }
  blocking_client redis;
  std::atomic<bool> stop{false};
  std::atomic<int> ops{0};
  std::atomic<int> errors{0};
  std::mutex mu;
  std::string last;
  std::thread worker;
};

TEST(ClusterFaults, ALiveReshardingUnderLoadReachesNoCaller) {
  redis_cluster c;
  load traffic(via_cluster(c));
  const auto masters = c.master_ports();
  const auto moved = c.reshard(masters[0], masters[1], 200);
  EXPECT_EQ(moved.size(), 200u);
  const int during = traffic.ops.load();
  // And some more traffic after it, on the settled map.
  const int target = during + 500;
  const auto limit = std::chrono::steady_clock::now() + 60s;
  while (traffic.ops.load() < target && std::chrono::steady_clock::now() < limit) {
    std::this_thread::yield();
  }
  EXPECT_GE(traffic.ops.load(), target) << "the traffic stalled after the resharding";
  traffic.finish();
  EXPECT_GT(during, 0);
  EXPECT_EQ(traffic.errors.load(), 0) << "last error: " << traffic.last;
}

TEST(ClusterFaults, AKilledMasterIsReplacedAndTrafficResumes) {
  redis_cluster c;
  blocking_client redis(via_cluster(c, /*all_seeds=*/true));
  const auto masters = c.master_ports();
  const auto doomed = masters[0];
  const auto k = key_on(c, doomed, "doomed:");
  const auto other = key_on(c, masters[1], "safe:");
  ASSERT_TRUE(redis.command("SET", k, "v1"));
  c.wait_for_replication(doomed);

  c.kill(c.index_of(doomed));
  // While it is down: the dead node's keys fail (clearly, within the
  // deadline), the other nodes' keys keep working, a multi-key command that
  // spans the dead node fails as a whole.
  // (Its deadline is well inside cluster-node-timeout: no failover yet.)
  request span({.timeout = 300ms});
  span.push("MGET", k, other);
  auto spanning = redis.exec(std::move(span));
  EXPECT_TRUE(!spanning || spanning->at(0).is_error()) << to_display(spanning->at(0));
  auto safe = redis.command("SET", other, "ok");
  ASSERT_TRUE(safe) << safe.error().message();
  EXPECT_EQ(safe->str, "OK");

  const auto promoted = c.wait_for_failover(doomed);
  bool resumed = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!resumed && std::chrono::steady_clock::now() < deadline) {
    auto w = redis.command("SET", k, "v2");
    resumed = w && w->str == "OK";
  }
  ASSERT_TRUE(resumed);
  EXPECT_EQ(c.command(c.index_of(promoted), {"GET", k}).text, "v2");
  auto both = redis.command("MGET", k, other);
  ASSERT_TRUE(both) << both.error().message();
  ASSERT_EQ(both->elements.size(), 2u) << to_display(*both);
  EXPECT_EQ(both->elements[0].str, "v2");
  EXPECT_EQ(both->elements[1].str, "ok");
}

TEST(ClusterFaults, TheNearCacheStaysCoherentAcrossNodesAndAFailover) {
  redis_cluster c;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_cluster(c, /*all_seeds=*/true);
    auto cache = cache::create(ex, o);
    // The near cache serves once every master's connection is up.
    EXPECT_TRUE(
        co_await eventually([&] { return cache->redis().state() == connection_state::connected; }));
    const auto masters = c.master_ports();
    // One key on each master, each read into the near cache.
    std::vector<std::string> keys;
    for (auto port : masters) keys.push_back(key_on(c, port, "n:l1-").substr(2));
    for (const auto& k : keys) {
      auto [e, ok] = co_await cache->async_set("n", k, "before", {}, nothrow);
      EXPECT_TRUE(ok) << e.message();
      co_await cache->async_get("n", k, nothrow);
      EXPECT_EQ(cache->try_get_near("n", k), std::optional<std::string>("before")) << k;
    }
    // Written behind the cache's back on each owner: each node's tracking
    // invalidates its own key.
    for (const auto& k : keys)
      c.command(c.index_of(c.key_owner("n:" + k)), {"SET", "n:" + k, "direct"});
    for (const auto& k : keys) {
      EXPECT_TRUE(co_await eventually([&] { return !cache->try_get_near("n", k).has_value(); }))
          << k << " still in the near cache after a write on its node";
      auto [e, v] = co_await cache->async_get("n", k, nothrow);
      EXPECT_EQ(v, std::optional<std::string>("direct")) << e.message();
    }

    // Kill the first key's master; write on the promoted replica directly.
    // Only what came from the dead node leaves the near cache: the others' keys stay.
    for (const auto& k : keys) co_await cache->async_get("n", k, nothrow);
    const auto doomed = masters[0];
    c.wait_for_replication(doomed);
    const auto promoted = co_await test::off_the_loop([&] {
      c.kill(c.index_of(doomed));
      return c.wait_for_failover(doomed);
    });
    c.command(c.index_of(promoted), {"SET", "n:" + keys[0], "after"});
    EXPECT_TRUE(co_await test::read_until_fresh(*cache, "n", keys[0], "after", "direct"));
    for (std::size_t i = 1; i < keys.size(); ++i) {
      EXPECT_EQ(cache->try_get_near("n", keys[i]), std::optional<std::string>("direct"))
          << keys[i] << " (on a node that stayed up) left the near cache";
    }
  });
}

// A graceful CLUSTER FAILOVER: the old master stays up and reachable as a
// replica, so no connection drops — only the slot map tells the client that
// the slots moved. The old master is then frozen (as a lagging replica
// would be) and the key written on the new master: no invalidation can come
// from the node the key was read from, and nothing but the map change may
// take the entry out of the near cache (issue 11, item 11).
TEST(ClusterFaults, AGracefulFailoverDropsTheMovedSlotsFromTheNearCache) {
  redis_cluster c;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_cluster(c, /*all_seeds=*/true);
    o.redis.health_check_interval = 0ms;  // a frozen node is not noticed by its connection
    o.redis.cluster_refresh_interval = 200ms;
    auto cache = cache::create(ex, o);
    EXPECT_TRUE(
        co_await eventually([&] { return cache->redis().state() == connection_state::connected; }));
    const auto masters = c.master_ports();
    const auto old_master = masters[0];
    const auto k = key_on(c, old_master, "n:graceful-").substr(2);
    auto [e, ok] = co_await cache->async_set("n", k, "before", {}, nothrow);
    EXPECT_TRUE(ok) << e.message();
    co_await cache->async_get("n", k, nothrow);
    EXPECT_EQ(cache->try_get_near("n", k), std::optional<std::string>("before"));

    std::uint16_t replica = 0;
    for (const auto& n : c.nodes()) {
      if (n.role == test::cluster_role::replica && n.master_port == old_master) replica = n.port;
    }
    EXPECT_NE(replica, 0);
    if (replica == 0) co_return;
    c.wait_for_replication(old_master);
    auto failover = c.command(c.index_of(replica), {"CLUSTER", "FAILOVER"});
    EXPECT_FALSE(failover.is_error) << failover.text;
    EXPECT_TRUE(co_await test::off_the_loop([&] {
      for (auto end = std::chrono::steady_clock::now() + 30s;
           std::chrono::steady_clock::now() < end;) {
        if (c.key_owner("n:" + k) == replica) return true;
        std::this_thread::sleep_for(20ms);  // polling the fixture, off the loop
      }
      return false;
    }));
    c.pause(c.index_of(old_master));
    c.command(c.index_of(replica), {"SET", "n:" + k, "after"});
    EXPECT_TRUE(co_await eventually([&] {
      return cache->try_get_near("n", k) != std::optional<std::string>("before");
    })) << "the moved slot stayed in the near cache";
    auto [e2, v] = co_await cache->async_get("n", k, nothrow);
    EXPECT_EQ(v, std::optional<std::string>("after")) << e2.message();
    c.resume(c.index_of(old_master));
  });
}

// A partition, not a crash: a master is cut off from clients and from the
// other nodes (its own bus links included). They fail it over; the cache
// leaves it (health check), reads nothing stale, and after the heal the old
// master rejoins as a replica.
TEST(ClusterFaults, ACutOffMasterIsReplacedAndNothingStaleIsRead) {
  if (auto why = test::enter_private_network(); !why.empty()) FAIL() << why;
  redis_cluster c;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_cluster(c, /*all_seeds=*/true);
    o.redis.health_check_interval = 500ms;
    auto cache = cache::create(ex, o);
    EXPECT_TRUE(
        co_await eventually([&] { return cache->redis().state() == connection_state::connected; }));
    const auto doomed = c.master_ports().front();
    const auto k = key_on(c, doomed, "n:cut-").substr(2);
    auto [e1, ok] = co_await cache->async_set("n", k, "before", {}, nothrow);
    EXPECT_TRUE(ok) << e1.message();
    co_await cache->async_get("n", k, nothrow);
    EXPECT_EQ(cache->try_get_near("n", k), std::optional<std::string>("before"))
        << "in the near cache";
    c.wait_for_replication(doomed);

    const auto i = c.index_of(doomed);
    test::network_partition cut;
    cut.isolate({c.port(i), c.bus_port(i)}, {c.source_address(i)});
    const auto promoted = co_await test::off_the_loop([&] { return c.wait_for_failover(doomed); });
    c.command(c.index_of(promoted), {"SET", "n:" + k, "after"});
    EXPECT_TRUE(co_await test::read_until_fresh(*cache, "n", k, "after", "before"));

    // Until the old master rejoins as a replica (waited for off the loop, so
    // the client keeps running), and after, the node the client reads the
    // key from never has "before".
    cut.heal();
    auto rejoined = std::async(std::launch::async, [&] { c.wait_until_ok(); });
    co_await test::never_stale_in_redis_until(*cache, "n:" + k, "before", std::move(rejoined));
    EXPECT_EQ(c.nodes()[i].role, test::cluster_role::replica)
        << "the old master rejoined as a replica";
    EXPECT_TRUE(co_await test::read_until_fresh(*cache, "n", k, "after", "before"));
  });
}

}  // namespace
}  // namespace rcache
