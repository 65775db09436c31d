// Invalidation by pattern: every key of a namespace that matches a glob is
// dropped from the near cache and UNLINKed, page by page of the SCAN walk
// (client/key_walk.hpp: never KEYS; one master after another on a Cluster).
// Every instance's near cache learns of it through its own tracking.
#include "cache/operations.hpp"
#include "client/key_walk.hpp"

namespace rcache::cache_detail {

namespace {

// The prefix as a glob that matches itself only.
std::string glob_literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct invalidation {
  // The handler is constructed, never assigned: Boost 1.81's
  // any_completion_handler move-assignment recurses without end.
  invalidation(st_ptr s, std::shared_ptr<detail::key_walk> w, std::string n, std::string p,
               cache::int_handler h)
      : st(std::move(s)),
        walk(std::move(w)),
        ns(std::move(n)),
        prefix(std::move(p)),
        handler(std::move(h)) {}
  st_ptr st;
  std::shared_ptr<detail::key_walk> walk;
  std::string ns;  // the namespace, and its key prefix, for the observer
  std::string prefix;
  std::int64_t deleted = 0;
  cache::int_handler handler;
};
using invalidation_ptr = std::shared_ptr<invalidation>;

void complete_invalidation(const invalidation_ptr& w, error_code ec) {
  if (ec) w->st->m.count_error(ec);
  detail::complete_now(w->st->executor(), std::move(w->handler), ec, w->deleted);
}

// The next page of keys: dropped here, then UNLINKed; the page after is
// asked for once Redis has answered.
void next_page(invalidation_ptr w) {
  w->walk->next_page([w](error_code ec, std::vector<std::string> keys) mutable {
    if (ec || keys.empty()) return complete_invalidation(w, ec);  // empty: the walk is over
    if (w->st->near_cache) {
      for (const auto& k : keys) w->st->near_cache->invalidate(k);
    }
    request del = fail_fast_request();
    del.push_range("UNLINK", keys);
    w->st->redis->async_exec(std::move(del), [w, keys = std::move(keys)](error_code ec2,
                                                                         response r2) mutable {
      if (!ec2 && r2.at(0).is_error()) ec2 = make_error_code(error::redis_error);
      if (ec2) return complete_invalidation(w, ec2);
      w->deleted += r2.at(0).integer;
      // UNLINK answers a count, not which keys: each key of the page is
      // reported (one that expired meanwhile is reported too).
      if (r2.at(0).integer > 0) {
        for (const auto& full : keys) {
          const auto key = std::string_view(full).substr(std::min(w->prefix.size(), full.size()));
          w->st->observe(write_event::kind::invalidate, w->ns, key, full, 0);
        }
      }
      next_page(std::move(w));
    });
  });
}

}  // namespace

void invalidate(const st_ptr& st, const std::string& ns, const std::string& pattern,
                cache::int_handler h) {
  if (!valid_namespace_name(ns) || pattern.empty()) {
    return complete_early(*st, std::move(h), make_error_code(error::invalid_argument),
                          std::int64_t{0});
  }
  auto prefix = st->namespaces.find(ns)->prefix;
  auto walk = detail::key_walk::start(*st->redis, {.match = glob_literal(prefix) + pattern});
  next_page(
      std::make_shared<invalidation>(st, std::move(walk), ns, std::move(prefix), std::move(h)));
}

}  // namespace rcache::cache_detail
