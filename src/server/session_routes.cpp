// Executing the session routes; see session_routes.hpp.
#include "server/session_routes.hpp"

#include <boost/json.hpp>

#include "client/completion.hpp"
#include "server/gateway.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;
using boost::system::error_code;

std::int64_t epoch_ms(session_time t) {
  return t.time_since_epoch().count();
}

json::object session_object(const session& s, bool with_data) {
  json::object o;
  // Sessions written through the library may hold any bytes: JSON gets UTF-8.
  o["id"] = s.id;
  o["user"] = utf8_text(s.user);
  o["device"] = json::object{{"id", utf8_text(s.device.id)},
                             {"user_agent", utf8_text(s.device.user_agent)},
                             {"ip", utf8_text(s.device.ip)}};
  o["created_ms"] = epoch_ms(s.created);
  o["last_seen_ms"] = epoch_ms(s.last_seen);
  o["expires_ms"] = epoch_ms(s.expires);
  o["absolute_expiry_ms"] = epoch_ms(s.absolute_expiry);
  o["version"] = s.version;
  if (with_data) {
    json::object data;
    json::object binary;
    for (const auto& [name, v] : s.data) {
      if (is_utf8(v)) {
        data[utf8_text(name)] = v;
      } else {
        binary[utf8_text(name)] = base64_encode(v);
      }
    }
    o["data"] = std::move(data);
    if (!binary.empty()) o["data_base64"] = std::move(binary);
  }
  return o;
}

api_response json_answer(unsigned status, std::string body) {
  return {status, "application/json", std::move(body)};
}

api_response no_such_session() {
  return error_response(
      api_error{404, "not_found", "no such session (unknown, expired or destroyed)"});
}

// The answer for a session that may be absent.
api_response session_answer(error_code ec, const std::optional<session>& s) {
  if (ec) return error_response(ec);
  if (!s) return no_such_session();
  return json_answer(200, session_json(*s, true));
}

}  // namespace

std::string session_json(const session& s, bool with_data) {
  return json::serialize(session_object(s, with_data));
}

void execute_session_call(session_store& store, api_call& call, answer_slot& slot,
                          const boost::asio::any_io_executor& fallback) {
  auto& c = call.session;
  auto reply = [&slot](api_response r) { slot.answer(std::move(r)); };
  auto reply_session = [reply](error_code ec, std::optional<session> s) {
    reply(session_answer(ec, s));
  };
  switch (call.op) {
    case api_op::session_create:
      store.async_create(
          std::move(c.user),
          device_info{std::move(c.device_id), std::move(c.user_agent), std::move(c.ip)},
          std::move(c.set), [reply](error_code ec, session s) {
            if (ec) return reply(error_response(ec));
            reply(json_answer(201, session_json(s, true)));
          });
      return;
    case api_op::session_get:
      store.async_validate(c.id, reply_session);
      return;
    case api_op::session_rotate:
      store.async_rotate(c.id, reply_session);
      return;
    case api_op::session_update:
      store.async_update(
          c.id,
          session_update{.set = std::move(c.set),
                         .remove = std::move(c.remove),
                         .expected_version = c.expected_version},
          [reply](error_code ec, std::optional<std::uint64_t> version) {
            if (ec) return reply(error_response(ec));
            if (!version) return reply(no_such_session());
            reply(json_answer(200, int_json("version", static_cast<std::int64_t>(*version))));
          });
      return;
    case api_op::session_destroy:
      store.async_destroy(c.id, [reply](error_code ec, bool destroyed) {
        if (ec) return reply(error_response(ec));
        if (!destroyed) return reply(no_such_session());
        reply(json_answer(200, bool_json("destroyed", true)));
      });
      return;
    case api_op::user_sessions:
      store.async_list(c.user, [reply, user = c.user](error_code ec, std::vector<session> list) {
        if (ec) return reply(error_response(ec));
        json::array sessions;
        sessions.reserve(list.size());
        for (const auto& s : list) sessions.push_back(session_object(s, false));
        reply(json_answer(200, json::serialize(json::object{{"user", utf8_text(user)},
                                                            {"sessions", std::move(sessions)}})));
      });
      return;
    case api_op::user_sessions_destroy:
      store.async_destroy_all(c.user, c.except, [reply](error_code ec, std::size_t n) {
        if (ec) return reply(error_response(ec));
        reply(json_answer(200, int_json("destroyed", static_cast<std::int64_t>(n))));
      });
      return;
    default:
      detail::complete_later(fallback, std::move(reply),
                             error_response(api_error{404, "not_found", "no such route"}));
      return;
  }
}

}  // namespace rcache::server
