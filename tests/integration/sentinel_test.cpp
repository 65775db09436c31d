// The client and the cache on Redis Sentinel (issue 5, item 2), against a
// real topology (tests/support/sentinel_topology): resolution through any
// reachable sentinel, sentinel credentials, distinct errors for "no
// sentinel reachable" and "unknown master name", and a killed master — the
// cache's writes resume on the new master and no stale value is read
// through the near cache afterwards.
#include <rcache/blocking_client.hpp>
#include <rcache/cache.hpp>

#include <future>
#include <gtest/gtest.h>

#include "async_test.hpp"
#include "embedded/free_port.hpp"
#include "sentinel_topology.hpp"

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

TEST(Sentinel, SwitchMasterMovesAClientOffAFrozenMaster) {
  sentinel_topology t;
  auto cfg = via_sentinels(t);
  cfg.health_check_interval = 0ms;  // no PING will find the frozen master out
  blocking_client c(cfg);
  ASSERT_TRUE(c.command("SET", "k", "v"));
  const auto old_master = t.master_port();
  t.pause_server(t.server_index(old_master));  // alive for TCP, answers nothing
  const auto new_master = t.wait_for_failover(old_master);
  // Each attempt waits at most its deadline; the +switch-master hint makes
  // the client reconnect, to the new master.
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

TEST(Sentinel, TheCacheFollowsAFailoverAndServesNothingStale) {
  sentinel_topology t;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    cache_options o;
    o.redis = via_sentinels(t);
    auto c = cache::create(ex, o);
    auto [e1, ok] = co_await c->async_set("n", "k", "before", {}, nothrow);
    EXPECT_TRUE(ok) << e1.message();
    co_await c->async_get("n", "k", nothrow);
    EXPECT_EQ(c->try_get_local("n", "k"), std::optional<std::string>("before")) << "in L1";
    t.wait_for_replication(0, 2);

    // The failover runs on another thread while the event loop goes on, as
    // it would in an application.
    const auto old_master = t.master_port();
    auto failover = std::async(std::launch::async, [&] {
      t.kill_server(t.server_index(old_master));
      return t.wait_for_failover(old_master);
    });
    EXPECT_TRUE(co_await eventually(
        [&] { return failover.wait_for(0s) == std::future_status::ready; }, 60s));
    const auto new_master = failover.get();
    // Written behind the cache's back, straight into the new master.
    t.server_command(t.server_index(new_master), {"SET", "n:k", "after"});

    // Callers get answers (an error while the master is gone, never a hang),
    // then the new master's value: never the old L1 copy.
    asio::steady_timer pause(ex);
    bool fresh = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!fresh && std::chrono::steady_clock::now() < deadline) {
      auto [ec, v] = co_await c->async_get("n", "k", nothrow);
      EXPECT_NE(v, std::optional<std::string>("before")) << "a stale value after the failover";
      fresh = !ec && v == std::optional<std::string>("after");
      if (!fresh) {  // an error while the client reconnects: ask again shortly
        pause.expires_after(20ms);
        co_await pause.async_wait(nothrow);
      }
    }
    EXPECT_TRUE(fresh);
    auto [e2, written] = co_await c->async_set("n", "k2", "on the new master", {}, nothrow);
    EXPECT_TRUE(written) << e2.message();
    EXPECT_EQ(t.server_command(t.server_index(new_master), {"GET", "n:k2"}).text,
              "on the new master");
  });
}

}  // namespace
}  // namespace rcache
