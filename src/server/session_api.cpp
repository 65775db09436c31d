// Checking the session routes' bodies; see session_api.hpp.
#include "server/session_api.hpp"

#include <boost/json.hpp>

#include "server/json_body.hpp"
#include "session/input_checks.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;

api_error too_large(std::string code, std::string message) {
  return {413, std::move(code), std::move(message)};
}

std::optional<api_error> check_field(std::string_view name, std::string_view v,
                                     const session_limits& limits) {
  switch (session_detail::check_field(name, v, limits.max_field_name, limits.max_field_value)) {
    case session_detail::field_problem::none:
      return std::nullopt;
    case session_detail::field_problem::empty_name:
      return bad_request("invalid_field", "a field name is empty");
    case session_detail::field_problem::name_too_long:
      return too_large("field_too_large", "field names are at most " +
                                              std::to_string(limits.max_field_name) + " bytes");
    case session_detail::field_problem::value_too_long:
      break;
  }
  return too_large("field_too_large", "the value of '" + utf8_text(name.substr(0, 64)) +
                                          "' is longer than " +
                                          std::to_string(limits.max_field_value) + " bytes");
}

std::optional<api_error> too_many_fields(std::size_t n, const session_limits& limits) {
  if (n <= limits.max_fields) return std::nullopt;
  return too_large("too_many_fields",
                   "a session holds at most " + std::to_string(limits.max_fields) + " fields");
}

// An object of string fields into `out`; `what` names it in errors.
std::optional<api_error> string_fields(const json::value& v, std::string_view what,
                                       const session_limits& limits,
                                       std::map<std::string, std::string>& out) {
  if (!v.is_object()) {
    return bad_request("invalid_json", "'" + std::string(what) + "' must be an object of strings");
  }
  if (auto e = too_many_fields(v.as_object().size(), limits)) return e;
  for (const auto& kv : v.as_object()) {
    if (!kv.value().is_string()) {
      return bad_request("invalid_json",
                         "'" + std::string(what) + "' must be an object of strings");
    }
    if (auto e = check_field(kv.key(), kv.value().as_string(), limits)) return e;
    out.emplace(kv.key(), kv.value().as_string());
  }
  return std::nullopt;
}

std::optional<api_error> device_field(const json::object& device, std::string_view name,
                                      const session_limits& limits, std::string& out) {
  const auto* v = device.if_contains(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    return bad_request("invalid_json", "'device." + std::string(name) + "' must be a string");
  }
  if (v->as_string().size() > limits.max_device_field) {
    return too_large("field_too_large", "'device." + std::string(name) + "' is longer than " +
                                            std::to_string(limits.max_device_field) + " bytes");
  }
  out = v->as_string();
  return std::nullopt;
}

}  // namespace

void session_call::clear() {
  id.clear();
  user.clear();
  except.clear();
  device_id.clear();
  user_agent.clear();
  ip.clear();
  set.clear();
  remove.clear();
  expected_version.reset();
}

std::optional<api_error> check_user_id(std::string_view user, const session_limits& limits) {
  switch (session_detail::check_user_id(user, limits.max_user_length)) {
    case session_detail::user_id_problem::none:
      break;
    case session_detail::user_id_problem::empty:
      return bad_request("invalid_user", "the user id is empty");
    case session_detail::user_id_problem::too_long:
      return bad_request("invalid_user", "user ids are at most " +
                                             std::to_string(limits.max_user_length) + " bytes");
    case session_detail::user_id_problem::control_character:
      return bad_request("invalid_user", "a user id holds no control characters");
  }
  // It is echoed in JSON answers (a path may hold any bytes; a body is UTF-8 already).
  if (!is_utf8(user)) return bad_request("invalid_user", "a user id is UTF-8 text");
  return std::nullopt;
}

std::optional<api_error> parse_session_create(std::string_view body, const session_limits& limits,
                                              session_call& call) {
  auto parsed = body_object(body);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  const auto& o = std::get<json::object>(parsed);
  if (auto e = only_fields(o, {"user", "device", "data"})) return e;
  const auto* user = o.if_contains("user");
  if (!user || !user->is_string()) {
    return bad_request("invalid_json", "'user' (a string) is required");
  }
  if (auto e = check_user_id(user->as_string(), limits)) return e;
  call.user = user->as_string();
  if (const auto* device = o.if_contains("device")) {
    if (!device->is_object()) return bad_request("invalid_json", "'device' must be an object");
    if (auto e = only_fields(device->as_object(), {"id", "user_agent"})) return e;
    if (auto e = device_field(device->as_object(), "id", limits, call.device_id)) return e;
    if (auto e = device_field(device->as_object(), "user_agent", limits, call.user_agent)) {
      return e;
    }
  }
  if (const auto* data = o.if_contains("data"))
    return string_fields(*data, "data", limits, call.set);
  return std::nullopt;
}

std::optional<api_error> parse_session_update(std::string_view body, const session_limits& limits,
                                              session_call& call) {
  auto parsed = body_object(body);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  const auto& o = std::get<json::object>(parsed);
  if (auto e = only_fields(o, {"set", "remove", "if_version"})) return e;
  if (const auto* set = o.if_contains("set")) {
    if (auto e = string_fields(*set, "set", limits, call.set)) return e;
  }
  if (const auto* remove = o.if_contains("remove")) {
    if (!remove->is_array()) {
      return bad_request("invalid_json", "'remove' must be an array of field names");
    }
    if (auto e = too_many_fields(remove->as_array().size(), limits)) return e;
    for (const auto& name : remove->as_array()) {
      if (!name.is_string()) {
        return bad_request("invalid_json", "'remove' must be an array of field names");
      }
      if (auto e = check_field(name.as_string(), {}, limits)) return e;
      if (call.set.contains(std::string(name.as_string()))) {
        return bad_request("invalid_field", "'" + utf8_text(name.as_string().subview(0, 64)) +
                                                "' is both set and removed");
      }
      call.remove.emplace_back(name.as_string());
    }
  }
  if (const auto* version = o.if_contains("if_version")) {
    if (!version->is_int64() && !version->is_uint64()) {
      return bad_request("invalid_json", "'if_version' must be a whole number");
    }
    const auto v = version->is_int64() ? version->as_int64() : 0;
    if (version->is_int64() && v < 0) {
      return bad_request("invalid_json", "'if_version' must be a whole number");
    }
    call.expected_version =
        version->is_uint64() ? version->as_uint64() : static_cast<std::uint64_t>(v);
  }
  if (call.set.empty() && call.remove.empty()) {
    return bad_request("invalid_json", "give 'set', 'remove' or both");
  }
  return std::nullopt;
}

}  // namespace rcache::server
