// Integration tests of rcache::subscriber against a real redis-server:
// typed messages from channels, patterns and shard channels, subscriptions
// shared between subscribers, restored after a restart, closing, and the
// bounded buffer. Synchronisation is by completions and by polling Redis's
// own PUBSUB counts with a deadline, never by sleeping.
#include <rcache/client.hpp>
#include <rcache/subscriber.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "async_test.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::eventually;
using test::nothrow;
using test::redis_server;

client_config config_of(const redis_server& server) {
  client_config cfg;
  cfg.server.port = server.port();
  cfg.command_timeout = 5s;
  cfg.reconnect_backoff_initial = 10ms;
  cfg.reconnect_backoff_max = 100ms;
  return cfg;
}

// Names built outside coroutine bodies (GCC 12 and braced string lists).
template <class... T>
std::vector<std::string> names(const T&... s) {
  return {std::string(s)...};
}

// Redis's own count of subscribers to `channel`.
int numsub(redis_server& server, const std::string& channel) {
  auto r = server.command({"PUBSUB", "NUMSUB", channel});
  return r.elements.size() == 2 ? std::stoi(r.elements[1]) : -1;
}

TEST(Subscriber, ReceivesTypedMessagesOfChannelsAndPatterns) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    subscriber sub(c);
    auto [e1] = co_await sub.async_subscribe(names("news"), nothrow);
    EXPECT_FALSE(e1) << e1.message();
    auto [e2] = co_await sub.async_psubscribe(names("w*"), nothrow);
    EXPECT_FALSE(e2) << e2.message();
    EXPECT_EQ(sub.subscriptions(subscription_kind::channel), names("news"));
    EXPECT_EQ(server.command({"PUBLISH", "news", "one"}).text, "1");
    EXPECT_EQ(server.command({"PUBLISH", "weather", "rain"}).text, "1");
    auto [r1, m1] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r1);
    EXPECT_EQ(m1.kind, subscription_kind::channel);
    EXPECT_EQ(m1.channel, "news");
    EXPECT_EQ(m1.payload, "one");
    EXPECT_TRUE(m1.pattern.empty());
    auto [r2, m2] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r2);
    EXPECT_EQ(m2.kind, subscription_kind::pattern);
    EXPECT_EQ(m2.pattern, "w*");
    EXPECT_EQ(m2.channel, "weather");
    EXPECT_EQ(m2.payload, "rain");
    // The connection still answers ordinary commands.
    request r;
    r.push("PING");
    auto [pe, pr] = co_await c.async_exec(std::move(r), nothrow);
    EXPECT_FALSE(pe);
    EXPECT_EQ(pr.at(0).str, "PONG");
  });
}

TEST(Subscriber, ShardChannelsOnAStandaloneServer) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    subscriber sub(c);
    auto [e1] = co_await sub.async_ssubscribe(names("s1", "s2"), nothrow);
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_EQ(server.command({"SPUBLISH", "s2", "x"}).text, "1");
    auto [r, m] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r);
    EXPECT_EQ(m.kind, subscription_kind::shard_channel);
    EXPECT_EQ(m.channel, "s2");
    EXPECT_EQ(m.payload, "x");
    auto [e2] = co_await sub.async_sunsubscribe({}, nothrow);
    EXPECT_FALSE(e2);
    EXPECT_TRUE(sub.subscriptions(subscription_kind::shard_channel).empty());
    EXPECT_EQ(server.command({"SPUBLISH", "s2", "y"}).text, "0");
  });
}

TEST(Subscriber, TwoSubscribersShareAChannelAndOneLeavingKeepsTheOther) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    std::vector<std::string> by_callback;
    subscriber a(c, [&](const message& m) { by_callback.push_back(m.payload); });
    subscriber b(c);
    auto [ea] = co_await a.async_subscribe(names("news"), nothrow);
    auto [eb] = co_await b.async_subscribe(names("news", "sport"), nothrow);
    EXPECT_FALSE(ea);
    EXPECT_FALSE(eb);
    EXPECT_EQ(numsub(server, "news"), 1) << "one connection, one subscription";
    server.command({"PUBLISH", "news", "1"});
    auto [r1, m1] = co_await b.async_receive(nothrow);
    EXPECT_EQ(m1.payload, "1");
    EXPECT_TRUE(co_await eventually([&] { return by_callback.size() == 1; }));

    auto [eu] = co_await a.async_unsubscribe(names("news"), nothrow);
    EXPECT_FALSE(eu);
    EXPECT_EQ(numsub(server, "news"), 1) << "b still holds it";
    server.command({"PUBLISH", "news", "2"});
    auto [r2, m2] = co_await b.async_receive(nothrow);
    EXPECT_EQ(m2.payload, "2");
    EXPECT_EQ(by_callback, names("1")) << "a let go of news";

    b.close();
    EXPECT_TRUE(co_await eventually([&] { return numsub(server, "news") == 0; }));
    EXPECT_EQ(numsub(server, "sport"), 0);
    auto [rc, mc] = co_await b.async_receive(nothrow);
    EXPECT_EQ(rc, make_error_code(error::subscriber_closed));
  });
}

TEST(Subscriber, SubscriptionsComeBackAfterARestart) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    subscriber sub(c);
    auto [e] = co_await sub.async_subscribe(names("news"), nothrow);
    EXPECT_FALSE(e);
    server.restart();
    EXPECT_TRUE(co_await eventually([&] { return numsub(server, "news") == 1; }));
    server.command({"PUBLISH", "news", "back"});
    auto [r, m] = co_await sub.async_receive(nothrow);
    EXPECT_FALSE(r);
    EXPECT_EQ(m.payload, "back");
  });
}

TEST(Subscriber, AFullBufferDropsByItsPolicyAndSaysSo) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    subscriber sub(c, {.max_buffered = 2, .overflow = overflow_policy::drop_oldest});
    auto [e] = co_await sub.async_subscribe(names("news"), nothrow);
    EXPECT_FALSE(e);
    for (int i = 1; i <= 5; ++i) server.command({"PUBLISH", "news", std::to_string(i)});
    EXPECT_TRUE(co_await eventually([&] { return sub.dropped() == 3; }));
    auto [r1, m1] = co_await sub.async_receive(nothrow);
    EXPECT_EQ(m1.payload, "4");
    EXPECT_EQ(m1.dropped_before, 3u);
    auto [r2, m2] = co_await sub.async_receive(nothrow);
    EXPECT_EQ(m2.payload, "5");
    EXPECT_EQ(m2.dropped_before, 0u);
  });
}

TEST(Subscriber, DestroyingTheClientClosesItsSubscribers) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = std::make_unique<client>(ex, config_of(server));
    subscriber sub(*c);
    auto [e] = co_await sub.async_subscribe(names("news"), nothrow);
    EXPECT_FALSE(e);
    c.reset();
    auto [r, m] = co_await sub.async_receive(nothrow);
    EXPECT_EQ(r, make_error_code(error::subscriber_closed));
    auto [e2] = co_await sub.async_subscribe(names("other"), nothrow);
    EXPECT_EQ(e2, make_error_code(error::subscriber_closed));
  });
}

TEST(Subscriber, ARefusedSubscribeFailsAndHoldsNothing) {
  redis_server server;
  server.command(
      {"ACL", "SETUSER", "limited", "on", ">pw", "~*", "+@all", "resetchannels", "&allowed"});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_of(server);
    cfg.username = "limited";
    cfg.password = "pw";
    client c(ex, cfg);
    subscriber sub(c);
    auto [e1] = co_await sub.async_subscribe(names("secret"), nothrow);
    EXPECT_EQ(e1, make_error_code(error::redis_error));
    EXPECT_TRUE(sub.subscriptions(subscription_kind::channel).empty());
    auto [e2] = co_await sub.async_subscribe(names("allowed"), nothrow);
    EXPECT_FALSE(e2) << "a refusal does not stop later subscriptions";
    EXPECT_EQ(numsub(server, "allowed"), 1);
  });
}

}  // namespace
}  // namespace rcache
