// JSON request bodies of the HTTP API: one strict JSON object (no repeated
// keys, bounded depth) with a known set of fields, and the 400 answers for
// what is wrong with it. Shared by the cache routes (http_api.cpp) and the
// session routes (session_api.cpp).
//
// Threading: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "server/http_api.hpp"

namespace rcache::server {

/// A 400 answer with `code` and `message`.
[[nodiscard]] api_error bad_request(std::string code, std::string message);

/// The request body as one JSON object; errors name what is wrong.
[[nodiscard]] std::variant<boost::json::object, api_error> body_object(std::string_view body);

/// A 400 naming the first field of `o` that is not in `allowed`.
[[nodiscard]] std::optional<api_error> only_fields(const boost::json::object& o,
                                                   std::initializer_list<std::string_view> allowed);

}  // namespace rcache::server
