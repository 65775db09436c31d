// rcache::geo_index — named point sets in Redis GEO sets, and radius / box
// queries whose answers are cached and invalidated when points move.
//
// A set holds points (an id, a position, an optional small payload) in
// namespace `ns`: the GEO set "rcache:geo:<ns>/{<set>}" and the payloads'
// hash "rcache:geo:<ns>/{<set>}:data", one slot in a cluster. A query
// (GEOSEARCH BYRADIUS or BYBOX, COUNT, ANY, ASC / DESC) has its center
// rounded to a grid that follows its size (1/256 of the cell its level
// uses, docs/geo.md) and its answer cached in the cache's namespace `ns`,
// near cache included, with the versions of the grid cells it covers
// (cache tags, docs/tags.md). Adding, moving or removing a point bumps the
// cells it left and entered, in the same script as its GEOADD / ZREM, so
// no cached answer that could contain the point survives the change; a
// query racing a move never caches what it read before the move (tagged
// get_or_load). Cached answers live as the namespace's TTL says. The
// cache's observer (cache_options::observer: the change feed) is told of
// every point added, moved or removed (write_event::kind::geo_*), in the
// order Redis ran the changes of each point.
//
// Errors: error::invalid_argument (a set name, id, position, radius, box,
// count or payload out of bounds: check them with the limits in
// docs/geo.md), and the cache's and client's errors.
//
// Threading: every method is thread-safe; handlers run as the cache's do.
// Lifetime: the cache is borrowed and must outlive the index and every
// operation in flight.
#pragma once

#include <rcache/cache.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache {

/// Ids and payloads are UTF-8 text: answers are JSON (a search over a
/// point whose id or payload is not fails with error::value_corrupt).
struct geo_point {
  std::string id{};
  double lon = 0;
  double lat = 0;
  /// Up to 1024 bytes, returned by get and with search results; empty: none.
  std::string data{};
};

struct geo_query {
  double lon = 0;
  double lat = 0;
  /// BYRADIUS radius, or BYBOX width and height (box = true), in `unit`.
  bool box = false;
  double radius = 0;
  double width = 0;
  double height = 0;
  enum class unit : std::uint8_t { m, km };
  geo_query::unit in = unit::m;
  /// At most this many results (1..1000).
  std::size_t count = 100;
  /// COUNT ... ANY: the first `count` found, not the nearest (much faster
  /// on dense sets; the answer is then not sorted unless `order` says so).
  bool any = false;
  enum class order : std::uint8_t { none, asc, desc };
  geo_query::order sort = order::asc;
  /// Answer from Redis, and leave the cache alone (a baseline, a check).
  bool bypass_cache = false;
};

struct geo_hit {
  std::string id;
  double lon = 0;
  double lat = 0;
  double dist = 0;  // from the (rounded) center, in the query's unit
  std::string data;
};

struct geo_answer {
  /// The center the query was answered for (the given one, rounded).
  double lon = 0;
  double lat = 0;
  std::vector<geo_hit> hits;
  /// This call ran no GEOSEARCH: the answer came from the cache (or from
  /// an identical search another caller had in flight; the cache's metrics
  /// count that as a miss).
  bool cached = false;
  /// The answer as JSON, as it is cached: {"lon":..,"lat":..,"points":[{"id":..,
  /// "lon":..,"lat":..,"dist":..[,"data":..]},..]}.
  std::string json;
};

class geo_index {
 public:
  using bool_handler = boost::asio::any_completion_handler<void(boost::system::error_code, bool)>;
  using point_handler = boost::asio::any_completion_handler<void(boost::system::error_code,
                                                                 std::optional<geo_point>)>;
  using answer_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, geo_answer)>;

  explicit geo_index(cache& c) : cache_(c) {}

  /// Adds a point or moves it (and replaces its payload): completes with
  /// (ec, bool added), false when it existed.
  template <class Token>
  auto async_put(std::string_view ns, std::string_view set, geo_point p, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, bool)>(
        [this](auto h, std::string n, std::string s, geo_point pt) {
          do_put(n, s, std::move(pt), bool_handler(std::move(h)));
        },
        token, std::string(ns), std::string(set), std::move(p));
  }
  /// Removes a point: (ec, bool removed), false when there was none.
  template <class Token>
  auto async_remove(std::string_view ns, std::string_view set, std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, bool)>(
        [this](auto h, std::string n, std::string s, std::string i) {
          do_remove(n, s, i, bool_handler(std::move(h)));
        },
        token, std::string(ns), std::string(set), std::string(id));
  }
  /// A point as stored (its position as Redis keeps it, to ~0.6 m).
  template <class Token>
  auto async_get(std::string_view ns, std::string_view set, std::string_view id, Token&& token) {
    return boost::asio::async_initiate<Token,
                                       void(boost::system::error_code, std::optional<geo_point>)>(
        [this](auto h, std::string n, std::string s, std::string i) {
          do_get(n, s, i, point_handler(std::move(h)));
        },
        token, std::string(ns), std::string(set), std::string(id));
  }
  /// The points of a radius or box query, from the cache when it holds a
  /// current answer for the rounded center.
  template <class Token>
  auto async_search(std::string_view ns, std::string_view set, geo_query q, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, geo_answer)>(
        [this](auto h, std::string n, std::string s, geo_query query) {
          do_search(n, s, query, answer_handler(std::move(h)));
        },
        token, std::string(ns), std::string(set), q);
  }

 private:
  void do_put(const std::string& ns, const std::string& set, geo_point p, bool_handler h);
  void do_remove(const std::string& ns, const std::string& set, const std::string& id,
                 bool_handler h);
  void do_get(const std::string& ns, const std::string& set, const std::string& id,
              point_handler h);
  void do_search(const std::string& ns, const std::string& set, const geo_query& q,
                 answer_handler h);

  cache& cache_;
};

}  // namespace rcache
