// rcache_geo_bench: cached geo searches against the same searches without
// the cache, in one run, while points move (bench/geo_benchmark.sh).
//
//   1. load: --points points laid out like a city: 70% in 30 dense centres
//      (gaussian, 150 m to 1.2 km), 30% over 40 x 40 km of outskirts;
//   2. viewports: --viewports searches (radius 250 m to 2 km, COUNT 50, a
//      fifth of them ANY) centred where the points are, asked with a zipf
//      (s = 1) distribution;
//   3. for --seconds, --callers coroutines search through the cache while a
//      mover moves --move-rate of the points per second (short moves, as
//      vehicles make) through the geo index; every 200th search a checker
//      stops the mover, waits for its moves in flight, and compares the
//      cached answer with an uncached one (a stale answer is one that
//      differs);
//   4. the same stream of searches and moves with the cache bypassed;
//   5. the cost of one tag invalidation (async_invalidate_tags of a tag
//      with 100 entries, one at a time).
// Prints one JSON object with cached_over_uncached, hit_ratio (the cache's
// own hits over lookups in phase 3: a search that waited for an identical
// one in flight is a miss), stale_answers and tag_invalidate_us among the
// figures.
#include <rcache/cache.hpp>
#include <rcache/geo.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::string_view ns = "bench";
constexpr std::string_view set = "city";

struct options {
  std::string url = "redis://127.0.0.1:6379";
  long points = 1'000'000;
  int viewports = 1000;
  double seconds = 10;
  int callers = 32;
  double move_rate = 0.01;
};

struct city {
  std::vector<std::pair<double, double>> centres;
  std::vector<double> spread;  // degrees of latitude
  std::mt19937_64 rng{2026};
  std::pair<double, double> place() {
    std::uniform_real_distribution<double> unit(0, 1);
    if (unit(rng) < 0.7) {
      const auto c = rng() % centres.size();
      std::normal_distribution<double> g(0, spread[c]);
      return {centres[c].first + g(rng) * 1.5, centres[c].second + g(rng)};
    }
    return {2.08 + 0.54 * unit(rng), 48.67 + 0.36 * unit(rng)};
  }
  city() {
    std::uniform_real_distribution<double> unit(0, 1);
    for (int i = 0; i < 30; ++i) {
      centres.emplace_back(2.2 + 0.3 * unit(rng), 48.75 + 0.2 * unit(rng));
      spread.push_back((150 + 1050 * unit(rng)) / 111'000.0);
    }
  }
};

// The shared state of one phase.
struct phase {
  bool bypass = false;
  clock_type::time_point end;
  long searches = 0;
  long cached = 0;
  long errors = 0;
  long moves = 0;
  int moves_in_flight = 0;
  bool paused = false;
  long checked = 0;
  long stale = 0;
};

asio::awaitable<void> load(rcache::cache& c, const options& o, city& town,
                           std::vector<std::pair<double, double>>& where) {
  // GEOADD in pipelined batches: the points need no payload, and no answer
  // is cached yet, so no cell has a version to bump.
  const std::string key = "rcache:geo:" + std::string(ns) + "/{" + std::string(set) + "}";
  where.resize(static_cast<std::size_t>(o.points));
  for (long i = 0; i < o.points;) {
    rcache::request r;
    for (int b = 0; b < 64 && i < o.points; ++b) {
      std::vector<std::string> args{key};
      for (int k = 0; k < 500 && i < o.points; ++k, ++i) {
        where[static_cast<std::size_t>(i)] = town.place();
        args.push_back(std::to_string(where[static_cast<std::size_t>(i)].first));
        args.push_back(std::to_string(where[static_cast<std::size_t>(i)].second));
        args.push_back("p" + std::to_string(i));
      }
      r.push_range("GEOADD", args);
    }
    auto [ec, resp] = co_await c.redis().async_exec(std::move(r), nothrow);
    if (ec) throw std::runtime_error("load: " + ec.message());
  }
}

std::vector<rcache::geo_query> make_viewports(const options& o, city& town) {
  std::vector<rcache::geo_query> out;
  const double radii[] = {250, 500, 1000, 2000};
  for (int v = 0; v < o.viewports; ++v) {
    rcache::geo_query q;
    std::tie(q.lon, q.lat) = town.place();
    q.radius = radii[town.rng() % 4];
    q.count = 50;
    if (v % 5 == 0) {
      q.any = true;
      q.sort = rcache::geo_query::order::none;
    }
    out.push_back(q);
  }
  return out;
}

// Zipf (s = 1) over n items: the cumulative weights.
std::vector<double> zipf_cdf(int n) {
  std::vector<double> cdf(static_cast<std::size_t>(n));
  double sum = 0;
  for (int i = 0; i < n; ++i) cdf[static_cast<std::size_t>(i)] = sum += 1.0 / (i + 1);
  for (auto& x : cdf) x /= sum;
  return cdf;
}

asio::awaitable<void> searcher(rcache::geo_index& geo, const std::vector<rcache::geo_query>& vps,
                               const std::vector<double>& cdf, phase& p, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (clock_type::now() < p.end) {
    const auto v =
        static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) - cdf.begin());
    auto q = vps[std::min(v, vps.size() - 1)];
    q.bypass_cache = p.bypass;
    const bool check = !p.bypass && (++p.searches % 200 == 0);
    if (p.bypass) ++p.searches;
    if (check) {
      p.paused = true;
      while (p.moves_in_flight > 0) {
        t.expires_after(200us);
        co_await t.async_wait(nothrow);
      }
    }
    auto [ec, a] = co_await geo.async_search(ns, set, q, nothrow);
    if (ec) {
      ++p.errors;
    } else if (a.cached) {
      ++p.cached;
    }
    if (check) {
      q.bypass_cache = true;
      auto [ec2, fresh] = co_await geo.async_search(ns, set, q, nothrow);
      ++p.checked;
      if (!ec && !ec2 && fresh.json != a.json) ++p.stale;
      p.paused = false;
    }
  }
}

asio::awaitable<void> mover(rcache::geo_index& geo, const options& o,
                            std::vector<std::pair<double, double>>& where, phase& p) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> step(0, 0.0002);  // ~20 m
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto start = clock_type::now();
  const double per_second = o.move_rate * static_cast<double>(o.points);
  while (clock_type::now() < p.end) {
    t.expires_after(5ms);
    co_await t.async_wait(nothrow);
    if (p.paused) continue;
    const double due =
        per_second * std::chrono::duration<double>(clock_type::now() - start).count();
    while (static_cast<double>(p.moves) < due && p.moves_in_flight < 4096 && !p.paused) {
      const auto i = static_cast<std::size_t>(rng() % where.size());
      where[i].first += step(rng);
      where[i].second += step(rng);
      rcache::geo_point pt{"p" + std::to_string(i), where[i].first, where[i].second, {}};
      ++p.moves;
      ++p.moves_in_flight;
      geo.async_put(ns, set, std::move(pt), [&p](boost::system::error_code ec, bool) {
        --p.moves_in_flight;
        if (ec) ++p.errors;
      });
    }
  }
  while (p.moves_in_flight > 0) {
    t.expires_after(1ms);
    co_await t.async_wait(nothrow);
  }
}

asio::awaitable<void> run_phase(rcache::geo_index& geo, const options& o,
                                const std::vector<rcache::geo_query>& vps,
                                const std::vector<double>& cdf,
                                std::vector<std::pair<double, double>>& where, phase& p) {
  auto ex = co_await asio::this_coro::executor;
  p.end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                  std::chrono::duration<double>(o.seconds));
  int done = 0;
  const int total = o.callers + 1;
  auto finished = [&done](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    ++done;
  };
  for (int i = 0; i < o.callers; ++i) {
    asio::co_spawn(ex, searcher(geo, vps, cdf, p, 100 + static_cast<unsigned>(i)), finished);
  }
  asio::co_spawn(ex, mover(geo, o, where, p), finished);
  asio::steady_timer t(ex);
  while (done < total) {
    t.expires_after(10ms);
    co_await t.async_wait(nothrow);
  }
}

// Hits (both tiers) and misses of the cache's namespace `ns` so far, from
// its metrics: a search that waited for another caller's identical search
// counts as a miss there.
std::pair<double, double> hits_and_misses(const rcache::cache& c) {
  const auto text = c.metrics_text();
  auto value = [&](const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size() + 2));
  };
  const std::string n(ns);
  return {value("rcache_cache_hits_total{namespace=\"" + n + "\",tier=\"near\"}") +
              value("rcache_cache_hits_total{namespace=\"" + n + "\",tier=\"redis\"}"),
          value("rcache_cache_misses_total{namespace=\"" + n + "\"}")};
}

// Mean microseconds of one async_invalidate_tags of a tag with entries.
asio::awaitable<double> tag_invalidation_cost(rcache::cache& c) {
  constexpr int rounds = 1000;
  double total_us = 0;
  rcache::set_options o;
  o.ttl = 60s;
  for (int r = 0; r < rounds; ++r) {
    const auto tag = "t" + std::to_string(r);
    o.tags = {tag};
    if (r % 10 == 0) {  // every tenth tag carries 100 entries
      for (int k = 0; k < 100; ++k) {
        co_await c.async_set("tagbench", tag + ":" + std::to_string(k), "v", o, nothrow);
      }
    } else {
      co_await c.async_set("tagbench", tag, "v", o, nothrow);
    }
    std::vector<std::string> tags{tag};
    const auto t0 = clock_type::now();
    co_await c.async_invalidate_tags("tagbench", std::move(tags), nothrow);
    total_us += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
  }
  co_return total_us / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"rcache_geo_bench"};
  app.add_option("--url", o.url);
  app.add_option("--points", o.points);
  app.add_option("--viewports", o.viewports);
  app.add_option("--seconds", o.seconds);
  app.add_option("--callers", o.callers);
  app.add_option("--move-rate", o.move_rate, "fraction of the points moved per second");
  CLI11_PARSE(app, argc, argv);

  asio::io_context ioc(1);
  rcache::cache_options co;
  co.redis = rcache::parse_url(o.url).value();
  co.redis.command_timeout = 10s;
  co.near_cache_max_bytes = 256u * 1024 * 1024;
  auto c = rcache::cache::create(ioc.get_executor(), co);
  c->add_namespace(std::string(ns), {.ttl = 300s});
  rcache::geo_index geo(*c);
  city town;
  std::vector<std::pair<double, double>> where;
  phase cached_phase;
  phase plain_phase;
  plain_phase.bypass = true;
  double load_s = 0;
  double tag_us = 0;
  double hit_ratio = 0;
  std::exception_ptr failure;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        const auto t0 = clock_type::now();
        co_await load(*c, o, town, where);
        load_s = std::chrono::duration<double>(clock_type::now() - t0).count();
        const auto vps = make_viewports(o, town);
        const auto cdf = zipf_cdf(o.viewports);
        const auto [h0, m0] = hits_and_misses(*c);
        co_await run_phase(geo, o, vps, cdf, where, cached_phase);
        const auto [h1, m1] = hits_and_misses(*c);
        hit_ratio = (h1 - h0) / std::max(1.0, (h1 - h0) + (m1 - m0));
        co_await run_phase(geo, o, vps, cdf, where, plain_phase);
        tag_us = co_await tag_invalidation_cost(*c);
        c->stop();
      },
      [&](std::exception_ptr e) {
        failure = e;
        c->stop();
      });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  const double cached_qps = static_cast<double>(cached_phase.searches) / o.seconds;
  const double plain_qps = static_cast<double>(plain_phase.searches) / o.seconds;
  std::printf(
      "{\"points\":%ld,\"viewports\":%d,\"seconds\":%.1f,\"callers\":%d,\"load_s\":%.1f,"
      "\"cached_qps\":%.0f,\"uncached_qps\":%.0f,\"cached_over_uncached\":%.2f,"
      "\"hit_ratio\":%.3f,\"answered_without_search\":%.3f,\"stale_answers\":%ld,"
      "\"stale_checked\":%ld,"
      "\"moves_per_second_cached\":%.0f,\"moves_per_second_uncached\":%.0f,"
      "\"errors\":%ld,\"tag_invalidate_us\":%.1f}\n",
      o.points, o.viewports, o.seconds, o.callers, load_s, cached_qps, plain_qps,
      plain_qps > 0 ? cached_qps / plain_qps : 0.0, hit_ratio,
      static_cast<double>(cached_phase.cached) /
          static_cast<double>(std::max(1L, cached_phase.searches)),
      cached_phase.stale, cached_phase.checked, static_cast<double>(cached_phase.moves) / o.seconds,
      static_cast<double>(plain_phase.moves) / o.seconds, cached_phase.errors + plain_phase.errors,
      tag_us);
  return 0;
}
