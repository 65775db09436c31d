// A read of one value for rcache's own gateway: cache::async_get without
// the type-erased completion handler, so that a GET through the gateway
// costs no allocation for its continuation. Everything else about the read
// (namespaces, the near cache, coherence, metrics) is async_get's.
//
// This header names no other internal header: the gateway may include it
// and nothing more of the cache.
//
// Threading: thread-safe, as rcache::cache.
#pragma once

#include <rcache/cache.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rcache::cache_detail {

struct state;

/// The state of `c`, which must have been made by cache::create (throws
/// std::invalid_argument otherwise). Keeps it alive.
[[nodiscard]] std::shared_ptr<state> state_of(cache& c);

/// Where a read's result goes: `fn(context, ec, value)`, once; value
/// nullopt with no error means no such key.
struct value_callback {
  void (*fn)(void* context, boost::system::error_code ec, std::optional<std::string> value);
  void* context;
};

/// The near cache's value of `key` (counted as a near-cache hit), shared
/// rather than copied; null when the near cache is not live or has none.
/// Never asks Redis.
[[nodiscard]] std::shared_ptr<const std::string> near_value(const std::shared_ptr<state>& st,
                                                            std::string_view ns,
                                                            std::string_view key);

/// cache::async_get(ns, key) answering `done`: on the client's strand when
/// Redis answered, posted to the cache's executor when the answer was known
/// at once (a near-cache hit, a bad key), never inside this call.
void get(const std::shared_ptr<state>& st, std::string_view ns, std::string_view key,
         value_callback done);

}  // namespace rcache::cache_detail
