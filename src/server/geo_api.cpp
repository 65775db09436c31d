// The geo routes' input checks (geo_api.hpp).
#include "server/geo_api.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "geo/cells.hpp"
#include "server/http_api.hpp"
#include "server/json_body.hpp"
#include "server/utf8.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;

api_error invalid_geo(std::string message) {
  return api_error{400, "invalid_geo", std::move(message)};
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || p != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

void geo_call::clear() {
  *this = geo_call{};
}

bool is_geo_search_param(std::string_view name) noexcept {
  for (std::string_view p :
       {"lon", "lat", "radius", "width", "height", "unit", "count", "any", "order"}) {
    if (name == p) return true;
  }
  return false;
}

std::optional<api_error> geo_search_param(std::string_view name, std::string_view value,
                                          geo_call& g) {
  if (name == "unit") {
    if (value != "m" && value != "km") return invalid_geo("unit must be m or km");
    g.km = value == "km";
    return std::nullopt;
  }
  if (name == "any") {
    if (value == "true" || value == "1" || value.empty()) {
      g.any = true;
    } else if (value == "false" || value == "0") {
      g.any = false;
    } else {
      return invalid_geo("any must be true or false");
    }
    return std::nullopt;
  }
  if (name == "order") {
    if (value == "asc") {
      g.sort = geo_call::order::asc;
    } else if (value == "desc") {
      g.sort = geo_call::order::desc;
    } else if (value == "none") {
      g.sort = geo_call::order::none;
    } else {
      return invalid_geo("order must be asc, desc or none");
    }
    return std::nullopt;
  }
  if (name == "count") {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc{} || p != value.data() + value.size() ||
        geo::check_count(n)) {
      return invalid_geo("count must be a whole number from 1 to " +
                         std::to_string(geo::max_count));
    }
    g.count = n;
    return std::nullopt;
  }
  const auto v = number(value);
  if (!v) return invalid_geo(std::string(name) + " must be a number");
  if (name == "lon") g.lon = *v;
  if (name == "lat") g.lat = *v;
  if (name == "radius") g.radius = *v;
  if (name == "width") g.width = *v;
  if (name == "height") g.height = *v;
  return std::nullopt;
}

std::optional<api_error> finish_geo_search(geo_call& g, bool has_lon, bool has_lat, bool has_radius,
                                           bool has_box_side) {
  if (!has_lon || !has_lat) return invalid_geo("a search needs lon and lat");
  if (has_radius == has_box_side) {
    return invalid_geo("give a radius, or a width and a height (a box), not both");
  }
  g.box = has_box_side;
  if (auto e = geo::check_position(g.lon, g.lat)) return invalid_geo(*e);
  const double to_m = g.km ? 1000 : 1;
  const auto s = g.box ? geo::shape{true, g.width * to_m / 2, g.height * to_m / 2}
                       : geo::shape{false, g.radius * to_m, g.radius * to_m};
  if (auto e = geo::check_shape(s)) return invalid_geo(*e);
  return std::nullopt;
}

std::optional<api_error> geo_path(std::string_view set, std::string_view id, bool has_id,
                                  geo_call& g) {
  if (!geo::valid_set_name(set)) {
    return api_error{400, "invalid_set",
                     "set names are 1 to " + std::to_string(geo::max_set_name) +
                         " bytes of letters, digits and _ - . :"};
  }
  g.set = set;
  if (has_id) {
    if (!geo::valid_point_id(id) || !is_utf8(id)) {
      return api_error{400, "invalid_id", "point ids are 1 to 256 bytes of UTF-8"};
    }
    g.id = id;
  }
  return std::nullopt;
}

std::optional<api_error> parse_geo_point(std::string_view body, geo_call& g) {
  auto parsed = body_object(body);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  const auto& o = std::get<json::object>(parsed);
  if (auto e = only_fields(o, {"lon", "lat", "data"})) return e;
  const auto* lon = o.if_contains("lon");
  const auto* lat = o.if_contains("lat");
  if (!lon || !lat || !lon->is_number() || !lat->is_number()) {
    return api_error{400, "invalid_json", "a point needs numbers 'lon' and 'lat'"};
  }
  g.lon = lon->to_number<double>();
  g.lat = lat->to_number<double>();
  if (auto e = geo::check_position(g.lon, g.lat)) return invalid_geo(*e);
  if (const auto* d = o.if_contains("data")) {
    if (!d->is_string()) return api_error{400, "invalid_json", "'data' must be a string"};
    if (d->as_string().size() > geo::max_point_data) {
      return api_error{413, "value_too_large",
                       "'data' is at most " + std::to_string(geo::max_point_data) + " bytes"};
    }
    g.data = d->as_string();
  }
  return std::nullopt;
}

}  // namespace rcache::server
