// rcache_cache_bench: end-to-end measurements of rcache::cache against a
// real redis-server (started by bench/cache_benchmarks.sh):
//   --mode l1           get throughput on a hot key set, near cache on or off
//                       (--near-cache on|off): N callers on one io thread,
//                       each issuing gets back to back for --seconds;
//   --mode compression  stores a generated JSON corpus (bench/codec_corpus.hpp)
//                       uncompressed and zstd-compressed under two prefixes and
//                       sums Redis' MEMORY USAGE of each.
// Prints one JSON object.
#include <rcache/cache.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "codec_corpus.hpp"

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

int run_l1(rcache::cache_options o, int keys, int callers, double seconds) {
  asio::io_context ioc(1);
  auto c = rcache::cache::create(ioc.get_executor(), o);
  long ops = 0, errors = 0;
  int running = callers;
  clock_type::time_point start, end;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < keys; ++i) {
          auto [ec, ok] = co_await c->async_set("bench", "hot:" + std::to_string(i),
                                                std::string(100, 'v'), {}, nothrow);
          if (ec) ++errors;
        }
        start = clock_type::now();
        const auto stop_at = start + std::chrono::duration<double>(seconds);
        for (int id = 0; id < callers; ++id) {
          asio::co_spawn(
              ioc,
              [&, id, stop_at]() -> asio::awaitable<void> {
                std::mt19937 rng(static_cast<unsigned>(id) + 1);
                std::uniform_int_distribution<int> pick(0, keys - 1);
                while (clock_type::now() < stop_at) {
                  auto [ec, v] =
                      co_await c->async_get("bench", "hot:" + std::to_string(pick(rng)), nothrow);
                  if (ec || !v) ++errors;
                  ++ops;
                }
                if (--running == 0) {
                  end = clock_type::now();
                  c.reset();
                }
              },
              asio::detached);
        }
      },
      asio::detached);
  ioc.run();
  const double secs = std::chrono::duration<double>(end - start).count();
  std::printf(
      "{\"near_cache\":%s,\"keys\":%d,\"callers\":%d,\"ops\":%ld,\"errors\":%ld,"
      "\"seconds\":%.3f,\"ops_per_sec\":%.0f}\n",
      o.near_cache ? "true" : "false", keys, callers, ops, errors, secs,
      static_cast<double>(ops) / secs);
  return errors == 0 ? 0 : 1;
}

int run_compression(rcache::cache_options o, std::size_t records) {
  asio::io_context ioc(1);
  o.near_cache = false;
  o.compression_threshold = 256;
  auto plain_opts = o;
  plain_opts.compression = false;
  auto zstd_opts = o;
  zstd_opts.compression = true;
  auto plain = rcache::cache::create(ioc.get_executor(), plain_opts);
  auto packed = rcache::cache::create(ioc.get_executor(), zstd_opts);
  const auto corpus = rcache::bench::make_json_corpus({.records = records});
  long long plain_mem = 0, packed_mem = 0, value_bytes = 0, errors = 0;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        for (const auto& rec : corpus) {
          value_bytes += static_cast<long long>(rec.value.size());
          auto [e1, ok1] = co_await plain->async_set("plain", rec.key, rec.value, {}, nothrow);
          auto [e2, ok2] = co_await packed->async_set("zstd", rec.key, rec.value, {}, nothrow);
          if (e1 || e2) ++errors;
        }
        for (const auto& rec : corpus) {
          rcache::request r;
          r.push("MEMORY", "USAGE", "plain:" + rec.key, "SAMPLES", 0);
          r.push("MEMORY", "USAGE", "zstd:" + rec.key, "SAMPLES", 0);
          auto [ec, resp] = co_await plain->redis().async_exec(std::move(r), nothrow);
          if (ec) {
            ++errors;
            continue;
          }
          plain_mem += resp[0].integer;
          packed_mem += resp[1].integer;
        }
        plain.reset();
        packed.reset();
      },
      asio::detached);
  ioc.run();
  std::printf(
      "{\"records\":%zu,\"value_bytes\":%lld,\"plain_memory_usage\":%lld,"
      "\"compressed_memory_usage\":%lld,\"compression_saving\":%.4f,\"errors\":%lld}\n",
      corpus.size(), value_bytes, plain_mem, packed_mem,
      1.0 - static_cast<double>(packed_mem) / static_cast<double>(plain_mem), errors);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rcache cache benchmark"};
  std::string url = "redis://127.0.0.1:6379", mode = "l1", near = "on";
  int keys = 100, callers = 50;
  double seconds = 3;
  std::size_t records = 1500;
  app.add_option("--url", url);
  app.add_option("--mode", mode)->check(CLI::IsMember({"l1", "compression"}));
  app.add_option("--near-cache", near)->check(CLI::IsMember({"on", "off"}));
  app.add_option("--keys", keys)->check(CLI::Range(1, 10'000'000));
  app.add_option("--callers", callers)->check(CLI::Range(1, 100'000));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 600.0));
  app.add_option("--records", records);
  CLI11_PARSE(app, argc, argv);
  auto cfg = rcache::parse_url(url);
  if (!cfg) {
    std::cerr << "bad --url\n";
    return 2;
  }
  rcache::cache_options o;
  o.redis = *cfg;
  o.near_cache = near == "on";
  return mode == "l1" ? run_l1(o, keys, callers, seconds) : run_compression(o, records);
}
