// Integration tests of rcache::cache against a real redis-server: the API,
// TTL rules, the value codec as other clients see it, near-cache coherence
// (own writes, other writers, FLUSHALL, connection loss, a read racing an
// invalidation), get_or_load (single flight, failing loaders, negative
// caching, stale-while-revalidate, the cross-process lock) and behaviour
// while Redis is unreachable.
#include <rcache/blocking_cache.hpp>
#include <rcache/blocking_client.hpp>
#include <rcache/cache.hpp>
#include <rcache/feed.hpp>
#include <rcache/subscriber.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <regex>
#include <set>

#include "async_test.hpp"
#include "cache_fixture.hpp"
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

// A vector of names, built outside coroutine bodies (GCC 12 and braced
// string lists in coroutines).
std::vector<std::string> names_of(const char* n) {
  return {std::string(n)};
}

using test::metric;
using test::options_for;

asio::awaitable<bool> connected(cache& c) {
  co_return co_await eventually([&] { return c.redis().state() == connection_state::connected; });
}

// ---- the change log ---------------------------------------------------------------

// One logged change as the stream holds it: op, key, and its other fields.
struct logged_change {
  std::string op, key;
  std::map<std::string, std::string> fields;
};

TEST(Cache, AChangeLogHoldsEveryConfirmedWriteInOrder) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto log = std::make_shared<change_log>(change_log_options{.shards = 1, .value_max_bytes = 8});
    auto o = options_for(server);
    o.observer = log;
    auto c = cache::create(ex, o);
    c->add_namespace("users", {.ttl = 120s});
    co_await c->async_set("users", "a", "short", {}, nothrow);
    co_await c->async_set("users", "b", "a longer value", {}, nothrow);
    set_options nx;
    nx.when = set_options::condition::if_absent;
    auto [e1, written] = co_await c->async_set("users", "a", "again", nx, nothrow);
    EXPECT_FALSE(written) << "a set that did not write is no change";
    co_await c->async_del("users", "missing", nothrow);
    co_await c->async_del("users", "b", nothrow);
    co_await c->async_expire("users", "a", 5000ms, nothrow);
    co_await c->async_touch("users", "a", nothrow);
    co_await c->async_set("users", "p:1", "x", {}, nothrow);
    co_await c->async_set("users", "p:2", "y", {}, nothrow);
    auto [e2, n] = co_await c->async_invalidate("users", "p:*", nothrow);
    EXPECT_EQ(n, 2);
    // Each append is sent when its write is confirmed; none is waited for.
    EXPECT_TRUE(co_await eventually([&] { return log->stats().appended == 9; }));
    EXPECT_EQ(log->stats().failed, 0u);

    request r;
    r.push("XRANGE", "rcache:feed:{0}", "-", "+");
    auto [ec, resp] = co_await c->redis().async_exec(std::move(r), nothrow);
    EXPECT_FALSE(ec) << ec.message();
    std::vector<logged_change> got;
    for (const auto& entry : resp.at(0).elements) {
      logged_change lc;
      const auto& kv = entry.elements.at(1).elements;
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2) lc.fields[kv[i].str] = kv[i + 1].str;
      lc.op = lc.fields["op"];
      lc.key = lc.fields["key"];
      EXPECT_EQ(lc.fields["ns"], "users");
      got.push_back(std::move(lc));
    }
    EXPECT_EQ(got.size(), 9u);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"set", "a"},   {"set", "b"},   {"del", "b"},       {"expire", "a"},   {"touch", "a"},
        {"set", "p:1"}, {"set", "p:2"}, {"invalidate", ""}, {"invalidate", ""}};
    std::set<std::string> invalidated;
    for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
      EXPECT_EQ(got[i].op, want[i].first) << i;
      if (want[i].first == "invalidate") {
        invalidated.insert(got[i].key);
      } else {
        EXPECT_EQ(got[i].key, want[i].second) << i;
      }
    }
    EXPECT_EQ(invalidated, (std::set<std::string>{"p:1", "p:2"}));
    if (got.size() >= 5) {
      EXPECT_EQ(got[0].fields["value"], "short") << "small values are logged";
      EXPECT_EQ(got[0].fields["ttl"], "120000");
      EXPECT_FALSE(got[1].fields.contains("value")) << "14 bytes > value_max_bytes";
      EXPECT_EQ(got[1].fields["size"], "14");
      EXPECT_EQ(got[3].fields["ttl"], "5000");
      EXPECT_EQ(got[4].fields["ttl"], "120000") << "a touch restores the namespace's TTL";
    }
  });
}

// ---- the API ----------------------------------------------------------------------

TEST(Cache, BasicOperationsNamespacesAndTtl) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("users", {.ttl = 120s, .ttl_rules = {{"session:*", 30s}}});
    auto [e1, ok] = co_await c->async_set("users", "42", "alice", {}, nothrow);
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_TRUE(ok);
    auto [e2, v] = co_await c->async_get("users", "42", nothrow);
    EXPECT_EQ(v, opt_string("alice"));
    EXPECT_EQ(server.command({"GET", "users:42"}).text, "alice") << "plain values stay readable";

    auto [e3, ttl] = co_await c->async_ttl("users", "42", nothrow);
    EXPECT_GT(ttl, 100'000);
    EXPECT_LE(ttl, 120'000);
    auto [e4, ok4] = co_await c->async_set("users", "session:9", "x", {}, nothrow);
    EXPECT_TRUE(ok4);
    EXPECT_LE(std::stoll(server.command({"PTTL", "users:session:9"}).text), 30'000)
        << "the first matching TTL rule wins";

    auto [e5, nx] = co_await c->async_set("users", "42", "bob",
                                          {.when = set_options::condition::if_absent}, nothrow);
    EXPECT_FALSE(nx) << "NX on an existing key does not write";
    auto [e6, xx] = co_await c->async_set("users", "43", "carol",
                                          {.when = set_options::condition::if_present}, nothrow);
    EXPECT_FALSE(xx) << "XX on a missing key does not write";
    auto [e7, exists] = co_await c->async_exists("users", "42", nothrow);
    EXPECT_TRUE(exists);
    auto [e8, expired] = co_await c->async_expire("users", "42", 5000ms, nothrow);
    EXPECT_TRUE(expired);
    auto [e9, touched] = co_await c->async_touch("users", "42", nothrow);
    EXPECT_TRUE(touched);
    EXPECT_GT(std::stoll(server.command({"PTTL", "users:42"}).text), 100'000)
        << "touch restores the namespace's TTL";
    c->add_namespace("forever", {.ttl = 0s});
    co_await c->async_set("forever", "k", "v", {}, nothrow);
    server.command({"PEXPIRE", "forever:k", "100000"});
    auto [e9b, kept] = co_await c->async_touch("forever", "k", nothrow);
    EXPECT_TRUE(kept) << "touch of an existing key without a TTL rule";
    EXPECT_EQ(server.command({"PTTL", "forever:k"}).text, "-1") << "its TTL is dropped";
    auto [e9c, again] = co_await c->async_touch("forever", "k", nothrow);
    EXPECT_TRUE(again) << "a key that has no TTL still exists";
    auto [e9d, absent] = co_await c->async_touch("forever", "nothing", nothrow);
    EXPECT_FALSE(absent);
    auto [e10, deleted] = co_await c->async_del("users", "42", nothrow);
    EXPECT_TRUE(deleted);
    auto [e11, gone] = co_await c->async_get("users", "42", nothrow);
    EXPECT_FALSE(e11);
    EXPECT_FALSE(gone.has_value());

    // Default namespace: CACHE_DEFAULT_TTL (3600 s) and no prefix.
    auto [e12, ok12] = co_await c->async_set("", "plain", "v", {}, nothrow);
    EXPECT_TRUE(ok12);
    const auto pttl = std::stoll(server.command({"PTTL", "plain"}).text);
    EXPECT_GT(pttl, 3'500'000);
    EXPECT_LE(pttl, 3'600'000);

    auto [e13, bad] = co_await c->async_get("users", "", nothrow);
    EXPECT_EQ(e13, error::invalid_key);
    auto [e14, long_key] = co_await c->async_get("users", std::string(20'000, 'k'), nothrow);
    EXPECT_EQ(e14, error::invalid_key);
    auto [e15, bad_ns] = co_await c->async_get("no spaces\n", "k", nothrow);
    EXPECT_EQ(e15, error::invalid_argument);
    EXPECT_THROW(c->add_namespace("bad name", {}), std::invalid_argument);
  });
}

TEST(Cache, GetManySetManyAndSizeRules) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("p", {.max_value_size = 10, .skip = [](std::string_view k, std::string_view) {
                             return k.starts_with("nocache");
                           }});
    std::vector<std::pair<std::string, std::string>> items{
        {"a", "1"}, {"b", "2"}, {"big", std::string(100, 'x')}, {"nocache1", "3"}};
    auto [e1, written] = co_await c->async_set_many("p", items, nothrow);
    EXPECT_FALSE(e1);
    EXPECT_EQ(written, (std::vector<bool>{true, true, false, false}))
        << "per item: the big one and the skipped one were not written";
    std::vector<std::string> keys{"a", "missing", "b", "big", "nocache1"};
    auto [e2, got] = co_await c->async_get_many("p", keys, nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(got, (std::vector<opt_string>{"1", std::nullopt, "2", std::nullopt, std::nullopt}));
    EXPECT_EQ(metric(*c, R"(rcache_cache_skipped_total{namespace="p",reason="too_large"})"), 1);
    EXPECT_EQ(metric(*c, R"(rcache_cache_skipped_total{namespace="p",reason="rule"})"), 1);
    // A second read of the same keys is served by the near cache.
    auto [e3, again] = co_await c->async_get_many("p", keys, nothrow);
    EXPECT_EQ(again, got);
    EXPECT_GE(metric(*c, R"(rcache_cache_hits_total{namespace="p",tier="near"})"), 2);
  });
}

TEST(Cache, InvalidateByPatternDeletesOnlyMatchingKeysOfTheNamespace) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("odd", {.prefix = std::string("o*[x]:")});
    // More keys than one SCAN page, so the walk has to follow the cursor.
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < 2500; ++i) items.emplace_back("user:" + std::to_string(i), "v");
    items.emplace_back("order:1", "v");
    auto [e1, written] = co_await c->async_set_many("users", items, nothrow);
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_EQ(written, std::vector<bool>(items.size(), true));
    co_await c->async_set("other", "user:1", "keep", {}, nothrow);
    co_await c->async_set("odd", "user:1", "v", {}, nothrow);
    server.command({"SET", "o-[x]:user:2", "unrelated"});  // would match an unescaped prefix
    auto [e0, warm] = co_await c->async_get("users", "user:7", nothrow);  // now in the near cache
    EXPECT_EQ(warm, opt_string("v"));

    auto [e2, deleted] = co_await c->async_invalidate("users", "user:*", nothrow);
    EXPECT_FALSE(e2) << e2.message();
    EXPECT_EQ(deleted, 2500);
    auto [e3, gone] = co_await c->async_get("users", "user:7", nothrow);
    EXPECT_FALSE(gone) << "no stale copy survives in the near cache";
    auto [e4, kept] = co_await c->async_get("users", "order:1", nothrow);
    EXPECT_EQ(kept, opt_string("v"));
    auto [e5, other] = co_await c->async_get("other", "user:1", nothrow);
    EXPECT_EQ(other, opt_string("keep")) << "other namespaces are untouched";

    auto [e6, odd] = co_await c->async_invalidate("odd", "user:*", nothrow);
    EXPECT_FALSE(e6) << e6.message();
    EXPECT_EQ(odd, 1) << "glob characters in the prefix match only themselves";
    EXPECT_EQ(server.command({"GET", "o-[x]:user:2"}).text, "unrelated");

    auto [e7, none] = co_await c->async_invalidate("users", "", nothrow);
    EXPECT_EQ(e7, make_error_code(error::invalid_argument));
  });
}

TEST(Cache, AnLvalueHandlerIsCopiedNotMovedFrom) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    auto done = std::make_shared<int>(0);
    auto handler = [done](error_code ec, bool) {
      if (!ec) ++*done;
    };
    c->async_set("n", "a", "1", {}, handler);
    c->async_set("n", "b", "2", {}, handler);  // the same handler object again
    EXPECT_TRUE(co_await eventually([&] { return *done == 2; }));
  });
}

TEST(Cache, ValuesAboveTheCacheLimitAreAnError) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.max_value_size = 1024;
    auto c = cache::create(ex, o);
    auto [e1, ok] = co_await c->async_set("n", "big", std::string(2048, 'x'), {}, nothrow);
    EXPECT_EQ(e1, error::value_too_large);
    EXPECT_EQ(server.command({"EXISTS", "n:big"}).text, "0");
  });
}

TEST(Cache, CompressedAndEncryptedValuesRoundTrip) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.compression = true;
    o.compression_threshold = 64;
    // 32 bytes of key, base64.
    o.encryption_keys = "1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    auto c = cache::create(ex, o);
    std::string doc;
    for (int i = 0; i < 50; ++i) doc += R"({"id":)" + std::to_string(i) + R"(,"name":"user"},)";
    auto [e1, ok] = co_await c->async_set("docs", "1", doc, {}, nothrow);
    EXPECT_FALSE(e1) << e1.message();
    const auto raw = server.command({"GET", "docs:1"}).text;
    EXPECT_NE(raw, doc);
    EXPECT_EQ(raw.find("user"), std::string::npos) << "encrypted at rest";
    EXPECT_LT(raw.size(), doc.size()) << "compressed before encryption";
    // Tampering is detected, never returned as data.
    auto tampered = raw;
    tampered[tampered.size() / 2] ^= 0x01;
    server.command({"SET", "docs:2", tampered});
    auto [e2, v2] = co_await c->async_get("docs", "2", nothrow);
    EXPECT_EQ(e2, error::value_tampered);
    auto [e3, v3] = co_await c->async_get("docs", "1", nothrow);
    EXPECT_EQ(v3, opt_string(doc));
    const auto ratio = metric(*c, "rcache_compression_ratio");
    EXPECT_GT(ratio, 0.0) << "the series is there";
    EXPECT_LT(ratio, 1.0);
  });
}

// ---- near-cache coherence -----------------------------------------------------------

TEST(Cache, OwnWritesDropTheNearCacheEntryBeforeTheReply) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    co_await c->async_set("n", "k", "v1", {}, nothrow);
    co_await c->async_get("n", "k", nothrow);  // fills the near cache
    auto [e0, hit] = co_await c->async_get("n", "k", nothrow);
    EXPECT_EQ(metric(*c, R"(rcache_cache_hits_total{namespace="n",tier="near"})"), 1);
    EXPECT_EQ(metric(*c, R"(rcache_cache_hits_total{namespace="n",tier="redis"})"), 1)
        << "the first read only: a near-cache hit is not counted under redis as well";
    for (int i = 2; i < 50; ++i) {
      const auto v = "v" + std::to_string(i);
      co_await c->async_set("n", "k", v, {}, nothrow);
      auto [e, got] = co_await c->async_get("n", "k", nothrow);
      EXPECT_EQ(got, opt_string(v)) << "read after own write returned an old value";
      co_await c->async_get("n", "k", nothrow);  // refill the near cache for the next round
    }
  });
}

TEST(Cache, AnotherWriterIsSeenOnceItsInvalidationArrives) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    co_await c->async_set("n", "k", "mine", {}, nothrow);
    co_await c->async_get("n", "k", nothrow);
    auto [e1, cached] = co_await c->async_get("n", "k", nothrow);
    EXPECT_EQ(cached, opt_string("mine"));
    EXPECT_EQ(c->try_get_near("n", "k"), opt_string("mine")) << "the synchronous near-cache read";
    EXPECT_FALSE(c->try_get_near("n", "other")) << "a miss waits for nothing";
    const auto pushes = metric(*c, R"(rcache_invalidations_total{source="push"})");
    server.command({"SET", "n:k", "theirs"});  // redis-cli, another process
    EXPECT_TRUE(co_await eventually(
        [&] { return metric(*c, R"(rcache_invalidations_total{source="push"})") > pushes; }));
    EXPECT_FALSE(c->try_get_near("n", "k")) << "invalidated: no stale local copy";
    auto [e2, fresh] = co_await c->async_get("n", "k", nothrow);
    EXPECT_EQ(fresh, opt_string("theirs"));
  });
}

// The stale-read case of issue 13: n:k is cached as "old", another writer
// sets it to "new", then a message is published on "news"; the
// invalidation and the message arrive on the cache's connection, in order.
asio::awaitable<void> overwrite_a_cached_key_then_publish(cache& c, redis_server& server) {
  co_await c.async_set("n", "k", "old", nothrow);
  co_await c.async_get("n", "k", nothrow);  // fills the near cache
  EXPECT_EQ(c.try_get_near("n", "k"), opt_string("old"));
  server.command({"SET", "n:k", "new"});
  server.command({"PUBLISH", "news", "done"});
}

// Once the message is in: the near cache dropped the old value.
asio::awaitable<void> expect_the_new_value(cache& c) {
  EXPECT_FALSE(c.try_get_near("n", "k")) << "the invalidation came before the message";
  auto [e, got] = co_await c.async_get("n", "k", nothrow);
  EXPECT_EQ(got, opt_string("new"));
}

TEST(Cache, AnApplicationPushHandlerOnTheClientNeverDetachesInvalidations) {
  // docs/client.md shows client::set_push_handler for pub/sub; on the client
  // under a cache it used to replace the cache's own handler, and the near
  // cache then served the old value after another client's write.
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    std::vector<std::string> messages;
    c->redis().set_push_handler([&](const value& v) {
      if (v.elements.size() == 3 && v.elements[0].str == "message") {
        messages.push_back(v.elements[2].str);
      }
      EXPECT_NE(v.elements.at(0).str, "invalidate") << "the cache's own, consumed before";
    });
    request sub;
    sub.push("SUBSCRIBE", "news");
    auto [se, sr] = co_await c->redis().async_exec(std::move(sub), nothrow);
    EXPECT_FALSE(se);
    co_await overwrite_a_cached_key_then_publish(*c, server);
    EXPECT_TRUE(co_await eventually([&] { return !messages.empty(); }));
    EXPECT_EQ(messages, std::vector<std::string>{"done"});
    co_await expect_the_new_value(*c);
  });
}

TEST(Cache, ASubscriberOnTheCachesClientNeverCostsAnInvalidation) {
  // The issue's case with the pub/sub API: a subscriber beside the cache on
  // its client, another writer, and the near cache never serves the old
  // value.
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    subscriber sub(c->redis());
    auto [se] = co_await sub.async_subscribe(names_of("news"), nothrow);
    EXPECT_FALSE(se) << se.message();
    co_await overwrite_a_cached_key_then_publish(*c, server);
    auto [re, m] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(re);
    EXPECT_EQ(m.payload, "done");
    co_await expect_the_new_value(*c);
  });
}

TEST(Cache, FlushAllDropsEverything) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    for (auto k : {"a", "b", "c"}) {
      co_await c->async_set("n", k, "v", {}, nothrow);
      co_await c->async_get("n", k, nothrow);
    }
    EXPECT_EQ(metric(*c, "rcache_near_cache_entries"), 3);
    server.command({"FLUSHALL"});
    EXPECT_TRUE(co_await eventually(
        [&] { return metric(*c, R"(rcache_invalidations_total{source="flush"})") >= 1; }));
    EXPECT_EQ(metric(*c, "rcache_near_cache_entries"), 0);
    auto [e, v] = co_await c->async_get("n", "a", nothrow);
    EXPECT_FALSE(v.has_value());
  });
}

// What another client can do straight to Redis, and what the near cache
// sees of it on Redis 7.0 (docs/cache.md's event table): MOVE, COPY and a
// FLUSHDB of another database come with an invalidation; SWAPDB comes with
// none, so an entry outlives it until its near-cache lifetime ends.
TEST(Cache, DirectOperationsOnOtherDatabasesAreSeenExceptSwapdb) {
  redis_server server;
  auto o = options_for(server);
  o.near_cache_max_ttl = 3s;  // the bound that applies to what is not seen
  auto db1_cfg = o.redis;
  db1_cfg.db = 1;
  blocking_client db1(db1_cfg);  // another client, on database 1
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, o);
    EXPECT_TRUE(co_await connected(*c));
    // Reads "n:k" until it is in the near cache with `v` (a fill is refused
    // while the invalidation of the write before it is still on its way).
    auto cached = [&](std::string v) -> asio::awaitable<bool> {
      for (int attempt = 0; attempt < 200; ++attempt) {
        co_await c->async_get("n", "k", nothrow);
        if (c->try_get_near("n", "k") == opt_string(v)) co_return true;
      }
      co_return false;
    };
    auto pushes = [&] {
      return metric(*c, R"(rcache_invalidations_total{source="push"})") +
             metric(*c, R"(rcache_invalidations_total{source="flush"})");
    };

    server.command({"SET", "n:k", "zero"});
    EXPECT_TRUE(co_await cached("zero"));
    auto before = pushes();
    server.command({"MOVE", "n:k", "1"});  // to database 1
    EXPECT_TRUE(co_await eventually([&] { return pushes() > before; }));
    EXPECT_FALSE(c->try_get_near("n", "k")) << "MOVE is seen";
    auto [e1, moved] = co_await c->async_get("n", "k", nothrow);
    EXPECT_FALSE(moved);

    server.command({"SET", "src", "copied"});
    server.command({"SET", "n:k", "zero"});
    EXPECT_TRUE(co_await cached("zero"));
    before = pushes();
    server.command({"COPY", "src", "n:k", "REPLACE"});
    EXPECT_TRUE(co_await eventually([&] { return pushes() > before; }));
    EXPECT_FALSE(c->try_get_near("n", "k")) << "COPY is seen";

    EXPECT_TRUE(co_await cached("copied"));
    before = pushes();
    EXPECT_TRUE(db1.command("FLUSHDB"));
    EXPECT_TRUE(co_await eventually([&] { return pushes() > before; }));
    EXPECT_FALSE(c->try_get_near("n", "k"))
        << "a FLUSHDB of another database empties the near cache (tracking knows no databases)";

    EXPECT_TRUE(db1.command("SET", "n:k", "from-db1"));
    EXPECT_TRUE(co_await cached("copied"));
    before = pushes();
    server.command({"SWAPDB", "0", "1"});
    EXPECT_EQ(server.command({"GET", "n:k"}).text, "from-db1");
    EXPECT_EQ(c->try_get_near("n", "k"), opt_string("copied"))
        << "SWAPDB sends no invalidation: the old entry is still there";
    // Bounded by near_cache_max_ttl: the current value is read once the
    // entry's life ends.
    EXPECT_TRUE(
        co_await eventually([&] { return c->try_get_near("n", "k") != opt_string("copied"); }));
    auto [e2, after] = co_await c->async_get("n", "k", nothrow);
    EXPECT_EQ(after, opt_string("from-db1"));
    EXPECT_EQ(pushes(), before) << "it was the bound, not an invalidation";
  });
}

TEST(Cache, ReadRacingAnInvalidationIsNeverStored) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    EXPECT_TRUE(co_await connected(*c));
    co_await c->async_set("n", "k", "old", {}, nothrow);
    // The GET is in flight when the write invalidates the key: its reply
    // ("old") must not land in the near cache after the invalidation.
    int done = 0;
    c->async_get("n", "k", [&](error_code, opt_string) { ++done; });
    c->async_set("n", "k", "new", {}, [&](error_code, bool) { ++done; });
    EXPECT_TRUE(co_await eventually([&] { return done == 2; }));
    EXPECT_GE(metric(*c, "rcache_near_cache_rejected_fills_total"), 1);
    for (int i = 0; i < 3; ++i) {
      auto [e, v] = co_await c->async_get("n", "k", nothrow);
      EXPECT_EQ(v, opt_string("new"));
    }
  });
}

TEST(Cache, ConnectionLossServesNothingFromTheNearCacheUnlessStaleOnError) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("strict", {});
    c->add_namespace("lenient", {.stale_on_error = true});
    EXPECT_TRUE(co_await connected(*c));
    for (auto ns : {"strict", "lenient"}) {
      co_await c->async_set(ns, "k", "cached", {}, nothrow);
      co_await c->async_get(ns, "k", nothrow);  // fill the near cache
    }
    server.kill();
    EXPECT_TRUE(
        co_await eventually([&] { return c->redis().state() != connection_state::connected; }));
    auto [e1, strict] = co_await c->async_get("strict", "k", nothrow);
    EXPECT_TRUE(e1) << "a near-cache value was served while invalidations could be missed";
    EXPECT_FALSE(strict.has_value());
    auto [e2, lenient] = co_await c->async_get("lenient", "k", nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(lenient, opt_string("cached")) << "stale-on-error namespaces may read the near cache";
    auto [e3, written] = co_await c->async_set("strict", "k", "x", {}, nothrow);
    EXPECT_EQ(e3, error::not_connected) << "writes fail fast";

    server.restart();  // empty: no persistence
    EXPECT_TRUE(co_await connected(*c));
    auto [e4, after] = co_await c->async_get("lenient", "k", nothrow);
    EXPECT_FALSE(e4);
    EXPECT_FALSE(after.has_value()) << "the near cache is emptied on reconnect";
    co_await c->async_set("strict", "k", "again", {}, nothrow);
    co_await c->async_get("strict", "k", nothrow);
    server.command({"SET", "strict:k", "changed"});
    EXPECT_TRUE(co_await eventually([&] {
      return metric(*c, R"(rcache_invalidations_total{source="push"})") >= 1;
    })) << "tracking is on again after the reconnect";
  });
}

// One cache over two event-loop threads, each with its own connection: one
// near cache, kept coherent through both; one connection's loss empties it.
TEST(Cache, ConnectionsPerThreadShareOneCoherentNearCache) {
  redis_server server;
  test::event_loops loops(2);
  auto c = cache::create(loops.executors(), options_for(server));
  const auto on = [&](std::size_t loop, std::function<asio::awaitable<opt_string>()> body) {
    return loops.run_on<opt_string>(loop, std::move(body));
  };
  const auto get = [&](std::size_t loop, std::string key) {
    return on(loop, [&c, key]() -> asio::awaitable<opt_string> {
      auto [e, v] = co_await c->async_get("n", key, nothrow);
      EXPECT_FALSE(e) << e.message();
      co_return v;
    });
  };
  const auto set = [&](std::size_t loop, std::string key, std::string value) {
    on(loop, [&c, key, value]() -> asio::awaitable<opt_string> {
      auto [e, ok] = co_await c->async_set("n", key, value, {}, nothrow);
      EXPECT_FALSE(e) << e.message();
      co_return std::nullopt;
    });
  };
  const auto reconnects = [&] {
    return metric(*c, R"(rcache_invalidations_total{source="reconnect"})");
  };
  ASSERT_TRUE(loops.run_on<bool>(0, [&] { return connected(*c); }));

  // Written through loop 0, read (and cached) through loop 1, then written
  // again through loop 0: the local entry is gone before the write's reply.
  set(0, "k", "v1");
  EXPECT_EQ(get(1, "k"), opt_string("v1"));
  EXPECT_EQ(c->try_get_near("n", "k"), opt_string("v1"));
  set(0, "k", "v2");
  EXPECT_EQ(get(1, "k"), opt_string("v2"))
      << "a write on one connection, a stale read on the other";

  // Another process's write: the invalidation arrives on the connection
  // that read the key.
  EXPECT_EQ(get(0, "o"), std::nullopt);
  set(1, "o", "mine");
  EXPECT_EQ(get(0, "o"), opt_string("mine"));
  server.command({"SET", "n:o", "theirs"});
  ASSERT_TRUE(loops.run_on<bool>(0, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] { return !c->try_get_near("n", "o"); });
  }));
  EXPECT_EQ(get(1, "o"), opt_string("theirs"));

  // Loop 1's connection is killed; a write meanwhile goes to Redis only (its
  // invalidation for loop 1's reads is lost). Once loop 1 reconnects, the
  // near cache has been emptied: the old value is never served.
  EXPECT_EQ(get(1, "k"), opt_string("v2"));
  const auto id = on(1, [&c]() -> asio::awaitable<opt_string> {
    request r;
    r.push("CLIENT", "ID");
    auto [e, resp] = co_await c->redis().async_exec(std::move(r), nothrow);
    co_return e ? std::nullopt : opt_string(std::to_string(resp.at(0).integer));
  });
  ASSERT_TRUE(id);
  const auto before = reconnects();
  server.command({"CLIENT", "KILL", "ID", *id});
  server.command({"SET", "n:k", "v3"});
  ASSERT_TRUE(loops.run_on<bool>(0, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] { return reconnects() > before; });
  })) << "one connection's loss and return must empty the shared near cache";
  EXPECT_EQ(get(0, "k"), opt_string("v3"));
  EXPECT_EQ(get(1, "k"), opt_string("v3"));
}

// ---- get_or_load ------------------------------------------------------------------

// A loader whose calls the test completes by hand.
struct manual_loader {
  std::vector<std::function<void(error_code, opt_string)>> calls;
  loader fn() {
    return [this](auto done) { calls.push_back(std::move(done)); };
  }
};

TEST(Cache, GetOrLoadRunsOneLoaderForManyCallers) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    manual_loader l;
    int answered = 0, right = 0;
    for (int i = 0; i < 100; ++i) {
      c->async_get_or_load("p", "hot", l.fn(), [&](error_code ec, opt_string v) {
        ++answered;
        if (!ec && v == opt_string("loaded")) ++right;
      });
    }
    EXPECT_TRUE(co_await eventually([&] { return !l.calls.empty(); }));
    // Every caller has had time to join: they wait on the one load.
    EXPECT_TRUE(co_await eventually(
        [&] { return metric(*c, R"(rcache_cache_misses_total{namespace="p"})") == 100; }));
    EXPECT_EQ(l.calls.size(), 1u);
    l.calls[0]({}, "loaded");
    EXPECT_TRUE(co_await eventually([&] { return answered == 100; }));
    EXPECT_EQ(right, 100);
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"GET", "p:hot"}).text == "loaded";
    }));
    auto [e, v] = co_await c->async_get_or_load("p", "hot", l.fn(), nothrow);
    EXPECT_EQ(v, opt_string("loaded"));
    EXPECT_EQ(l.calls.size(), 1u) << "cached: no second load";
  });
}

TEST(Cache, FailingLoaderNeverPoisonsTheCache) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    const auto boom = make_error_code(boost::system::errc::io_error);
    auto [e1, v1] = co_await c->async_get_or_load(
        "p", "k", [&](auto done) { done(boom, std::nullopt); }, nothrow);
    EXPECT_EQ(e1, boom) << "the loader's error reaches the caller";
    EXPECT_EQ(server.command({"EXISTS", "p:k"}).text, "0");
    auto [e2, v2] = co_await c->async_get_or_load(
        "p", "k", [&](auto done) { done({}, std::string("ok")); }, nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(v2, opt_string("ok"));
  });
}

// What on_load_failure heard.
struct failures {
  std::mutex mutex;
  std::vector<std::pair<error_code, std::string>> seen;
  std::function<void(const load_failure&)> hook() {
    return [this](const load_failure& f) {
      std::lock_guard lock(mutex);
      seen.emplace_back(f.error, std::string(f.message));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
};

TEST(Cache, ALoaderThatNeverCompletesTimesOutAndItsLateValueIsDropped) {
  redis_server server;
  failures heard;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.on_load_failure = heard.hook();
    auto c = cache::create(ex, o);
    c->add_namespace("slow", {.load_timeout = 200ms});
    manual_loader stuck;
    error_code first, second;
    c->async_get_or_load("slow", "k", stuck.fn(), [&](error_code ec, opt_string) { first = ec; });
    c->async_get_or_load("slow", "k", stuck.fn(), [&](error_code ec, opt_string) { second = ec; });
    // Another key is not held up by the stuck one.
    auto quick = [](auto done) { done({}, std::optional<std::string>("q")); };
    auto [eq, vq] = co_await c->async_get_or_load("slow", "other", quick, nothrow);
    EXPECT_FALSE(eq);
    EXPECT_EQ(vq, opt_string("q"));
    EXPECT_TRUE(co_await eventually([&] { return first && second; }));
    EXPECT_EQ(first, make_error_code(error::load_timeout));
    EXPECT_EQ(second, make_error_code(error::load_timeout));
    EXPECT_EQ(stuck.calls.size(), 1u) << "one loader for both callers";
    CO_ASSERT(heard.size() == 1u);
    EXPECT_EQ(heard.seen[0].first, make_error_code(error::load_timeout));
    EXPECT_NE(heard.seen[0].second.find("200 ms"), std::string::npos) << heard.seen[0].second;

    // The next caller starts a new load; the stuck one's late value is dropped.
    opt_string third;
    c->async_get_or_load("slow", "k", stuck.fn(), [&](error_code, opt_string v) { third = v; });
    EXPECT_TRUE(co_await eventually([&] { return stuck.calls.size() == 2; }));
    stuck.calls[1]({}, "fresh");
    EXPECT_TRUE(co_await eventually([&] { return third.has_value(); }));
    EXPECT_EQ(third, opt_string("fresh"));
    stuck.calls[0]({}, "late");
    auto [eg, vg] = co_await c->async_get("slow", "k", nothrow);  // after any write it made
    EXPECT_EQ(vg, opt_string("fresh"));
    EXPECT_EQ(server.command({"GET", "slow:k"}).text, "fresh");
  });
}

TEST(Cache, AThrowingLoaderFailsWithLoaderFailedAndItsMessageIsKept) {
  redis_server server;
  failures heard;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.on_load_failure = heard.hook();
    auto c = cache::create(ex, o);
    auto throws = [](auto) -> void { throw std::runtime_error("database is down"); };
    auto [e1, v1] = co_await c->async_get_or_load("t", "a", throws, nothrow);
    EXPECT_EQ(e1, make_error_code(error::loader_failed));
    auto throws_int = [](auto) -> void { throw 42; };
    auto [e2, v2] = co_await c->async_get_or_load("t", "b", throws_int, nothrow);
    EXPECT_EQ(e2, make_error_code(error::loader_failed)) << "not std::terminate";
    const auto boom = make_error_code(boost::system::errc::io_error);
    auto fails = [boom](auto done) { done(boom, std::nullopt); };
    auto [e3, v3] = co_await c->async_get_or_load("t", "c", fails, nothrow);
    EXPECT_EQ(e3, boom) << "a loader's own error code is kept";
    CO_ASSERT(heard.size() == 3u);
    EXPECT_EQ(heard.seen[0].second, "database is down");
    EXPECT_NE(heard.seen[1].second.find("not a std::exception"), std::string::npos);
    EXPECT_EQ(heard.seen[2].second, boom.message());
    EXPECT_EQ(server.command({"EXISTS", "t:a", "t:b", "t:c"}).text, "0") << "nothing cached";
  });
}

// Loaders outside coroutine bodies (GCC 12 and lambda temporaries there).
coroutine_loader coroutine_returning(std::string v) {
  return [v]() -> asio::awaitable<std::optional<std::string>> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    co_await t.async_wait(asio::use_awaitable);
    co_return v;
  };
}
coroutine_loader coroutine_throwing() {
  return []() -> asio::awaitable<std::optional<std::string>> {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    throw std::runtime_error("coroutine failed");
  };
}

TEST(Cache, CoroutineAndCompletionTokenLoaders) {
  redis_server server;
  failures heard;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.on_load_failure = heard.hook();
    auto c = cache::create(ex, o);
    // Named, not temporaries in the co_await expression (GCC 12 destroys
    // those twice).
    const auto returning = coroutine_returning("c");
    const auto throwing = coroutine_throwing();
    auto [e1, v1] = co_await c->async_get_or_load("co", "k", returning, nothrow);
    EXPECT_FALSE(e1);
    EXPECT_EQ(v1, opt_string("c"));
    EXPECT_TRUE(co_await eventually([&] { return server.command({"GET", "co:k"}).text == "c"; }));
    auto [e2, v2] = co_await c->async_get_or_load("co", "bad", throwing, nothrow);
    EXPECT_EQ(e2, make_error_code(error::loader_failed));
    CO_ASSERT(heard.size() == 1u);
    EXPECT_EQ(heard.seen[0].second, "coroutine failed");
    // `done` is a completion handler: an Asio initiating function takes it
    // as its token.
    auto via_token = [ex](auto done) {
      asio::post(ex, asio::append(std::move(done), error_code{}, opt_string("t")));
    };
    auto [e3, v3] = co_await c->async_get_or_load("co", "tok", via_token, nothrow);
    EXPECT_FALSE(e3);
    EXPECT_EQ(v3, opt_string("t"));
  });
}

TEST(Cache, DestroyingTheCacheEndsLoadsThatNeverComplete) {
  redis_server server;
  asio::io_context ioc;
  manual_loader stuck;
  error_code got;
  bool answered = false;
  {
    auto c = cache::create(ioc.get_executor(), options_for(server));
    c->add_namespace("never", {.load_timeout = std::chrono::hours(1)});
    c->async_get_or_load("never", "k", stuck.fn(), [&](error_code ec, opt_string) {
      got = ec;
      answered = true;
    });
    // Until the loader has been called (it never completes).
    while (stuck.calls.empty() && ioc.run_one_for(20s) > 0) {
    }
    ASSERT_EQ(stuck.calls.size(), 1u);
  }
  ioc.restart();
  ioc.run_for(60s);
  EXPECT_TRUE(ioc.stopped()) << "out of work: the hour-long deadline was cancelled";
  EXPECT_TRUE(answered);
  EXPECT_EQ(got, make_error_code(error::client_stopped));
}

TEST(Cache, NegativeCachingRemembersNotFound) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("neg", {.negative_ttl = 30s});
    int loads = 0;
    auto none = [&](auto done) {
      ++loads;
      done({}, std::nullopt);
    };
    auto [e1, v1] = co_await c->async_get_or_load("neg", "ghost", none, nothrow);
    EXPECT_FALSE(v1.has_value());
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"EXISTS", "neg:ghost"}).text == "1";
    }));
    // A TTL of its own, at most negative_ttl (-1, no expiry, is wrong too).
    const auto pttl = std::stoll(server.command({"PTTL", "neg:ghost"}).text);
    EXPECT_GT(pttl, 0);
    EXPECT_LE(pttl, 30'000);
    auto [e2, v2] = co_await c->async_get_or_load("neg", "ghost", none, nothrow);
    EXPECT_FALSE(v2.has_value());
    EXPECT_EQ(loads, 1) << "the second call is answered by the negative entry";
    auto [e3, plain] = co_await c->async_get("neg", "ghost", nothrow);
    EXPECT_FALSE(e3);
    EXPECT_FALSE(plain.has_value()) << "a plain get sees a negative entry as a miss";
  });
}

TEST(Cache, StaleWhileRevalidateServesAndRefreshes) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    c->add_namespace("swr", {.ttl = 60s, .near_cache = false, .stale_grace = 600s});
    int loads = 0;
    auto load = [&](auto done) { done({}, "v" + std::to_string(++loads)); };
    auto [e1, v1] = co_await c->async_get_or_load("swr", "k", load, nothrow);
    EXPECT_EQ(v1, opt_string("v1"));
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"EXISTS", "swr:k"}).text == "1";
    }));
    EXPECT_GT(std::stoll(server.command({"PTTL", "swr:k"}).text), 600'000) << "TTL + grace";
    // Age the value into its grace period.
    server.command({"PEXPIRE", "swr:k", "300000"});
    auto [e2, v2] = co_await c->async_get_or_load("swr", "k", load, nothrow);
    EXPECT_EQ(v2, opt_string("v1")) << "the stale value is served at once";
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"GET", "swr:k"}).text == "v2";
    })) << "and refreshed in the background";
    EXPECT_EQ(loads, 2);
  });
}

TEST(Cache, EarlyRefreshReloadsBeforeExpiry) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    // A huge beta makes XFetch refresh on every read of a value that has
    // any TTL left; with beta 0 it never would.
    c->add_namespace("xf", {.ttl = 60s, .near_cache = false, .early_refresh_beta = 1e9});
    c->add_namespace("plain", {.ttl = 60s, .near_cache = false});
    int loads_xf = 0, loads_plain = 0;
    auto load_xf = [&](auto done) { done({}, "v" + std::to_string(++loads_xf)); };
    auto load_plain = [&](auto done) { done({}, "p" + std::to_string(++loads_plain)); };
    co_await c->async_get_or_load("xf", "k", load_xf, nothrow);
    co_await c->async_get_or_load("plain", "k", load_plain, nothrow);
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"EXISTS", "xf:k"}).text == "1";
    }));
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"EXISTS", "plain:k"}).text == "1";
    }));
    auto [e1, v1] = co_await c->async_get_or_load("xf", "k", load_xf, nothrow);
    EXPECT_EQ(v1, opt_string("v1")) << "the current value is served while refreshing";
    EXPECT_TRUE(co_await eventually([&] { return server.command({"GET", "xf:k"}).text == "v2"; }));
    auto [e2, v2] = co_await c->async_get_or_load("plain", "k", load_plain, nothrow);
    EXPECT_EQ(v2, opt_string("p1"));
    EXPECT_EQ(loads_plain, 1) << "without early refresh a fresh value is not reloaded";
  });
}

TEST(Cache, DistributedLockLetsOneProcessLoad) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    // Two caches stand for two processes sharing the Redis.
    auto a = cache::create(ex, options_for(server));
    auto b = cache::create(ex, options_for(server));
    const namespace_options o{.distributed_lock = true, .lock_ttl = 10s};
    a->add_namespace("dl", o);
    b->add_namespace("dl", o);
    manual_loader la, lb;
    opt_string got_a, got_b;
    a->async_get_or_load("dl", "k", la.fn(), [&](error_code, opt_string v) { got_a = v; });
    EXPECT_TRUE(co_await eventually([&] { return la.calls.size() == 1; }));
    EXPECT_EQ(server.command({"EXISTS", "lock:dl:k"}).text, "1");
    b->async_get_or_load("dl", "k", lb.fn(), [&](error_code, opt_string v) { got_b = v; });
    EXPECT_TRUE(co_await eventually(
        [&] { return metric(*b, R"(rcache_cache_misses_total{namespace="dl"})") == 1; }));
    la.calls[0]({}, "from-a");
    EXPECT_TRUE(co_await eventually([&] { return got_a && got_b; }));
    EXPECT_EQ(got_b, opt_string("from-a")) << "b waited for a's value";
    EXPECT_TRUE(lb.calls.empty()) << "b never ran its loader";
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"EXISTS", "lock:dl:k"}).text == "0";
    })) << "the owner released the lock";

    // The release deletes the lock only while it is still ours: a lock that
    // lapsed and was taken by another process stays (a plain DEL would
    // remove it).
    manual_loader again;
    opt_string got_again;
    a->async_get_or_load("dl", "k2", again.fn(), [&](error_code, opt_string v) { got_again = v; });
    EXPECT_TRUE(co_await eventually([&] { return again.calls.size() == 1; }));
    server.command({"SET", "lock:dl:k2", "another-process"});
    again.calls[0]({}, "late");
    EXPECT_TRUE(co_await eventually([&] { return got_again.has_value(); }));
    // Two round trips on a's connection: the release (and its SCRIPT LOAD
    // retry, if any) were sent before them and have run.
    co_await a->async_get("dl", "barrier", nothrow);
    co_await a->async_get("dl", "barrier", nothrow);
    EXPECT_EQ(server.command({"GET", "lock:dl:k2"}).text, "another-process");
  });
}

TEST(Cache, GetOrLoadRunsTheLoaderWhenRedisFails) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.redis.command_timeout = 500ms;
    auto c = cache::create(ex, o);
    EXPECT_TRUE(co_await connected(*c));
    server.kill();
    int loads = 0;
    // Outside the co_await expression: GCC 12 destroys lambda temporaries
    // there twice.
    auto from_the_database = [&](auto done) {
      ++loads;
      done({}, std::optional<std::string>("from-the-database"));
    };
    auto [ec, v] = co_await c->async_get_or_load("down", "k", from_the_database, nothrow);
    EXPECT_FALSE(ec) << "Redis failing does not keep the caller from its value: " << ec.message();
    EXPECT_EQ(v, opt_string("from-the-database"));
    EXPECT_EQ(loads, 1);
  });
}

TEST(Cache, MetricsExposeHitsMissesAndLatency) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    co_await c->async_set("m", "k", "v", {}, nothrow);
    co_await c->async_get("m", "k", nothrow);
    co_await c->async_get("m", "absent", nothrow);
    const auto text = c->metrics_text();
    EXPECT_NE(text.find("# TYPE rcache_op_duration_seconds histogram"), std::string::npos);
    EXPECT_EQ(metric(*c, R"(rcache_cache_hits_total{namespace="m",tier="redis"})"), 1);
    EXPECT_EQ(metric(*c, R"(rcache_cache_misses_total{namespace="m"})"), 1);
    EXPECT_GE(metric(*c, R"(rcache_op_duration_seconds_count{op="get"})"), 2);
  });
}

// ---- blocking facade -----------------------------------------------------------

TEST(BlockingCache, ThreadsShareOneCacheAndLoadsRunOffTheIoThread) {
  redis_server server;
  blocking_cache c(options_for(server));
  ASSERT_TRUE(c.set("b", "k", "v").value());
  EXPECT_EQ(c.get("b", "k").value(), opt_string("v"));
  // Eight threads ask for one missing key. The loader holds until all eight
  // have missed (every one of them is then waiting on its flight), and
  // meanwhile reads through the same cache: the I/O thread is free while a
  // loader blocks.
  constexpr int callers = 8;
  auto misses = [&] {
    const auto text = c.async().metrics_text();
    const std::string series = R"(rcache_cache_misses_total{namespace="b"} )";
    const auto at = text.find(series);
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size()));
  };
  std::atomic<int> loads{0};
  std::atomic<bool> io_free{false};
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&] {
      auto v = c.get_or_load("b", "shared", [&]() -> result<std::optional<std::string>> {
        ++loads;
        const auto limit = std::chrono::steady_clock::now() + 20s;
        while (misses() < callers && std::chrono::steady_clock::now() < limit) {
          std::this_thread::yield();
        }
        io_free = c.get("b", "k").value() == opt_string("v");
        return std::optional<std::string>("x");
      });
      if (v && *v == opt_string("x")) ++right;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(right.load(), callers);
  EXPECT_EQ(misses(), callers);
  EXPECT_EQ(loads.load(), 1) << "one loader for every caller of the key";
  EXPECT_TRUE(io_free.load()) << "a read through the cache completed while the loader ran";
  auto failed = c.get_or_load("b", "bad", []() -> result<std::optional<std::string>> {
    return make_error_code(error::invalid_argument);
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), error::invalid_argument);
}

TEST(BlockingCache, InvalidateSetManyAndStop) {
  redis_server server;
  blocking_cache c(options_for(server));
  std::vector<std::pair<std::string, std::string>> items{{"a:1", "x"}, {"a:2", "y"}, {"b", "z"}};
  auto written = c.set_many("n", items);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(*written, std::vector<bool>(3, true));
  auto deleted = c.invalidate("n", "a:*");
  ASSERT_TRUE(deleted) << deleted.error().message();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(c.get("n", "b").value(), opt_string("z"));
  c.stop();
  c.stop();  // idempotent
  auto after = c.get("n", "b");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), error::client_stopped);
}

TEST(Cache, AKeyOfAnotherTypeIsAClearError) {
  redis_server server;
  server.command({"LPUSH", "w:list", "x"});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    auto [e1, v1] = co_await c->async_get("w", "list", nothrow);
    EXPECT_EQ(e1, make_error_code(error::wrong_type));
    EXPECT_NE(e1.message().find("WRONGTYPE"), std::string::npos) << e1.message();
    std::vector<std::string> keys{"list"};
    auto [e2, v2] = co_await c->async_get_many("w", keys, nothrow);
    EXPECT_FALSE(e2) << "MGET answers nil for a key of another type, as Redis does";
    EXPECT_EQ(v2, std::vector<opt_string>{std::nullopt});
    auto [e3, v3] = co_await c->async_set("w", "list", "s", set_options{.keep_ttl = true}, nothrow);
    EXPECT_FALSE(e3) << "SET replaces a key of any type";
  });
}

TEST(Cache, StopEndsWhatIsInFlightAndRefusesWhatComesAfter) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    co_await c->async_set("s", "k", "v", nothrow);  // the default options
    EXPECT_EQ(server.command({"GET", "s:k"}).text, "v");
    manual_loader stuck;
    error_code loading;
    bool answered = false;
    c->async_get_or_load("s", "slow", stuck.fn(), [&](error_code ec, opt_string) {
      loading = ec;
      answered = true;
    });
    EXPECT_TRUE(co_await eventually([&] { return !stuck.calls.empty(); }));
    c->stop();
    EXPECT_TRUE(co_await eventually([&] { return answered; }));
    EXPECT_EQ(loading, make_error_code(error::client_stopped));
    auto [e, v] = co_await c->async_get("s", "k", nothrow);
    EXPECT_EQ(e, make_error_code(error::client_stopped));
    c->stop();  // idempotent
  });
}

TEST(BlockingCache, LoadsRunOnABoundedPoolAndAreBoundedByTheLoadTimeout) {
  redis_server server;
  auto o = options_for(server);
  o.loader_threads = 2;
  o.load_timeout = 300ms;
  failures heard;
  o.on_load_failure = heard.hook();
  auto c = std::make_unique<blocking_cache>(o);
  auto thrown = c->get_or_load("p", "thrower", []() -> result<std::optional<std::string>> {
    throw std::runtime_error("no such table");
  });
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error(), error::loader_failed);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard.seen[0].second, "no such table");

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> running{0}, most{0};
  auto stuck = [&]() -> result<std::optional<std::string>> {
    const int now = ++running;
    int m = most.load();
    while (now > m && !most.compare_exchange_weak(m, now)) {
    }
    released.wait();
    --running;  // the last thing it touches of this test
    return std::optional<std::string>("late");
  };
  // Four keys whose loaders block: at most two run, the others wait for a
  // thread; every caller gets load_timeout.
  std::vector<std::thread> callers;
  std::atomic<int> timed_out{0};
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] {
      auto r = c->get_or_load("p", "k" + std::to_string(i), stuck);
      if (!r && r.error() == error::load_timeout) ++timed_out;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(timed_out.load(), 4);
  EXPECT_GE(most.load(), 1);
  EXPECT_LE(most.load(), 2) << "never more loader threads than loader_threads";
  EXPECT_EQ(heard.size(), 5u);
  // Destroying the cache does not wait for the loaders still blocked.
  c.reset();
  release.set_value();
  while (running.load() != 0) std::this_thread::yield();
}

}  // namespace
}  // namespace rcache
