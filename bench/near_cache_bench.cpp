// Micro-benchmarks of the near cache's hit path against the obvious baseline,
// a std::unordered_map<std::string, std::shared_ptr<const std::string>> behind
// one std::mutex, holding the same keys and values.
//
// Both hold 100k keys ("user:session:" + 8 digits, 21 bytes: longer than the
// small-string buffer, as real keys are) with 100-byte values, and are read
// uniformly over the present keys in a pre-generated random order, on 1 and
// 2 threads; items_per_second is the throughput summed over threads. A hit
// returns a shared_ptr copy in both. The near cache also checks the TTL (the
// caller's clock is read once, outside the loop, as the cache layer's
// `now` would be per request) and bumps its frequency.
//
// A third benchmark measures the miss path the cache layer takes on every
// miss: get, begin_fill, put, with an eviction per put once full.
//
// Run: taskset -c 1 rcache_near_cache_bench --benchmark_filter='/threads:1'
//      rcache_near_cache_bench --benchmark_filter='/threads:2'
// Threading: the caches are built once in main(), before any benchmark runs.
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "near/near_cache.hpp"

namespace {

using rcache::near::clock;
using rcache::near::near_cache;
using rcache::near::value_ptr;

constexpr std::size_t key_count = 100'000;
constexpr std::size_t value_size = 100;
constexpr std::size_t order_size = std::size_t{1} << 20;  // power of two

class locked_map {
 public:
  explicit locked_map(std::size_t n) { map_.reserve(n); }

  [[nodiscard]] value_ptr get(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }
  void put(const std::string& key, value_ptr v) {
    std::lock_guard lock(mutex_);
    map_.insert_or_assign(key, std::move(v));
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, value_ptr> map_;
};

struct fixture {
  std::vector<std::string> keys;
  std::vector<std::uint32_t> order;  // random indices into keys
  std::unique_ptr<near_cache> near;
  std::unique_ptr<locked_map> baseline;
};

fixture* shared = nullptr;

std::string key_name(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user:session:%08zu", i);
  return buf;
}

void build_fixture() {
  static fixture f;
  std::mt19937_64 rng(7);
  f.keys.reserve(key_count);
  for (std::size_t i = 0; i < key_count; ++i) f.keys.push_back(key_name(i));
  f.order.resize(order_size);
  for (auto& i : f.order) i = static_cast<std::uint32_t>(rng() % key_count);

  // Room for every key even when the hash spreads them unevenly over shards.
  f.near = std::make_unique<near_cache>(rcache::near::near_cache_options{
      .max_bytes = std::size_t{1} << 30, .max_entries = key_count * 5 / 4});
  f.baseline = std::make_unique<locked_map>(key_count);
  // Values are allocated in one pass and inserted in a shuffled order, so
  // neither structure's nodes sit next to the values they point to (as they
  // would not in a long-running process).
  std::vector<value_ptr> values(key_count);
  for (auto& v : values) v = std::make_shared<const std::string>(value_size, 'v');
  std::vector<std::uint32_t> insert_order(key_count);
  for (std::uint32_t i = 0; i < key_count; ++i) insert_order[i] = i;
  std::shuffle(insert_order.begin(), insert_order.end(), rng);
  for (const std::uint32_t i : insert_order) {
    const std::string& k = f.keys[i];
    if (!f.near->put(k, values[i], clock::time_point::max(), f.near->begin_fill(k))) std::abort();
    f.baseline->put(k, values[i]);
  }
  if (f.near->size() != key_count) {
    std::fprintf(stderr, "near cache holds %zu of %zu keys\n", f.near->size(), key_count);
    std::abort();
  }
  shared = &f;
}

// Each thread walks the shared random order from its own offset.
std::size_t start_offset(const benchmark::State& state) {
  return static_cast<std::size_t>(state.thread_index()) * (order_size / 2 + 12345);
}

void near_cache_hit(benchmark::State& state) {
  near_cache& cache = *shared->near;
  const auto& keys = shared->keys;
  const auto& order = shared->order;
  const clock::time_point now = clock::now();
  std::size_t i = start_offset(state);
  for (auto _ : state) {
    value_ptr v = cache.get(keys[order[i++ & (order_size - 1)]], now);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void locked_map_hit(benchmark::State& state) {
  locked_map& map = *shared->baseline;
  const auto& keys = shared->keys;
  const auto& order = shared->order;
  std::size_t i = start_offset(state);
  for (auto _ : state) {
    value_ptr v = map.get(keys[order[i++ & (order_size - 1)]]);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// A cache of 100k entries filled from a stream over 1M keys: nearly every
// request misses, fills and evicts.
void near_cache_miss_fill(benchmark::State& state) {
  near_cache cache({.max_bytes = std::size_t{1} << 30, .max_entries = key_count});
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < 10 * key_count; ++i) keys.push_back(key_name(i));
  const auto v = std::make_shared<const std::string>(value_size, 'v');
  const clock::time_point now = clock::now();
  std::mt19937_64 rng(11);
  std::size_t misses = 0;
  for (auto _ : state) {
    const std::string& k = keys[rng() % keys.size()];
    if (!cache.get(k, now)) {
      ++misses;
      benchmark::DoNotOptimize(cache.put(k, v, clock::time_point::max(), cache.begin_fill(k)));
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["miss_ratio"] =
      static_cast<double>(misses) / static_cast<double>(state.iterations());
}

BENCHMARK(near_cache_hit)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(locked_map_hit)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(near_cache_miss_fill)->Threads(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  build_fixture();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
