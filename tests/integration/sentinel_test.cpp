// The client and the cache on Redis Sentinel (issue 5, item 2), against a
// real topology (tests/support/sentinel_topology): resolution through any
// reachable sentinel, sentinel credentials, distinct errors for "no
// sentinel reachable" and "unknown master name", and a killed master — the
// cache's writes resume on the new master and no stale value is read
// through the near cache afterwards.
#include <rcache/blocking_client.hpp>
#include <rcache/cache.hpp>

#include <csignal>
#include <future>
#include <gtest/gtest.h>

#include "async_test.hpp"
#include "embedded/free_port.hpp"
#include "network_partition.hpp"
#include "sentinel_topology.hpp"
#include "stale_probe.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::eventually;
using test::nothrow;
using test::sentinel_topology;

client_config via_sentinels(const sentinel_topology& t) {
  client_config cfg;
  for (const auto& a : t.sentinel_addresses()) {
    cfg.sentinels.push_back(endpoint{.host = a.host, .port = a.port});
  }
  cfg.sentinel_master = t.master_name();
  cfg.connect_timeout = 1000ms;
  cfg.command_timeout = 1000ms;
  cfg.reconnect_backoff_initial = 20ms;
  cfg.reconnect_backoff_max = 200ms;
  return cfg;
}

// A port nothing listens on.
endpoint nowhere() {
  return endpoint{.host = "127.0.0.1", .port = embedded::free_port().value()};
}

TEST(Sentinel, ResolvesTheMasterThroughAnyReachableSentinel) {
  sentinel_topology t({.sentinel_password = "s3nt1nel"});
  auto cfg = via_sentinels(t);
  cfg.sentinel_password = "s3nt1nel";
  cfg.sentinels.insert(cfg.sentinels.begin(), nowhere());  // the first one is down
  blocking_client c(cfg);
  auto set = c.command("SET", "k", "v");
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(t.server_command(0, {"GET", "k"}).text, "v") << "written on the master, server 0";
  // Typed commands take the same path.
  EXPECT_EQ(c.command(cmd::incrby("n", 2)).value(), 2);
  EXPECT_EQ(c.command(cmd::get("k")).value(), std::optional<std::string>("v"));
}

TEST(Sentinel, NoSentinelReachableAndUnknownMasterAreDistinctErrors) {
  sentinel_topology t;
  {
    client_config cfg = via_sentinels(t);
    cfg.sentinels = {nowhere(), nowhere()};
    blocking_client c(cfg);
    EXPECT_FALSE(c.command("PING"));
    EXPECT_EQ(c.async().last_error().first, make_error_code(error::sentinel_unreachable));
  }
  {
    client_config cfg = via_sentinels(t);
    cfg.sentinel_master = "no-such-master";
    blocking_client c(cfg);
    EXPECT_FALSE(c.command("PING"));
    EXPECT_EQ(c.async().last_error().first, make_error_code(error::sentinel_unknown_master));
  }
  {
    sentinel_topology locked({.sentinel_password = "pw"});
    blocking_client c(via_sentinels(locked));  // sentinels with a password, none given
    EXPECT_FALSE(c.command("PING"));
    EXPECT_EQ(c.async().last_error().first, make_error_code(error::sentinel_unreachable))
        << "a sentinel that refuses us is no help";
  }
}

// Freezes the master (alive for TCP, answering nothing), waits for the
// failover, and expects `c` (health checks off) to write to the new master
// within 30 s: only the +switch-master hint can move it. Each attempt waits
// at most its deadline.
void expect_writes_follow_a_frozen_master(sentinel_topology& t, blocking_client& c) {
  const auto old_master = t.master_port();
  t.pause_server(t.server_index(old_master));
  const auto new_master = t.wait_for_failover(old_master);
  bool moved = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!moved && std::chrono::steady_clock::now() < deadline) {
    auto r = c.command("SET", "k2", "x");
    moved = r && !r->is_error();
  }
  EXPECT_TRUE(moved);
  EXPECT_EQ(t.server_command(t.server_index(new_master), {"GET", "k2"}).text, "x");
  t.resume_server(t.server_index(old_master));
}

TEST(Sentinel, SwitchMasterMovesAClientOffAFrozenMaster) {
  sentinel_topology t;
  auto cfg = via_sentinels(t);
  cfg.health_check_interval = 0ms;  // no PING will find the frozen master out
  blocking_client c(cfg);
  ASSERT_TRUE(c.command("SET", "k", "v"));
  expect_writes_follow_a_frozen_master(t, c);
}

TEST(Sentinel, TheSwitchMasterWatchLeavesAFrozenSentinel) {
  sentinel_topology t;
  auto cfg = via_sentinels(t);
  cfg.health_check_interval = 0ms;  // only the hint can move the client
  blocking_client c(cfg);
  ASSERT_TRUE(c.command("SET", "k", "v"));
  // The watch subscribes to the first sentinel: freeze it. Its keepalive
  // PINGs go unanswered and the watch moves on to the next sentinel.
  const auto frozen = t.sentinel(0).pid();
  ASSERT_EQ(::kill(frozen, SIGSTOP), 0);
  expect_writes_follow_a_frozen_master(t, c);
  ::kill(frozen, SIGCONT);
}

TEST(Sentinel, ReadsFromAReplicaWhenAskedAndFromTheMasterWhenNoneIsUp) {
  sentinel_topology t;
  blocking_client writer(via_sentinels(t));
  ASSERT_TRUE(writer.command("SET", "k", "v"));
  t.wait_for_replication(0, 2);
  auto cfg = via_sentinels(t);
  cfg.sentinel_prefer_replica = true;
  blocking_client reader(cfg);
  auto role = reader.command("ROLE");
  ASSERT_TRUE(role) << role.error().message();
  EXPECT_EQ(role->elements.at(0).str, "slave");
  EXPECT_EQ(role->elements.at(2).integer, t.master_port()) << "a replica of our master";
  auto v = reader.command("GET", "k");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->str, "v");
  auto w = reader.command("SET", "k", "x");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->error_code(), "READONLY");

  // Both replicas die: once the sentinels see them down, the reads go to
  // the master.
  for (std::size_t i = 1; i < sentinel_topology::server_count; ++i) t.kill_server(i);
  bool on_master = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!on_master && std::chrono::steady_clock::now() < deadline) {
    auto r = reader.command("ROLE");
    on_master = r && !r->elements.empty() && r->elements[0].str == "master";
  }
  EXPECT_TRUE(on_master);
  auto after = reader.command("GET", "k");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->str, "v");
}

// Writes n:k = "before" through the cache, reads it into the near cache, and waits
// until both replicas have it.
asio::awaitable<void> cache_before(cache& c, sentinel_topology& t) {
  auto [e1, ok] = co_await c.async_set("n", "k", "before", {}, nothrow);
  EXPECT_TRUE(ok) << e1.message();
  co_await c.async_get("n", "k", nothrow);
  EXPECT_EQ(c.try_get_near("n", "k"), std::optional<std::string>("before")) << "in the near cache";
  t.wait_for_replication(0, 2);
}

TEST(Sentinel, TheCacheFollowsAFailoverAndServesNothingStale) {
  sentinel_topology t;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_sentinels(t);
    auto c = cache::create(ex, o);
    co_await cache_before(*c, t);
    const auto old_master = t.master_port();
    const auto new_master = co_await test::off_the_loop([&] {
      t.kill_server(t.server_index(old_master));
      return t.wait_for_failover(old_master);
    });
    // Written behind the cache's back, straight into the new master.
    t.server_command(t.server_index(new_master), {"SET", "n:k", "after"});

    // Callers get answers (an error while the master is gone, never a hang),
    // then the new master's value: never the old near-cache copy.
    EXPECT_TRUE(co_await test::read_until_fresh(*c, "n", "k", "after", "before"));
    auto [e2, written] = co_await c->async_set("n", "k2", "on the new master", {}, nothrow);
    EXPECT_TRUE(written) << e2.message();
    EXPECT_EQ(t.server_command(t.server_index(new_master), {"GET", "n:k2"}).text,
              "on the new master");
  });
}

// A partition, not a crash: the master is cut off from everyone (its
// connections hang rather than reset). The sentinels fail over; the cache
// leaves the old master (its health check finds the connection dead), reads
// nothing stale, and after the heal the old master comes back as a replica.
TEST(Sentinel, ACutOffMasterIsReplacedAndNothingStaleIsRead) {
  if (auto why = test::enter_private_network(); !why.empty()) FAIL() << why;
  sentinel_topology t;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_sentinels(t);
    o.redis.health_check_interval = 500ms;
    auto c = cache::create(ex, o);
    co_await cache_before(*c, t);
    const auto old_master = t.master_port();
    test::network_partition cut;
    cut.isolate({old_master});
    const auto new_master =
        co_await test::off_the_loop([&] { return t.wait_for_failover(old_master); });
    t.server_command(t.server_index(new_master), {"SET", "n:k", "after"});

    EXPECT_TRUE(co_await test::read_until_fresh(*c, "n", "k", "after", "before"));

    // After the heal the old master still holds "before", and calls itself
    // master, until the sentinels make it a replica (seconds later; waited
    // for off the loop, so the client keeps running). The server the client
    // reads from never has "before", then or after.
    cut.heal();
    // (No lambda inside the co_await expression: GCC 12 mishandles those.)
    auto demoted = std::async(
        std::launch::async, [&] { t.wait_until_replica(t.server_index(old_master), new_master); });
    co_await test::never_stale_in_redis_until(*c, "n:k", "before", std::move(demoted));
    EXPECT_TRUE(co_await test::read_until_fresh(*c, "n", "k", "after", "before"));
  });
}

}  // namespace
}  // namespace rcache
