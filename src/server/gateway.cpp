// Executing API calls against the cache; see gateway.hpp.
//
// Multi-key calls (batch set, invalidation by keys) start one cache
// operation per key at once — the client pipelines them into one write —
// and gather the results in a `fan_in` that answers when the last arrives.
#include "server/gateway.hpp"

#include <rcache/request.hpp>

#include <atomic>
#include <mutex>

#include "cache/direct_read.hpp"
#include "client/completion.hpp"
#include "server/geo_routes.hpp"
#include "server/session_routes.hpp"

namespace rcache::server {
namespace {

using boost::system::error_code;
using detail::complete_later;
using detail::complete_now;

api_response json_ok(std::string body) {
  return {200, "application/json", std::move(body)};
}

set_options::condition to_condition(write_condition w) {
  switch (w) {
    case write_condition::if_absent:
      return set_options::condition::if_absent;
    case write_condition::if_present:
      return set_options::condition::if_present;
    case write_condition::always:
      break;
  }
  return set_options::condition::always;
}

// The answer to a GET of a stored value (from the near cache or Redis),
// which `r` holds: the value as stored (its envelope gives the body and
// content type), its ETag, or 304 when If-None-Match already has it.
api_response value_answer(api_response r, std::string_view if_none_match) {
  r.stored = true;
  r.tag = etag::of(r.bytes());
  if (!if_none_match.empty() && etag_matches(if_none_match, r.tag.view())) {
    r.status = 304;
    r.body.clear();
    r.shared.reset();
  }
  return r;
}

api_response response_too_large(std::size_t max) {
  return error_response(api_error{413, "response_too_large",
                                  "the answer would be larger than server.max_response_bytes (" +
                                      std::to_string(max) + "); ask for fewer keys"});
}

api_response no_such_key() {
  return error_response(api_error{404, "not_found", "no such key"});
}

// Gathers the results of one operation per key: the count of `true`s, or,
// when any failed, the first failure's status with every failed key and the
// count of those that succeeded (partial_failure_json).
struct fan_in {
  fan_in(std::vector<std::string> k, std::string name, answer_slot& s)
      : keys(std::move(k)),
        errors(keys.size()),
        remaining(keys.size()),
        field(std::move(name)),
        slot(s) {}

  // Item i's result.
  void arrive(std::size_t i, error_code ec, bool ok) {
    {
      std::lock_guard lock(mutex);
      errors[i] = ec;
      if (!ec && ok) ++count;
      if (--remaining != 0) return;
    }
    slot.answer(answer());
  }

  api_response answer() const {
    std::vector<item_error> failed;
    error_code first;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!errors[i]) continue;
      if (!first) first = errors[i];
      failed.push_back({keys[i], api_error_of(errors[i])});
    }
    if (failed.empty()) return json_ok(int_json(field, count));
    // The first failure's answer (status, Retry-After), with the whole story.
    auto r = error_response(first);
    r.body = partial_failure_json(field, count, failed);
    return r;
  }

  std::mutex mutex;
  const std::vector<std::string> keys;
  std::vector<error_code> errors;
  std::size_t remaining;
  std::int64_t count = 0;
  std::string field;
  answer_slot& slot;
};

// The answer to a GET (cache_detail::get's callback; the context is the slot).
void answer_get(void* context, error_code ec, std::optional<std::string> v) {
  auto& slot = *static_cast<answer_slot*>(context);
  if (ec) return slot.answer(error_response(ec));
  if (!v) return slot.answer(no_such_key());
  api_response r;
  r.body = std::move(*v);
  slot.answer(value_answer(std::move(r), slot.call->if_none_match));
}

}  // namespace

api_error api_error_of(error_code ec) {
  if (ec.category() == error_category()) {
    switch (static_cast<error>(ec.value())) {
      case error::invalid_key:
        return {400, "invalid_key", ec.message()};
      case error::invalid_argument:
        return {400, "bad_request", ec.message()};
      case error::value_too_large:
        return {413, "value_too_large", ec.message()};
      case error::too_many_fields:
        return {413, "too_many_fields", ec.message()};
      case error::session_cap_reached:
        return {409, "session_cap_reached", ec.message()};
      case error::version_conflict:
        return {412, "version_conflict", ec.message()};
      case error::not_replicated:
        return {503, "not_replicated", ec.message() + "; the write may still have happened"};
      case error::redis_error:
        return {500, "redis_error", ec.message()};
      case error::value_corrupt:
      case error::value_key_unknown:
      case error::value_tampered:
      case error::compression_failed:
        return {500, "value_unreadable", ec.message()};
      default:
        break;
    }
  }
  // Everything else means Redis could not be reached in time.
  return {503, "redis_unavailable", "Redis is unavailable: " + ec.message()};
}

api_response error_response(error_code ec) {
  const auto e = api_error_of(ec);
  auto r = error_response(e);
  r.retry_after = e.status == 503;
  return r;
}

gateway::gateway(cache& c, session_store* sessions, boost::asio::any_io_executor fallback,
                 gateway_options o)
    : cache_(c),
      sessions_(sessions),
      cache_state_(cache_detail::state_of(c)),
      geo_(c),
      fallback_(std::move(fallback)),
      options_(o) {}

bool gateway::admit(const std::string& ns) {
  // Each I/O thread remembers what it has seen admitted: no lock after that.
  thread_local const gateway* owner = nullptr;
  thread_local std::unordered_set<std::string> seen;
  if (owner != this) {
    seen.clear();
    owner = this;
  }
  if (seen.contains(ns)) return true;
  if (admit_shared(ns)) {
    seen.insert(ns);
    return true;
  }
  return false;
}

bool gateway::admit_shared(const std::string& ns) {
  {
    std::shared_lock lock(ns_mutex_);
    if (namespaces_.contains(ns)) return true;
  }
  std::unique_lock lock(ns_mutex_);
  if (namespaces_.size() >= options_.max_namespaces) return namespaces_.contains(ns);
  namespaces_.insert(ns);
  return true;
}

std::optional<api_response> gateway::answer_now(const api_call& call) {
  switch (call.op) {
    case api_op::healthz:
      return json_ok(R"({"status":"ok"})");
    case api_op::metrics:
      if (!options_.monitoring) {
        return error_response(api_error{404, "not_found", "monitoring is disabled"});
      }
      return api_response{200, "text/plain; version=0.0.4; charset=utf-8",
                          registry_.prometheus_text() + cache_.metrics_text()};
    case api_op::readyz:
      return std::nullopt;
    default:
      break;
  }
  if (call.route.starts_with("/v1/geo/")) return std::nullopt;  // namespace "geo"
  if (call.right == api_right::sessions) {
    if (sessions_) return std::nullopt;
    return error_response(api_error{404, "not_found", "sessions are not served here"});
  }
  if (!admit(call.ns)) {
    return error_response(api_error{400, "too_many_namespaces",
                                    "this server already serves server.max_namespaces (" +
                                        std::to_string(options_.max_namespaces) + ") namespaces"});
  }
  if (call.op == api_op::get) {
    if (auto v = cache_detail::near_value(cache_state_, call.ns, call.key)) {
      api_response r;
      r.shared = std::move(v);
      return value_answer(std::move(r), call.if_none_match);
    }
  }
  return std::nullopt;
}

void gateway::execute(api_call& call, answer_slot& slot) {
  slot.call = &call;
  // The cache's completions run on its strand (handlers without an
  // executor); the slot hands the answer to its owner's own thread.
  auto reply = [&slot](api_response r) { slot.answer(std::move(r)); };
  using reply_t = decltype(reply);
  auto on_bool = [](reply_t rep, std::string field, bool missing_is_404) {
    return [rep = std::move(rep), field = std::move(field), missing_is_404](error_code ec,
                                                                            bool v) mutable {
      if (ec) return rep(error_response(ec));
      if (!v && missing_is_404) return rep(no_such_key());
      rep(json_ok(bool_json(field, v)));
    };
  };

  switch (call.op) {
    case api_op::get:
      cache_detail::get(cache_state_, call.ns, call.key, {&answer_get, &slot});
      return;
    case api_op::put: {
      auto stored = encode_stored(call.body, call.content_type);
      const auto tag = etag::of(stored);
      set_options o{
          .ttl = call.ttl ? std::optional(std::chrono::milliseconds(*call.ttl)) : std::nullopt,
          .when = to_condition(call.when),
          .tags = std::move(call.tags)};
      cache_.async_set(call.ns, call.key, std::move(stored), o,
                       [rep = std::move(reply), tag](error_code ec, bool written) mutable {
                         if (ec) return rep(error_response(ec));
                         auto r = json_ok(bool_json("stored", written));
                         if (written) r.tag = tag;
                         rep(std::move(r));
                       });
      return;
    }
    case api_op::del:
      cache_.async_del(call.ns, call.key, on_bool(std::move(reply), "deleted", false));
      return;
    case api_op::exists:
      cache_.async_exists(call.ns, call.key, on_bool(std::move(reply), "exists", false));
      return;
    case api_op::touch:
      if (call.ttl && call.ttl->count() == 0) {
        return complete_later(
            fallback_, std::move(reply),
            error_response(api_error{400, "invalid_ttl", "touch needs a ttl of 1 second or more"}));
      }
      if (call.ttl) {
        cache_.async_expire(call.ns, call.key, *call.ttl,
                            on_bool(std::move(reply), "touched", true));
      } else {
        cache_.async_touch(call.ns, call.key, on_bool(std::move(reply), "touched", true));
      }
      return;
    case api_op::ttl:
      cache_.async_ttl(call.ns, call.key,
                       [rep = std::move(reply)](error_code ec, std::int64_t ms) mutable {
                         if (ec) return rep(error_response(ec));
                         if (ms == -2) return rep(no_such_key());
                         rep(json_ok(int_json("ttl_ms", ms)));
                       });
      return;
    case api_op::batch_get:
      cache_.async_get_many(
          call.ns, call.keys,
          [rep = std::move(reply), keys = call.keys, max = options_.max_response_bytes](
              error_code ec, std::vector<std::optional<std::string>> values) mutable {
            if (ec) return rep(error_response(ec));
            // The values alone past the limit: refused before any JSON is
            // built (it is only ever larger: escapes, base64, the keys).
            std::size_t raw = 0;
            for (const auto& v : values) raw += v ? v->size() : 0;
            if (raw > max) return rep(response_too_large(max));
            auto body = batch_get_json(keys, values);
            if (body.size() > max) return rep(response_too_large(max));
            rep(json_ok(std::move(body)));
          });
      return;
    case api_op::batch_set:
    case api_op::invalidate_keys: {
      const bool set = call.op == api_op::batch_set;
      const std::size_t n = set ? call.items.size() : call.keys.size();
      if (n == 0) {
        return complete_later(fallback_, std::move(reply),
                              json_ok(int_json(set ? "stored" : "deleted", 0)));
      }
      std::vector<std::string> keys;
      if (set) {
        keys.reserve(n);
        for (const auto& it : call.items) keys.push_back(it.key);
      } else {
        keys = std::move(call.keys);
      }
      auto gather = std::make_shared<fan_in>(std::move(keys), set ? "stored" : "deleted", slot);
      auto arrive = [&gather](std::size_t i) {
        return [gather, i](error_code ec, bool ok) { gather->arrive(i, ec, ok); };
      };
      if (set) {
        set_options o{.ttl = call.ttl ? std::optional(std::chrono::milliseconds(*call.ttl))
                                      : std::nullopt};
        for (std::size_t i = 0; i < n; ++i) {
          auto& it = call.items[i];
          cache_.async_set(call.ns, it.key, encode_stored(it.value, it.content_type), o, arrive(i));
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) cache_.async_del(call.ns, gather->keys[i], arrive(i));
      }
      return;
    }
    case api_op::invalidate_pattern:
      cache_.async_invalidate(call.ns, call.pattern,
                              [rep = std::move(reply)](error_code ec, std::int64_t n) mutable {
                                if (ec) return rep(error_response(ec));
                                rep(json_ok(int_json("deleted", n)));
                              });
      return;
    case api_op::invalidate_tags:
      cache_.async_invalidate_tags(call.ns, std::move(call.tags),
                                   [rep = std::move(reply)](error_code ec, std::int64_t n) mutable {
                                     if (ec) return rep(error_response(ec));
                                     rep(json_ok(int_json("invalidated", n)));
                                   });
      return;
    case api_op::readyz: {
      request r(request::options{.timeout = options_.ready_timeout, .wait_for_connection = false});
      r.push("PING");
      cache_.redis().async_exec(
          std::move(r), [rep = std::move(reply)](error_code ec, response resp) mutable {
            if (!ec && resp.at(0).is_error()) ec = make_error_code(error::not_connected);
            if (ec) return rep(error_response(ec));  // 503: not ready, whatever the cause
            rep(json_ok(R"({"status":"ready"})"));
          });
      return;
    }
    case api_op::healthz:
    case api_op::metrics:
      return complete_later(fallback_, std::move(reply), *answer_now(call));
    case api_op::session_create:
    case api_op::session_get:
    case api_op::session_update:
    case api_op::session_rotate:
    case api_op::session_destroy:
    case api_op::user_sessions:
    case api_op::user_sessions_destroy:
      return execute_session_call(*sessions_, call, slot, fallback_);
    case api_op::geo_put:
    case api_op::geo_get:
    case api_op::geo_delete:
    case api_op::geo_search:
      return execute_geo_call(geo_, call, slot);
  }
}

}  // namespace rcache::server
