// The gateway's geo routes (geo_routes.hpp).
#include "server/geo_routes.hpp"

#include <boost/json.hpp>

#include "server/gateway.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;
using boost::system::error_code;

api_response json_answer(std::string body) {
  return {200, "application/json", std::move(body)};
}

geo_query query_of(const geo_call& g) {
  geo_query q;
  q.lon = g.lon;
  q.lat = g.lat;
  q.box = g.box;
  q.radius = g.radius;
  q.width = g.width;
  q.height = g.height;
  q.in = g.km ? geo_query::unit::km : geo_query::unit::m;
  q.count = g.count;
  q.any = g.any;
  q.sort = g.sort == geo_call::order::asc    ? geo_query::order::asc
           : g.sort == geo_call::order::desc ? geo_query::order::desc
                                             : geo_query::order::none;
  return q;
}

}  // namespace

void execute_geo_call(geo_index& geo, api_call& call, answer_slot& slot) {
  auto& g = call.geo;
  auto reply = [&slot](api_response r) { slot.answer(std::move(r)); };
  auto flag = [reply](const char* field) {
    return [reply, field](error_code ec, bool v) {
      if (ec) return reply(error_response(ec));
      json::object o;
      o[field] = v;
      reply(json_answer(json::serialize(o)));
    };
  };
  switch (call.op) {
    case api_op::geo_put:
      geo.async_put(geo_namespace, g.set, geo_point{g.id, g.lon, g.lat, std::move(g.data)},
                    flag("added"));
      return;
    case api_op::geo_delete:
      geo.async_remove(geo_namespace, g.set, g.id, flag("removed"));
      return;
    case api_op::geo_get:
      geo.async_get(geo_namespace, g.set, g.id, [reply](error_code ec, std::optional<geo_point> p) {
        if (ec) return reply(error_response(ec));
        if (!p) return reply(error_response(api_error{404, "not_found", "no such point"}));
        json::object o;
        o["id"] = p->id;
        o["lon"] = p->lon;
        o["lat"] = p->lat;
        if (!p->data.empty()) o["data"] = p->data;
        reply(json_answer(json::serialize(o)));
      });
      return;
    case api_op::geo_search:
      geo.async_search(geo_namespace, g.set, query_of(g), [reply](error_code ec, geo_answer a) {
        if (ec) return reply(error_response(ec));
        auto r = json_answer(std::move(a.json));
        r.x_cache = a.cached ? "hit" : "miss";
        reply(std::move(r));
      });
      return;
    default:
      return;
  }
}

}  // namespace rcache::server
