// The geo grid and input checks (cells.hpp).
#include "geo/cells.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace rcache::geo {
namespace {

constexpr double deg = 180.0 / std::numbers::pi;

// The widest a query's cells may be sure to need, as a fraction: a margin
// for the rounding of the positions Redis keeps (52-bit geohashes, ~0.6 m)
// and of the formulas below.
constexpr double margin = 1.001;
constexpr double margin_deg = 1e-5;

// (v - low) / span * n, floored: (lon + 180) / 360 * n as the scripts
// compute it (v - -180 is v + 180 exactly).
std::uint32_t index_of(double v, double low, double span, int level) noexcept {
  const double n = std::ldexp(1.0, level);
  const double i = std::floor((v - low) / span * n);
  return static_cast<std::uint32_t>(std::clamp(i, 0.0, n - 1));
}

}  // namespace

cell cell_of(double lon, double lat, int level) noexcept {
  return {level, index_of(lon, -180, 360, level), index_of(lat, -90, 180, level)};
}

int level_for(const shape& s) noexcept {
  const double extent = 2 * std::max(s.half_w_m, s.half_h_m);
  int chosen = ladder.front();
  for (int level : ladder) {
    const double cell_height = std::numbers::pi * earth_radius_m / std::ldexp(1.0, level);
    if (cell_height >= extent) chosen = level;
  }
  return chosen;
}

std::optional<std::vector<cell>> covering(double lon, double lat, const shape& s, int level) {
  // Latitude: a point within d of the center (on the sphere) is within
  // d / R radians of its latitude; Redis's box tests the latitude distance
  // alone against half the height.
  const double dlat = s.half_h_m / earth_radius_m * deg * margin + margin_deg;
  const double lat_lo = lat - dlat;
  const double lat_hi = lat + dlat;
  const double n = std::ldexp(1.0, level);
  bool all_lon = lat_hi >= 89.0 || lat_lo <= -89.0;
  double dlon = 0;
  if (!all_lon) {
    const double extreme = std::max(std::abs(lat_lo), std::abs(lat_hi)) / deg;
    const double theta = s.half_w_m / earth_radius_m;
    // Redis's box: the haversine distance along the point's own latitude;
    // a circle: the spherical cap's widest longitude (and, generously,
    // the same bound as the box).
    const double along = std::sin(theta / 2) / std::cos(extreme);
    const double cap = std::sin(theta) / std::cos(lat / deg);
    if (along >= 1 || (!s.box && cap >= 1)) {
      all_lon = true;
    } else {
      dlon = 2 * std::asin(along);
      if (!s.box) dlon = std::max({dlon, std::asin(cap), theta / std::cos(extreme)});
      dlon = dlon * deg * margin + margin_deg;
      all_lon = dlon >= 180;
    }
  }
  const auto y_lo = index_of(std::max(lat_lo, -90.0), -90, 180, level);
  const auto y_hi = index_of(std::min(lat_hi, 90.0), -90, 180, level);
  std::vector<std::uint32_t> xs;
  if (all_lon) {
    if (n > static_cast<double>(max_cells)) return std::nullopt;
    for (std::uint32_t x = 0; x < static_cast<std::uint32_t>(n); ++x) xs.push_back(x);
  } else {
    // Across the antimeridian the range wraps.
    const double lo = lon - dlon;
    const double hi = lon + dlon;
    const auto first = static_cast<std::int64_t>(std::floor((lo + 180) / 360 * n));
    const auto last = static_cast<std::int64_t>(std::floor((hi + 180) / 360 * n));
    const auto count = static_cast<std::int64_t>(n);
    if (last - first + 1 >= count) {
      if (n > static_cast<double>(max_cells)) return std::nullopt;
      for (std::int64_t x = 0; x < count; ++x) xs.push_back(static_cast<std::uint32_t>(x));
    } else {
      for (std::int64_t x = first; x <= last; ++x) {
        xs.push_back(static_cast<std::uint32_t>(((x % count) + count) % count));
      }
    }
  }
  if (xs.size() * (y_hi - y_lo + 1) > max_cells) return std::nullopt;
  std::vector<cell> out;
  for (auto y = y_lo; y <= y_hi; ++y) {
    for (auto x : xs) out.push_back({level, x, y});
  }
  return out;
}

double snap_step(int level) noexcept {
  return 180.0 / std::ldexp(1.0, level) / 256;
}

std::int64_t snap_index(double v, int level) noexcept {
  return std::llround(v / snap_step(level));
}

std::string cell_tag(std::string_view set, const cell& c) {
  return cell_tag_prefix(set) + std::to_string(c.level) + ":" + std::to_string(c.x) + ":" +
         std::to_string(c.y);
}

std::string cell_tag_prefix(std::string_view set) {
  std::string t = "{";
  t.append(set).append("}:c");
  return t;
}

namespace {
bool name_chars(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}
}  // namespace

bool valid_set_name(std::string_view set) noexcept {
  return !set.empty() && set.size() <= max_set_name && name_chars(set);
}

bool valid_namespace(std::string_view ns) noexcept {
  return ns.size() <= 128 && name_chars(ns);
}

bool valid_point_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= max_point_id;
}

std::optional<std::string> check_position(double lon, double lat) {
  if (!std::isfinite(lon) || lon < -180 || lon > 180) {
    return std::string("lon must be a number from -180 to 180");
  }
  if (!std::isfinite(lat) || lat < -max_latitude || lat > max_latitude) {
    return std::string("lat must be a number from -85.05112878 to 85.05112878");
  }
  return std::nullopt;
}

std::optional<std::string> check_shape(const shape& s) {
  for (double half : {s.half_w_m, s.half_h_m}) {
    if (!std::isfinite(half) || half <= 0) {
      return std::string(s.box ? "width and height must be above 0" : "radius must be above 0");
    }
    if (half > max_radius_m) {
      return std::string(s.box ? "width and height must be at most 600 km"
                               : "radius must be at most 300 km");
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_count(std::size_t count) {
  if (count == 0 || count > max_count) return std::string("count must be from 1 to 1000");
  return std::nullopt;
}

}  // namespace rcache::geo
