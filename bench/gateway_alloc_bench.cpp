// rcache_gateway_alloc_bench: heap allocations per request of `rcache
// serve`, counted exactly. This process runs the gateway itself
// (server::serve, the code the rcache binary runs) and drives it over
// loopback with keep-alive GETs of existing keys from C connections at once;
// malloc and its siblings are replaced here by counting wrappers that skip
// the load generator's own thread, so what is counted is the gateway's (its
// HTTP session, the cache, the Redis client) and nothing else.
//
// The keys must be in Redis already: namespace "bench", keys
// "key:<12 digits>" for 0 .. --keys - 1, as bench/gateway_vs_redis_benchmark.sh
// loads them. Prints one JSON object: allocations and bytes per request,
// after a warm-up (with the near cache on, the warm-up reads every key
// first, so every measured request is a near-cache hit).
//
// Usage: rcache_gateway_alloc_bench --redis-url redis://127.0.0.1:6379
//        [--near-cache on|off] [-c 50] [-n 200000] [--keys 10000]
#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <malloc.h>
#include <random>
#include <string>
#include <thread>

#include "server/serve.hpp"

// ---- counting allocation functions --------------------------------------------
// glibc's own entry points do the work; every allocation of a counted
// thread (all but the load generator's) is one count.

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_bytes{0};
__thread bool t_uncounted = false;  // initial-exec TLS: no allocation to reach it

void count(std::size_t n) {
  if (t_uncounted) return;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  count(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count(k * n);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count(n);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count(n);
  return __libc_memalign(align, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count(n);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  count(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct options {
  std::string redis_url;
  std::string near = "off";
  int connections = 50;
  long requests = 200'000;
  long keys = 10'000;
};

std::string path_of(long key) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/v1/ns/bench/keys/key:%012ld", key);
  return buf;
}

// The load: `connections` keep-alive connections, each sending GETs one at
// a time until `budget` is spent (sequential keys when `walk`, else random).
struct load {
  asio::io_context& ioc;
  unsigned short port;
  long keys;
  long budget = 0;
  long next_key = 0;
  bool walk = false;
  long failures = 0;
  int running = 0;

  asio::awaitable<void> connection(unsigned seed) {
    tcp::socket s(ioc);
    auto [cec] = co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, nothrow);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<long> pick(0, keys - 1);
    std::string in;
    while (!cec && budget > 0) {
      --budget;
      const long key = walk ? next_key++ % keys : pick(rng);
      const std::string req = "GET " + path_of(key) + " HTTP/1.1\r\nHost: bench\r\n\r\n";
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), nothrow);
      if (wec) break;
      auto [hec, hn] = co_await asio::async_read_until(s, asio::dynamic_buffer(in), "\r\n\r\n",
                                                       nothrow);
      if (hec) break;
      const auto at = in.find("Content-Length: ");
      const long length = at == std::string::npos ? 0 : std::atol(in.c_str() + at + 16);
      if (in.compare(0, 12, "HTTP/1.1 200") != 0) ++failures;
      const std::size_t want = hn + static_cast<std::size_t>(length);
      if (in.size() < want) {
        auto [bec, bn] = co_await asio::async_read(s, asio::dynamic_buffer(in),
                                                   asio::transfer_exactly(want - in.size()), nothrow);
        if (bec) break;
      }
      in.erase(0, want);
    }
    --running;
  }

  // Runs `n` requests over `c` connections; returns the failures.
  long run(long n, int c, bool sequential) {
    budget = n;
    walk = sequential;
    failures = 0;
    running = c;
    for (int i = 0; i < c; ++i) {
      asio::co_spawn(ioc, connection(4242u + static_cast<unsigned>(i) * 7919u), asio::detached);
    }
    ioc.restart();
    ioc.run();
    return failures + (budget > 0 ? budget : 0);
  }
};

unsigned short free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool ready(unsigned short port) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return false;
  const std::string req = "GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req), ec);
  std::string in;
  asio::read(s, asio::dynamic_buffer(in), ec);
  return in.rfind("HTTP/1.1 200", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  t_uncounted = true;  // this thread is the load generator's
  options o;
  CLI::App app{"heap allocations per request of rcache serve"};
  app.add_option("--redis-url", o.redis_url)->required();
  app.add_option("--near-cache", o.near)->check(CLI::IsMember({"on", "off"}));
  app.add_option("-c,--connections", o.connections)->check(CLI::Range(1, 1000));
  app.add_option("-n,--requests", o.requests)->check(CLI::Range(1000L, 100'000'000L));
  app.add_option("--keys", o.keys)->check(CLI::Range(1L, 100'000'000L));
  CLI11_PARSE(app, argc, argv);

  const auto port = free_port();
  rcache::server::config_sources src;
  src.flags = {{"server.listen", "127.0.0.1:" + std::to_string(port)},
               {"server.threads", "1"},
               {"redis.url", o.redis_url},
               {"log.level", "off"},
               {"log.access", "false"},
               {"cache.near_cache", o.near == "on" ? "true" : "false"}};
  int serve_status = -1;
  std::thread gateway([&] { serve_status = rcache::server::serve(rcache::server::load_config(src)); });
  for (int i = 0; i < 400 && !ready(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }

  asio::io_context ioc(1);
  load l{ioc, port, o.keys};
  long failures = 0;
  // Warm-up: with the near cache on, every key once, in order; then random.
  if (o.near == "on") failures += l.run(o.keys, o.connections, true);
  failures += l.run(std::max<long>(o.requests / 10, 1000), o.connections, false);
  const auto a0 = g_allocations.load();
  const auto b0 = g_bytes.load();
  failures += l.run(o.requests, o.connections, false);
  const auto allocations = g_allocations.load() - a0;
  const auto bytes = g_bytes.load() - b0;

  std::raise(SIGTERM);  // serve() stops on it, as `rcache serve` does
  gateway.join();
  std::printf(
      "{\"near_cache\":\"%s\",\"connections\":%d,\"requests\":%ld,\"failures\":%ld,"
      "\"allocations_per_request\":%.2f,\"bytes_allocated_per_request\":%.1f,"
      "\"serve_exit\":%d}\n",
      o.near.c_str(), o.connections, o.requests, failures,
      static_cast<double>(allocations) / static_cast<double>(o.requests),
      static_cast<double>(bytes) / static_cast<double>(o.requests), serve_status);
  return failures == 0 && serve_status == 0 ? 0 : 1;
}
