// The cache's operations as functions of its shared state, and the
// plumbing they share: resolving a namespace and key, the read path with
// the near cache in front (fetch), the one-command operations (simple).
//
//   reads.cpp          get, exists, ttl, get_many
//   writes.cpp         set, set_many, del, expire, touch
//   get_or_load.cpp    get_or_load: single flight, the cross-process lock, refresh
//   invalidation.cpp   invalidation by pattern (the SCAN walk, UNLINK)
//
// cache.cpp is the public edge: rcache::cache's virtual calls land on these.
//
// Threading: as rcache::cache: callable from any thread; handlers run as
// completion.hpp says, with the cache's executor as the fallback.
#pragma once

#include <rcache/cache.hpp>

#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "cache/direct_read.hpp"
#include "cache/state.hpp"
#include "cache/stored_read.hpp"
#include "client/completion.hpp"

namespace rcache::cache_detail {

using clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
using boost::system::error_code;

// ---- the operations -------------------------------------------------------------

using st_ptr = std::shared_ptr<state>;

void get(const st_ptr& st, const std::string& ns, const std::string& key, cache::get_handler h);
void exists(const st_ptr& st, const std::string& ns, const std::string& key, cache::bool_handler h);
void ttl(const st_ptr& st, const std::string& ns, const std::string& key, cache::int_handler h);
void get_many(const st_ptr& st, const std::string& ns, std::vector<std::string> keys,
              cache::many_handler h);
void set(const st_ptr& st, const std::string& ns, const std::string& key, std::string v,
         set_options o, cache::bool_handler h);
void set_many(const st_ptr& st, const std::string& ns,
              std::vector<std::pair<std::string, std::string>> items, cache::bools_handler h);
void del(const st_ptr& st, const std::string& ns, const std::string& key, cache::bool_handler h);
void expire(const st_ptr& st, const std::string& ns, const std::string& key, ms ttl,
            cache::bool_handler h);
void touch(const st_ptr& st, const std::string& ns, const std::string& key, cache::bool_handler h);
/// A load in the one form get_or_load runs: handed `done`, it produces a
/// load_outcome (the error's message kept) once, on any thread.
using load_fn = std::function<void(std::function<void(load_outcome)> done)>;
/// With `tags` (not yet normalized): as async_get_or_load with tags.
void get_or_load(const st_ptr& st, const std::string& ns, const std::string& key,
                 std::vector<std::string> tags, load_fn load, cache::get_handler h);
/// Ends every load in flight: its waiters get `ec`, its deadline is
/// cancelled, its loader's outcome will be dropped (the cache is going).
void end_flights(const st_ptr& st, boost::system::error_code ec);
/// The three public loader forms as load_fn (a throw while starting one is
/// caught by get_or_load).
[[nodiscard]] load_fn from_callback(loader l);
[[nodiscard]] load_fn from_coroutine(const st_ptr& st, coroutine_loader c);
[[nodiscard]] load_fn from_blocking(const st_ptr& st, blocking_loader b);
void invalidate(const st_ptr& st, const std::string& ns, const std::string& pattern,
                cache::int_handler h);
/// The near cache's copy of `key` (counted as a near-cache hit), if the
/// near cache is live and holds one; never asks Redis.
[[nodiscard]] std::optional<std::string> try_get_near(const st_ptr& st, std::string_view ns,
                                                      std::string_view key);

// ---- plumbing ---------------------------------------------------------------------

/// A namespace resolved and a key validated: the Redis key is `full`.
struct target {
  std::shared_ptr<const ns_state> ns;
  std::string full;
};

/// Errors: invalid_argument for a bad namespace name, invalid_key for an
/// empty key or one that, with its prefix, passes max_key_size.
[[nodiscard]] result<target> resolve(state& st, std::string_view ns, std::string_view key);

/// Cache requests fail fast while Redis is unreachable (the contract of
/// the cache: callers fall back to their source or to stale-on-error).
[[nodiscard]] inline request fail_fast_request() {
  return request(request::options{.wait_for_connection = false});
}

/// Completes an operation that ended while it was being started.
template <class Handler, class... Args>
void complete_early(const state& st, Handler h, Args&&... args) {
  detail::complete_later(st.executor(), std::move(h), std::forward<Args>(args)...);
}

/// An integer reply above zero (DEL, EXISTS, PEXPIRE): true.
[[nodiscard]] inline bool positive(const value& v) noexcept {
  return v.integer > 0;
}

/// SET `full` `stored` with the TTL the options or `ttl` give (none when
/// zero), NX / XX and KEEPTTL as asked.
void push_set(request& r, const std::string& full, const std::string& stored, ms ttl,
              const set_options& o);

/// Stores a value read from Redis in the near cache (`held`: its
/// near_form()), unless the key was invalidated (or read with other bytes
/// by a rival read) since `token` was taken. Its near-cache life is never
/// longer than on the server, nor than near_cache_max_ttl, nor reaches into
/// a stale-while-revalidate grace period (which only a Redis read can
/// notice and refresh).
void fill_near(state& st, const ns_state& ns, const std::string& full, std::string held,
               std::int64_t pttl, const near::fill_token& token);

// ---- tags (tagging.cpp) -------------------------------------------------------------

/// Where a tag check's outcome goes: (error, fresh). Shared, so that it can
/// carry a move-only continuation.
using tags_checked = std::function<void(error_code, bool fresh)>;

/// check_tags() without Redis: nullopt when the near cache (live) does not
/// hold every version.
[[nodiscard]] std::optional<bool> tags_hold_near(state& st, const ns_state& ns,
                                                 const std::vector<tag_version>& recorded);

/// Whether the versions an entry of `ns` recorded are still its tags'
/// current ones. The versions come from the near cache when it holds them
/// all (then `done` runs inline: no round trip), else from one request
/// that reads the missing ones (GET + PTTL each) through the cache's
/// tracked connection and keeps them in the near cache, so that an INCR
/// anywhere drops them from every instance. Errors: the request's.
void check_tags(const st_ptr& st, const ns_state& ns, const std::vector<tag_version>& recorded,
                tags_checked done);

/// An entry whose tags moved: counted, dropped from the near cache, and
/// deleted in Redis (a later rewrite deleted with it costs a miss, never a
/// stale read).
void drop_stale(const st_ptr& st, const ns_state& ns, const std::string& full);

/// The versions an entry of `ns` living `ttl` (0: no TTL) records for
/// `tags` (normalized): each tag key made if missing, its TTL extended to
/// outlive the entry, its version read, by one script per tag. Errors: the
/// requests'; a version key holding something else than a version is
/// error::wrong_type.
void prepare_tags(const st_ptr& st, const ns_state& ns, const std::vector<std::string>& tags,
                  ms ttl, std::function<void(error_code, std::vector<tag_version>)> done);

void invalidate_tags(const st_ptr& st, const std::string& ns, std::vector<std::string> tags,
                     cache::int_handler h);

/// What fetch() found for a key.
struct fetched {
  stored_read::kind what = stored_read::kind::missing;
  std::string value{};  // kind::value
  /// The value is the near cache's: a hit (counted there), or a stale copy
  /// served while Redis is unreachable (counted as such).
  bool from_near = false;
  /// The key's remaining TTL as Redis gave it; nullopt when it has none,
  /// when it was not asked, or for a value from the near cache.
  std::optional<ms> ttl{};
};

namespace fetch_detail {

// A tagged value read from the near cache (`near` true) or from Redis:
// answered once its tags are checked; an out-of-date one is a miss.
template <class Done>
void answer_tagged(const st_ptr& st, std::shared_ptr<const ns_state> ns, std::string full,
                   stored_read r, bool near, std::int64_t pttl,
                   std::optional<near::fill_token> token, Done done) {
  auto d = std::make_shared<Done>(std::move(done));
  auto tags = std::move(r.tags);
  r.tags.clear();
  auto check = [st, ns, full = std::move(full), r = std::move(r), near, pttl, token, d, tags](
                   error_code ec, bool fresh) mutable {
    if (ec || !fresh) {
      if (token) st->near_cache->end_fill(full, *token);
      if (ec) {
        st->m.count_error(ec);
      } else {
        drop_stale(st, *ns, full);
      }
    } else if (near) {
      ns->hits_near->inc();
    } else if (token) {
      r.tags = std::move(tags);
      fill_near(*st, *ns, full, near_form(r), pttl, *token);
    }
    fetched f;
    if (!ec && fresh) {
      f = fetched{stored_read::kind::value, std::move(r.plain), near,
                  pttl >= 0 ? std::optional(ms(pttl)) : std::nullopt};
    }
    if (!near) return (*d)(ec, std::move(f));
    boost::asio::post(st->executor(),
                      [d, ec, f = std::move(f)]() mutable { (*d)(ec, std::move(f)); });
  };
  check_tags(st, *ns, tags, std::move(check));
}

}  // namespace fetch_detail

/// A GET (+ PTTL when the near cache or `want_ttl` needs it) of one key,
/// with the near cache in front: the shared read path of get and
/// get_or_load. A value with tags is answered once its tags are checked
/// (check_tags; a miss when one moved). `done(error_code, fetched)` runs on
/// the client's strand, or posted to the cache's executor for a near-cache
/// hit (never inside the caller's initiating call). Errors: the request's,
/// and read_stored's; a near-cache copy instead of a transport error for a
/// namespace with stale_on_error.
template <class Done>
void fetch(const st_ptr& st, std::shared_ptr<const ns_state> ns, std::string full, bool want_ttl,
           Done done) {
  const bool use_near = st->near_for(*ns);
  if (use_near && st->near_live.load(std::memory_order_acquire)) {
    if (auto v = st->near_cache->get(full, clock::now())) {
      auto held = near_read(*v);
      if (held && !held->tags.empty()) {
        return fetch_detail::answer_tagged(st, std::move(ns), std::move(full), std::move(*held),
                                           true, -1, std::nullopt, std::move(done));
      }
      if (held) {
        ns->hits_near->inc();
        boost::asio::post(st->executor(),
                          [done = std::move(done),
                           f = fetched{stored_read::kind::value, std::move(held->plain),
                                       true}]() mutable { done(error_code{}, std::move(f)); });
        return;
      }
    }
  }
  const auto token = use_near ? std::optional(st->near_cache->begin_fill(full)) : std::nullopt;
  request r = fail_fast_request();
  r.push("GET", full);
  if (use_near || want_ttl) r.push("PTTL", full);
  const auto t0 = clock::now();
  st->redis->async_exec(
      std::move(r), [st, ns = std::move(ns), full = std::move(full), token, use_near, t0,
                     done = std::move(done)](error_code ec, response resp) mutable {
        st->m.op_get->record(clock::now() - t0);
        if (ec) {
          // Unreachable Redis: a namespace that allows it may get the last
          // near-cache value (with tags unchecked: they cannot be).
          if (use_near && ns->opts.stale_on_error) {
            if (auto v = st->near_cache->get(full, clock::now())) {
              if (auto held = near_read(*v)) {
                ns->stale_served->inc();
                return done(error_code{},
                            fetched{stored_read::kind::value, std::move(held->plain), true});
              }
            }
          }
          st->m.count_error(ec);
          return done(ec, fetched{});
        }
        value& got = resp.at(0);
        const std::int64_t pttl = resp.size() > 1 ? resp[1].integer : -1;
        if (!got.is_error()) st->m.bytes_in->inc(got.str.size());
        auto read = read_stored(std::move(got), full, st->codec);
        if (!read) {
          st->m.count_error(read.error());
          return done(read.error(), fetched{});
        }
        if (read->what != stored_read::kind::value) {
          // A read that found no value drops what a rival read may have stored.
          if (use_near) st->near_cache->end_fill(full, *token);
          if (read->what == stored_read::kind::missing) return done(error_code{}, fetched{});
        } else if (!read->tags.empty()) {
          return fetch_detail::answer_tagged(st, std::move(ns), std::move(full), std::move(*read),
                                             false, pttl, token, std::move(done));
        } else if (use_near) {
          fill_near(*st, *ns, full, near_form(*read), pttl, *token);
        }
        done(error_code{}, fetched{read->what, std::move(read->plain), false,
                                   pttl >= 0 ? std::optional(ms(pttl)) : std::nullopt});
      });
}

/// A write simple() reports to the cache's observer when its first reply
/// is positive (the key existed): what it did and the TTL it left.
struct observed {
  write_event::kind what;
  std::int64_t ttl_ms;
};

/// A one-key operation whose first reply becomes its result through
/// `convert(const value&)` (touch sends EXISTS + PERSIST; an error reply to
/// any command fails the call). `build(request&, const target&)` adds the
/// commands; a write (`invalidates`) drops the near-cache entry before the
/// request is sent and again when it is answered, and `report` tells the
/// observer of it.
template <class Handler, class Build, class Convert>
void simple(const st_ptr& st, metrics::histogram* latency, const std::string& ns,
            const std::string& key, bool invalidates, Build build, Handler h, Convert convert,
            std::optional<observed> report = std::nullopt) {
  auto t = resolve(*st, ns, key);
  if (!t) return complete_early(*st, std::move(h), t.error(), convert(value{}));
  if (invalidates && st->near_cache) st->near_cache->invalidate(t->full);
  request r = fail_fast_request();  // reads too: fail fast while Redis is unreachable
  build(r, *t);
  const auto t0 = clock::now();
  auto written = invalidates ? std::optional(t->full) : std::nullopt;
  // The names the observer is told, kept only when there is one.
  if (!st->opts.observer) report.reset();
  auto names = report ? std::optional(std::tuple(ns, key, t->full)) : std::nullopt;
  st->redis->async_exec(
      std::move(r), [st, t0, latency, written = std::move(written), h = std::move(h), convert,
                     report, names = std::move(names)](error_code ec, response resp) mutable {
        ec = st->m.tally(latency, t0, ec, resp);
        if (written) st->after_write(*written);
        if (!ec && report && positive(resp.at(0))) {
          const auto& [n, k, full] = *names;
          st->observe(report->what, n, k, full, report->ttl_ms);
        }
        detail::complete_now(st->executor(), std::move(h), ec, convert(ec ? value{} : resp.at(0)));
      });
}

}  // namespace rcache::cache_detail
