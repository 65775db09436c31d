// The geo routes of the HTTP API without I/O: the parts of a geo call
// (api_call::geo) and the checks of their paths, query strings and bodies,
// against the limits the geo index enforces (geo/cells.hpp), so that bad
// input is answered 400 before it costs a round trip.
//
//   PUT    /v1/geo/{set}/points/{id}   {"lon": .., "lat": .., "data": ".."}
//   GET    /v1/geo/{set}/points/{id}
//   DELETE /v1/geo/{set}/points/{id}
//   GET    /v1/geo/{set}/search?lon=&lat=&radius=&unit=m|km&count=&any=&order=
//          (or &width=&height= for a box)
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rcache::server {

struct api_error;

/// What a geo call carries, validated.
struct geo_call {
  std::string set;  // {set}
  std::string id;   // {id}
  double lon = 0;
  double lat = 0;
  std::string data;  // PUT: the payload (empty: none)
  // search
  bool box = false;
  double radius = 0;
  double width = 0;
  double height = 0;
  bool km = false;
  std::size_t count = 100;
  bool any = false;
  enum class order : unsigned char { none, asc, desc } sort = order::asc;
  void clear();
};

/// The query parameters of a geo search.
[[nodiscard]] bool is_geo_search_param(std::string_view name) noexcept;
/// Reads one of them into `g`. Errors: 400 invalid_geo.
[[nodiscard]] std::optional<api_error> geo_search_param(std::string_view name,
                                                        std::string_view value, geo_call& g);
/// After the parameters: lon and lat given, a radius or a width and a
/// height (not both), every value within bounds. Errors: 400 invalid_geo.
[[nodiscard]] std::optional<api_error> finish_geo_search(geo_call& g, bool has_lon, bool has_lat,
                                                         bool has_radius, bool has_box_side);
/// The {set} and {id} segments. Errors: 400 invalid_set, invalid_id.
[[nodiscard]] std::optional<api_error> geo_path(std::string_view set, std::string_view id,
                                                bool has_id, geo_call& g);
/// A PUT body. Errors: 400 invalid_json, invalid_geo; 413 value_too_large
/// for a payload over 1024 bytes.
[[nodiscard]] std::optional<api_error> parse_geo_point(std::string_view body, geo_call& g);

}  // namespace rcache::server
