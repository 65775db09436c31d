// JSON request bodies; see json_body.hpp.
#include "server/json_body.hpp"

#include <algorithm>

#include "server/strict_json.hpp"

namespace rcache::server {

namespace json = boost::json;

api_error bad_request(std::string code, std::string message) {
  return {400, std::move(code), std::move(message)};
}

std::variant<json::object, api_error> body_object(std::string_view body) {
  if (body.empty()) return bad_request("invalid_json", "the request needs a JSON object body");
  auto parsed = parse_strict_json(body, 8);
  if (parsed.repeated_key) {
    return bad_request("invalid_json", "the field '" +
                                           utf8_text(parsed.repeated_key->substr(0, 64)) +
                                           "' appears twice in an object");
  }
  if (parsed.ec) {
    return bad_request("invalid_json", "the body is not valid JSON: " + parsed.ec.message());
  }
  json::value& v = parsed.value;
  if (!v.is_object()) return bad_request("invalid_json", "the body must be a JSON object");
  return std::move(v.as_object());
}

std::optional<api_error> only_fields(const json::object& o,
                                     std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return bad_request("invalid_json",
                         "unknown field '" + utf8_text(kv.key().substr(0, 64)) + "'");
    }
  }
  return std::nullopt;
}

}  // namespace rcache::server
