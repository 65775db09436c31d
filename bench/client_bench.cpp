// rcache_client_bench: drives one rcache::client (one connection) with N
// concurrent callers, each sending GET or SET of `value_size`-byte values
// over a key space of the same shape redis-benchmark uses
// ("key:%012d"), either one command at a time or in explicit pipelines.
// Prints one JSON object: ops/s and latency percentiles (per request).
//
// It runs everything on one thread (one io_context), like redis-benchmark,
// so the two can be pinned to the same core and compared fairly.
#include <rcache/client.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string url = "redis://127.0.0.1:6379";
  std::string op = "get";
  int callers = 50;
  int pipeline = 1;
  long requests = 1'000'000;  // commands, in total
  int keyspace = 100'000;
  int value_size = 100;
  bool latency = true;
};

std::string key_for(long n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012ld", n);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"rcache client benchmark"};
  app.add_option("--url", o.url);
  app.add_option("--op", o.op)->check(CLI::IsMember({"get", "set"}));
  app.add_option("-c,--callers", o.callers)->check(CLI::Range(1, 100000));
  app.add_option("-P,--pipeline", o.pipeline)->check(CLI::Range(1, 10000));
  app.add_option("-n,--requests", o.requests)->check(CLI::Range(1L, 1'000'000'000L));
  app.add_option("-r,--keyspace", o.keyspace)->check(CLI::Range(1, 100'000'000));
  app.add_option("-d,--value-size", o.value_size)->check(CLI::Range(0, 1 << 24));
  CLI11_PARSE(app, argc, argv);

  auto cfg = rcache::parse_url(o.url);
  if (!cfg) {
    std::cerr << "bad --url\n";
    return 2;
  }
  cfg->command_timeout = std::chrono::seconds(30);
  asio::io_context ioc(1);
  rcache::client client(ioc.get_executor(), *cfg);
  const std::string value(static_cast<std::size_t>(o.value_size), 'x');
  const long batches_total = o.requests / o.pipeline;
  long issued = 0, errors = 0;
  std::vector<std::uint32_t> latencies_ns;
  latencies_ns.reserve(static_cast<std::size_t>(batches_total));
  int running = o.callers;
  clock_type::time_point start, end;

  auto caller = [&](int id) -> asio::awaitable<void> {
    std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1);
    std::uniform_int_distribution<long> pick(0, o.keyspace - 1);
    while (issued < batches_total) {
      ++issued;
      // The typed layer is on the measured path, as an application uses it:
      // one command as a command<T> (its reply read as T where it is
      // matched), a pipeline as a request whose replies are read with
      // reply_as<T>.
      clock_type::time_point t0, t1;
      if (o.pipeline == 1) {
        const auto key = key_for(pick(rng));
        // Both are command<optional<string>>: GET's value, SET's "OK".
        auto c = o.op == "get" ? rcache::cmd::get(key) : rcache::cmd::set(key, value);
        t0 = clock_type::now();
        auto r = co_await client.async_command(std::move(c), asio::use_awaitable);
        t1 = clock_type::now();
        if (!r) ++errors;
      } else {
        rcache::request req;
        for (int i = 0; i < o.pipeline; ++i) {
          if (o.op == "get") {
            req.push("GET", key_for(pick(rng)));
          } else {
            req.push("SET", key_for(pick(rng)), value);
          }
        }
        t0 = clock_type::now();
        auto [ec, resp] =
            co_await client.async_exec(std::move(req), asio::as_tuple(asio::use_awaitable));
        if (ec) ++errors;
        for (auto& v : resp) {
          if (!rcache::reply_as<std::optional<std::string>>(std::move(v))) ++errors;
        }
        t1 = clock_type::now();
      }
      latencies_ns.push_back(static_cast<std::uint32_t>(std::min<long long>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count(), UINT32_MAX)));
    }
    if (--running == 0) {
      end = clock_type::now();
      client.stop();
    }
  };

  // Connect first (not timed), then start every caller at once.
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        rcache::request ping;
        ping.push("PING");
        auto [ec, r] =
            co_await client.async_exec(std::move(ping), asio::as_tuple(asio::use_awaitable));
        if (ec) {
          std::cerr << "cannot reach " << o.url << ": " << ec.message() << "\n";
          client.stop();
          running = -1;
          co_return;
        }
        start = clock_type::now();
        for (int i = 0; i < o.callers; ++i) asio::co_spawn(ioc, caller(i), asio::detached);
      },
      asio::detached);
  ioc.run();
  if (running != 0) return 1;

  const double secs = std::chrono::duration<double>(end - start).count();
  const double ops = static_cast<double>(issued) * o.pipeline / secs;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto pct = [&](double p) {
    if (latencies_ns.empty()) return 0.0;
    const auto i =
        static_cast<std::size_t>(p / 100.0 * static_cast<double>(latencies_ns.size() - 1));
    return latencies_ns[i] / 1000.0;
  };
  const auto s = client.stats();
  std::printf(
      "{\"op\":\"%s\",\"callers\":%d,\"pipeline\":%d,\"commands\":%ld,\"errors\":%ld,"
      "\"seconds\":%.3f,\"ops_per_sec\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"commands_per_write\":%.2f}\n",
      o.op.c_str(), o.callers, o.pipeline, issued * o.pipeline, errors, secs, ops, pct(50), pct(99),
      pct(99.9), s.writes ? static_cast<double>(s.commands) / static_cast<double>(s.writes) : 0.0);
  return errors == 0 ? 0 : 1;
}
