// Integration tests of tags (docs/tags.md) against real redis-server
// processes: invalidation by tag, version keys' TTLs, the near cache
// checking versions without a round trip and learning of an INCR made by
// another instance, a refill racing an invalidation, bad input, a Redis
// Cluster, and a randomized run of concurrent set / invalidate / get /
// get_or_load / touch / del on two cache instances that counts stale reads.
#include <rcache/blocking_cache.hpp>
#include <rcache/cache.hpp>

#include <array>
#include <atomic>
#include <future>
#include <gtest/gtest.h>
#include <random>
#include <shared_mutex>
#include <thread>

#include "async_test.hpp"
#include "cache_fixture.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using test::eventually;
using test::nothrow;
using test::redis_server;
using opt_string = std::optional<std::string>;
using tag_list = std::vector<std::string>;

using test::metric;
using test::options_for;

// How many of the keys exist, asked of the server directly.
long long exists(const redis_server& server, std::string_view a, std::string_view b = {}) {
  auto r = b.empty() ? server.command({"EXISTS", a}) : server.command({"EXISTS", a, b});
  return std::stoll(r.text);
}

// Tag lists built outside coroutine bodies (GCC 12 and braced lists).
set_options tagged(tag_list tags, std::optional<std::chrono::milliseconds> ttl = std::nullopt) {
  set_options o;
  o.tags = std::move(tags);
  o.ttl = ttl;
  return o;
}
std::vector<std::string> abcd() {
  return {"a", "b", "c", "d"};
}
std::vector<opt_string> only_c_and_d() {
  return {std::nullopt, std::nullopt, "C", "D"};
}
tag_list tags_of(const char* a) {
  return {a};
}
tag_list tags_of(const char* a, const char* b) {
  return {a, b};
}

TEST(Tags, InvalidatingATagMakesEveryEntryCarryingItAMiss) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE((co_await c->async_set("p", "a", "A", tagged(tags_of("t1")), nothrow)) ==
                std::tuple(error_code{}, true));
    co_await c->async_set("p", "b", "B", tagged(tags_of("t1", "t2")), nothrow);
    co_await c->async_set("p", "c", "C", tagged(tags_of("t2")), nothrow);
    co_await c->async_set("p", "d", "D", nothrow);
    // Tagged values read back whole, from Redis and then the near cache.
    for (int round = 0; round < 2; ++round) {
      auto [e, v] = co_await c->async_get("p", "b", nothrow);
      EXPECT_EQ(v, opt_string("B")) << e.message();
    }
    auto [ie, n] = co_await c->async_invalidate_tags("p", tags_of("t1", "never-used"), nothrow);
    EXPECT_FALSE(ie) << ie.message();
    EXPECT_EQ(n, 1);  // t1 had entries; never-used has no version key
    EXPECT_EQ((co_await c->async_get("p", "a", nothrow)), std::tuple(error_code{}, opt_string()));
    EXPECT_EQ((co_await c->async_get("p", "b", nothrow)), std::tuple(error_code{}, opt_string()));
    EXPECT_EQ((co_await c->async_get("p", "c", nothrow)),
              std::tuple(error_code{}, opt_string("C")));
    EXPECT_EQ((co_await c->async_get("p", "d", nothrow)),
              std::tuple(error_code{}, opt_string("D")));
    // get_many checks tags too.
    auto [me, many] = co_await c->async_get_many("p", abcd(), nothrow);
    EXPECT_FALSE(me);
    EXPECT_EQ(many, only_c_and_d());
    // The stale entries are deleted by the reads that found them.
    EXPECT_TRUE(co_await eventually([&] { return exists(server, "p:a", "p:b") == 0; }));
    EXPECT_EQ(metric(*c, "rcache_cache_tag_invalidations_total{namespace=\"p\"}"), 1);
    EXPECT_GE(metric(*c, "rcache_cache_tag_stale_total{namespace=\"p\"}"), 2);
    // Nothing was made for the tag that had no key.
    EXPECT_EQ(exists(server, "rcache:tag:p/never-used"), 0);
    // Written again, the entry counts again.
    co_await c->async_set("p", "a", "A2", tagged(tags_of("t1")), nothrow);
    EXPECT_EQ((co_await c->async_get("p", "a", nothrow)),
              std::tuple(error_code{}, opt_string("A2")));
  });
}

TEST(Tags, VersionKeysOutliveTheirEntriesAndNoLonger) {
  redis_server server;
  auto pttl = [&](const std::string& tag) {
    return std::stoll(server.command({"PTTL", "rcache:tag:q/" + tag}).text);
  };
  blocking_cache c(options_for(server));
  ASSERT_TRUE(c.set("q", "k1", "v", tagged(tags_of("short"), 10s)).value());
  EXPECT_GE(pttl("short"), 10'000);  // at least the entry's TTL
  EXPECT_LE(pttl("short"), 20'000);  // and at most twice it
  // A longer-lived entry extends it; a shorter one leaves it.
  ASSERT_TRUE(c.set("q", "k2", "v", tagged(tags_of("short"), 60s)).value());
  EXPECT_GE(pttl("short"), 60'000);
  ASSERT_TRUE(c.set("q", "k3", "v", tagged(tags_of("short"), 1s)).value());
  EXPECT_GE(pttl("short"), 60'000);
  // An entry without a TTL (ttl 0) makes its tags' keys persistent.
  ASSERT_TRUE(c.set("q", "k4", "v", tagged(tags_of("forever"), 0ms)).value());
  EXPECT_EQ(pttl("forever"), -1);
  // Invalidation keeps the TTL (INCR does).
  ASSERT_EQ(c.invalidate_tags("q", tags_of("short")).value(), 1);
  EXPECT_GE(pttl("short"), 50'000);
  // A deleted version key makes its entries dead (not reborn by the next write).
  server.command({"DEL", "rcache:tag:q/forever"});
  EXPECT_EQ(c.get("q", "k4").value(), opt_string());
}

TEST(Tags, TheNearCacheChecksVersionsWithoutARoundTripAndLearnsOfOtherInstances) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto a = cache::create(ex, options_for(server));
    auto b = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await eventually([&] {
      return a->redis().state() == connection_state::connected &&
             b->redis().state() == connection_state::connected;
    }));
    co_await a->async_set("n", "x", "one", tagged(tags_of("t")), nothrow);
    // The first read of b fetches the value and the tag's version...
    EXPECT_EQ((co_await b->async_get("n", "x", nothrow)),
              std::tuple(error_code{}, opt_string("one")));
    const auto version_reads = metric(*b, "rcache_op_duration_seconds_count{op=\"tag_versions\"}");
    EXPECT_GE(version_reads, 1);
    // ...later ones are near-cache hits that ask Redis nothing.
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ((co_await b->async_get("n", "x", nothrow)),
                std::tuple(error_code{}, opt_string("one")));
    }
    EXPECT_EQ(b->try_get_near("n", "x"), opt_string("one"));
    EXPECT_EQ(metric(*b, "rcache_op_duration_seconds_count{op=\"tag_versions\"}"), version_reads);
    EXPECT_GE(metric(*b, "rcache_cache_hits_total{namespace=\"n\",tier=\"near\"}"), 5);
    // a invalidates; once b's connection has passed the INCR (any command
    // answered after it), b's near cache has dropped the version.
    co_await a->async_invalidate_tags("n", tags_of("t"), nothrow);
    co_await b->async_exists("n", "barrier", nothrow);
    EXPECT_EQ(b->try_get_near("n", "x"), opt_string());
    EXPECT_EQ((co_await b->async_get("n", "x", nothrow)), std::tuple(error_code{}, opt_string()));
  });
}

TEST(Tags, ARefillRacingAnInvalidationNeverLetsTheOldValueBackIn) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    std::atomic<int> db_version{1};
    std::atomic<int> loads{0};
    // The first load reads the database, then stalls until the test has
    // changed the database and invalidated the tag.
    auto first_read = std::make_shared<std::promise<void>>();
    auto release = std::make_shared<std::promise<void>>();
    auto released = release->get_future().share();
    blocking_loader load = [&, first_read, released]() -> result<opt_string> {
      const int n = ++loads;
      const auto seen = "v" + std::to_string(db_version.load());
      if (n == 1) {
        first_read->set_value();
        released.wait();
      }
      return opt_string(seen);
    };
    std::optional<std::tuple<error_code, opt_string>> early;
    std::optional<std::tuple<error_code, opt_string>> late;
    c->async_get_or_load("r", "k", tags_of("row:1"), load,
                         [&](error_code ec, opt_string v) { early.emplace(ec, std::move(v)); });
    co_await test::off_the_loop([&] { first_read->get_future().wait(); });
    db_version = 2;                                                     // the row changes...
    co_await c->async_invalidate_tags("r", tags_of("row:1"), nothrow);  // ...and is invalidated
    // A read that begins now, after the invalidation, joins the load.
    c->async_get_or_load("r", "k", tags_of("row:1"), load,
                         [&](error_code ec, opt_string v) { late.emplace(ec, std::move(v)); });
    EXPECT_FALSE(early.has_value());  // the load is still out
    release->set_value();
    EXPECT_TRUE(co_await eventually([&] { return early.has_value() && late.has_value(); }));
    // The first caller's read overlapped the invalidation: the value loaded
    // before it is a fair answer for it. The read that began after it gets
    // a load that began after it: the stale load ran again.
    EXPECT_EQ(early, std::tuple(error_code{}, opt_string("v1")));
    EXPECT_EQ(late, std::tuple(error_code{}, opt_string("v2")));
    EXPECT_EQ(loads.load(), 2);
    // Only the new value was stored.
    EXPECT_EQ((co_await c->async_get("r", "k", nothrow)),
              std::tuple(error_code{}, opt_string("v2")));
  });
}

// Without a read waiting for it, a load whose tags moved is dropped, not
// stored and not run again.
TEST(Tags, ALoadOverlappingAnInvalidationIsNotStored) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    std::atomic<int> loads{0};
    auto first_read = std::make_shared<std::promise<void>>();
    auto release = std::make_shared<std::promise<void>>();
    auto released = release->get_future().share();
    blocking_loader load = [&, first_read, released]() -> result<opt_string> {
      if (++loads == 1) {
        first_read->set_value();
        released.wait();
      }
      return opt_string("old");
    };
    std::optional<std::tuple<error_code, opt_string>> got;
    c->async_get_or_load("r", "k", tags_of("row:2"), load,
                         [&](error_code ec, opt_string v) { got.emplace(ec, std::move(v)); });
    co_await test::off_the_loop([&] { first_read->get_future().wait(); });
    co_await c->async_invalidate_tags("r", tags_of("row:2"), nothrow);
    release->set_value();
    EXPECT_TRUE(co_await eventually([&] { return got.has_value(); }));
    EXPECT_EQ(got, std::tuple(error_code{}, opt_string("old")));
    EXPECT_EQ(loads.load(), 1);
    EXPECT_EQ((co_await c->async_get("r", "k", nothrow)), std::tuple(error_code{}, opt_string()));
  });
}

TEST(Tags, BadTagsAreRefusedBeforeAnythingIsSent) {
  redis_server server;
  blocking_cache c(options_for(server));
  const auto bad = make_error_code(error::invalid_argument);
  EXPECT_EQ(c.set("b", "k", "v", tagged(tags_of("has space"))).error(), bad);
  EXPECT_EQ(c.set("b", "k", "v", tagged(tags_of(""))).error(), bad);
  tag_list many;
  for (int i = 0; i < 33; ++i) many.push_back("t" + std::to_string(i));
  EXPECT_EQ(c.set("b", "k", "v", tagged(many)).error(), bad);
  auto keep = tagged(tags_of("ok"));
  keep.keep_ttl = true;
  EXPECT_EQ(c.set("b", "k", "v", keep).error(), bad);
  EXPECT_EQ(c.invalidate_tags("b", {}).error(), bad);
  EXPECT_EQ(c.invalidate_tags("b", tags_of("x\ty")).error(), bad);
  EXPECT_EQ(c.get_or_load("b", "k", tags_of("a b"), [] { return result<opt_string>("v"); }).error(),
            bad);
  EXPECT_EQ(c.get("b", "k").value(), opt_string());  // nothing was written
}

// ---- a cluster ------------------------------------------------------------------

TEST(Tags, WorkInACluster) {
  test::redis_cluster cl;
  blocking_cache c(options_for(cl));
  // Every master's connection up first: the cache fails fast while a node
  // is unreachable, and a cluster client starts with none.
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (c.async().redis().state() != connection_state::connected &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);  // polling a condition, bounded
  }
  ASSERT_EQ(c.async().redis().state(), connection_state::connected);
  // Twenty tags: their version keys spread over every master.
  tag_list tags;
  for (int i = 0; i < 20; ++i) tags.push_back("tag" + std::to_string(i));
  for (int k = 0; k < 40; ++k) {
    tag_list mine{tags[k % 20], tags[(k / 2) % 20]};
    ASSERT_TRUE(c.set("cl", "k" + std::to_string(k), "v" + std::to_string(k), tagged(mine)).value())
        << k;
  }
  for (int k = 0; k < 40; ++k) {
    EXPECT_EQ(c.get("cl", "k" + std::to_string(k)).value(), opt_string("v" + std::to_string(k)));
  }
  // Invalidate half the tags (on several nodes at once).
  tag_list even;
  for (int i = 0; i < 20; i += 2) even.push_back(tags[i]);
  EXPECT_EQ(c.invalidate_tags("cl", even).value(), 10);
  std::vector<std::string> keys;
  for (int k = 0; k < 40; ++k) keys.push_back("k" + std::to_string(k));
  auto many = c.get_many("cl", keys);
  ASSERT_TRUE(many.has_value());
  for (int k = 0; k < 40; ++k) {
    const bool dead = (k % 20) % 2 == 0 || ((k / 2) % 20) % 2 == 0;
    EXPECT_EQ((*many)[static_cast<std::size_t>(k)].has_value(), !dead) << k;
  }
  // get_or_load with tags on a cluster.
  auto v = c.get_or_load("cl", "loaded", tags_of("tag1", "tag3"),
                         [] { return result<opt_string>("fresh"); });
  EXPECT_EQ(v.value(), opt_string("fresh"));
  EXPECT_EQ(c.invalidate_tags("cl", tags_of("tag3")).value(), 1);
  EXPECT_EQ(c.get("cl", "loaded").value(), opt_string());
}

// ---- the randomized race ----------------------------------------------------------
//
// The "database" is one generation counter per tag; a value is
// "k<key>:<gen of its first tag>:<gen of its second>", read from the
// database when it is produced. An invalidation moves the database on,
// then invalidates the tag through one cache, then passes a command
// through the other cache's connection (after which that connection has
// seen the INCR's invalidation push), and only then counts as completed.
// A read is stale when it returns a value older, for one of its tags, than
// the generation whose invalidation had completed when the read began.
//
// A plain set writes what it read from the database: it holds its tags
// shared while it does, as a write-through does with its row, so that a
// set is never a write of a value an invalidation already replaced (which
// no cache can undo). get_or_load needs no such help: that is what the
// versions read before its load are for.

constexpr int race_keys = 64;
constexpr int race_tags = 12;

struct race_database {
  std::array<std::atomic<int>, race_tags> gen{};        // the database's present
  std::array<std::atomic<int>, race_tags> completed{};  // invalidations completed
  std::array<std::shared_mutex, race_tags> row_locks;
};

std::array<int, 2> tags_of_key(int k) {
  int a = k % race_tags;
  int b = (k / race_tags + 1 + a) % race_tags;
  if (b == a) b = (a + 1) % race_tags;
  return {std::min(a, b), std::max(a, b)};
}

tag_list tag_names(std::array<int, 2> t) {
  return {"t" + std::to_string(t[0]), "t" + std::to_string(t[1])};
}

std::string produce(race_database& db, int k) {
  const auto t = tags_of_key(k);
  return "k" + std::to_string(k) + ":" + std::to_string(db.gen[t[0]].load()) + ":" +
         std::to_string(db.gen[t[1]].load());
}

// Whether `v` (a value of key k) is older than `floor` (completed at the read's start).
bool stale(const std::string& v, std::array<int, 2> floor) {
  const auto c1 = v.find(':');
  const auto c2 = v.find(':', c1 + 1);
  const int g1 = std::stoi(v.substr(c1 + 1, c2 - c1 - 1));
  const int g2 = std::stoi(v.substr(c2 + 1));
  return g1 < floor[0] || g2 < floor[1];
}

TEST(Tags, ConcurrentWritesInvalidationsAndLoadsOnTwoInstancesReadNothingStale) {
  redis_server server;
  auto o = options_for(server);
  std::array<std::unique_ptr<blocking_cache>, 2> caches{std::make_unique<blocking_cache>(o),
                                                        std::make_unique<blocking_cache>(o)};
  race_database db;
  constexpr int threads = 4;
  constexpr int ops_per_thread = 25'000;  // 100,000 in all
  std::atomic<int> stale_reads{0}, reads{0}, hits{0}, invalidations{0}, errors{0};
  std::atomic<int> loads{0};
  auto worker = [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(1000 + id));
    for (int i = 0; i < ops_per_thread; ++i) {
      const int which = static_cast<int>(rng() % 2);
      auto& c = *caches[static_cast<std::size_t>(which)];
      const int k = static_cast<int>(rng() % race_keys);
      const auto t = tags_of_key(k);
      const auto key = "k" + std::to_string(k);
      const int dice = static_cast<int>(rng() % 100);
      if (dice < 40 || dice >= 95) {  // a read: get_or_load, or get
        const std::array<int, 2> floor{db.completed[t[0]].load(), db.completed[t[1]].load()};
        result<opt_string> r;
        if (dice < 40) {
          r = c.get_or_load("race", key, tag_names(t), [&db, k, &loads]() -> result<opt_string> {
            ++loads;
            return opt_string(produce(db, k));
          });
        } else {
          r = c.get("race", key);
        }
        ++reads;
        if (!r) {
          ++errors;
        } else if (*r) {
          ++hits;
          if (stale(**r, floor)) ++stale_reads;
        }
      } else if (dice < 60) {  // set, holding its rows
        std::shared_lock l0(db.row_locks[t[0]]), l1(db.row_locks[t[1]]);
        if (!c.set("race", key, produce(db, k), tagged(tag_names(t)))) ++errors;
      } else if (dice < 75) {  // the database changes: invalidate
        const int tag = static_cast<int>(rng() % race_tags);
        std::unique_lock l(db.row_locks[tag]);
        const int g = ++db.gen[tag];
        if (!c.invalidate_tags("race", tag_list{"t" + std::to_string(tag)})) ++errors;
        // The other instance's connection passes the INCR.
        if (!caches[static_cast<std::size_t>(1 - which)]->exists("race", "barrier")) ++errors;
        db.completed[tag] = g;
        ++invalidations;
      } else if (dice < 90) {
        if (!c.touch("race", key)) ++errors;
      } else {
        if (!c.del("race", key)) ++errors;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int id = 0; id < threads; ++id) pool.emplace_back(worker, id);
  for (auto& th : pool) th.join();
  EXPECT_EQ(stale_reads.load(), 0) << "of " << reads.load() << " reads, " << hits.load()
                                   << " hits, " << invalidations.load() << " invalidations";
  EXPECT_EQ(errors.load(), 0);
  // The run exercised what it claims to: hits, invalidations, reloads.
  EXPECT_GT(hits.load(), reads.load() / 4);
  EXPECT_GT(invalidations.load(), 10'000);
  EXPECT_GT(loads.load(), 1'000);
  std::printf("tag race: %d reads, %d hits, %d invalidations, %d loads, %d stale\n", reads.load(),
              hits.load(), invalidations.load(), loads.load(), stale_reads.load());
}

}  // namespace
}  // namespace rcache
