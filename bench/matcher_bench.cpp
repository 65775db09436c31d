// Micro-benchmark of the feed's subscription matching (src/feed/matcher):
// the time to find the subscriptions of one change, with 1,000, 10,000 and
// 100,000 subscriptions held — by exact key, by prefix (distinct ids, as a
// subscriber of one user's keys holds them) and a mix — against the obvious
// baseline, a linear scan testing every subscription (what matching per
// message costs without an index). matches_per_change counts the
// subscriptions found.
//
// Run: taskset -c 1 rcache_matcher_bench
//      (bench/feed_benchmark.sh runs it and reports ns per match at 100,000)
#include <benchmark/benchmark.h>
#include <cstdint>
#include <string>
#include <vector>

#include "feed/matcher.hpp"

namespace {

using rcache::feed::matcher;

struct sub {
  bool exact;
  std::string key;
};

// `n` subscriptions in namespace "users", on distinct ids "user:<id>":
// exact keys, or the same strings as prefixes (a subscriber of one user's
// keys, "user:<id>" matching "user:<id>:profile" ...), or every other one
// of each with `mixed`. The probe matches its own id's subscription and
// those of the few ids that are prefixes of it ("user:79" of "user:7919").
std::vector<sub> subscriptions(std::int64_t n, bool prefixes, bool mixed) {
  std::vector<sub> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const bool exact = mixed ? i % 2 == 0 : !prefixes;
    out.push_back({exact, "user:" + std::to_string(i * 7919 % 1'000'003)});
  }
  return out;
}

const std::string probe = "user:" + std::to_string(7919 % 1'000'003);

void indexed(benchmark::State& state, bool prefixes, bool mixed) {
  matcher m;
  rcache::feed::subscription_id id = 0;
  for (const auto& s : subscriptions(state.range(0), prefixes, mixed)) {
    if (s.exact) {
      m.add_key("users", s.key, ++id);
    } else {
      m.add_prefix("users", s.key, ++id);
    }
  }
  std::size_t found = 0;
  for (auto _ : state) {
    m.match("users", probe, [&](rcache::feed::subscription_id) { ++found; });
    benchmark::DoNotOptimize(found);
  }
  state.counters["matches_per_change"] =
      static_cast<double>(found) / static_cast<double>(state.iterations());
}

void scanned(benchmark::State& state, bool prefixes, bool mixed) {
  const auto subs = subscriptions(state.range(0), prefixes, mixed);
  std::size_t found = 0;
  for (auto _ : state) {
    for (const auto& s : subs) {
      if (s.exact ? s.key == probe : probe.starts_with(s.key)) ++found;
    }
    benchmark::DoNotOptimize(found);
  }
  state.counters["matches_per_change"] =
      static_cast<double>(found) / static_cast<double>(state.iterations());
}

void BM_match_exact(benchmark::State& s) {
  indexed(s, false, false);
}
void BM_match_prefix(benchmark::State& s) {
  indexed(s, true, false);
}
void BM_match_mixed(benchmark::State& s) {
  indexed(s, true, true);
}
void BM_scan_exact(benchmark::State& s) {
  scanned(s, false, false);
}
void BM_scan_prefix(benchmark::State& s) {
  scanned(s, true, false);
}
void BM_scan_mixed(benchmark::State& s) {
  scanned(s, true, true);
}

}  // namespace

BENCHMARK(BM_match_exact)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_prefix)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_match_mixed)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_scan_exact)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_scan_prefix)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_scan_mixed)->Arg(1'000)->Arg(10'000)->Arg(100'000);
BENCHMARK_MAIN();
