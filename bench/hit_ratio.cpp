// Hit ratio of the near cache's policy (S3-FIFO) against a plain LRU of the
// same capacity in entries, replaying the same seeded traces through both as
// cache-aside does it (get; on a miss, fill).
//
// Traces: "zipf", requests drawn from a zipf(s) distribution over `keys`
// keys; "zipf_with_scans", the same with every tenth request replaced by the
// next key of a one-pass scan over keys never requested again (a batch job
// walking a table). Prints one JSON object:
//   {"l1_hit_ratio":..., "lru_hit_ratio":..., ..., "with_scans":{...}}
// where the top-level ratios are those of the zipf trace.
//
// Usage: rcache_hit_ratio [--requests N] [--keys N] [--capacity N] [--zipf S]
//                         [--seed N] [--shards N]
// Threading: single-threaded.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <list>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "near/near_cache.hpp"

namespace {

using rcache::near::clock;

struct settings {
  std::size_t requests = 5'000'000;
  std::size_t keys = 1'000'000;
  std::size_t capacity = 50'000;
  double zipf = 0.99;
  std::uint64_t seed = 20240601;
  std::size_t shards = 0;
};

// Inverse-CDF sampling over ranks 1..n with P(r) proportional to r^-s; a rank
// is then mapped through a fixed permutation so that popularity is not
// correlated with key order.
class zipf_trace {
 public:
  zipf_trace(std::size_t n, double s, std::uint64_t seed) : cdf_(n), ids_(n), rng_(seed) {
    double sum = 0;
    for (std::size_t r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
    for (std::size_t i = 0; i < n; ++i) ids_[i] = static_cast<std::uint32_t>(i);
    std::shuffle(ids_.begin(), ids_.end(), rng_);
  }

  [[nodiscard]] std::uint32_t next() {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    const auto rank = static_cast<std::size_t>(
        std::min<std::ptrdiff_t>(it - cdf_.begin(), static_cast<std::ptrdiff_t>(cdf_.size()) - 1));
    return ids_[rank];
  }

 private:
  std::vector<double> cdf_;
  std::vector<std::uint32_t> ids_;
  std::mt19937_64 rng_;
};

// The reference policy: a textbook LRU (hash map + recency list).
class lru_cache {
 public:
  explicit lru_cache(std::size_t capacity) : capacity_(capacity) { index_.reserve(capacity * 2); }

  // Returns whether `id` was present; inserts it (evicting the least recently
  // used) if not.
  bool access(std::uint32_t id) {
    if (const auto it = index_.find(id); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return true;
    }
    if (capacity_ == 0) return false;
    if (index_.size() == capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(id);
    index_.emplace(id, order_.begin());
    return false;
  }

 private:
  std::size_t capacity_;
  std::list<std::uint32_t> order_;
  std::unordered_map<std::uint32_t, std::list<std::uint32_t>::iterator> index_;
};

struct ratios {
  double l1 = 0;
  double lru = 0;
};

// Replays ids (scan ids are >= keys) through both caches.
template <typename NextId>
ratios replay(const settings& s, const std::vector<std::string>& names, NextId next_id) {
  rcache::near::near_cache l1(
      {.max_bytes = std::size_t{1} << 40, .max_entries = s.capacity, .shards = s.shards});
  lru_cache lru(s.capacity);
  const auto value = std::make_shared<const std::string>(64, 'v');
  const clock::time_point now = clock::now();
  const clock::time_point never = clock::time_point::max();
  std::size_t l1_hits = 0;
  std::size_t lru_hits = 0;
  std::string scratch;
  for (std::size_t i = 0; i < s.requests; ++i) {
    const std::uint32_t id = next_id();
    std::string_view key;
    if (id < names.size()) {
      key = names[id];
    } else {
      scratch = "scan:" + std::to_string(id);
      key = scratch;
    }
    if (l1.get(key, now)) {
      ++l1_hits;
    } else {
      const auto token = l1.begin_fill(key);
      (void)l1.put(key, value, never, token);
    }
    lru_hits += lru.access(id);
  }
  return {static_cast<double>(l1_hits) / static_cast<double>(s.requests),
          static_cast<double>(lru_hits) / static_cast<double>(s.requests)};
}

bool parse_flag(int argc, char** argv, int& i, const char* name, std::string_view& out) {
  if (std::strcmp(argv[i], name) != 0 || i + 1 >= argc) return false;
  out = argv[++i];
  return true;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string_view v;
    bool ok = false;
    if (parse_flag(argc, argv, i, "--requests", v)) {
      ok = parse_number(v, s.requests) && s.requests > 0;
    } else if (parse_flag(argc, argv, i, "--keys", v)) {
      ok = parse_number(v, s.keys) && s.keys > 0 && s.keys < (1u << 31);
    } else if (parse_flag(argc, argv, i, "--capacity", v)) {
      ok = parse_number(v, s.capacity);
    } else if (parse_flag(argc, argv, i, "--zipf", v)) {
      ok = parse_number(v, s.zipf) && s.zipf > 0;
    } else if (parse_flag(argc, argv, i, "--seed", v)) {
      ok = parse_number(v, s.seed);
    } else if (parse_flag(argc, argv, i, "--shards", v)) {
      ok = parse_number(v, s.shards);
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: %s [--requests N] [--keys N] [--capacity N] [--zipf S] [--seed N] "
                   "[--shards N]\n",
                   argv[0]);
      return 2;
    }
  }

  std::vector<std::string> names(s.keys);
  for (std::size_t i = 0; i < s.keys; ++i) names[i] = "object:" + std::to_string(i);

  zipf_trace plain(s.keys, s.zipf, s.seed);
  const ratios zipf = replay(s, names, [&] { return plain.next(); });

  zipf_trace mixed(s.keys, s.zipf, s.seed);
  std::uint32_t scan_next = static_cast<std::uint32_t>(s.keys);
  std::size_t n = 0;
  const ratios scans = replay(s, names, [&] { return ++n % 10 == 0 ? scan_next++ : mixed.next(); });

  std::printf(
      "{\"l1_hit_ratio\":%.4f,\"lru_hit_ratio\":%.4f,\"requests\":%zu,\"keys\":%zu,"
      "\"capacity\":%zu,\"zipf\":%.2f,\"seed\":%llu,"
      "\"with_scans\":{\"l1_hit_ratio\":%.4f,\"lru_hit_ratio\":%.4f}}\n",
      zipf.l1, zipf.lru, s.requests, s.keys, s.capacity, s.zipf,
      static_cast<unsigned long long>(s.seed), scans.l1, scans.lru);
  return 0;
}
