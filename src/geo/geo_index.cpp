// rcache::geo_index (rcache/geo.hpp): the point scripts, the search, and
// the cached answers.
//
// Every change of a point is one script on the set's node: it reads the
// point's old position (GEOPOS), bumps the version of the cell it was in at
// each level of the ladder (cells.hpp), writes the change (GEOADD / ZREM and
// the payload's HSET / HDEL), reads the new position as Redis stored it and
// bumps its cells. A bump is an INCR of an existing version key only: a
// cell no cached answer recorded has none. Version keys share the set's
// hash tag, so the script's keys are all in one slot.
//
// A search is a script too (GEOSEARCH, then HMGET of the payloads: one
// consistent answer), run as the loader of a tagged get_or_load whose tags
// are the cells the query covers: the versions are read before the script
// runs, so an answer read before a move can never be served after it.
//
// Threading: no state of its own beyond the borrowed cache; completions run
// where the cache's and the client's run.
#include <rcache/geo.hpp>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <memory>

#include "client/completion.hpp"
#include "client/eval_request.hpp"
#include "geo/cells.hpp"

namespace rcache {
namespace {

namespace json = boost::json;
using boost::system::error_code;
using detail::complete_later;
using detail::complete_now;

// The cell bumps every point script shares: `bump(pos, from)` bumps, for the
// position `pos` (GEOPOS's pair, or false), the cell at each level given in
// ARGV[from..]; ARGV[from - 1] is the cells' version key prefix.
constexpr std::string_view bump_lua = R"(
local function bump(pos, from)
  if not pos then return end
  local lon, lat = tonumber(pos[1]), tonumber(pos[2])
  for i = from, #ARGV do
    local level = tonumber(ARGV[i])
    local n = 2 ^ level
    local x = math.floor((lon + 180) / 360 * n)
    local y = math.floor((lat + 90) / 180 * n)
    if x > n - 1 then x = n - 1 end
    if x < 0 then x = 0 end
    if y > n - 1 then y = n - 1 end
    if y < 0 then y = 0 end
    local k = ARGV[from - 1] .. level .. ':' .. string.format('%d', x) .. ':' .. string.format('%d', y)
    if redis.call('EXISTS', k) == 1 then redis.call('INCR', k) end
  end
end
)";

// KEYS set, payloads; ARGV id, lon, lat, has payload (0/1), payload, cell
// key prefix, levels... Returns 1 when the point is new.
const script& put_script() {
  static const script s(std::string(bump_lua) + R"(
local old = redis.call('GEOPOS', KEYS[1], ARGV[1])[1]
bump(old, 7)
redis.call('GEOADD', KEYS[1], ARGV[2], ARGV[3], ARGV[1])
bump(redis.call('GEOPOS', KEYS[1], ARGV[1])[1], 7)
if ARGV[4] == '1' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
else redis.call('HDEL', KEYS[2], ARGV[1]) end
if old then return 0 end
return 1)");
  return s;
}

// KEYS set, payloads; ARGV id, cell key prefix, levels... Returns 1 when
// there was a point.
const script& remove_script() {
  static const script s(std::string(bump_lua) + R"(
local old = redis.call('GEOPOS', KEYS[1], ARGV[1])[1]
if not old then return 0 end
bump(old, 3)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1)");
  return s;
}

// KEYS set, payloads; ARGV the GEOSEARCH arguments after the key (always
// WITHCOORD WITHDIST). Returns {matches, payloads}.
const script& search_script() {
  static const script s(R"(
local found = redis.call('GEOSEARCH', KEYS[1], unpack(ARGV))
local ids = {}
for i, e in ipairs(found) do ids[i] = e[1] end
local data = {}
if #ids > 0 then data = redis.call('HMGET', KEYS[2], unpack(ids)) end
return {found, data})");
  return s;
}

// Runs a point script and completes with its reply once this connection
// has also received the invalidations of the cells it bumped. Redis sends a
// client the invalidations of its own writes after the reply of the command
// that made them (Redis 7), so a PING is pipelined behind the script: when
// its answer arrives, the near cache has dropped those cells' versions, and
// a search that follows cannot find a version the script moved.
void run_point_script(client& redis, const script& s, std::vector<std::string> keys,
                      std::vector<std::string> args, std::function<void(error_code, value)> done,
                      bool loaded = false) {
  request r;
  if (loaded) {
    r = detail::load_and_evalsha(s, keys, args);
  } else {
    detail::append_evalsha(r, s, keys, args);
  }
  r.push("PING");
  redis.async_exec(std::move(r), [&redis, &s, keys, args, done = std::move(done), loaded](
                                     error_code ec, response resp) mutable {
    if (ec) return done(ec, value{});
    auto& reply = resp.at(resp.size() - 2);
    if (detail::is_noscript(reply) && !loaded) {
      return run_point_script(redis, s, std::move(keys), std::move(args), std::move(done), true);
    }
    done(error_code{}, std::move(reply));
  });
}

std::string set_key(std::string_view ns, std::string_view set) {
  std::string k = "rcache:geo:";
  k.append(ns).append("/{").append(set).append("}");
  return k;
}

std::vector<std::string> keys_of(std::string_view ns, std::string_view set) {
  auto k = set_key(ns, set);
  return {k, k + ":data"};
}

// The cells' version key prefix and the ladder, as the scripts take them.
void append_cells(std::vector<std::string>& args, std::string_view ns, std::string_view set) {
  args.push_back(tag_version_key(ns, geo::cell_tag_prefix(set)));
  for (int level : geo::ladder) args.push_back(std::to_string(level));
}

// Shortest text that reads back as the same double.
std::string text_of(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}

double number_of(const value& v) {
  double d = 0;
  if (!v.is_error()) std::from_chars(v.str.data(), v.str.data() + v.str.size(), d);
  return d;
}

// A point change the cache's observer (the change feed) is told of, once
// Redis confirmed it, in the order the set's connection answered.
struct point_event {
  std::shared_ptr<write_observer> observer;
  std::string ns, key, full, point;  // key "<set>/<id>", point JSON (put)
  bool put = false;
  void tell(bool added_or_removed) const {
    if (!observer) return;
    auto kind = put ? (added_or_removed ? write_event::kind::geo_add : write_event::kind::geo_move)
                    : write_event::kind::geo_remove;
    if (!put && !added_or_removed) return;  // removing nothing changes nothing
    try {
      observer->on_write({kind, ns, key, full, -1, point});
    } catch (...) {  // NOLINT(bugprone-empty-catch): the observer's own failure, dropped
    }
  }
};

// A point script whose reply (1 or 0) is the caller's bool.
void finish_point_script(client& redis, const script& s, std::vector<std::string> keys,
                         std::vector<std::string> args, point_event event,
                         geo_index::bool_handler h) {
  auto hp = std::make_shared<geo_index::bool_handler>(std::move(h));
  run_point_script(
      redis, s, std::move(keys), std::move(args),
      [ex = redis.get_executor(), hp, event = std::move(event)](error_code ec, value v) {
        if (!ec && v.is_error()) ec = make_error_code(error::redis_error);
        const bool yes = !ec && v.integer == 1;
        if (!ec) event.tell(yes);
        complete_now(ex, std::move(*hp), ec, yes);
      });
}

// The event of a change of point `id` of `set`.
point_event event_of(const cache& c, std::string_view ns, std::string_view set, std::string_view id,
                     const geo_point* p) {
  point_event e;
  e.observer = c.observer();
  if (!e.observer) return e;
  e.ns = ns;
  e.key = std::string(set) + "/" + std::string(id);
  e.full = set_key(ns, set);
  if (p) {
    e.put = true;
    json::object o;
    o["lon"] = p->lon;
    o["lat"] = p->lat;
    if (!p->data.empty()) o["data"] = p->data;
    e.point = json::serialize(o);
  }
  return e;
}

bool valid_names(std::string_view ns, std::string_view set) {
  return geo::valid_set_name(set) && geo::valid_namespace(ns);
}

error_code invalid() {
  return make_error_code(error::invalid_argument);
}

// The query as the grid sees it: its shape in meters, its level, its
// rounded center, its cache key and the GEOSEARCH arguments.
struct planned_search {
  geo::shape shape;
  int level = 0;
  double lon = 0;
  double lat = 0;
  std::string key;
  std::vector<std::string> args;
};

std::optional<planned_search> plan(std::string_view set, const geo_query& q) {
  const double to_m = q.in == geo_query::unit::km ? 1000 : 1;
  planned_search p;
  p.shape = q.box ? geo::shape{true, q.width * to_m / 2, q.height * to_m / 2}
                  : geo::shape{false, q.radius * to_m, q.radius * to_m};
  if (geo::check_position(q.lon, q.lat) || geo::check_shape(p.shape) || geo::check_count(q.count)) {
    return std::nullopt;
  }
  p.level = geo::level_for(p.shape);
  const double step = geo::snap_step(p.level);
  auto ix = geo::snap_index(q.lon, p.level);
  auto iy = geo::snap_index(q.lat, p.level);
  // Rounded, the center stays inside Redis's bounds.
  while (static_cast<double>(iy) * step > geo::max_latitude) --iy;
  while (static_cast<double>(iy) * step < -geo::max_latitude) ++iy;
  while (static_cast<double>(ix) * step > 180) --ix;
  while (static_cast<double>(ix) * step < -180) ++ix;
  p.lon = static_cast<double>(ix) * step;
  p.lat = static_cast<double>(iy) * step;
  const std::string unit = q.in == geo_query::unit::km ? "km" : "m";
  const char sort = q.sort == geo_query::order::asc    ? 'a'
                    : q.sort == geo_query::order::desc ? 'd'
                                                       : 'n';
  p.key = "geo:{" + std::string(set) + "}:q:" + (q.box ? "b:" : "r:") + std::to_string(p.level) +
          ":" + std::to_string(ix) + ":" + std::to_string(iy) + ":" +
          (q.box ? text_of(q.width) + "x" + text_of(q.height) : text_of(q.radius)) + unit + ":" +
          std::to_string(q.count) + (q.any ? "any" : "") + ":" + sort;
  p.args = {"FROMLONLAT", text_of(p.lon), text_of(p.lat)};
  if (q.box) {
    p.args.insert(p.args.end(), {"BYBOX", text_of(q.width), text_of(q.height), unit});
  } else {
    p.args.insert(p.args.end(), {"BYRADIUS", text_of(q.radius), unit});
  }
  p.args.insert(p.args.end(), {"COUNT", std::to_string(q.count)});
  if (q.any) p.args.emplace_back("ANY");
  if (q.sort == geo_query::order::asc) p.args.emplace_back("ASC");
  if (q.sort == geo_query::order::desc) p.args.emplace_back("DESC");
  p.args.insert(p.args.end(), {"WITHCOORD", "WITHDIST"});
  return p;
}

// The search script's reply as the answer's JSON.
std::string answer_json(double lon, double lat, const value& reply) {
  json::object out;
  out["lon"] = lon;
  out["lat"] = lat;
  json::array points;
  const auto& found = reply.elements.at(0).elements;
  const auto* data = reply.elements.size() > 1 ? &reply.elements[1].elements : nullptr;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto& e = found[i].elements;  // member, dist, [lon, lat]
    if (e.size() < 3 || e[2].elements.size() < 2) continue;
    json::object p;
    p["id"] = e[0].str;
    p["lon"] = number_of(e[2].elements[0]);
    p["lat"] = number_of(e[2].elements[1]);
    p["dist"] = number_of(e[1]);
    if (data && i < data->size() && !(*data)[i].is_null()) p["data"] = (*data)[i].str;
    points.push_back(std::move(p));
  }
  out["points"] = std::move(points);
  return json::serialize(out);
}

// An answer's JSON read back; nullopt when it is not one (bytes someone
// else wrote under the answer's key, an id or payload that is not UTF-8).
std::optional<geo_answer> parsed(std::string text, bool cached) try {
  geo_answer a;
  a.cached = cached;
  error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  {
    const auto& o = v.as_object();
    a.lon = o.at("lon").to_number<double>();
    a.lat = o.at("lat").to_number<double>();
    for (const auto& p : o.at("points").as_array()) {
      const auto& po = p.as_object();
      geo_hit h;
      h.id = po.at("id").as_string();
      h.lon = po.at("lon").to_number<double>();
      h.lat = po.at("lat").to_number<double>();
      h.dist = po.at("dist").to_number<double>();
      if (const auto* d = po.if_contains("data")) h.data = d->as_string();
      a.hits.push_back(std::move(h));
    }
  }
  a.json = std::move(text);
  return a;
} catch (const std::exception&) {  // a member missing or of another type
  return std::nullopt;
}

}  // namespace

void geo_index::do_put(const std::string& ns, const std::string& set, geo_point p, bool_handler h) {
  if (!valid_names(ns, set) || !geo::valid_point_id(p.id) || geo::check_position(p.lon, p.lat) ||
      p.data.size() > geo::max_point_data) {
    return complete_later(cache_.redis().get_executor(), std::move(h), invalid(), false);
  }
  std::vector<std::string> args{p.id, text_of(p.lon), text_of(p.lat), p.data.empty() ? "0" : "1",
                                p.data};
  append_cells(args, ns, set);
  auto event = event_of(cache_, ns, set, p.id, &p);
  finish_point_script(cache_.redis(), put_script(), keys_of(ns, set), std::move(args),
                      std::move(event), std::move(h));
}

void geo_index::do_remove(const std::string& ns, const std::string& set, const std::string& id,
                          bool_handler h) {
  if (!valid_names(ns, set) || !geo::valid_point_id(id)) {
    return complete_later(cache_.redis().get_executor(), std::move(h), invalid(), false);
  }
  std::vector<std::string> args{id};
  append_cells(args, ns, set);
  finish_point_script(cache_.redis(), remove_script(), keys_of(ns, set), std::move(args),
                      event_of(cache_, ns, set, id, nullptr), std::move(h));
}

void geo_index::do_get(const std::string& ns, const std::string& set, const std::string& id,
                       point_handler h) {
  if (!valid_names(ns, set) || !geo::valid_point_id(id)) {
    return complete_later(cache_.redis().get_executor(), std::move(h), invalid(),
                          std::optional<geo_point>());
  }
  const auto keys = keys_of(ns, set);
  request r;
  r.push("GEOPOS", keys[0], id).push("HGET", keys[1], id);
  cache_.redis().async_exec(std::move(r), [ex = cache_.redis().get_executor(), id,
                                           h = std::move(h)](error_code ec, response resp) mutable {
    std::optional<geo_point> p;
    if (!ec && (resp.at(0).is_error() || resp.at(1).is_error())) {
      ec = make_error_code(error::redis_error);
    }
    if (!ec) {
      const auto& pos = resp[0].elements;
      if (!pos.empty() && pos[0].elements.size() == 2) {
        p = geo_point{id, number_of(pos[0].elements[0]), number_of(pos[0].elements[1]),
                      resp[1].is_null() ? std::string() : resp[1].str};
      }
    }
    complete_now(ex, std::move(h), ec, std::move(p));
  });
}

void geo_index::do_search(const std::string& ns, const std::string& set, const geo_query& q,
                          answer_handler h) {
  auto p = valid_names(ns, set) ? plan(set, q) : std::nullopt;
  if (!p)
    return complete_later(cache_.redis().get_executor(), std::move(h), invalid(), geo_answer{});
  auto ran = std::make_shared<std::atomic<bool>>(false);
  // The loader: the search script, its reply as the answer's JSON.
  loader run = [redis = &cache_.redis(), keys = keys_of(ns, set), args = p->args, lon = p->lon,
                lat = p->lat, ran](load_done done) {
    ran->store(true);
    redis->async_eval(search_script(), keys, args,
                      [done = std::move(done), lon, lat](error_code ec, value v) {
                        if (!ec && (v.is_error() || v.elements.empty())) {
                          ec = make_error_code(error::redis_error);
                        }
                        if (ec) return done(ec, std::nullopt);
                        done(error_code{}, answer_json(lon, lat, v));
                      });
  };
  auto answer = [ex = cache_.redis().get_executor(), h = std::move(h), ran](
                    error_code ec, std::optional<std::string> v) mutable {
    if (ec || !v) {
      return complete_now(ex, std::move(h), ec ? ec : make_error_code(error::redis_error),
                          geo_answer{});
    }
    auto a = parsed(std::move(*v), !ran->load());
    if (!a)
      return complete_now(ex, std::move(h), make_error_code(error::value_corrupt), geo_answer{});
    complete_now(ex, std::move(h), ec, std::move(*a));
  };
  const auto cells = geo::covering(p->lon, p->lat, p->shape, p->level);
  if (q.bypass_cache || !cells) {
    // load_done is a std::function: the move-only answer goes behind a pointer.
    auto shared = std::make_shared<decltype(answer)>(std::move(answer));
    return run(
        [shared](error_code ec, std::optional<std::string> v) { (*shared)(ec, std::move(v)); });
  }
  std::vector<std::string> tags;
  tags.reserve(cells->size());
  for (const auto& c : *cells) tags.push_back(geo::cell_tag(set, c));
  cache_.async_get_or_load(ns, p->key, std::move(tags), std::move(run), std::move(answer));
}

}  // namespace rcache
