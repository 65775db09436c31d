// Integration tests of rcache::session_store against a real redis-server:
// the API (async and blocking), sliding and absolute expiry on a fake clock,
// rotation and its grace period, field-level and compare-and-set updates,
// the per-user cap under 50 concurrent creates, index pruning and the
// sweeper through a compressed day of churn, the event streams, bad input,
// and scripts surviving SCRIPT FLUSH.
#include <rcache/blocking_client.hpp>
#include <rcache/session.hpp>

#include <atomic>
#include <gtest/gtest.h>
#include <random>
#include <set>
#include <thread>

#include "async_test.hpp"
#include "fake_session_clock.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using test::fake_session_clock;
using test::nothrow;
using test::redis_server;

client_config config_for(const redis_server& server) {
  client_config c;
  c.server.port = server.port();
  c.command_timeout = 10s;
  return c;
}

session_options options_with(fake_session_clock& clock) {
  session_options o;
  o.prefix = "s:";
  o.idle_timeout = 60s;
  o.absolute_lifetime = 300s;
  o.sweep_interval = 0s;  // the tests sweep when they choose
  o.clock = clock.fn();
  return o;
}

// Every key of the server, by the admin channel (KEYS is fine in a test).
std::vector<std::string> keys_of(const redis_server& server, std::string_view pattern = "*") {
  return server.command({"KEYS", pattern}).elements;
}

std::vector<session_event> all_events(blocking_session_store& store) {
  auto r = store.read_events({}, 100000);
  EXPECT_TRUE(r) << r.error().message();
  return r ? r->events : std::vector<session_event>{};
}

std::size_t count_of(const std::vector<session_event>& events, session_event::kind k) {
  return static_cast<std::size_t>(std::count_if(
      events.begin(), events.end(), [k](const session_event& e) { return e.what == k; }));
}

// ---- the API ------------------------------------------------------------------------

TEST(Session, CreateValidateUpdateListDestroy) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));

  auto s = store.create("alice", {"laptop-1", "Firefox/120", "10.1.2.3"}, {{"theme", "dark"}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->user, "alice");
  EXPECT_EQ(s->created, clock.now());
  EXPECT_EQ(s->expires, clock.now() + 60s);
  EXPECT_EQ(s->absolute_expiry, clock.now() + 300s);

  // The hash and the index share the bucket's hash tag and are readable by any client.
  const auto tag = s->id.substr(s->id.size() - 2);
  const auto hash_key = "s:{" + tag + "}:s:" + s->id;
  EXPECT_EQ(server.command({"HGET", hash_key, "user"}).text, "alice");
  EXPECT_EQ(server.command({"HGET", hash_key, "data:theme"}).text, "dark");
  EXPECT_EQ(server.command({"ZSCORE", "s:{" + tag + "}:u:alice", s->id}).text,
            std::to_string((clock.now() + 60s).time_since_epoch().count()));

  clock.advance(10s);
  auto v = store.validate(s->id);
  ASSERT_TRUE(v && *v) << (v ? "not found" : v.error().message());
  EXPECT_EQ((*v)->device.user_agent, "Firefox/120");
  EXPECT_EQ((*v)->device.ip, "10.1.2.3");
  EXPECT_EQ((*v)->last_seen, clock.now());
  EXPECT_EQ((*v)->expires, clock.now() + 60s) << "validate slides the idle expiry";
  EXPECT_EQ((*v)->data.at("theme"), "dark");

  auto version = store.update(s->id, {.set = {{"cart", "2 items"}}, .remove = {"theme"}});
  ASSERT_TRUE(version && *version);
  EXPECT_EQ(**version, 1u);
  auto read = store.read(s->id);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->data, (std::map<std::string, std::string>{{"cart", "2 items"}}));
  EXPECT_EQ((*read)->version, 1u);
  EXPECT_EQ((*read)->last_seen, clock.now() - 0s) << "read does not touch";

  auto second = store.create("alice", {"phone", "App/2", "10.9.9.9"});
  ASSERT_TRUE(second);
  clock.advance(1s);
  ASSERT_TRUE(store.validate(second->id));
  auto list = store.list("alice");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, second->id) << "the most recently seen first";
  EXPECT_EQ((*list)[0].device.id, "phone");
  EXPECT_EQ((*list)[1].device.id, "laptop-1");

  auto destroyed = store.destroy(s->id);
  ASSERT_TRUE(destroyed);
  EXPECT_TRUE(*destroyed);
  EXPECT_FALSE(*store.destroy(s->id)) << "a second destroy finds nothing";
  EXPECT_FALSE(*store.validate(s->id));
  EXPECT_EQ(store.list("alice")->size(), 1u);
  EXPECT_EQ(server.command({"EXISTS", hash_key}).text, "0");
}

TEST(Session, TheAsyncFormWithCoroutines) {
  redis_server server;
  fake_session_clock clock;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client redis(ex, config_for(server));
    session_store store(redis, options_with(clock));
    // Arguments as named values: GCC 12 destroys temporaries made inside a
    // co_await expression twice.
    std::string user = "bob";
    device_info device;
    std::map<std::string, std::string> data;
    auto [e1, s] =
        co_await store.async_create(std::move(user), std::move(device), std::move(data), nothrow);
    EXPECT_FALSE(e1) << e1.message();
    auto [e2, v] = co_await store.async_validate(s.id, nothrow);
    EXPECT_FALSE(e2);
    CO_ASSERT(v.has_value());
    EXPECT_EQ(v->user, "bob");
    auto [e3, none] = co_await store.async_validate("not-an-id", nothrow);
    EXPECT_FALSE(e3) << "an unknown id is not an error";
    EXPECT_FALSE(none.has_value());
    auto [e4, n] = co_await store.async_destroy_all("bob", "", nothrow);
    EXPECT_FALSE(e4);
    EXPECT_EQ(n, 1u);
  });
}

// ---- expiry ----------------------------------------------------------------------------

TEST(Session, IdleExpiryIsSlidingAndTheAbsoluteLifetimeIsNot) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));

  // Idle: 60 s without a validate kills it, and nothing revives it.
  auto idle = store.create("carol").value();
  clock.advance(59s);
  EXPECT_TRUE(*store.validate(idle.id)) << "59 s idle: alive";
  clock.advance(60s);
  EXPECT_FALSE(*store.validate(idle.id)) << "60 s idle: dead";
  EXPECT_FALSE(*store.validate(idle.id)) << "and a second touch does not revive it";
  EXPECT_FALSE(*store.read(idle.id));

  // Absolute: validated every 50 s, it still dies 300 s after creation.
  auto busy = store.create("carol").value();
  const auto born = clock.now();
  while (clock.now() + 50s < born + 300s) {
    clock.advance(50s);
    auto v = store.validate(busy.id);
    ASSERT_TRUE(v && *v) << "alive at +" << (clock.now() - born).count() << " ms";
    EXPECT_EQ((*v)->expires, std::min(clock.now() + 60s, born + 300s));
  }
  clock.advance(born + 300s - clock.now());
  EXPECT_FALSE(*store.validate(busy.id)) << "touched 50 s ago, but past its lifetime";
  EXPECT_TRUE(store.list("carol")->empty());
  const auto events = all_events(store);
  EXPECT_EQ(count_of(events, session_event::kind::expired), 2u);
  EXPECT_TRUE(keys_of(server, "s:*:s:*").empty()) << "no session hash is left";
  EXPECT_TRUE(keys_of(server, "s:*:u:*").empty()) << "no index is left";
}

// ---- rotation ---------------------------------------------------------------------------

TEST(Session, RotationKeepsTheOldIdValidForTheGracePeriodOnly) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.rotation_grace = 30s;
  blocking_session_store store(redis.async(), o);

  auto old = store.create("dave", {"d1", "ua", "1.1.1.1"}, {{"role", "guest"}}).value();
  auto fresh = store.rotate(old.id);
  ASSERT_TRUE(fresh && *fresh);
  EXPECT_NE((*fresh)->id, old.id);
  EXPECT_EQ((*fresh)->data.at("role"), "guest") << "the data moves with the session";
  EXPECT_EQ((*fresh)->device.id, "d1");

  clock.advance(10s);
  auto via_old = store.validate(old.id);
  ASSERT_TRUE(via_old && *via_old) << "within the grace period the old id answers";
  EXPECT_EQ((*via_old)->id, old.id) << "without revealing the new id";
  EXPECT_FALSE(*store.rotate(old.id)) << "an id rotated away cannot be rotated again";
  ASSERT_TRUE(store.update((*fresh)->id, {.set = {{"role", "admin"}}}).value());
  EXPECT_EQ((*store.validate(old.id))->data.at("role"), "admin") << "one session, two names";

  clock.advance(21s);
  EXPECT_FALSE(*store.validate(old.id)) << "past the grace period";
  auto after = store.validate((*fresh)->id);
  ASSERT_TRUE(after && *after);
  EXPECT_EQ(store.list("dave")->size(), 1u) << "the index holds the new id only";
  EXPECT_EQ(store.list("dave")->front().id, (*fresh)->id);

  const auto events = all_events(store);
  ASSERT_EQ(count_of(events, session_event::kind::rotated), 1u);
  const auto rotated = std::find_if(events.begin(), events.end(), [](const session_event& e) {
    return e.what == session_event::kind::rotated;
  });
  EXPECT_EQ(rotated->id, (*fresh)->id);
  EXPECT_EQ(rotated->from, old.id);
}

TEST(Session, RotatingTwiceWithinTheGraceKeepsEveryOldIdAnswering) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.rotation_grace = 30s;
  blocking_session_store store(redis.async(), o);

  // A login and then a privilege change: a -> b -> c within the grace period.
  const auto a = store.create("erin", {}, {{"role", "guest"}}).value();
  const auto b = store.rotate(a.id).value().value();
  clock.advance(5s);
  const auto c = store.rotate(b.id).value().value();
  for (const auto& id : {a.id, b.id}) {
    auto r = store.validate(id);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(*r) << "an old id answers through every rotation";
    EXPECT_EQ((*r)->data.at("role"), "guest");
  }
  EXPECT_TRUE(store.update(a.id, {.set = {{"role", "admin"}}}).value());
  EXPECT_EQ(store.read(c.id).value()->data.at("role"), "admin") << "one session, three names";

  // Logging out everywhere but this device, named by its oldest id.
  const auto other = store.create("erin").value();
  EXPECT_EQ(store.destroy_all("erin", a.id).value(), 1u);
  EXPECT_FALSE(*store.validate(other.id));
  EXPECT_TRUE(*store.validate(c.id)) << "the old id kept the session it was rotated to";

  EXPECT_TRUE(store.destroy(a.id).value()) << "the oldest id destroys the session";
  for (const auto& id : {a.id, b.id, c.id}) EXPECT_FALSE(*store.validate(id));
}

// ---- updates ----------------------------------------------------------------------------

TEST(Session, ConcurrentUpdatesOfDifferentFieldsAllSurvive) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));
  const auto s = store.create("erin").value();

  constexpr int writers = 8, updates = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < updates; ++i) {
        const auto r =
            store.update(s.id, {.set = {{"writer" + std::to_string(w), std::to_string(i)}}});
        if (!r || !*r) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto now = store.read(s.id).value();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->data.size(), static_cast<std::size_t>(writers));
  for (int w = 0; w < writers; ++w) {
    EXPECT_EQ(now->data.at("writer" + std::to_string(w)), std::to_string(updates - 1));
  }
  EXPECT_EQ(now->version, static_cast<std::uint64_t>(writers * updates));

  // Compare-and-set: of two writers that read version v, the second loses.
  const auto v = now->version;
  EXPECT_TRUE(*store.update(s.id, {.set = {{"a", "1"}}, .expected_version = v}));
  auto lost = store.update(s.id, {.set = {{"a", "2"}}, .expected_version = v});
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error(), make_error_code(error::version_conflict));
  EXPECT_EQ(store.read(s.id).value()->data.at("a"), "1");
}

// ---- the cap -------------------------------------------------------------------------------

// 50 creates for one user at once, from 50 threads, on one connection.
std::vector<result<session>> create_at_once(blocking_session_store& store, const char* user) {
  std::vector<result<session>> results(50, result<session>(make_error_code(error::timeout)));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = store.create(user, {"dev" + std::to_string(i)}); });
  }
  for (auto& t : threads) t.join();
  return results;
}

TEST(Session, FiftyConcurrentCreatesUnderACapOfThreeLeaveExactlyThree) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.max_per_user = 3;
  blocking_session_store evicting(redis.async(), o);
  for (const auto& r : create_at_once(evicting, "frank")) EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(evicting.list("frank")->size(), 3u);
  EXPECT_EQ(server.command({"ZCARD", keys_of(server, "s:*:u:frank").at(0)}).text, "3");
  EXPECT_EQ(keys_of(server, "s:*:s:*").size(), 3u) << "the evicted sessions' hashes are gone";
  const auto events = all_events(evicting);
  EXPECT_EQ(count_of(events, session_event::kind::created), 50u);
  EXPECT_EQ(count_of(events, session_event::kind::evicted), 47u);

  o.cap_policy = session_cap_policy::refuse;
  blocking_session_store refusing(redis.async(), o);
  std::size_t created = 0, refused = 0;
  for (const auto& r : create_at_once(refusing, "grace")) {
    if (r) {
      ++created;
    } else {
      EXPECT_EQ(r.error(), make_error_code(error::session_cap_reached));
      ++refused;
    }
  }
  EXPECT_EQ(created, 3u);
  EXPECT_EQ(refused, 47u);
  EXPECT_EQ(refusing.list("grace")->size(), 3u);
}

TEST(Session, TheCapEvictsTheLeastRecentlySeen) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.max_per_user = 2;
  blocking_session_store store(redis.async(), o);
  const auto a = store.create("henry").value();
  clock.advance(1s);
  const auto b = store.create("henry").value();
  clock.advance(1s);
  ASSERT_TRUE(*store.validate(a.id));  // a is now seen after b
  clock.advance(1s);
  const auto c = store.create("henry").value();
  EXPECT_TRUE(*store.read(a.id));
  EXPECT_FALSE(*store.read(b.id)) << "b was seen longest ago";
  EXPECT_TRUE(*store.read(c.id));
  const auto events = all_events(store);
  ASSERT_EQ(count_of(events, session_event::kind::evicted), 1u);
}

// ---- logging out everywhere --------------------------------------------------------------

TEST(Session, DestroyAllButOne) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));
  std::vector<session> mine;
  for (int i = 0; i < 4; ++i) mine.push_back(store.create("ivy").value());
  const auto other = store.create("jack").value();
  EXPECT_EQ(store.destroy_all("ivy", mine[2].id).value(), 3u);
  EXPECT_EQ(store.list("ivy")->size(), 1u);
  EXPECT_TRUE(*store.validate(mine[2].id));
  EXPECT_FALSE(*store.validate(mine[0].id));
  EXPECT_TRUE(*store.validate(other.id)) << "another user's session is untouched";
  EXPECT_EQ(store.destroy_all("ivy", "").value(), 1u);
  EXPECT_EQ(count_of(all_events(store), session_event::kind::destroyed), 4u);
}

TEST(Session, EveryWriteOfAUsersIndexPrunesIt) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));  // idle 60 s
  const auto stale = store.create("lou").value();
  const auto stale2 = store.create("lou").value();
  clock.advance(50s);
  const auto fresh = store.create("lou").value();
  clock.advance(20s);  // the first two are dead; nobody has looked at them
  const auto index = "s:{" + fresh.id.substr(44) + "}:u:lou";
  EXPECT_EQ(server.command({"ZCARD", index}).text, "3");
  ASSERT_TRUE(*store.validate(fresh.id)) << "a validate writes the index";
  EXPECT_EQ(server.command({"ZCARD", index}).text, "1") << "and drops its dead entries";
  for (const auto& id : {stale.id, stale2.id}) {
    EXPECT_EQ(server.command({"EXISTS", "s:{" + id.substr(44) + "}:s:" + id}).text, "0");
  }
  EXPECT_EQ(count_of(all_events(store), session_event::kind::expired), 2u);
}

// ---- expiry without notifications: pruning and the sweeper ---------------------------------

std::int64_t used_memory(const redis_server& server) {
  const auto info = server.command({"INFO", "memory"}).text;
  const auto at = info.find("used_memory:");
  return std::stoll(info.substr(at + 12));
}

TEST(Session, ADayOfChurnLeavesNoDeadIndexEntryAfterASweep) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.idle_timeout = 120s;
  o.absolute_lifetime = 3600s;
  o.max_per_user = 3;
  o.events_per_stream = 50;
  blocking_session_store store(redis.async(), o);
  // The baseline: Redis after one of everything (scripts compiled and
  // cached, one stream made and dropped) and FLUSHALL; what Redis keeps
  // once for that (~0.5 MB under ASan) is not the churn's.
  {
    const auto w = store.create("warm-up").value();
    ASSERT_TRUE(*store.validate(w.id));
    ASSERT_TRUE(store.list("warm-up"));
    ASSERT_EQ(store.destroy_all("warm-up", "").value(), 1u);
    ASSERT_TRUE(store.sweep());
    server.command({"FLUSHALL"});
  }
  const auto baseline = used_memory(server);

  // 24 hours in 10-minute steps: 3,000 users log in, come back or go
  // idle; most sessions die by expiry, unseen by anyone.
  std::mt19937 rng(7);
  std::vector<std::string> live;
  std::size_t created = 0;
  for (int step = 0; step < 144; ++step) {
    for (int i = 0; i < 40; ++i) {
      const auto user = "user-" + std::to_string(rng() % 3000);
      auto s = store.create(user, {"dev", "ua", "10.0.0.1"}, {{"k", std::string(64, 'v')}});
      ASSERT_TRUE(s) << s.error().message();
      live.push_back(s->id);
      ++created;
    }
    for (int i = 0; i < 20 && !live.empty(); ++i) {
      (void)store.validate(live[rng() % live.size()]);
    }
    clock.advance(600s);
    if (live.size() > 400) live.erase(live.begin(), live.begin() + 200);
  }
  // Everything is dead by now; most dead sessions were never looked at again.
  clock.advance(3600s);
  const auto swept = store.sweep();
  ASSERT_TRUE(swept) << swept.error().message();
  EXPECT_TRUE(swept->swept);
  EXPECT_GT(swept->expired, 0u);

  EXPECT_TRUE(keys_of(server, "s:*:s:*").empty()) << "no session hash survives";
  EXPECT_TRUE(keys_of(server, "s:*:u:*").empty()) << "no index entry survives";
  EXPECT_TRUE(keys_of(server, "s:*:expiry").empty()) << "the buckets' expiry indexes are empty";
  const auto streams = keys_of(server, "s:*:events");
  EXPECT_EQ(keys_of(server).size(), streams.size()) << "only the bounded event streams remain";
  for (const auto& k : streams) {
    EXPECT_LE(std::stoll(server.command({"XLEN", k}).text), 150) << k << " stays bounded";
  }
  // Without the event streams, memory is back where it started: the slack
  // covers the keyspace's hash tables, which shrink lazily, and the
  // connection's buffers (measured: ~120 KB).
  for (const auto& k : streams) server.command({"DEL", k});
  const auto after = used_memory(server);
  std::cout << "churn: " << created << " sessions created; used_memory " << baseline << " -> "
            << after << " bytes after the sweep\n";
  EXPECT_LT(after - baseline, 256 << 10);
}

TEST(Session, OnlyOneSweeperAtATimeHoldsTheLease) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));
  server.command({"SET", "s:sweeper", "another-instance", "PX", "60000"});
  const auto r = store.sweep();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->swept) << "the lease is held elsewhere";
  server.command({"DEL", "s:sweeper"});
  const auto mine = store.sweep();
  ASSERT_TRUE(mine);
  EXPECT_TRUE(mine->swept);
  EXPECT_EQ(server.command({"EXISTS", "s:sweeper"}).text, "0") << "released after the sweep";
}

TEST(Session, TheBackgroundSweeperRuns) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.sweep_interval = 1s;
  blocking_session_store store(redis.async(), o);
  const auto s = store.create("kate").value();
  clock.advance(61s);  // dead, and nobody looks at it again
  test::run_async([&](auto) -> asio::awaitable<void> {
    EXPECT_TRUE(co_await test::eventually([&] {
      return keys_of(server, "s:*:s:*").empty() && keys_of(server, "s:*:u:*").empty();
    })) << "the sweeper removed the dead session";
  });
  const auto events = all_events(store);
  ASSERT_EQ(count_of(events, session_event::kind::expired), 1u);
  EXPECT_EQ(events.back().id, s.id);
}

// ---- events ---------------------------------------------------------------------------------

TEST(Session, EventsAreReadFromACursorAndTouchEventsAreOptional) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  blocking_session_store quiet(redis.async(), o);
  const auto a = quiet.create("liam").value();
  ASSERT_TRUE(*quiet.validate(a.id));
  auto first = quiet.read_events({});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->events.size(), 1u) << "no touched event by default";
  EXPECT_EQ(first->events[0].what, session_event::kind::created);
  EXPECT_EQ(first->events[0].user, "liam");
  EXPECT_EQ(first->events[0].at, clock.now());

  o.touch_events = true;
  blocking_session_store chatty(redis.async(), o);
  ASSERT_TRUE(*chatty.validate(a.id));
  ASSERT_TRUE(*chatty.destroy(a.id));
  auto next = chatty.read_events(first->next);
  ASSERT_TRUE(next);
  ASSERT_EQ(next->events.size(), 2u) << "only what came after the cursor";
  EXPECT_EQ(next->events[0].what, session_event::kind::touched);
  EXPECT_EQ(next->events[1].what, session_event::kind::destroyed);
  EXPECT_TRUE(chatty.read_events(next->next)->events.empty());
}

// ---- bad input and Redis events -----------------------------------------------------------

TEST(Session, BadInputGetsAClearErrorAndUnknownIdsAreNotFound) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  auto o = options_with(clock);
  o.max_fields = 2;
  o.max_field_value = 10;
  o.max_user_length = 8;
  blocking_session_store store(redis.async(), o);
  EXPECT_EQ(store.create("").error(), make_error_code(error::invalid_argument));
  EXPECT_EQ(store.create("a\nb").error(), make_error_code(error::invalid_argument));
  EXPECT_EQ(store.create("123456789").error(), make_error_code(error::value_too_large));
  EXPECT_EQ(store.create("u", {}, {{"a", "1"}, {"b", "2"}, {"c", "3"}}).error(),
            make_error_code(error::too_many_fields));
  EXPECT_EQ(store.create("u", {}, {{"a", std::string(11, 'x')}}).error(),
            make_error_code(error::value_too_large));
  EXPECT_EQ(store.create("u", {}, {{"", "x"}}).error(), make_error_code(error::invalid_argument));

  const auto s = store.create("u", {}, {{"a", "1"}}).value();
  EXPECT_TRUE(*store.update(s.id, {.set = {{"b", "2"}}}));
  EXPECT_EQ(store.update(s.id, {.set = {{"c", "3"}}}).error(),
            make_error_code(error::too_many_fields))
      << "the limit holds against what is stored, not only what is sent";
  EXPECT_EQ(store.read(s.id).value()->data.size(), 2u) << "a refused update changes nothing";
  EXPECT_EQ(store.update(s.id, {.set = {{"a", "x"}}, .remove = {"a"}}).error(),
            make_error_code(error::invalid_argument));

  for (const std::string& id :
       {std::string(), std::string("nope"), s.id + "x", std::string(s.id).replace(44, 2, "zz")}) {
    auto r = store.validate(id);
    ASSERT_TRUE(r) << "'" << id << "': " << r.error().message();
    EXPECT_FALSE(*r);
    EXPECT_FALSE(*store.destroy(id));
    EXPECT_FALSE(*store.update(id, {.set = {{"a", "b"}}}));
  }
  EXPECT_THROW(blocking_session_store(redis.async(), session_options{.prefix = ""}),
               std::invalid_argument);
  EXPECT_THROW(blocking_session_store(redis.async(), session_options{.prefix = "{app}:"}),
               std::invalid_argument)
      << "a brace in the prefix would replace the user's hash tag";
}

TEST(Session, ScriptsSurviveScriptFlush) {
  redis_server server;
  blocking_client redis(config_for(server));
  fake_session_clock clock;
  blocking_session_store store(redis.async(), options_with(clock));
  const auto s = store.create("mia").value();
  server.command({"SCRIPT", "FLUSH"});
  auto v = store.validate(s.id);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_TRUE(*v);
  server.command({"SCRIPT", "FLUSH"});
  EXPECT_TRUE(store.create("mia"));
}

}  // namespace
}  // namespace rcache
