// Integration tests of typed commands (command.hpp, reply.hpp) against a
// real redis-server: every data type's helpers, an error reply with its
// message, a reply of another shape, and the blocking form.
#include <rcache/blocking_client.hpp>
#include <rcache/client.hpp>
#include <rcache/transactions.hpp>

#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "async_test.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::redis_server;
using opt_string = std::optional<std::string>;
constexpr auto await = asio::use_awaitable;

// The value of a typed command's reply; an error reply or a transport
// error throws (a test failure that says which). GCC 12 does not compile
// `(co_await ...).value()` inside a generic lambda.
template <class T>
asio::awaitable<T> value_of(client& c, command<T> cmd) {
  auto r = co_await c.async_command(std::move(cmd), asio::use_awaitable);
  co_return std::move(r).value();
}

client_config config_of(const redis_server& server) {
  client_config cfg;
  cfg.server.port = server.port();
  cfg.command_timeout = 5s;
  return cfg;
}

TEST(Command, StringsKeysAndAnErrorReplyWithItsMessage) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    EXPECT_EQ(co_await value_of(c, cmd::set("k", "v")), opt_string("OK"));
    EXPECT_EQ(co_await value_of(c, cmd::get("k")), opt_string("v"));
    EXPECT_EQ(co_await value_of(c, cmd::get("none")), std::nullopt);
    EXPECT_EQ(co_await value_of(c, cmd::incrby("n", 5)), 5);
    EXPECT_DOUBLE_EQ(co_await value_of(c, cmd::incrbyfloat("f", 1.5)), 1.5);
    EXPECT_EQ(co_await value_of(c, cmd::of<std::int64_t>("GET", "n")), 5);
    EXPECT_TRUE(co_await value_of(c, cmd::expire("k", 100)));
    EXPECT_EQ(co_await value_of(c, cmd::type("k")), "string");
    EXPECT_EQ(co_await value_of(c, cmd::del("k", "n", "f")), 3);
    (void)co_await c.async_command(cmd::lpush("list", "a"), await);
    auto wrong = co_await c.async_command(cmd::get("list"), await);
    CO_ASSERT(!wrong);
    EXPECT_EQ(wrong.error().code, make_error_code(error::wrong_type));
    EXPECT_EQ(wrong.error().message.rfind("WRONGTYPE ", 0), 0u) << wrong.error().message;
    auto shape = co_await c.async_command(cmd::of<std::int64_t>("LRANGE", "list", 0, -1), await);
    CO_ASSERT(!shape);
    EXPECT_EQ(shape.error().code, make_error_code(error::reply_type_mismatch));
  });
}

TEST(Command, HashesListsSetsAndSortedSets) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    EXPECT_EQ(co_await value_of(c, cmd::hset("h", "a", "1", "b", "2")), 2);
    const auto all = co_await value_of(c, cmd::hgetall("h"));
    EXPECT_EQ(all.size(), 2u);
    EXPECT_EQ(all.at("b"), "2");
    auto got1 = co_await value_of(c, cmd::hmget("h", "a", "zz"));
    EXPECT_EQ(got1, (cmd::opt_strings{"1", std::nullopt}));
    EXPECT_TRUE(co_await value_of(c, cmd::hexists("h", "a")));
    EXPECT_EQ(co_await value_of(c, cmd::rpush("l", "x", "y", "z")), 3);
    auto got2 = co_await value_of(c, cmd::lrange("l", 0, -1));
    EXPECT_EQ(got2, (cmd::strings{"x", "y", "z"}));
    EXPECT_EQ(co_await value_of(c, cmd::lpop("l")), opt_string("x"));
    EXPECT_EQ(co_await value_of(c, cmd::sadd("s", "m1", "m2")), 2);
    auto got3 = co_await value_of(c, cmd::smismember("s", "m1", "no"));
    EXPECT_EQ(got3, (std::vector<bool>{true, false}));
    EXPECT_EQ(co_await value_of(c, cmd::zadd("z", 1.5, "a", 3, "b")), 2);
    EXPECT_EQ(co_await value_of(c, cmd::zscore("z", "b")), std::optional<double>(3));
    EXPECT_EQ(co_await value_of(c, cmd::zscore("z", "none")), std::nullopt);
    auto got4 = co_await value_of(c, cmd::zrange("z", 0, -1));
    EXPECT_EQ(got4, (cmd::strings{"a", "b"}));
    using scored = std::vector<std::pair<std::string, double>>;
    auto with = co_await value_of(c, cmd::of<scored>("ZRANGE", "z", 0, -1, "WITHSCORES"));
    EXPECT_EQ(with, (scored{{"a", 1.5}, {"b", 3.0}}));
    EXPECT_EQ(co_await value_of(c, cmd::zrank("z", "b")), std::optional<std::int64_t>(1));
  });
}

TEST(Command, StreamsGeoScriptsAndPubSub) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_of(server));
    auto id = co_await value_of(c, cmd::xadd("st", "*", "f", "v"));
    CO_ASSERT(id.has_value());
    const auto entries = co_await value_of(c, cmd::xrange("st", "-", "+"));
    CO_ASSERT(entries.size() == 1u);
    EXPECT_EQ(entries[0].first, *id);
    EXPECT_EQ(entries[0].second, (cmd::strings{"f", "v"}));
    EXPECT_EQ(co_await value_of(c, cmd::geoadd("g", 13.361389, 38.115556, "Palermo")), 1);
    (void)co_await c.async_command(cmd::geoadd("g", 15.087269, 37.502669, "Catania"), await);
    const auto d = co_await value_of(c, cmd::geodist("g", "Palermo", "Catania", "km"));
    CO_ASSERT(d.has_value());
    EXPECT_NEAR(*d, 166.27, 0.1);
    const auto pos = co_await value_of(c, cmd::geopos("g", "Palermo", "Nowhere"));
    CO_ASSERT(pos.size() == 2u);
    CO_ASSERT(pos[0].has_value());
    EXPECT_NEAR(pos[0]->first, 13.361389, 1e-4);
    EXPECT_FALSE(pos[1].has_value());
    const auto sha = co_await value_of(c, cmd::script_load("return 1"));
    EXPECT_EQ(sha.size(), 40u);
    EXPECT_EQ(co_await value_of(c, cmd::of<std::int64_t>("EVALSHA", sha, 0)), 1);
    EXPECT_EQ(co_await value_of(c, cmd::publish("nobody", "x")), 0);
  });
}

TEST(Command, TheBlockingFormAndATransportError) {
  redis_server server;
  blocking_client c(config_of(server));
  EXPECT_EQ(c.command(cmd::hset("user:1", "name", "Ada")).value(), 1);
  EXPECT_EQ(c.command(cmd::hget("user:1", "name")).value(), opt_string("Ada"));
  server.kill();
  auto gone = c.command(command<std::string>(request::options{.timeout = 300ms}, "PING"));
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().code.category() == error_category()) << gone.error().code.message();
  EXPECT_EQ(gone.error().message, gone.error().code.message());
}

// The plan of a transfer: 10 from balance:1 to balance:2 if there is enough.
std::optional<request> transfer(const response& got, int& plans) {
  ++plans;
  const auto from = std::stoll(got.at(0).str);
  if (from < 10) return std::nullopt;
  request w;
  w.push("DECRBY", "balance:1", 10).push("INCRBY", "balance:2", 10);
  return w;
}

TEST(Transactions, AWatchedKeyChangedByAnotherClientRunsThePlanAgain) {
  redis_server server;
  server.command({"SET", "balance:1", "25"});
  server.command({"SET", "balance:2", "0"});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    transactions tx(ex, config_of(server));
    int plans = 0;
    bool interfered = false;
    auto plan = [&](const response& got) -> std::optional<request> {
      if (!interfered) {  // between the reads and EXEC, another client writes
        interfered = true;
        server.command({"SET", "balance:1", "15"});
      }
      return transfer(got, plans);
    };
    std::vector<std::string> watched{"balance:1"};
    request reads;
    reads.push("GET", "balance:1");
    auto r = co_await tx.async_run(watched, reads, plan, asio::use_awaitable);
    CO_ASSERT(r.has_value());
    EXPECT_EQ(plans, 2) << "EXEC was aborted once, and the plan ran on the new balance";
    EXPECT_EQ(r->size(), 2u) << "EXEC's replies: DECRBY and INCRBY";
    EXPECT_EQ(r->at(0).integer, 5);
    EXPECT_EQ(server.command({"GET", "balance:1"}).text, "5");
    EXPECT_EQ(server.command({"GET", "balance:2"}).text, "10");
    // Not enough left: the plan declines and nothing runs.
    auto none = co_await tx.async_run(watched, reads, plan, asio::use_awaitable);
    CO_ASSERT(none.has_value());
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(server.command({"GET", "balance:1"}).text, "5");
  });
}

TEST(Transactions, ConflictsAtEveryAttemptEndInTransactionConflict) {
  redis_server server;
  server.command({"SET", "k", "0"});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    transactions tx(ex, config_of(server), 3);
    int plans = 0;
    auto always_interfered = [&](const response&) -> std::optional<request> {
      ++plans;
      server.command({"INCR", "k"});
      request w;
      w.push("SET", "k", "mine");
      return w;
    };
    std::vector<std::string> watched{"k"};
    auto r = co_await tx.async_run(watched, request{}, always_interfered, asio::use_awaitable);
    CO_ASSERT(!r.has_value());
    EXPECT_EQ(r.error().code, make_error_code(error::transaction_conflict));
    EXPECT_EQ(plans, 3);
    EXPECT_EQ(server.command({"GET", "k"}).text, "3") << "never overwritten";
  });
}

}  // namespace
}  // namespace rcache
