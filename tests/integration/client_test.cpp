// Integration tests of rcache::client and rcache::blocking_client against
// real redis-server processes started by the fixtures: pipelining, errors
// per command, transactions, scripts, pub/sub across restarts, TLS, ACL,
// timeouts, backpressure and the server dying mid-pipeline.
//
// Synchronisation is by completion handlers and by polling a condition with
// a deadline, never by sleeping; no assertion depends on speed.
#include <rcache/blocking_client.hpp>
#include <rcache/client.hpp>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <gtest/gtest.h>
#include <mutex>
#include <set>
#include <thread>

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

void run(std::function<asio::awaitable<void>(asio::any_io_executor)> body) {
  test::run_async(std::move(body));
}

client_config config_for(const redis_server& server) {
  client_config cfg;
  cfg.server.host = "127.0.0.1";
  cfg.server.port = server.port();
  cfg.connect_timeout = 2s;
  cfg.command_timeout = 10s;
  return cfg;
}

// Builds argument vectors outside coroutine bodies: GCC 12 miscompiles
// braced lists of string literals inside coroutines ("array used as
// initializer").
template <class... T>
std::vector<std::string> strings(const T&... s) {
  return {std::string(s)...};
}

request cmd(auto... args) {
  request r;
  r.push(args...);
  return r;
}

// ---- basics -------------------------------------------------------------------

TEST(Client, SetGetAndAnErrorReplyFailsOnlyItsCommand) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    request r;
    r.push("SET", "k", "v").push("LPUSH", "k", "x").push("GET", "k").push("INCR", "n");
    auto [ec, resp] = co_await c.async_exec(r, nothrow);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    EXPECT_EQ(resp.size(), 4u);
    EXPECT_EQ(resp[0].str, "OK");
    EXPECT_TRUE(resp[1].is_error());
    EXPECT_EQ(resp[1].error_code(), "WRONGTYPE");
    EXPECT_EQ(resp[2].str, "v");
    EXPECT_EQ(resp[3].integer, 1);
    const auto hello = c.server_hello();
    EXPECT_EQ(hello.type, resp_type::map);
  });
  EXPECT_EQ(server.command({"GET", "k"}).text, "v");
}

TEST(Client, UnixSocketAndDatabaseSelection) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = parse_url("unix://" + server.unix_socket().string() + "?db=3");
    EXPECT_TRUE(cfg);
    client c(ex, *cfg);
    auto [ec, resp] = co_await c.async_exec(cmd("SET", "in-db-3", "yes"), nothrow);
    EXPECT_FALSE(ec) << ec.message();
  });
  EXPECT_TRUE(server.command({"GET", "in-db-3"}).is_nil) << "written to db 0";
  blocking_client check(*parse_url(server.url() + "/3"));
  EXPECT_EQ(check.command("GET", "in-db-3").value().str, "yes");
}

TEST(Client, ExplicitPipelineKeepsOrder) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    request r;
    for (int i = 0; i < 500; ++i) r.push("SET", "p" + std::to_string(i), i);
    for (int i = 0; i < 500; ++i) r.push("GET", "p" + std::to_string(i));
    auto [ec, resp] = co_await c.async_exec(r, nothrow);
    EXPECT_FALSE(ec);
    if (ec) co_return;
    EXPECT_EQ(resp.size(), 1000u);
    for (int i = 0; i < 500; ++i) EXPECT_EQ(resp[500 + i].str, std::to_string(i));
  });
}

// Many callers at once on one connection: every reply reaches its own
// caller, and the writes were coalesced (automatic pipelining).
TEST(Client, TenThousandConcurrentCallersOnOneConnection) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    constexpr int callers = 10'000;
    int finished = 0, correct = 0;
    for (int i = 0; i < callers; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            const auto key = "c" + std::to_string(i);
            const auto val = "value-" + std::to_string(i * 7);
            auto [e1, r1] = co_await c.async_exec(cmd("SET", key, val), nothrow);
            auto [e2, r2] = co_await c.async_exec(cmd("GET", key), nothrow);
            if (!e1 && !e2 && r2.size() == 1 && r2[0].str == val) ++correct;
            ++finished;
          },
          asio::detached);
    }
    EXPECT_TRUE(co_await eventually([&] { return finished == callers; }, 60s));
    EXPECT_EQ(correct, callers);
    const auto s = c.stats();
    EXPECT_EQ(s.commands, 2u * callers);
    EXPECT_LT(s.writes, s.commands) << "no automatic pipelining happened";
  });
  EXPECT_EQ(server.command({"DBSIZE"}).text, "10000");
}

TEST(Client, MultiExecAndWatchAbort) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    request tx;
    tx.push("MULTI").push("INCR", "ctr").push("INCR", "ctr").push("EXEC");
    auto [ec, resp] = co_await c.async_exec(tx, nothrow);
    EXPECT_FALSE(ec);
    if (ec) co_return;
    EXPECT_EQ(resp[1].str, "QUEUED");
    EXPECT_EQ(resp[3].type, resp_type::array);
    EXPECT_EQ(resp[3].elements.size(), 2u);
    EXPECT_EQ(resp[3].elements[1].integer, 2);

    // WATCH, then a change from another client: EXEC is aborted (null).
    auto [e1, r1] = co_await c.async_exec(cmd("WATCH", "ctr"), nothrow);
    EXPECT_FALSE(e1);
    EXPECT_EQ(server.command({"SET", "ctr", "100"}).text, "OK");
    request tx2;
    tx2.push("MULTI").push("INCR", "ctr").push("EXEC");
    auto [e2, r2] = co_await c.async_exec(tx2, nothrow);
    EXPECT_FALSE(e2);
    if (e2) co_return;
    EXPECT_TRUE(r2[2].is_null());
  });
  EXPECT_EQ(server.command({"GET", "ctr"}).text, "100");
}

TEST(Client, EvalShaLoadsTheScriptOnNoScript) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    script s("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    auto [e1, v1] = co_await c.async_eval(s, strings("sk"), strings("5"), nothrow);
    EXPECT_FALSE(e1);
    EXPECT_EQ(v1.integer, 5);
    EXPECT_EQ(server.command({"SCRIPT", "FLUSH"}).text, "OK");
    auto [e2, v2] = co_await c.async_eval(s, strings("sk"), strings("2"), nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(v2.integer, 7);
    script bad("return redis.call('NOSUCHCOMMAND')");
    auto [e3, v3] = co_await c.async_eval(bad, strings(), strings(), nothrow);
    EXPECT_FALSE(e3) << "a script error is a reply, not a transport error";
    EXPECT_TRUE(v3.is_error());
  });
  EXPECT_EQ(script("return 1").sha1(), server.command({"SCRIPT", "LOAD", "return 1"}).text);
}

// ---- pub/sub ------------------------------------------------------------------

TEST(Client, PubSubMessagesAndResubscribeAfterRestart) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    std::vector<std::string> got;
    c.set_push_handler([&](const value& v) {
      if (v.elements.size() >= 3 && v.elements[0].str == "message")
        got.push_back(v.elements[2].str);
      if (v.elements.size() >= 4 && v.elements[0].str == "pmessage")
        got.push_back(v.elements[3].str);
    });
    request sub;
    sub.push("SUBSCRIBE", "news", "sport").push("PSUBSCRIBE", "w*").push("PING");
    auto [ec, resp] = co_await c.async_exec(sub, nothrow);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    EXPECT_EQ(resp.size(), 3u);
    EXPECT_EQ(resp[0].elements.at(0).str, "subscribe");
    EXPECT_EQ(resp[0].elements.at(2).integer, 2);
    EXPECT_EQ(resp[1].elements.at(0).str, "psubscribe");
    EXPECT_EQ(resp[2].str, "PONG") << "a normal command after subscribing still gets its reply";

    EXPECT_EQ(server.command({"PUBLISH", "news", "one"}).text, "1");
    EXPECT_EQ(server.command({"PUBLISH", "weather", "rain"}).text, "1");
    EXPECT_TRUE(co_await eventually([&] { return got.size() == 2; }));

    server.restart();  // the connection drops; the client must resubscribe by itself
    EXPECT_TRUE(co_await eventually([&] {
      auto r = server.command({"PUBSUB", "NUMSUB", "news"});
      return r.elements.size() == 2 && r.elements[1] == "1";
    }));
    EXPECT_TRUE(co_await eventually([&] {
      return server.command({"PUBSUB", "NUMPAT"}).text == "1";
    }));
    EXPECT_EQ(server.command({"PUBLISH", "sport", "two"}).text, "1");
    EXPECT_TRUE(co_await eventually([&] { return got.size() == 3; }));
    EXPECT_EQ(got.back(), "two");

    auto [e2, r2] = co_await c.async_exec(cmd("UNSUBSCRIBE"), nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(r2.at(0).elements.at(0).str, "unsubscribe");
    EXPECT_EQ(r2.at(0).elements.at(2).integer, 1)
        << "the reply is the last of two confirmations; the pattern subscription remains";
    auto [e3, r3] = co_await c.async_exec(cmd("GET", "after"), nothrow);
    EXPECT_FALSE(e3);
    EXPECT_TRUE(r3.at(0).is_null());
  });
}

// ---- client-side caching ----------------------------------------------------------

// Collects the keys of `invalidate` pushes; a null payload (FLUSHALL) is "*".
struct invalidations {
  std::vector<std::string> keys;
  void operator()(const value& v) {
    if (v.elements.size() != 2 || v.elements[0].str != "invalidate") return;
    if (v.elements[1].is_null()) keys.push_back("*");
    for (const auto& k : v.elements[1].elements) keys.push_back(k.str);
  }
};

TEST(Client, TrackingDeliversInvalidationsAndSurvivesReconnect) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.client_tracking = true;
    client c(ex, cfg);
    invalidations inv;
    c.set_push_handler([&](const value& v) { inv(v); });
    auto [e1, r1] = co_await c.async_exec(cmd("GET", "tracked"), nothrow);
    EXPECT_FALSE(e1) << e1.message() << " " << c.last_error().second;
    server.command({"SET", "tracked", "by-someone-else"});
    EXPECT_TRUE(co_await eventually([&] { return inv.keys.size() == 1; }));
    EXPECT_EQ(inv.keys.at(0), "tracked");

    server.command({"FLUSHALL"});
    EXPECT_TRUE(co_await eventually([&] { return inv.keys.size() == 2; }));
    EXPECT_EQ(inv.keys.at(1), "*") << "FLUSHALL is the null invalidation";

    server.restart();
    auto [e2, r2] = co_await c.async_exec(cmd("GET", "tracked"), nothrow);
    EXPECT_FALSE(e2);
    server.command({"SET", "tracked", "again"});
    EXPECT_TRUE(co_await eventually([&] { return inv.keys.size() == 3; }))
        << "tracking is re-enabled by the handshake after a reconnect";
  });
}

// ---- faults -------------------------------------------------------------------

TEST(Client, ServerKilledMidPipelineFailsEveryCallerWithoutHanging) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.command_timeout = 30s;  // the loss, not a deadline, must end these requests
    client c(ex, cfg);
    auto [e0, r0] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(e0);
    server.pause();  // requests are written but get no reply
    constexpr int n = 2000;
    int finished = 0, lost = 0;
    for (int i = 0; i < n; ++i) {
      c.async_exec(cmd("SET", "x" + std::to_string(i), i), [&](error_code ec, response) {
        ++finished;
        if (ec == error::connection_lost) ++lost;
      });
    }
    EXPECT_TRUE(co_await eventually([&] { return c.stats().commands >= 1 + n; }));
    server.kill();
    EXPECT_TRUE(co_await eventually([&] { return finished == n; }));
    EXPECT_EQ(lost, n) << "every written, unanswered write fails with connection_lost";
  });
}

TEST(Client, ReconnectsAfterRestartAndRetriesReads) {
  redis_server server({.persistence = true});
  run([&](auto ex) -> asio::awaitable<void> {
    client c(ex, config_for(server));
    auto [e0, r0] = co_await c.async_exec(cmd("SET", "durable", "yes"), nothrow);
    EXPECT_FALSE(e0);
    server.pause();
    // A read written while the server is stuck, then the server dies: the
    // read is retried on the next connection instead of failing.
    bool read_done = false;
    error_code read_ec;
    std::string read_value;
    c.async_exec(cmd("GET", "durable"), [&](error_code ec, response r) {
      read_done = true;
      read_ec = ec;
      if (!ec) read_value = r.at(0).str;
    });
    EXPECT_TRUE(co_await eventually([&] { return c.stats().commands >= 2; }));
    server.kill();
    server.restart();
    EXPECT_TRUE(co_await eventually([&] { return read_done; }));
    EXPECT_FALSE(read_ec) << read_ec.message();
    EXPECT_EQ(read_value, "yes");
    EXPECT_GE(c.stats().retries, 1u);
    EXPECT_GE(c.stats().connects, 2u);
    auto [e1, r1] = co_await c.async_exec(cmd("INCR", "after-restart"), nothrow);
    EXPECT_FALSE(e1);
    EXPECT_EQ(r1.at(0).integer, 1);
  });
}

TEST(Client, TimedOutRequestDoesNotStealTheNextReply) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.health_check_interval = 0ms;  // keep the connection across the pause
    client c(ex, cfg);
    auto [e0, r0] = co_await c.async_exec(cmd("SET", "a", "1"), nothrow);
    EXPECT_FALSE(e0);
    server.pause();
    request slow(request::options{.timeout = 200ms});
    slow.push("SET", "a", "2");
    auto [e1, r1] = co_await c.async_exec(slow, nothrow);
    EXPECT_EQ(e1, error::timeout);
    server.resume();
    auto [e2, r2] = co_await c.async_exec(cmd("GET", "a"), nothrow);
    EXPECT_FALSE(e2);
    EXPECT_EQ(r2.at(0).str, "2") << "the late SET was applied, and GET got GET's reply";
    EXPECT_EQ(c.stats().timeouts, 1u);
  });
}

TEST(Client, HealthCheckDetectsAFrozenServer) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.health_check_interval = 100ms;
    cfg.connect_timeout = 300ms;
    client c(ex, cfg);
    std::vector<std::pair<connection_state, error_code>> seen;
    c.set_state_handler([&](connection_state s, error_code ec) { seen.emplace_back(s, ec); });
    auto [e0, r0] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(e0);
    server.pause();
    EXPECT_TRUE(co_await eventually([&] {
      for (auto& [s, ec] : seen)
        if (s == connection_state::disconnected && ec == error::timeout) return true;
      return false;
    }));
    // While frozen, reconnect attempts hit the connect deadline.
    EXPECT_TRUE(
        co_await eventually([&] { return c.last_error().first == error::connect_timeout; }));
    server.resume();
    auto [e1, r1] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(e1) << e1.message();
  });
}

TEST(Client, FailsFastWhenAskedNotToWait) {
  const auto port = embedded::free_port().value();  // nothing listens here
  run([&](auto ex) -> asio::awaitable<void> {
    client_config cfg;
    cfg.server.port = port;
    cfg.reconnect_backoff_initial = 10ms;
    client c(ex, cfg);
    c.start();
    EXPECT_TRUE(co_await eventually([&] { return c.state() == connection_state::disconnected; }));
    request r(request::options{.wait_for_connection = false});
    r.push("PING");
    auto [ec, resp] = co_await c.async_exec(r, nothrow);
    EXPECT_EQ(ec, error::not_connected);
    request w(request::options{.timeout = 100ms});
    w.push("PING");
    auto [ec2, resp2] = co_await c.async_exec(w, nothrow);
    EXPECT_EQ(ec2, error::not_connected) << "waited for a connection that never came";
  });
}

TEST(Client, BoundedQueueRejectsWithBackpressure) {
  const auto port = embedded::free_port().value();
  run([&](auto ex) -> asio::awaitable<void> {
    client_config cfg;
    cfg.server.port = port;
    cfg.max_queued_requests = 10;
    cfg.command_timeout = 500ms;
    client c(ex, cfg);
    int rejected = 0, other = 0;
    for (int i = 0; i < 15; ++i) {
      c.async_exec(cmd("PING"), [&](error_code ec, response) {
        if (ec == error::queue_full) {
          ++rejected;
        } else {
          ++other;
        }
      });
    }
    EXPECT_TRUE(co_await eventually([&] { return rejected + other == 15; }));
    EXPECT_EQ(rejected, 5);
    EXPECT_EQ(c.stats().rejected, 5u);
  });
}

TEST(Client, AThrowingHandlerLeavesThroughRunAndTheClientCarriesOn) {
  redis_server server;
  asio::io_context ioc;
  client c(ioc.get_executor(), config_for(server));
  bool second_done = false;
  c.async_exec(cmd("PING"), [](error_code, response) { throw std::runtime_error("handler bug"); });
  c.async_exec(cmd("SET", "after-throw", "1"), [&](error_code ec, response) { second_done = !ec; });
  EXPECT_THROW(ioc.run_for(10s), std::runtime_error);
  ioc.restart();
  while (!second_done && ioc.run_one_for(10s)) {
  }
  EXPECT_TRUE(second_done) << "the connection survived the throwing handler";
  EXPECT_EQ(server.command({"GET", "after-throw"}).text, "1");
}

// ---- security -------------------------------------------------------------------

TEST(Client, WrongPasswordIsAClearErrorNotAHang) {
  redis_server server({.requirepass = "s3cret"});
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.password = "wrong";
    client c(ex, cfg);
    auto [ec, resp] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_EQ(ec, error::auth_failed);
    EXPECT_NE(c.last_error().second.find("WRONGPASS"), std::string::npos) << c.last_error().second;

    auto good = config_for(server);
    good.password = "s3cret";
    client ok(ex, good);
    auto [ec2, resp2] = co_await ok.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(ec2) << ec2.message();
  });
}

TEST(Client, AclUser) {
  redis_server server({.user = test::acl_user{"app", "app-pass", "on ~app:* +@all"}});
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.username = "app";
    cfg.password = "app-pass";
    client c(ex, cfg);
    request r;
    r.push("ACL", "WHOAMI").push("SET", "app:k", "1").push("SET", "other", "1");
    auto [ec, resp] = co_await c.async_exec(r, nothrow);
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return;
    EXPECT_EQ(resp[0].str, "app");
    EXPECT_EQ(resp[1].str, "OK");
    EXPECT_EQ(resp[2].error_code(), "NOPERM");
  });
}

TEST(Client, TlsWithVerificationAndClientCertificates) {
  redis_server server({.tls = true, .tls_require_client_cert = true});
  run([&](auto ex) -> asio::awaitable<void> {
    client_config cfg;
    cfg.server = {.host = "127.0.0.1", .port = server.tls_port(), .tls = true};
    cfg.tls.ca_file = server.ca_cert().string();
    cfg.tls.cert_file = server.client_cert().string();
    cfg.tls.key_file = server.client_key().string();
    client c(ex, cfg);
    auto [ec, resp] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(ec) << ec.message() << " " << c.last_error().second;

    // Without the CA the server's certificate cannot be verified.
    auto untrusted = cfg;
    untrusted.tls.ca_file = server.client_cert().string();  // a PEM that is not the CA
    client bad(ex, untrusted);
    request r(request::options{.timeout = 3s});
    r.push("PING");
    auto [ec2, resp2] = co_await bad.async_exec(r, nothrow);
    EXPECT_TRUE(ec2);
    EXPECT_NE(bad.last_error().second.find("TLS"), std::string::npos) << bad.last_error().second;
  });
}

// ---- topology seam ---------------------------------------------------------

// A topology that checks ROLE in the handshake, as Sentinel support will.
class role_checking_topology final : public topology {
 public:
  role_checking_topology(endpoint ep, std::string want)
      : ep_(std::move(ep)), want_(std::move(want)) {}
  asio::awaitable<result<endpoint>> resolve(asio::any_io_executor) override {
    ++resolves;
    co_return ep_;
  }
  void append_handshake(request& r) override { r.push("ROLE"); }
  error_code check_handshake(const response& extra) override {
    if (extra.size() != 1 || extra[0].elements.empty())
      return make_error_code(error::handshake_failed);
    seen_role = extra[0].elements[0].str;
    return seen_role == want_ ? error_code{} : make_error_code(error::handshake_failed);
  }
  int resolves = 0;
  std::string seen_role;

 private:
  endpoint ep_;
  std::string want_;
};

TEST(Client, TopologyIsAskedOnEveryConnectAndCanRefuseAServer) {
  redis_server server;
  run([&](auto ex) -> asio::awaitable<void> {
    const endpoint ep{.host = "127.0.0.1", .port = server.port()};
    auto master = std::make_shared<role_checking_topology>(ep, "master");
    client c(ex, config_for(server), master);
    auto [e1, r1] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_EQ(master->seen_role, "master");
    EXPECT_EQ(master->resolves, 1);
    server.restart();
    auto [e2, r2] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_FALSE(e2) << e2.message();
    EXPECT_EQ(master->resolves, 2) << "the topology resolves again on reconnect";

    auto replica = std::make_shared<role_checking_topology>(ep, "slave");
    client refused(ex, config_for(server), replica);
    // Refusal is not final (a failover may be under way): the request waits
    // for a server the topology accepts, within its deadline.
    request r(request::options{.timeout = 500ms});
    r.push("PING");
    auto [e3, r3] = co_await refused.async_exec(r, nothrow);
    EXPECT_EQ(e3, error::not_connected);
    EXPECT_EQ(refused.last_error().first, error::handshake_failed)
        << "a master where a replica was wanted is refused";
  });
}

// A topology that names the servers it was given, one per resolve() (the
// last one from then on), can hold a resolve() until released, and lets the
// test say "changed" as a Sentinel +switch-master would.
class scripted_topology final : public topology {
 public:
  explicit scripted_topology(std::vector<endpoint> answers) : answers_(std::move(answers)) {}
  asio::awaitable<result<endpoint>> resolve(asio::any_io_executor ex) override {
    const auto i = std::min<std::size_t>(resolves++, answers_.size() - 1);
    if (hold_next) {
      hold_next = false;
      gate_.emplace(ex, std::chrono::steady_clock::time_point::max());
      held = true;
      co_await gate_->async_wait(nothrow);
      held = false;
    }
    co_return answers_[i];
  }
  void watch(asio::any_io_executor ex, std::function<void()> changed) override {
    ex_ = ex;
    changed_ = std::move(changed);
  }
  // On the client's executor, as the contract asks.
  void change() {
    asio::post(ex_, [this] { changed_(); });
  }
  void release() {
    asio::post(ex_, [this] { gate_->cancel(); });
  }
  std::size_t resolves = 0;
  bool hold_next = false;  // the next resolve() waits for release()
  bool held = false;

 private:
  std::vector<endpoint> answers_;
  asio::any_io_executor ex_;
  std::function<void()> changed_;
  std::optional<asio::steady_timer> gate_;
};

endpoint at(const redis_server& s) {
  return endpoint{.host = "127.0.0.1", .port = s.port()};
}

// Each test gives the client only a wait that the change can cut short: a
// connect_timeout and a backoff far longer than the request's deadline.
client_config patient(const redis_server& s) {
  auto cfg = config_for(s);
  cfg.connect_timeout = 120s;
  cfg.reconnect_backoff_initial = 120s;
  cfg.reconnect_backoff_max = 120s;
  cfg.command_timeout = 30s;
  return cfg;
}

// A PING sent now whose answer the test awaits later: its error, or
// `timeout` when none came within a minute.
class later_ping {
 public:
  explicit later_ping(client& c) {
    c.async_exec(cmd("PING"), [this](error_code ec, response) { outcome_ = ec; });
  }
  asio::awaitable<error_code> outcome() {
    EXPECT_TRUE(co_await eventually([this] { return outcome_.has_value(); }, 60s));
    co_return outcome_.value_or(make_error_code(error::timeout));
  }

 private:
  std::optional<error_code> outcome_;
};

TEST(Client, ATopologyChangeEndsAConnectionAttemptAtOnce) {
  redis_server frozen;
  redis_server good;
  frozen.pause();  // accepts (the kernel does) but never answers HELLO
  run([&](auto ex) -> asio::awaitable<void> {
    auto topo = std::make_shared<scripted_topology>(std::vector{at(frozen), at(good)});
    client c(ex, patient(good), topo);
    later_ping ping(c);
    EXPECT_TRUE(co_await eventually(
        [&] { return topo->resolves == 1 && c.state() == connection_state::connecting; }));
    topo->change();
    const auto ec = co_await ping.outcome();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(topo->resolves, 2u);
  });
  frozen.resume();
}

TEST(Client, ATopologyChangeWhileResolvingMakesTheClientAskAgain) {
  redis_server frozen;
  redis_server good;
  frozen.pause();
  run([&](auto ex) -> asio::awaitable<void> {
    // The first answer, given after the change, is already old.
    auto topo = std::make_shared<scripted_topology>(std::vector{at(frozen), at(good)});
    topo->hold_next = true;
    client c(ex, patient(good), topo);
    later_ping ping(c);
    EXPECT_TRUE(co_await eventually([&] { return topo->held; }));
    topo->change();
    topo->release();
    const auto ec = co_await ping.outcome();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(topo->resolves, 2u) << "asked again, and never connected to the old answer";
  });
  frozen.resume();
}

TEST(Client, ATopologyChangeEndsTheBackoffPause) {
  redis_server gone;
  redis_server good;
  gone.kill();  // its port refuses connections
  run([&](auto ex) -> asio::awaitable<void> {
    auto topo = std::make_shared<scripted_topology>(std::vector{at(gone), at(good)});
    client c(ex, patient(good), topo);
    later_ping ping(c);
    EXPECT_TRUE(co_await eventually(
        [&] { return c.last_error().first == asio::error::connection_refused; }));
    topo->change();
    const auto ec = co_await ping.outcome();
    EXPECT_FALSE(ec) << ec.message();
  });
}

// A refusal that will not fix itself (SELECT forbidden by the ACL) fails
// waiting requests at once; an attempt that never reached a server (the
// server is down) is not judged by that earlier refusal: its requests wait.
TEST(Client, ARefusedHandshakeIsNotHeldAgainstALaterAttempt) {
  redis_server server({.user = test::acl_user{"app", "app-pass", "on ~* +@all -select"}});
  run([&](auto ex) -> asio::awaitable<void> {
    auto cfg = config_for(server);
    cfg.username = "app";
    cfg.password = "app-pass";
    cfg.db = 1;
    client c(ex, cfg);
    auto [e1, r1] = co_await c.async_exec(cmd("PING"), nothrow);
    EXPECT_EQ(e1, error::handshake_failed) << e1.message();

    server.kill();
    EXPECT_TRUE(co_await eventually(
        [&] { return c.last_error().first == asio::error::connection_refused; }));
    later_ping ping(c);
    server.restart();  // on the test's thread: the server dies with the thread that started it
    const auto ec = co_await ping.outcome();
    // It waited for the server, which refuses SELECT again.
    EXPECT_EQ(ec, error::handshake_failed) << ec.message();
  });
}

// ---- one connection per event-loop thread -------------------------------------

// The server's id for the connection a request from loop `i` used, and
// whether its completion ran on that loop's own thread.
struct served_by {
  std::int64_t id = -1;
  bool same_thread = false;
};

asio::awaitable<served_by> client_id(client& c) {
  const auto caller = std::this_thread::get_id();
  auto [ec, resp] = co_await c.async_exec(cmd("CLIENT", "ID"), nothrow);
  EXPECT_FALSE(ec) << ec.message();
  co_return served_by{ec ? -1 : resp.at(0).integer, std::this_thread::get_id() == caller};
}

TEST(Client, OneConnectionPerExecutorServesTheCallingThread) {
  redis_server server;
  test::event_loops loops(2);
  client c(loops.executors(), config_for(server));
  c.start();  // both connections; until one is up, its thread's requests use the other
  ASSERT_TRUE(loops.run_on<bool>(0, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] { return c.state() == connection_state::connected; });
  }));
  std::vector<std::int64_t> ids;
  for (std::size_t loop = 0; loop < 2; ++loop) {
    std::set<std::int64_t> seen;
    for (int i = 0; i < 20; ++i) {
      const auto s = loops.run_on<served_by>(loop, [&] { return client_id(c); });
      EXPECT_TRUE(s.same_thread) << "the completion changed threads";
      seen.insert(s.id);
    }
    ASSERT_EQ(seen.size(), 1u) << "loop " << loop << " used more than one connection";
    ids.push_back(*seen.begin());
  }
  EXPECT_NE(ids[0], ids[1]) << "each loop has its own connection";
  EXPECT_EQ(c.state(), connection_state::connected);

  // From a thread that runs neither loop: the connections in turn.
  std::set<std::int64_t> foreign;
  for (int i = 0; i < 4; ++i) {
    std::promise<std::int64_t> p;
    c.async_exec(cmd("CLIENT", "ID"),
                 [&p](error_code ec, response r) { p.set_value(ec ? -1 : r.at(0).integer); });
    foreign.insert(p.get_future().get());
  }
  EXPECT_EQ(foreign, std::set<std::int64_t>(ids.begin(), ids.end()));

  // One connection dropped: the whole reports it, then recovers.
  std::vector<connection_state> states;
  std::mutex m;
  c.set_state_handler([&](connection_state s, error_code) {
    std::lock_guard lock(m);
    states.push_back(s);
  });
  server.command({"CLIENT", "KILL", "ID", std::to_string(ids[1])});
  const auto reconnected = loops.run_on<bool>(0, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] {
      std::lock_guard lock(m);
      return states.size() >= 2 && states.back() == connection_state::connected;
    });
  });
  EXPECT_TRUE(reconnected);
  c.set_state_handler(nullptr);  // no call after it returns
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front(), connection_state::disconnected)
      << "one lost connection makes the whole disconnected";
}

TEST(Client, AThreadWhoseConnectionIsDownIsServedByAnother) {
  redis_server server;
  test::event_loops loops(2);
  auto cfg = config_for(server);
  cfg.reconnect_backoff_initial = 60s;  // the killed connection stays down
  cfg.reconnect_backoff_max = 60s;
  client c(loops.executors(), cfg);
  // No start(): the first request connects both.
  const auto first = loops.run_on<served_by>(0, [&] { return client_id(c); });
  EXPECT_NE(first.id, -1);
  ASSERT_TRUE(loops.run_on<bool>(0, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] { return c.state() == connection_state::connected; });
  })) << "the first request must connect every connection";
  const auto id0 = loops.run_on<served_by>(0, [&] { return client_id(c); }).id;
  const auto id1 = loops.run_on<served_by>(1, [&] { return client_id(c); }).id;
  ASSERT_NE(id0, id1);
  server.command({"CLIENT", "KILL", "ID", std::to_string(id1)});
  ASSERT_TRUE(loops.run_on<bool>(1, [&]() -> asio::awaitable<bool> {
    co_return co_await eventually([&] { return c.state() != connection_state::connected; });
  }));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(loops.run_on<served_by>(1, [&] { return client_id(c); }).id, id0)
        << "a request from the thread of the lost connection must use the live one";
  }
}

// ---- blocking facade ----------------------------------------------------------

TEST(BlockingClient, ManyThreadsShareOneConnection) {
  redis_server server;
  blocking_client c(*parse_url(server.url()));
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto key = "t" + std::to_string(t) + ":" + std::to_string(i);
        auto set = c.command("SET", key, i);
        auto get = c.command("GET", key);
        if (set && get && get->str == std::to_string(i)) ++correct;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(correct.load(), 8 * 500);
  auto v = c.eval(script("return ARGV[1]"), {}, {"hi"});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->str, "hi");
}

TEST(BlockingClient, StopEndsCallsOutstandingToADeadServer) {
  const auto port = embedded::free_port().value();
  client_config cfg;
  cfg.server.port = port;
  cfg.command_timeout = 60s;  // far past the test: only the stop can end the call
  blocking_client c(cfg);
  std::optional<result<value>> got;
  std::thread caller([&] { got.emplace(c.command("PING")); });
  // The call is queued (it waits for a connection that never comes).
  const auto limit = std::chrono::steady_clock::now() + 20s;
  while (c.async().stats().requests == 0 && std::chrono::steady_clock::now() < limit) {
    std::this_thread::yield();
  }
  ASSERT_GE(c.async().stats().requests, 1u);
  c.async().stop();
  caller.join();
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error(), error::client_stopped);
  auto after = c.command("PING");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error(), error::client_stopped);
}

}  // namespace
}  // namespace rcache
