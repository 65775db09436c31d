// Unit tests of the geo grid: every point Redis's GEOSEARCH can return for
// a random circle or box lies in a cell the query covers (Redis's own
// distance formulas, on random shapes all over the globe, across the
// antimeridian and near the latitude limits); levels, snapping, tags and
// the input checks.
#include "geo/cells.hpp"

#include <rcache/tags.hpp>

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <numbers>
#include <random>

namespace rcache::geo {
namespace {

constexpr double rad = std::numbers::pi / 180;

// Redis's geohashGetDistance (haversine) and geohashGetLatDistance.
double redis_distance(double lon1, double lat1, double lon2, double lat2) {
  const double u = std::sin((lat2 - lat1) * rad / 2);
  const double v = std::sin((lon2 - lon1) * rad / 2);
  return 2.0 * earth_radius_m *
         std::asin(std::sqrt(u * u + std::cos(lat1 * rad) * std::cos(lat2 * rad) * v * v));
}
double redis_lat_distance(double lat1, double lat2) {
  return earth_radius_m * std::abs(lat2 * rad - lat1 * rad);
}

// Redis's tests: BYRADIUS, and BYBOX (geohashGetDistanceIfInRectangle).
bool in_shape(double clon, double clat, const shape& s, double lon, double lat) {
  if (!s.box) return redis_distance(clon, clat, lon, lat) <= s.half_w_m;
  if (redis_lat_distance(lat, clat) > s.half_h_m) return false;
  return redis_distance(lon, lat, clon, lat) <= s.half_w_m;
}

double wrap(double lon) {
  while (lon > 180) lon -= 360;
  while (lon < -180) lon += 360;
  return lon;
}

TEST(GeoCells, EveryPointAShapeCanMatchIsInACoveredCell) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  int checked = 0;
  for (int q = 0; q < 4000; ++q) {
    shape s;
    s.box = q % 2 == 1;
    const double r = std::exp(std::log(1.0) + unit(rng) * (std::log(max_radius_m) - std::log(1.0)));
    s.half_w_m = r;
    s.half_h_m = s.box ? r * (0.2 + unit(rng)) : r;
    s.half_h_m = std::min(s.half_h_m, max_radius_m);
    // Centers everywhere, with many near the antimeridian and the limits.
    double clon = -180 + 360 * unit(rng);
    double clat = -max_latitude + 2 * max_latitude * unit(rng);
    if (q % 7 == 0) clon = 179.99 + 0.02 * unit(rng) - 0.01;
    if (q % 11 == 0) clat = (q % 2 ? 1 : -1) * (max_latitude - 2 * unit(rng));
    clon = wrap(clon);
    const int level = level_for(s);
    const auto cells = covering(clon, clat, s, level);
    if (!cells) continue;  // not cached: nothing to check
    // Points sampled over a region larger than the shape, kept when Redis
    // would return them.
    const double dlat = s.half_h_m / earth_radius_m / rad * 1.2;
    const double dlon = std::min(
        180.0, dlat * 4 / std::max(0.05, std::cos(clat * rad)) * (s.half_w_m / s.half_h_m));
    for (int p = 0; p < 300; ++p) {
      const double lat = std::clamp(clat + (2 * unit(rng) - 1) * dlat, -max_latitude, max_latitude);
      const double lon = wrap(clon + (2 * unit(rng) - 1) * dlon);
      if (!in_shape(clon, clat, s, lon, lat)) continue;
      ++checked;
      const auto c = cell_of(lon, lat, level);
      ASSERT_NE(std::find(cells->begin(), cells->end(), c), cells->end())
          << "point " << lon << "," << lat << " of shape at " << clon << "," << clat
          << " box=" << s.box << " w/2=" << s.half_w_m << " h/2=" << s.half_h_m;
    }
  }
  EXPECT_GT(checked, 100'000);
}

TEST(GeoCells, LevelsFitTheShapeAndQueriesCoverFewCells) {
  EXPECT_EQ(level_for({false, max_radius_m, max_radius_m}), ladder.front());
  EXPECT_EQ(level_for({false, 1, 1}), ladder.back());
  // A 1 km radius: cells at least 2 km tall.
  const int l = level_for({false, 1000, 1000});
  EXPECT_GE(std::numbers::pi * earth_radius_m / std::ldexp(1.0, l), 2000);
  auto c = covering(2.35, 48.85, {false, 1000, 1000}, l);
  ASSERT_TRUE(c.has_value());
  EXPECT_LE(c->size(), 9u);
  // Near a pole a wide box would need too many cells: not cached.
  EXPECT_FALSE(covering(0, 85, {true, max_radius_m, 1000}, ladder.back()).has_value());
}

TEST(GeoCells, CellsSnapsTagsAndChecks) {
  EXPECT_EQ(cell_of(-180, -90, 5), (cell{5, 0, 0}));
  EXPECT_EQ(cell_of(180, 90, 5), (cell{5, 31, 31}));  // clamped into the grid
  EXPECT_EQ(cell_of(0, 0, 1), (cell{1, 1, 1}));
  EXPECT_EQ(cell_tag("pts", {7, 3, 4}), "{pts}:c7:3:4");
  EXPECT_EQ(cell_tag_prefix("pts"), "{pts}:c");
  EXPECT_EQ(snap_index(snap_step(9) * 10.4, 9), 10);
  EXPECT_EQ(snap_index(-snap_step(9) * 10.6, 9), -11);

  EXPECT_TRUE(valid_set_name("city.points-1"));
  EXPECT_FALSE(valid_set_name(""));
  EXPECT_FALSE(valid_set_name("a{b}"));
  EXPECT_FALSE(valid_set_name("a/b"));
  EXPECT_TRUE(valid_set_name(std::string(max_set_name, 's')));
  EXPECT_FALSE(valid_set_name(std::string(max_set_name + 1, 's')));
  // The longest set's finest cell is still a valid tag.
  EXPECT_TRUE(rcache::valid_tag(cell_tag(std::string(max_set_name, 's'), {19, 524287, 524287})));
  EXPECT_TRUE(valid_namespace(""));
  EXPECT_FALSE(valid_namespace("a@b"));
  EXPECT_TRUE(valid_point_id("any bytes \x01"));
  EXPECT_FALSE(valid_point_id(""));
  EXPECT_FALSE(valid_point_id(std::string(max_point_id + 1, 'i')));
  EXPECT_FALSE(check_position(0, 0));
  EXPECT_TRUE(check_position(180.5, 0));
  EXPECT_TRUE(check_position(0, 85.06));
  EXPECT_TRUE(check_position(std::nan(""), 0));
  EXPECT_FALSE(check_shape({false, 10, 10}));
  EXPECT_TRUE(check_shape({false, 0, 0}));
  EXPECT_TRUE(check_shape({false, max_radius_m + 1, max_radius_m + 1}));
  EXPECT_TRUE(check_shape({true, 10, -1}));
  EXPECT_FALSE(check_count(1));
  EXPECT_TRUE(check_count(0));
  EXPECT_TRUE(check_count(max_count + 1));
}

}  // namespace
}  // namespace rcache::geo
