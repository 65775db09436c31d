// The geo routes of the gateway: executes a validated geo call (geo_api.hpp)
// against the geo index, in namespace "geo", and renders the answers.
//
//   PUT    /v1/geo/{set}/points/{id}   200 {"added": bool}
//   GET    /v1/geo/{set}/points/{id}   200 {"id", "lon", "lat"[, "data"]}; 404
//   DELETE /v1/geo/{set}/points/{id}   200 {"removed": bool}
//   GET    /v1/geo/{set}/search?...    200 {"lon", "lat", "points": [..]},
//                                      X-Cache: hit | miss
//
// Threading: thread-safe; answers arrive on the client's strand and go to
// the slot.
#pragma once

#include <rcache/geo.hpp>

#include "server/http_api.hpp"

namespace rcache::server {

class answer_slot;

/// The namespace the gateway's geo sets and cached answers live in.
inline constexpr std::string_view geo_namespace = "geo";

/// Runs `call` (a geo route's) against `geo`; the answer goes to `slot`.
void execute_geo_call(geo_index& geo, api_call& call, answer_slot& slot);

}  // namespace rcache::server
