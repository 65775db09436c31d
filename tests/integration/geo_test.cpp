// Integration tests of rcache::geo_index against real redis-server
// processes: points (add, move, remove, get, payloads), input checks,
// cached answers and their invalidation by moves in and near their area,
// and a randomized run of 10,000 points with interleaved moves and queries
// in which every cached answer must equal a fresh GEOSEARCH at that moment,
// on one server and on a cluster.
#include <rcache/cache.hpp>
#include <rcache/geo.hpp>

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <random>

#include "async_test.hpp"
#include "cache_fixture.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using test::eventually;
using test::nothrow;
using test::options_for;
using test::redis_server;

geo_point point(std::string id, double lon, double lat, std::string data = {}) {
  return geo_point{std::move(id), lon, lat, std::move(data)};
}

// Half a step of the grid query centers are rounded to, at `level`.
double geo_rounding(int level) {
  return 180.0 / std::ldexp(1.0, level) / 256 / 2 + 1e-12;
}

geo_query around(double lon, double lat, double radius_m, std::size_t count = 100) {
  geo_query q;
  q.lon = lon;
  q.lat = lat;
  q.radius = radius_m;
  q.count = count;
  return q;
}

TEST(Geo, PointsAreAddedMovedRemovedAndRead) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    geo_index geo(*c);
    auto p = point("cafe", 2.3522, 48.8566, R"({"name":"Cafe"})");
    EXPECT_EQ((co_await geo.async_put("places", "paris", p, nothrow)),
              std::tuple(error_code{}, true));
    p.lon = 2.3530;
    EXPECT_EQ((co_await geo.async_put("places", "paris", p, nothrow)),
              std::tuple(error_code{}, false));  // moved, not added
    auto [ge, got] = co_await geo.async_get("places", "paris", "cafe", nothrow);
    EXPECT_FALSE(ge);
    EXPECT_TRUE(got.has_value());
    if (got) {
      EXPECT_NEAR(got->lon, 2.3530, 1e-5);
      EXPECT_NEAR(got->lat, 48.8566, 1e-5);
      EXPECT_EQ(got->data, R"({"name":"Cafe"})");
    }
    p.data.clear();  // a put without a payload drops it
    co_await geo.async_put("places", "paris", p, nothrow);
    auto [ge2, got2] = co_await geo.async_get("places", "paris", "cafe", nothrow);
    EXPECT_TRUE(got2 && got2->data.empty());
    EXPECT_EQ((co_await geo.async_remove("places", "paris", "cafe", nothrow)),
              std::tuple(error_code{}, true));
    EXPECT_EQ((co_await geo.async_remove("places", "paris", "cafe", nothrow)),
              std::tuple(error_code{}, false));
    auto [ge3, gone] = co_await geo.async_get("places", "paris", "cafe", nothrow);
    EXPECT_FALSE(gone.has_value());
    (void)ge2;
    (void)ge3;
  });
}

TEST(Geo, InputOutOfBoundsIsRefused) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    geo_index geo(*c);
    const auto bad = make_error_code(error::invalid_argument);
    const std::vector<geo_point> bad_points{
        point("a", 180.1, 0), point("a", 0, 85.06), point("", 0, 0),
        point("a", 0, 0, std::string(1025, 'x')), point(std::string(257, 'i'), 0, 0)};
    for (const auto& p : bad_points) {
      EXPECT_EQ(std::get<0>(co_await geo.async_put("places", "s", p, nothrow)), bad);
    }
    EXPECT_EQ(std::get<0>(co_await geo.async_put("places", "bad{set}", point("a", 0, 0), nothrow)),
              bad);
    auto zero = around(0, 0, 0);
    auto huge = around(0, 0, 300'001);
    auto none = around(0, 0, 10, 0);
    auto many = around(0, 0, 10, 1001);
    auto box = around(0, 0, 0);
    box.box = true;
    box.width = 10;
    box.height = 0;
    const std::vector<geo_query> bad_queries{zero, huge, none, many, box};
    for (const auto& q : bad_queries) {
      EXPECT_EQ(std::get<0>(co_await geo.async_search("places", "s", q, nothrow)), bad);
    }
    // Nothing was written.
    EXPECT_EQ(server.command({"EXISTS", "rcache:geo:places/{s}"}).text, "0");
  });
}

TEST(Geo, AnswersAreCachedUntilAPointInTheirAreaMoves) {
  redis_server server;
  test::run_async([&](auto ex) -> asio::awaitable<void> {
    auto c = cache::create(ex, options_for(server));
    geo_index geo(*c);
    for (int i = 0; i < 20; ++i) {
      auto p = point("p" + std::to_string(i), 13.40 + 0.001 * i, 52.52, "d" + std::to_string(i));
      co_await geo.async_put("city", "berlin", p, nothrow);
    }
    auto far = point("far", 13.90, 52.90);
    co_await geo.async_put("city", "berlin", far, nothrow);
    const auto q = around(13.405, 52.52, 1000);
    auto [e1, first] = co_await geo.async_search("city", "berlin", q, nothrow);
    EXPECT_FALSE(e1) << e1.message();
    EXPECT_FALSE(first.cached);
    EXPECT_EQ(first.hits.size(), 20u);
    EXPECT_EQ(first.hits.front().data.substr(0, 1), "d");
    auto [e2, second] = co_await geo.async_search("city", "berlin", q, nothrow);
    EXPECT_TRUE(second.cached);
    EXPECT_EQ(second.json, first.json);
    // A move far away leaves the answer cached.
    far.lon = 13.95;
    co_await geo.async_put("city", "berlin", far, nothrow);
    EXPECT_TRUE(std::get<1>(co_await geo.async_search("city", "berlin", q, nothrow)).cached);
    // A point moving into the area invalidates it; the new answer has it.
    far.lon = 13.4051;
    far.lat = 52.5201;
    co_await geo.async_put("city", "berlin", far, nothrow);
    auto [e3, third] = co_await geo.async_search("city", "berlin", q, nothrow);
    EXPECT_FALSE(third.cached);
    EXPECT_EQ(third.hits.size(), 21u);
    EXPECT_TRUE(std::any_of(third.hits.begin(), third.hits.end(),
                            [](const geo_hit& h) { return h.id == "far"; }));
    // Nearest first, from the rounded center.
    EXPECT_TRUE(std::is_sorted(third.hits.begin(), third.hits.end(),
                               [](const geo_hit& a, const geo_hit& b) { return a.dist < b.dist; }));
    EXPECT_NEAR(third.lon, 13.405, geo_rounding(13));
    EXPECT_NEAR(third.lat, 52.52, geo_rounding(13));
    // Removing a point in the area invalidates it too.
    co_await geo.async_remove("city", "berlin", "p3", nothrow);
    auto [e4, fourth] = co_await geo.async_search("city", "berlin", q, nothrow);
    EXPECT_FALSE(fourth.cached);
    EXPECT_EQ(fourth.hits.size(), 20u);
    // A box and a bypass answer agree with the cached path.
    auto b = q;
    b.box = true;
    b.width = 2000;
    b.height = 2000;
    auto [e5, boxed] = co_await geo.async_search("city", "berlin", b, nothrow);
    b.bypass_cache = true;
    auto [e6, fresh] = co_await geo.async_search("city", "berlin", b, nothrow);
    EXPECT_EQ(boxed.json, fresh.json);
    EXPECT_FALSE(fresh.cached);
    (void)e2;
    (void)e4;
    (void)e5;
    (void)e6;
  });
}

// ---- the randomized comparison ---------------------------------------------------
//
// 10,000 points in a few dense centres and sparse outskirts; 100,000
// operations: moves (some across the whole area, most local), a few removes
// and re-adds, and queries from a fixed set of viewports, each answered
// through the cache and compared at once with a bypass GEOSEARCH.

struct comparison_run {
  int queries = 0;
  int cached = 0;
  int moves = 0;
  int mismatches = 0;
};

asio::awaitable<comparison_run> compare_cached_with_fresh(geo_index& geo, int ops) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> gauss(0, 1);
  const std::array<std::pair<double, double>, 4> centres{
      {{2.35, 48.85}, {2.30, 48.87}, {2.40, 48.83}, {2.33, 48.90}}};
  auto random_position = [&](bool local, double lon, double lat) {
    if (local) return std::pair(lon + 0.0005 * gauss(rng), lat + 0.0003 * gauss(rng));
    if (unit(rng) < 0.8) {
      const auto& c = centres[rng() % centres.size()];
      return std::pair(c.first + 0.01 * gauss(rng), c.second + 0.006 * gauss(rng));
    }
    return std::pair(2.2 + 0.3 * unit(rng), 48.75 + 0.2 * unit(rng));  // outskirts
  };
  constexpr int points = 10'000;
  std::vector<std::pair<double, double>> where(points);
  std::vector<bool> present(points, true);
  for (int i = 0; i < points; ++i) {
    where[static_cast<std::size_t>(i)] = random_position(false, 0, 0);
    auto p = point("p" + std::to_string(i), where[static_cast<std::size_t>(i)].first,
                   where[static_cast<std::size_t>(i)].second, "v0");
    auto [e, added] = co_await geo.async_put("g", "city", p, nothrow);
    EXPECT_FALSE(e) << e.message();
  }
  std::vector<geo_query> viewports;
  for (int v = 0; v < 200; ++v) {
    auto [lon, lat] = random_position(false, 0, 0);
    auto q = around(lon, lat, std::array<double, 4>{100, 200, 300, 500}[v % 4], 20);
    q.any = v % 5 == 0;
    if (q.any) q.sort = geo_query::order::none;
    if (v % 7 == 0) {
      q.box = true;
      q.width = 600;
      q.height = 400;
    }
    viewports.push_back(q);
  }
  comparison_run run;
  for (int op = 0; op < ops; ++op) {
    if (unit(rng) < 0.3) {
      const auto i = static_cast<std::size_t>(rng() % points);
      const auto id = "p" + std::to_string(i);
      ++run.moves;
      if (present[i] && unit(rng) < 0.05) {
        co_await geo.async_remove("g", "city", id, nothrow);
        present[i] = false;
        continue;
      }
      where[i] = random_position(unit(rng) < 0.9, where[i].first, where[i].second);
      auto p = point(id, where[i].first, where[i].second, "v" + std::to_string(op));
      auto [e, added] = co_await geo.async_put("g", "city", p, nothrow);
      EXPECT_FALSE(e) << e.message();
      present[i] = true;
      continue;
    }
    // Zipf-like: low viewport numbers far more often.
    const auto v = static_cast<std::size_t>(std::pow(unit(rng), 3) * viewports.size());
    auto q = viewports[std::min(v, viewports.size() - 1)];
    auto [e1, cached] = co_await geo.async_search("g", "city", q, nothrow);
    q.bypass_cache = true;
    auto [e2, fresh] = co_await geo.async_search("g", "city", q, nothrow);
    EXPECT_FALSE(e1 || e2) << e1.message() << e2.message();
    ++run.queries;
    if (cached.cached) ++run.cached;
    if (cached.json != fresh.json) {
      if (++run.mismatches <= 3) {
        ADD_FAILURE() << "op " << op << " viewport " << v << " cached=" << cached.cached
                      << "\n cached: " << cached.json.substr(0, 300)
                      << "\n fresh:  " << fresh.json.substr(0, 300);
      }
    }
  }
  co_return run;
}

void expect_clean(const comparison_run& r) {
  EXPECT_EQ(r.mismatches, 0) << "of " << r.queries << " queries";
  // The run exercised the cache: answers were served from it, and moves
  // invalidated some (not every query was a hit).
  EXPECT_GT(r.cached, r.queries / 4);
  EXPECT_LT(r.cached, r.queries);
  std::printf("geo comparison: %d queries, %d cached, %d moves, %d mismatches\n", r.queries,
              r.cached, r.moves, r.mismatches);
}

TEST(Geo, EveryCachedAnswerEqualsAFreshSearchOnOneServer) {
  redis_server server;
  test::run_async(
      [&](auto ex) -> asio::awaitable<void> {
        auto c = cache::create(ex, options_for(server));
        geo_index geo(*c);
        expect_clean(co_await compare_cached_with_fresh(geo, 100'000));
      },
      800s);  // a bound on a hang; the run takes ~100 s under the sanitizers
}

TEST(Geo, EveryCachedAnswerEqualsAFreshSearchOnACluster) {
  test::redis_cluster cl;
  test::run_async(
      [&](auto ex) -> asio::awaitable<void> {
        auto c = cache::create(ex, options_for(cl));
        EXPECT_TRUE(
            co_await eventually([&] { return c->redis().state() == connection_state::connected; }));
        geo_index geo(*c);
        expect_clean(co_await compare_cached_with_fresh(geo, 100'000));
      },
      800s);  // a bound on a hang; the run takes ~100 s under the sanitizers
}

}  // namespace
}  // namespace rcache
