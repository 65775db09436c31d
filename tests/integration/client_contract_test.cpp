// Integration tests of client behaviour docs/client.md promises and no
// other test held to (issue 11, item 11): the send queue's byte bound, the
// reply bulk limit, stop(), a server without RESP3, the retry rules and
// max_retries; and the connection events an operator's log is made of
// (item 7). Each runs against a real redis-server, started and stopped by
// the fixture; waits are for conditions, never for time.
#include <rcache/client.hpp>

#include <gtest/gtest.h>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "async_test.hpp"
#include "embedded/free_port.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using test::eventually;
using test::nothrow;
using test::redis_server;

client_config config_for(const redis_server& server) {
  client_config cfg;
  cfg.server.host = "127.0.0.1";
  cfg.server.port = server.port();
  cfg.command_timeout = 10s;
  cfg.reconnect_backoff_initial = 10ms;
  cfg.reconnect_backoff_max = 50ms;
  return cfg;
}

request cmd(auto... args) {
  request r;
  r.push(args...);
  return r;
}

request with(request::options o, auto... args) {
  request r(o);
  r.push(args...);
  return r;
}

// ---- limits ---------------------------------------------------------------------

TEST(ClientContract, TheSendQueueIsBoundedInBytes) {
  const auto port = embedded::free_port().value();  // nothing listens: requests queue
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client_config cfg;
    cfg.server.port = port;
    cfg.max_queued_bytes = 1000;
    cfg.command_timeout = 300ms;
    client c(ex, cfg);
    const std::string big(600, 'x');
    std::vector<error_code> results;
    for (int i = 0; i < 3; ++i) {
      c.async_exec(cmd("ECHO", big), [&](error_code ec, response) { results.push_back(ec); });
    }
    EXPECT_TRUE(co_await eventually([&] { return results.size() == 3; }));
    // The second and third would take the queue past 1000 bytes: refused
    // at once, while the first waits for its deadline.
    if (results.size() != 3) co_return;
    EXPECT_EQ(results[0], error::queue_full);
    EXPECT_EQ(results[1], error::queue_full);
    EXPECT_NE(results[2], error::queue_full);
    EXPECT_EQ(c.stats().rejected, 2u);
  });
}

TEST(ClientContract, ABulkReplyPastTheLimitFailsClearlyAndTheClientRecovers) {
  redis_server server;
  server.command({"SET", "big", std::string(1000, 'b')});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.max_reply_bulk_length = 100;
    client c(ex, cfg);
    auto [e1, r1] = co_await c.async_exec(cmd("GET", "big"), nothrow);
    EXPECT_EQ(e1, error::resp_bulk_too_long) << e1.message();
    EXPECT_EQ(c.stats().retries, 0u) << "the same reply would break the limit again";
    auto [e2, r2] = co_await c.async_exec(cmd("SET", "small", "s"), nothrow);
    EXPECT_FALSE(e2) << "the connection closed, then came back: " << e2.message();
    EXPECT_GE(c.stats().connects, 2u);
  });
}

TEST(ClientContract, StopFailsWaitingRequestsAndLaterOnesWithClientStopped) {
  const auto port = embedded::free_port().value();
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client_config cfg;
    cfg.server.port = port;
    cfg.command_timeout = 30s;  // far longer than the test: only stop() can end it
    client c(ex, cfg);
    std::optional<error_code> waiting;
    c.async_exec(cmd("PING"), [&](error_code ec, response) { waiting = ec; });
    EXPECT_TRUE(co_await eventually([&] { return c.stats().connect_failures >= 1; }));
    EXPECT_FALSE(waiting) << "still waiting for a connection";
    c.stop();
    EXPECT_TRUE(co_await eventually([&] { return waiting.has_value(); }));
    EXPECT_EQ(waiting, std::optional(make_error_code(error::client_stopped)));
    auto [ec, r] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_EQ(ec, error::client_stopped);
  });
}

// A real redis-server whose HELLO is renamed away answers as a Redis 5
// would: the client says resp3_unsupported at once, not a timeout.
TEST(ClientContract, AServerWithoutResp3IsAClearError) {
  redis_server server({.extra_config = {{"rename-command", "HELLO \"\""}}});
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    // Redis quotes an unknown command's first arguments; HELLO's carry the
    // password, which must appear in no message.
    cfg.password = "hello-secret-55";
    std::vector<std::string> messages;
    cfg.on_event = [&](const connection_event& e) { messages.push_back(e.message); };
    client c(ex, cfg);
    auto [ec, r] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_EQ(ec, error::resp3_unsupported) << ec.message();
    const auto last = c.last_error().second;
    EXPECT_NE(last.find("RESP3"), std::string::npos) << last;
    EXPECT_EQ(last.find("hello-secret-55"), std::string::npos) << last;
    EXPECT_TRUE(co_await eventually([&] { return !messages.empty(); }));
    for (const auto& m : messages) EXPECT_EQ(m.find("hello-secret-55"), std::string::npos) << m;
  });
}

// ---- retries --------------------------------------------------------------------

// Sends `req` while the server is frozen (so it is written, not answered),
// then kills and restarts the server; the result.
asio::awaitable<std::pair<error_code, response>> across_a_restart(client& c, redis_server& server,
                                                                  request req) {
  EXPECT_TRUE(co_await eventually([&] { return c.state() == connection_state::connected; }));
  server.pause();
  const auto written = c.stats().commands;
  std::optional<std::pair<error_code, response>> out;
  c.async_exec(std::move(req), [&](error_code ec, response r) { out.emplace(ec, std::move(r)); });
  EXPECT_TRUE(co_await eventually([&] { return c.stats().commands > written; }));
  server.kill();
  server.restart();
  EXPECT_TRUE(co_await eventually([&] { return out.has_value(); }));
  co_return out ? std::move(*out) : std::pair<error_code, response>{};
}

TEST(ClientContract, RetryOnConnectionLostOverridesTheReadOnlyRule) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    co_await c.async_exec(cmd("PING"), nothrow);
    // Requests are built outside the co_await expressions (GCC 12 destroys
    // temporaries there twice).
    auto retried_write = with({.retry_on_connection_lost = true}, "INCR", "counter");
    auto unretried_read = with({.retry_on_connection_lost = false}, "GET", "k");
    auto plain_write = cmd("INCR", "counter");
    // A write marked retryable is re-sent (it never ran: the server was frozen).
    auto [e1, r1] = co_await across_a_restart(c, server, std::move(retried_write));
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_EQ(server.command({"GET", "counter"}).text, "1");
    // A read marked not retryable fails with connection_lost.
    auto [e2, r2] = co_await across_a_restart(c, server, std::move(unretried_read));
    EXPECT_EQ(e2, error::connection_lost);
    // And an unmarked write is not re-sent (the restarted server, which
    // keeps no data, has no counter).
    auto [e3, r3] = co_await across_a_restart(c, server, std::move(plain_write));
    EXPECT_EQ(e3, error::connection_lost);
    EXPECT_TRUE(server.command({"GET", "counter"}).is_nil);
  });
}

TEST(ClientContract, MaxRetriesZeroSendsAReadOnce) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.max_retries = 0;
    client c(ex, cfg);
    co_await c.async_exec(cmd("PING"), nothrow);
    auto read = cmd("GET", "k");
    auto [ec, r] = co_await across_a_restart(c, server, std::move(read));
    EXPECT_EQ(ec, error::connection_lost) << "a read, but no retry is left";
    EXPECT_EQ(c.stats().retries, 0u);
  });
}

// ---- connection events (client_config::on_event) ---------------------------------

struct event_log {
  std::mutex mutex;
  std::vector<connection_event> events;
  std::function<void(const connection_event&)> sink() {
    return [this](const connection_event& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }
  std::vector<connection_event::kind> kinds() {
    std::lock_guard lock(mutex);
    std::vector<connection_event::kind> out;
    for (const auto& e : events) out.push_back(e.what);
    return out;
  }
};

TEST(ClientContract, ConnectionEventsComeOncePerTransition) {
  redis_server server;
  event_log log;
  auto cfg = config_for(server);
  cfg.on_event = log.sink();
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, cfg);
    co_await c.async_exec(cmd("PING"), nothrow);
    server.kill();
    EXPECT_TRUE(co_await eventually([&] { return c.stats().connect_failures >= 5; }));
    server.restart();
    EXPECT_TRUE(co_await eventually([&] { return c.state() == connection_state::connected; }));
    using k = connection_event::kind;
    const auto kinds = log.kinds();
    // connected, lost, connect_failed (refused), perhaps one more for
    // another reason while the server starts again, reconnected: five and
    // more failed attempts, one or two events.
    if (kinds.size() < 4) {
      ADD_FAILURE() << kinds.size() << " events";
      co_return;
    }
    EXPECT_LE(kinds.size(), 5u) << "an event per attempt?";
    EXPECT_EQ(kinds.front(), k::connected);
    EXPECT_EQ(kinds[1], k::lost);
    EXPECT_EQ(kinds.back(), k::reconnected);
    for (std::size_t i = 2; i + 1 < kinds.size(); ++i) EXPECT_EQ(kinds[i], k::connect_failed);
    std::lock_guard lock(log.mutex);
    EXPECT_EQ(log.events[0].server, "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_TRUE(log.events[1].ec);
    EXPECT_NE(log.events[2].message.find("refused"), std::string::npos) << log.events[2].message;
    EXPECT_NE(log.events.back().message.find("failed attempt"), std::string::npos);
  });
}

TEST(ClientContract, ARefusedPasswordIsOneAuthFailedEventWithoutTheSecret) {
  redis_server server({.requirepass = "right"});
  event_log log;
  auto cfg = config_for(server);
  cfg.password = "wrong-secret-91";
  cfg.on_event = log.sink();
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    client c(ex, cfg);
    co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_TRUE(co_await eventually([&] { return c.stats().connect_failures >= 3; }));
    EXPECT_EQ(log.kinds(), std::vector{connection_event::kind::auth_failed});
    std::lock_guard lock(log.mutex);
    for (const auto& e : log.events) {
      EXPECT_EQ(e.message.find("wrong-secret-91"), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("WRONGPASS"), std::string::npos) << e.message;
    }
  });
}

// A client over several executors tags each connection's events.
TEST(ClientContract, EachConnectionOfAPoolReportsItself) {
  redis_server server;
  event_log log;
  auto cfg = config_for(server);
  cfg.on_event = log.sink();
  asio::io_context a, b;
  {
    client c({a.get_executor(), b.get_executor()}, cfg);
    c.start();
    std::thread tb([&] { b.run_for(10s); });
    for (int i = 0; i < 1000 && log.kinds().size() < 2; ++i) a.run_for(10ms);
    c.stop();
    a.run_for(10s);  // returns once the stopped client has no work left
    tb.join();
  }
  std::lock_guard lock(log.mutex);
  ASSERT_EQ(log.events.size(), 2u);
  std::set<std::size_t> connections{log.events[0].connection, log.events[1].connection};
  EXPECT_EQ(connections, (std::set<std::size_t>{0, 1}));
}

}  // namespace
}  // namespace rcache
