// The grid that cached geo answers are invalidated by, and the checks of
// geo input: pure arithmetic, shared by the geo index (geo_index.cpp), its
// Lua scripts and the gateway's parser.
//
// The grid: at level L a cell is 360/2^L degrees of longitude by 180/2^L
// of latitude; cell (x, y) holds the positions with
//   x = floor((lon + 180) / 360 * 2^L),  y = floor((lat + 90) / 180 * 2^L)
// (clamped to 0..2^L-1). The put and remove scripts compute the same
// expressions in Lua, in the same order of operations, on the position
// GEOPOS gives back, so both sides agree on every point's cell.
//
// A query is answered at one level of a ladder (every other level, 5 to
// 19), the finest whose cells are at least as tall as the query is wide:
// it then covers a few cells. Its answer records the versions of every
// cell its shape's bounding box touches (tags, docs/tags.md), and a point
// added, moved or removed bumps its old and new cell at every level of the
// ladder, so a cached answer that could contain the point stops counting.
// The bounding box is conservative: every point Redis's GEOSEARCH can
// return for the shape (haversine on its sphere, Redis's own box test) is
// inside it, with a margin (cells_test checks it on random shapes).
//
// Threading: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache::geo {

/// Redis's limits for GEOADD and the sphere it measures on.
inline constexpr double max_latitude = 85.05112878;
inline constexpr double earth_radius_m = 6372797.560856;

/// The levels answers are cached at (and points bump), coarse to fine.
inline constexpr std::array<int, 8> ladder{5, 7, 9, 11, 13, 15, 17, 19};

/// Input limits (docs/geo.md).
inline constexpr double max_radius_m = 300'000;      // a radius, or half a box's side
inline constexpr std::size_t max_count = 1000;       // results per query
inline constexpr std::size_t max_point_data = 1024;  // bytes of a point's payload
inline constexpr std::size_t max_point_id = 256;     // bytes of a point's id
inline constexpr std::size_t max_cells = 64;         // a query covering more is not cached

struct cell {
  int level = 0;
  std::uint32_t x = 0;
  std::uint32_t y = 0;
  friend bool operator==(const cell&, const cell&) = default;
};

[[nodiscard]] cell cell_of(double lon, double lat, int level) noexcept;

/// A query's shape, in meters: a circle (half_w == half_h == radius) or a
/// box (half its width and height).
struct shape {
  bool box = false;
  double half_w_m = 0;
  double half_h_m = 0;
};

/// The ladder level a query of `s` is cached at.
[[nodiscard]] int level_for(const shape& s) noexcept;

/// Every cell of `level` that a point matching `s` around (lon, lat) can
/// be in; nullopt when they are more than max_cells (near a pole, a box
/// much wider than tall): such a query is not cached.
[[nodiscard]] std::optional<std::vector<cell>> covering(double lon, double lat, const shape& s,
                                                        int level);

/// The grid a query's center is rounded to at `level`: 1/256 of its
/// cell's height, in degrees. Nearby queries share an answer.
[[nodiscard]] double snap_step(int level) noexcept;
/// `v` rounded to the grid of `level`, as a whole number of steps.
[[nodiscard]] std::int64_t snap_index(double v, int level) noexcept;

/// The name of a cell's tag in set `set`: "{<set>}:c<L>:<x>:<y>". The hash
/// tag puts its version key in the set's slot, so the scripts that move
/// points can bump it (tag_version_key gives the key).
[[nodiscard]] std::string cell_tag(std::string_view set, const cell& c);
/// What every cell tag of `set` begins with: "{<set>}:c".
[[nodiscard]] std::string cell_tag_prefix(std::string_view set);

// ---- input checks: nullopt when fine, else what is wrong, for a 400 --------------

/// Set names: 1..max_set_name bytes of letters, digits and `_ - . :`
/// (a cell's tag, "{<set>}:c19:<x>:<y>", is up to 20 bytes longer and
/// must stay a valid tag).
inline constexpr std::size_t max_set_name = 100;
[[nodiscard]] bool valid_set_name(std::string_view set) noexcept;
/// Namespace names, as the cache takes them: at most 128 bytes of letters,
/// digits and `_ - . :` (empty: the default namespace).
[[nodiscard]] bool valid_namespace(std::string_view ns) noexcept;
/// Point ids: 1..max_point_id bytes.
[[nodiscard]] bool valid_point_id(std::string_view id) noexcept;
[[nodiscard]] std::optional<std::string> check_position(double lon, double lat);
/// A radius or a box side in meters (after the unit): > 0, within the limit.
[[nodiscard]] std::optional<std::string> check_shape(const shape& s);
[[nodiscard]] std::optional<std::string> check_count(std::size_t count);

}  // namespace rcache::geo
