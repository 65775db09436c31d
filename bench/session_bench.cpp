// rcache_session_bench: drives one rcache::session_store (one connection)
// with N concurrent callers on one thread, like redis-benchmark, so that
// bench/session_benchmarks.sh can pin both to the same core.
//
//   --op populate   creates --sessions live sessions and writes their ids
//                   to --ids-file
//   --op validate   validates (and touches) random sessions of --ids-file
//   --op create     creates sessions for random users of --users
//   --op prepare    creates --sessions sessions with the ids redis-benchmark
//                   names ("rb:<12 digits>", bucket 00) through the create
//                   script itself, and prints the scripts' SHA1s and the
//                   time it used, for redis-benchmark to run the same scripts
//
// Prints one JSON object: ops/s, latency percentiles, and requests (round
// trips) per operation as the client counted them.
#include <rcache/client.hpp>
#include <rcache/session.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "session/scripts.hpp"

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

struct options {
  std::string url = "redis://127.0.0.1:6379";
  std::string op = "validate";
  int callers = 50;
  long requests = 200'000;
  long sessions = 100'000;
  long users = 100'000;
  std::string ids_file;
};

std::string numbered(const char* prefix, long n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%012ld", prefix, n);
  return buf;
}

// Runs `callers` coroutines that share `total` operations; each operation
// is `one(rng)`, an awaitable that returns false on failure. Returns the
// elapsed time and fills `latencies_ns`.
template <class One>
clock_type::duration drive(asio::io_context& ioc, int callers, long total, One one,
                           std::vector<std::uint32_t>& latencies_ns, long& errors) {
  long issued = 0;
  int running = callers;
  clock_type::time_point end;
  auto caller = [&](int id) -> asio::awaitable<void> {
    std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1);
    while (issued < total) {
      ++issued;
      const auto t0 = clock_type::now();
      const bool ok = co_await one(rng);
      latencies_ns.push_back(static_cast<std::uint32_t>(
          std::min<long long>(std::chrono::nanoseconds(clock_type::now() - t0).count(), ~0u)));
      if (!ok) ++errors;
    }
    if (--running == 0) {
      end = clock_type::now();
      ioc.stop();  // the client's own work (reads, health checks) never ends
    }
  };
  const auto start = clock_type::now();
  for (int i = 0; i < callers; ++i) asio::co_spawn(ioc, caller(i), asio::detached);
  ioc.restart();
  ioc.run();
  return end - start;
}

double percentile_us(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"rcache session benchmark"};
  app.add_option("--url", o.url);
  app.add_option("--op", o.op)->check(CLI::IsMember({"populate", "validate", "create", "prepare"}));
  app.add_option("-c,--callers", o.callers)->check(CLI::Range(1, 100000));
  app.add_option("-n,--requests", o.requests)->check(CLI::Range(1L, 1'000'000'000L));
  app.add_option("--sessions", o.sessions)->check(CLI::Range(1L, 100'000'000L));
  app.add_option("--users", o.users)->check(CLI::Range(1L, 100'000'000L));
  app.add_option("--ids-file", o.ids_file);
  CLI11_PARSE(app, argc, argv);

  auto cfg = rcache::parse_url(o.url);
  if (!cfg) {
    std::cerr << "bad --url\n";
    return 2;
  }
  cfg->command_timeout = std::chrono::seconds(30);
  asio::io_context ioc(1);
  rcache::client client(ioc.get_executor(), *cfg);
  rcache::session_options so;
  so.sweep_interval = std::chrono::seconds(0);
  so.idle_timeout = std::chrono::hours(1);
  so.absolute_lifetime = std::chrono::hours(2);
  rcache::session_store store(client, so);
  std::vector<std::uint32_t> latencies_ns;
  long errors = 0;

  if (o.op == "prepare") {
    // The create script with ids redis-benchmark can name (__rand_int__ is
    // 12 digits); every session in bucket 00, as redis-benchmark's keys are.
    namespace sd = rcache::session_detail;
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now())
                         .time_since_epoch()
                         .count();
    long next = 0;
    drive(
        ioc, o.callers, o.sessions,
        [&](std::mt19937&) -> asio::awaitable<bool> {
          const long n = next++;
          const auto id = numbered("rb:", n);
          const auto user = numbered("u", n);
          // Built outside the co_await: GCC 12 and braced lists in one.
          std::vector<std::string> keys{so.prefix + "{00}:s:" + id, so.prefix + "{00}:u:" + user};
          std::vector<std::string> args{so.prefix + "{00}:",
                                        std::to_string(now),
                                        "1000",
                                        id,
                                        user,
                                        "3600000",
                                        "7200000",
                                        "0",
                                        "evict",
                                        "device",
                                        "bench",
                                        "127.0.0.1"};
          auto [ec, v] = co_await client.async_eval(sd::create_script(), std::move(keys),
                                                    std::move(args), nothrow);
          co_return !ec && !v.is_error();
        },
        latencies_ns, errors);
    // One read of a prepared session loads the read script for redis-benchmark.
    drive(
        ioc, 1, 1,
        [&](std::mt19937&) -> asio::awaitable<bool> {
          const auto id = numbered("rb:", 0);
          std::vector<std::string> keys{so.prefix + "{00}:s:" + id};
          std::vector<std::string> args{
              so.prefix + "{00}:", std::to_string(now), "1000", id, "0", "0"};
          auto [ec, v] = co_await client.async_eval(sd::read_script(), std::move(keys),
                                                    std::move(args), nothrow);
          co_return !ec && v.is_aggregate();
        },
        latencies_ns, errors);
    std::cout << "{\"read_sha\":\"" << sd::read_script().sha1() << "\",\"create_sha\":\""
              << sd::create_script().sha1()
              << "\",\"read_source_bytes\":" << sd::read_script().source().size()
              << ",\"now\":" << now << ",\"sessions\":" << o.sessions << ",\"errors\":" << errors
              << "}\n";
    return errors == 0 ? 0 : 1;
  }

  std::vector<std::string> ids;
  if (o.op == "populate") {
    ids.reserve(static_cast<std::size_t>(o.sessions));
    long made = 0;
    drive(
        ioc, o.callers, o.sessions,
        [&](std::mt19937&) -> asio::awaitable<bool> {
          // Named arguments: GCC 12 destroys temporaries inside a co_await twice.
          auto user = numbered("user", made++);
          rcache::device_info device;
          std::map<std::string, std::string> data;
          auto [ec, s] = co_await store.async_create(std::move(user), std::move(device),
                                                     std::move(data), nothrow);
          if (!ec) ids.push_back(std::move(s.id));
          co_return !ec;
        },
        latencies_ns, errors);
    std::ofstream out(o.ids_file);
    for (const auto& id : ids) out << id << "\n";
    std::cout << "{\"sessions\":" << ids.size() << ",\"errors\":" << errors << "}\n";
    return errors == 0 && out ? 0 : 1;
  }
  if (o.op == "validate") {
    std::ifstream in(o.ids_file);
    for (std::string id; std::getline(in, id);) ids.push_back(id);
    if (ids.empty()) {
      std::cerr << "no ids in --ids-file (run --op populate first)\n";
      return 2;
    }
  }
  latencies_ns.reserve(static_cast<std::size_t>(o.requests));
  const auto before = client.stats();
  const auto took = o.op == "validate"
                        ? drive(
                              ioc, o.callers, o.requests,
                              [&](std::mt19937& rng) -> asio::awaitable<bool> {
                                const auto& id = ids[rng() % ids.size()];
                                auto [ec, s] = co_await store.async_validate(id, nothrow);
                                co_return !ec && s.has_value();
                              },
                              latencies_ns, errors)
                        : drive(
                              ioc, o.callers, o.requests,
                              [&](std::mt19937& rng) -> asio::awaitable<bool> {
                                auto user = numbered("user", static_cast<long>(rng() % o.users));
                                rcache::device_info device;
                                std::map<std::string, std::string> data;
                                auto [ec, s] = co_await store.async_create(
                                    std::move(user), std::move(device), std::move(data), nothrow);
                                co_return !ec;
                              },
                              latencies_ns, errors);
  const auto after = client.stats();
  const double secs = std::chrono::duration<double>(took).count();
  const auto ops = static_cast<double>(o.requests);
  std::printf(
      "{\"op\":\"%s\",\"callers\":%d,\"requests\":%ld,\"errors\":%ld,\"ops_per_sec\":%.0f,"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"requests_per_op\":%.4f,\"commands_per_write\":%.2f}\n",
      o.op.c_str(), o.callers, o.requests, errors, ops / secs, percentile_us(latencies_ns, 0.5),
      percentile_us(latencies_ns, 0.99),
      static_cast<double>(after.requests - before.requests) / ops,
      static_cast<double>(after.commands - before.commands) /
          static_cast<double>(std::max<std::uint64_t>(1, after.writes - before.writes)));
  return errors == 0 ? 0 : 1;
}
