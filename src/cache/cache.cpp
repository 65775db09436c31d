// rcache::cache: namespaces, TTL rules, the value codec, the near cache kept
// coherent by CLIENT TRACKING, get-or-load with single-flight, and metrics.
//
// Everything lives in one shared `state` so that completions that arrive
// after the cache object is gone (they all arrive: every request has a
// deadline) find it alive. The Redis client runs on its own strand (one per
// connection when the cache was given several executors); the cache's
// completions for Redis replies have no executor of their own, so they run
// inline on that strand, right when the reply is matched — a read fills the near cache
// before any later invalidation push on its connection is processed. The
// fill token (near_cache::begin_fill) makes this safe even when that is not
// so, e.g. a push for the same key arriving on another connection.
//
// Near-cache coherence:
//   - connected with tracking on  -> the near cache serves reads (`near_live`);
//   - connection lost             -> the near cache serves nothing, except stale-on-error
//                                    reads of namespaces that allow them;
//   - reconnected (tracking re-enabled by the handshake) -> the near cache emptied, then live;
//   - `invalidate` push           -> those keys dropped; null payload -> all;
//   - Redis Cluster: a node's connection lost or slots moved -> the client's
//     `invalidate-slots` push drops the keys of those slots only, and the
//     connection states above do not empty the near cache (they are per node);
//   - our own writes              -> the key dropped before the write is sent
//                                    and again when its reply arrives;
//   - a read that completes       -> stored only if nothing (an invalidation,
//                                    a rival read of the key) came since it
//                                    was sent; a read that finds no value
//                                    drops the key (near_cache.hpp says why).
//
// Threading: every public method is thread-safe. Namespaces are immutable
// snapshots behind a shared_mutex; single-flight state is under a mutex; the near cache,
// the codec and the metrics are thread-safe themselves.
#include <rcache/cache.hpp>

#include <algorithm>
#include <bitset>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <unordered_map>

#include "cache/glob.hpp"
#include "cache/refresh.hpp"
#include "cache/stored_read.hpp"
#include "client/completion.hpp"
#include "cluster/slot_map.hpp"
#include "codec/value_codec.hpp"
#include "metrics/registry.hpp"
#include "near/near_cache.hpp"

namespace rcache {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

using clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

using detail::complete_later;
using detail::complete_now;

// Namespace names become metric labels and key prefixes: keep them tame.
bool valid_namespace_name(std::string_view name) {
  if (name.size() > 128) return false;
  for (unsigned char ch : name) {
    if (!std::isalnum(ch) && ch != '_' && ch != '-' && ch != '.' && ch != ':') return false;
  }
  return true;
}

// Lua: delete the lock only if it still holds our token.
constexpr std::string_view unlock_script_source =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

}  // namespace

namespace cache_detail {

// One namespace, immutable once registered (add_namespace replaces it).
struct ns_state {
  std::string name;
  std::string prefix;
  namespace_options opts;
  std::size_t max_value_size = 0;  // resolved
  ms default_ttl{0};               // resolved
  metrics::counter* hits_near = nullptr;
  metrics::counter* hits_redis = nullptr;
  metrics::counter* misses = nullptr;
  metrics::counter* stale_served = nullptr;
  metrics::counter* skipped_size = nullptr;
  metrics::counter* skipped_rule = nullptr;
  metrics::counter* loads = nullptr;
  // Mean loader time (ms), for early refresh; updated without a lock.
  std::shared_ptr<std::atomic<double>> load_ms = std::make_shared<std::atomic<double>>(50.0);

  // The size and skip rules: whether `value` of `key` is kept out of Redis
  // (counted by reason). Values above the cache-wide limit never get here:
  // they are an error, not a rule.
  bool not_cached(std::string_view key, const std::string& value) const {
    if (value.size() > max_value_size) {
      skipped_size->inc();
      return true;
    }
    if (opts.skip && opts.skip(key, value)) {
      skipped_rule->inc();
      return true;
    }
    return false;
  }

  ms ttl_for(std::string_view key) const {
    for (const auto& r : opts.ttl_rules) {
      if (glob_match(r.pattern, key)) return std::chrono::duration_cast<ms>(r.ttl);
    }
    return default_ttl;
  }
};

// One get_or_load in progress for one key: everyone asking meanwhile waits.
struct flight {
  std::vector<cache::get_handler> waiters;
};

struct state : std::enable_shared_from_this<state> {
  cache_options opts;
  codec::codec_options codec;
  std::unique_ptr<near::near_cache> near_cache;
  metrics::registry reg;
  std::unique_ptr<client> redis;
  script unlock_script{std::string(unlock_script_source)};
  std::atomic<bool> near_live{false};
  bool cluster = false;  // a Redis Cluster client: the near cache is dropped per slot

  mutable std::shared_mutex ns_mutex;
  std::unordered_map<std::string, std::shared_ptr<const ns_state>> namespaces;

  std::mutex flight_mutex;
  std::unordered_map<std::string, std::shared_ptr<flight>> flights;

  std::mutex push_mutex;
  std::function<void(const value&)> user_push;

  // Metrics that do not depend on the namespace.
  // Latency per operation (Redis round trips; loads: the loader's time).
  metrics::histogram* op_get = nullptr;
  metrics::histogram* op_set = nullptr;
  metrics::histogram* op_del = nullptr;
  metrics::histogram* op_exists = nullptr;
  metrics::histogram* op_ttl = nullptr;
  metrics::histogram* op_expire = nullptr;
  metrics::histogram* op_touch = nullptr;
  metrics::histogram* op_get_many = nullptr;
  metrics::histogram* op_set_many = nullptr;
  metrics::histogram* op_load = nullptr;
  metrics::counter* bytes_in = nullptr;
  metrics::counter* bytes_out = nullptr;
  metrics::counter* plain_bytes_written = nullptr;
  metrics::counter* stored_bytes_written = nullptr;
  metrics::counter* invalidations_push = nullptr;
  metrics::counter* invalidations_flush = nullptr;
  metrics::counter* invalidations_reconnect = nullptr;
  metrics::counter* invalidations_slots = nullptr;
  mutable std::mutex scrape_mutex;
  metrics::gauge* near_entries = nullptr;
  metrics::gauge* near_bytes = nullptr;
  metrics::gauge* compression_ratio = nullptr;
  metrics::counter* near_evictions = nullptr;
  metrics::counter* near_rejected_fills = nullptr;
  mutable std::uint64_t near_evictions_seen = 0;
  mutable std::uint64_t near_rejected_seen = 0;
  metrics::counter* redis_connects_ok = nullptr;
  metrics::counter* redis_connects_failed = nullptr;
  metrics::gauge* redis_up = nullptr;
  mutable std::uint64_t connects_ok_seen = 0;
  mutable std::uint64_t connects_failed_seen = 0;
  std::mutex error_mutex;
  std::unordered_map<std::string, metrics::counter*> errors;

  asio::any_io_executor executor() const { return redis->get_executor(); }

  // The end of every operation but a read: its latency recorded under `op`,
  // an error reply to any of its commands made redis_error, a failure
  // counted. Returns the operation's error.
  error_code tally(metrics::histogram* op, clock::time_point t0, error_code ec,
                   const response& resp) {
    op->record(clock::now() - t0);
    if (!ec && std::any_of(resp.begin(), resp.end(), [](const value& v) { return v.is_error(); })) {
      ec = make_error_code(error::redis_error);
    }
    if (ec) count_error(ec);
    return ec;
  }

  void count_error(const error_code& ec) {
    // Bounded label values: rcache's enumerator names, else the category.
    std::string kind = ec.category() == error_category()
                           ? std::string(to_string(static_cast<error>(ec.value())))
                           : std::string(ec.category().name());
    metrics::counter* c = nullptr;
    {
      std::lock_guard lock(error_mutex);
      auto& slot = errors[kind];
      if (!slot) {
        auto r =
            reg.counter("rcache_errors_total", "Failed cache operations by kind", {{"kind", kind}});
        if (r) slot = *r;
      }
      c = slot;
    }
    if (c) c->inc();
  }

  std::shared_ptr<const ns_state> make_ns(std::string name, namespace_options o) {
    auto ns = std::make_shared<ns_state>();
    ns->prefix = o.prefix ? *o.prefix : (name.empty() ? std::string() : name + ":");
    ns->max_value_size =
        o.max_value_size ? std::min(o.max_value_size, opts.max_value_size) : opts.max_value_size;
    ns->default_ttl = std::chrono::duration_cast<ms>(o.ttl.value_or(opts.default_ttl));
    const std::string label = name.empty() ? "default" : name;
    auto counter = [&](std::string_view metric, std::string_view help, metrics::label_set labels) {
      labels.insert(labels.begin(), {"namespace", label});
      return reg.counter(metric, help, labels).value();
    };
    ns->hits_near =
        counter("rcache_cache_hits_total", "Cache hits by namespace and tier", {{"tier", "near"}});
    ns->hits_redis =
        counter("rcache_cache_hits_total", "Cache hits by namespace and tier", {{"tier", "redis"}});
    ns->misses = counter("rcache_cache_misses_total", "Cache misses by namespace", {});
    ns->stale_served = counter("rcache_cache_stale_served_total",
                               "Stale values served (stale-on-error, stale-while-revalidate)", {});
    ns->skipped_size = counter("rcache_cache_skipped_total", "Values not cached, by reason",
                               {{"reason", "too_large"}});
    ns->skipped_rule =
        counter("rcache_cache_skipped_total", "Values not cached, by reason", {{"reason", "rule"}});
    ns->loads = counter("rcache_cache_loads_total", "get_or_load loader calls", {});
    ns->name = std::move(name);
    ns->opts = std::move(o);
    return ns;
  }

  std::shared_ptr<const ns_state> find_ns(const std::string& name) {
    {
      std::shared_lock lock(ns_mutex);
      if (auto it = namespaces.find(name); it != namespaces.end()) return it->second;
    }
    // An unregistered namespace gets the defaults, once.
    auto fresh = make_ns(name, {});
    std::unique_lock lock(ns_mutex);
    return namespaces.try_emplace(name, std::move(fresh)).first->second;
  }

  bool near_for(const ns_state& ns) const { return near_cache && ns.opts.near_cache; }

  // A write of `full` was answered. The key was dropped before the write
  // was sent; a read on another connection may have stored the old value
  // since (Redis ran it before the write), and its invalidation is still on
  // its way on that connection. Dropping it again here, before the writer
  // hears back, means the writer never reads its own write's predecessor.
  void after_write(const std::string& full) {
    if (near_cache) near_cache->invalidate(full);
  }

  // ---- events from the connection (client strand) ----

  void on_push(const value& v) {
    if (v.elements.size() == 2 && v.elements[0].str == "invalidate-slots") {
      if (!near_cache) return;
      std::bitset<cluster::slot_count> slots;
      const auto& r = v.elements[1].elements;
      for (std::size_t k = 0; k + 1 < r.size(); k += 2) {
        for (auto slot = r[k].integer; slot <= r[k + 1].integer && slot < cluster::slot_count;
             ++slot) {
          if (slot >= 0) slots.set(static_cast<std::size_t>(slot));
        }
      }
      const auto n = near_cache->invalidate_if(
          [&](std::string_view key) { return slots.test(cluster::key_slot(key)); });
      invalidations_slots->inc(n);
      return;
    }
    if (v.elements.size() == 2 && v.elements[0].str == "invalidate") {
      if (!near_cache) return;
      const auto& keys = v.elements[1];
      if (keys.is_null()) {  // FLUSHDB / FLUSHALL
        near_cache->clear();
        invalidations_flush->inc();
        return;
      }
      for (const auto& k : keys.elements) near_cache->invalidate(k.str);
      invalidations_push->inc(keys.elements.size());
      return;
    }
    std::function<void(const value&)> h;
    {
      std::lock_guard lock(push_mutex);
      h = user_push;
    }
    if (h) h(v);
  }

  void on_state(connection_state s) {
    if (!near_cache) return;
    if (cluster) {
      // Per node: a lost connection or moved slots arrive as
      // `invalidate-slots`; the other nodes' entries stay good.
      near_live.store(s != connection_state::stopped, std::memory_order_release);
      return;
    }
    if (s == connection_state::connected) {
      // Invalidations sent while we were away are lost: start empty.
      near_cache->clear();
      invalidations_reconnect->inc();
      near_live.store(true, std::memory_order_release);
    } else {
      near_live.store(false, std::memory_order_release);
    }
  }
};

}  // namespace cache_detail

namespace {

using cache_detail::decide_refresh;
using cache_detail::ns_state;
using cache_detail::read_stored;
using cache_detail::refresh;
using cache_detail::state;
using cache_detail::stored_read;

// Stores a value read from Redis in the near cache, unless the key was
// invalidated (or read with other bytes by a rival read) since `token` was
// taken. Its near-cache life is never longer than on the server, nor than
// near_cache_max_ttl, nor reaches into a stale-while-revalidate grace period
// (which only a Redis read can notice and refresh).
void fill_near(state& st, const ns_state& ns, const std::string& full, const std::string& plain,
               std::int64_t pttl, const near::fill_token& token) {
  auto life = std::chrono::duration_cast<ms>(st.opts.near_cache_max_ttl);
  if (pttl >= 0)
    life = std::min(life, ms(pttl) - std::chrono::duration_cast<ms>(ns.opts.stale_grace));
  // pttl -2: deleted between the GET and the PTTL.
  if (pttl == -2 || life.count() <= 0) {
    // Nothing to store, yet this read's value is going to its caller: an
    // entry a rival fill left is no newer, so it goes (see near_cache.hpp).
    st.near_cache->end_fill(full, token);
    return;
  }
  (void)st.near_cache->put(full, std::make_shared<const std::string>(plain), clock::now() + life,
                           token);
}

// What fetch() found for a key.
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
using fetch_done = std::function<void(error_code, fetched)>;

fetched from_near_cache(const std::shared_ptr<const std::string>& v) {
  return {stored_read::kind::value, std::string(*v), true, std::nullopt};
}

// A GET (+ PTTL) for one key, with the near cache in front; the shared read
// path of get and get_or_load.
void fetch(const std::shared_ptr<state>& st, const std::shared_ptr<const ns_state>& ns,
           const std::string& full, bool want_ttl, fetch_done done) {
  const bool use_near = st->near_for(*ns);
  if (use_near && st->near_live.load(std::memory_order_acquire)) {
    if (auto v = st->near_cache->get(full, clock::now())) {
      ns->hits_near->inc();
      // Posted: this runs inside the caller's initiating call.
      asio::post(st->executor(), [done = std::move(done), f = from_near_cache(v)]() mutable {
        done({}, std::move(f));
      });
      return;
    }
  }
  const auto token = use_near ? std::optional(st->near_cache->begin_fill(full)) : std::nullopt;
  request r(request::options{.wait_for_connection = false});
  r.push("GET", full);
  if (use_near || want_ttl) r.push("PTTL", full);
  const auto t0 = clock::now();
  st->redis->async_exec(std::move(r), [st, ns, full, token, use_near, t0, done = std::move(done)](
                                          error_code ec, response resp) {
    st->op_get->record(clock::now() - t0);
    if (ec) {
      // Unreachable Redis: a namespace that allows it may get the last near-cache value.
      if (use_near && ns->opts.stale_on_error) {
        if (auto v = st->near_cache->get(full, clock::now())) {
          ns->stale_served->inc();
          return done({}, from_near_cache(v));
        }
      }
      st->count_error(ec);
      return done(ec, {});
    }
    const value& got = resp.at(0);
    const std::int64_t pttl = resp.size() > 1 ? resp[1].integer : -1;
    if (!got.is_error()) st->bytes_in->inc(got.str.size());
    auto read = read_stored(got, full, st->codec);
    if (!read) {
      st->count_error(read.error());
      return done(read.error(), {});
    }
    if (read->what != stored_read::kind::value) {
      // A read that found no value drops what a rival read may have stored.
      if (use_near) st->near_cache->end_fill(full, *token);
      if (read->what == stored_read::kind::missing) return done({}, {});
    } else if (use_near) {
      fill_near(*st, *ns, full, read->plain, pttl, *token);
    }
    done({}, fetched{read->what, std::move(read->plain), false,
                     pttl >= 0 ? std::optional(ms(pttl)) : std::nullopt});
  });
}

class cache_impl final : public cache {
 public:
  cache_impl(std::vector<asio::any_io_executor> executors, cache_options o)
      : st_(std::make_shared<state>()) {
    auto& st = *st_;
    if (o.max_key_size == 0 || o.max_value_size == 0) {
      throw std::invalid_argument("cache: max_key_size and max_value_size must be positive");
    }
    st.codec.compress = o.compression;
    st.codec.compress_threshold = o.compression_threshold;
    st.codec.max_value_size = o.max_value_size;
    if (!o.encryption_keys.empty()) {
      std::string why;
      auto ring = codec::key_ring::from_spec(o.encryption_keys, &why);
      if (!ring) throw std::invalid_argument("cache: encryption keys: " + why);
      st.codec.keys = std::make_shared<const codec::key_ring>(std::move(*ring));
    }
    if (o.near_cache) {
      st.near_cache = std::make_unique<near::near_cache>(near::near_cache_options{
          .max_bytes = o.near_cache_max_bytes, .max_entries = o.near_cache_max_entries});
      o.redis.client_tracking = true;  // the coherence protocol
      st.cluster = !o.redis.cluster_nodes.empty();
    }
    auto hist = [&](std::string_view op) {
      return st.reg
          .histogram("rcache_op_duration_seconds", "Cache operation latency (Redis round trips)",
                     {{"op", std::string(op)}})
          .value();
    };
    st.op_get = hist("get");
    st.op_set = hist("set");
    st.op_del = hist("del");
    st.op_exists = hist("exists");
    st.op_ttl = hist("ttl");
    st.op_expire = hist("expire");
    st.op_touch = hist("touch");
    st.op_get_many = hist("get_many");
    st.op_set_many = hist("set_many");
    st.op_load = hist("load");
    st.bytes_in =
        st.reg.counter("rcache_bytes_total", "Value bytes", {{"direction", "in"}}).value();
    st.bytes_out =
        st.reg.counter("rcache_bytes_total", "Value bytes", {{"direction", "out"}}).value();
    st.plain_bytes_written =
        st.reg.counter("rcache_value_plain_bytes_total", "Bytes of values before encoding").value();
    st.stored_bytes_written =
        st.reg.counter("rcache_value_stored_bytes_total", "Bytes of values as stored").value();
    auto inval = [&](std::string_view source) {
      return st.reg
          .counter("rcache_invalidations_total", "Near-cache invalidations by source",
                   {{"source", std::string(source)}})
          .value();
    };
    st.invalidations_push = inval("push");
    st.invalidations_flush = inval("flush");
    st.invalidations_reconnect = inval("reconnect");
    st.invalidations_slots = inval("slots");
    st.near_entries =
        st.reg.gauge("rcache_near_cache_entries", "Entries in the near cache").value();
    st.near_bytes =
        st.reg.gauge("rcache_near_cache_bytes", "Bytes charged to the near cache").value();
    st.near_evictions =
        st.reg.counter("rcache_near_cache_evictions_total", "Near-cache evictions by the policy")
            .value();
    st.near_rejected_fills =
        st.reg
            .counter("rcache_near_cache_rejected_fills_total",
                     "Reads not stored in the near cache: the key was invalidated, or "
                     "read with other bytes by another request, while the "
                     "read was in flight")
            .value();
    auto connects = [&](std::string_view result) {
      return st.reg
          .counter("rcache_redis_connects_total", "Redis connection attempts by outcome",
                   {{"result", std::string(result)}})
          .value();
    };
    st.redis_connects_ok = connects("ok");
    st.redis_connects_failed = connects("failed");
    st.redis_up =
        st.reg.gauge("rcache_redis_up", "1 while every Redis connection is up, else 0").value();
    st.compression_ratio =
        st.reg.gauge("rcache_compression_ratio", "Stored bytes over plain bytes of values written")
            .value();
    st.opts = std::move(o);
    st.redis = std::make_unique<client>(std::move(executors), st.opts.redis);
    std::weak_ptr<state> weak = st_;
    st.redis->set_push_handler([weak](const value& v) {
      if (auto s = weak.lock()) s->on_push(v);
    });
    st.redis->set_state_handler([weak](connection_state s, error_code) {
      if (auto p = weak.lock()) p->on_state(s);
    });
    st.redis->start();
  }

  ~cache_impl() override { st_->redis->stop(); }

  void add_namespace(std::string name, namespace_options o) override {
    if (!valid_namespace_name(name)) {
      throw std::invalid_argument("cache: namespace name '" + name +
                                  "' (letters, digits, _ - . : and at most 128 bytes)");
    }
    auto ns = st_->make_ns(name, std::move(o));
    std::unique_lock lock(st_->ns_mutex);
    st_->namespaces[std::move(name)] = std::move(ns);
  }

  client& redis() noexcept override { return *st_->redis; }

  std::optional<std::string> try_get_near(std::string_view ns, std::string_view key) override {
    auto& st = *st_;
    if (!st.near_cache || !st.near_live.load(std::memory_order_acquire)) return std::nullopt;
    auto t = resolve(std::string(ns), std::string(key));
    if (!t || !st.near_for(*t->ns)) return std::nullopt;
    auto v = st.near_cache->get(t->full, clock::now());
    if (!v) return std::nullopt;
    t->ns->hits_near->inc();
    return std::string(*v);
  }

  void set_push_handler(std::function<void(const value&)> h) override {
    std::lock_guard lock(st_->push_mutex);
    st_->user_push = std::move(h);
  }

  // A counter that follows a running total kept elsewhere (the near
  // cache's or the client's stats), advanced at each scrape.
  static void follow(metrics::counter& c, std::uint64_t total, std::uint64_t& seen) {
    if (total > seen) c.inc(total - seen);
    seen = std::max(seen, total);
  }

  std::string metrics_text() const override {
    auto& st = *st_;
    {
      std::lock_guard lock(st.scrape_mutex);
      if (st.near_cache) {
        const auto s = st.near_cache->stats();
        st.near_entries->set(static_cast<double>(st.near_cache->size()));
        st.near_bytes->set(static_cast<double>(st.near_cache->bytes()));
        follow(*st.near_evictions, s.evictions, st.near_evictions_seen);
        follow(*st.near_rejected_fills, s.rejected_fills, st.near_rejected_seen);
      }
      const auto rs = st.redis->stats();
      follow(*st.redis_connects_ok, rs.connects, st.connects_ok_seen);
      follow(*st.redis_connects_failed, rs.connect_failures, st.connects_failed_seen);
      st.redis_up->set(st.redis->state() == connection_state::connected ? 1 : 0);
      const auto plain = st.plain_bytes_written->value();
      if (plain > 0) {
        st.compression_ratio->set(static_cast<double>(st.stored_bytes_written->value()) /
                                  static_cast<double>(plain));
      }
    }
    return st.reg.prometheus_text();
  }

 protected:
  // ---- plumbing ----

  struct target {
    std::shared_ptr<const ns_state> ns;
    std::string full;
  };

  // Resolves the namespace and validates the key; error: invalid_key.
  result<target> resolve(const std::string& ns_name, const std::string& key) {
    if (!valid_namespace_name(ns_name)) return make_error_code(error::invalid_argument);
    auto ns = st_->find_ns(ns_name);
    if (key.empty() || ns->prefix.size() + key.size() > st_->opts.max_key_size) {
      return make_error_code(error::invalid_key);
    }
    return target{ns, ns->prefix + key};
  }

  // Completes an operation that ended while it was being started.
  template <class Handler, class... Args>
  void complete_early(Handler h, Args&&... args) {
    complete_later(st_->executor(), std::move(h), std::forward<Args>(args)...);
  }

  // Cache requests fail fast while Redis is unreachable (the contract of
  // the cache: callers fall back to their source or to stale-on-error).
  static request fail_fast_request() {
    return request(request::options{.wait_for_connection = false});
  }

  // ---- operations ----

  void do_get(const std::string& ns, const std::string& key, get_handler h) override {
    auto t = resolve(ns, key);
    if (!t) return complete_early(std::move(h), t.error(), std::optional<std::string>());
    auto st = st_;
    auto nsp = t->ns;
    fetch(st_, t->ns, t->full, false,
          [st, nsp, h = std::make_shared<get_handler>(std::move(h))](error_code ec,
                                                                     fetched f) mutable {
            std::optional<std::string> v;
            if (!ec && f.what == stored_read::kind::value) {
              if (!f.from_near) nsp->hits_redis->inc();  // near-cache hits count there
              v = std::move(f.value);
            } else if (!ec) {
              nsp->misses->inc();
            }
            complete_now(st->executor(), std::move(*h), ec, std::move(v));
          });
  }

  // Encodes `value` for `full` after the namespace's size and skip rules.
  // nullopt with no error: not cached by rule (the metrics say so).
  result<std::optional<std::string>> encode_for(const ns_state& ns, const std::string& key,
                                                const std::string& full, const std::string& value) {
    // Above the cache-wide limit is an error; above the namespace's own
    // (smaller) limit is a rule: not cached, and counted.
    if (value.size() > st_->opts.max_value_size) return make_error_code(error::value_too_large);
    if (ns.not_cached(key, value)) return std::optional<std::string>();
    codec::encode_stats es;
    auto stored = codec::encode(value, full, st_->codec, &es);
    if (!stored) return stored.error();
    st_->plain_bytes_written->inc(es.plain_bytes);
    st_->stored_bytes_written->inc(es.stored_bytes);
    st_->bytes_out->inc(es.stored_bytes);
    return std::optional<std::string>(std::move(*stored));
  }

  static void push_set(request& r, const std::string& full, const std::string& stored, ms ttl,
                       const set_options& o) {
    std::vector<std::string> args{full, stored};
    if (o.keep_ttl) {
      args.emplace_back("KEEPTTL");
    } else if (o.ttl ? o.ttl->count() > 0 : ttl.count() > 0) {
      args.emplace_back("PX");
      args.push_back(std::to_string(o.ttl ? o.ttl->count() : ttl.count()));
    }
    if (o.when == set_options::condition::if_absent) args.emplace_back("NX");
    if (o.when == set_options::condition::if_present) args.emplace_back("XX");
    r.push_range("SET", args);
  }

  void do_set(const std::string& ns, const std::string& key, std::string v, set_options o,
              bool_handler h) override {
    auto t = resolve(ns, key);
    if (!t) return complete_early(std::move(h), t.error(), false);
    auto stored = encode_for(*t->ns, key, t->full, v);
    if (!stored) return complete_early(std::move(h), stored.error(), false);
    if (st_->near_cache) st_->near_cache->invalidate(t->full);  // before the write is even sent
    if (!*stored) return complete_early(std::move(h), error_code{}, false);
    request r = fail_fast_request();
    push_set(r, t->full, **stored, t->ns->ttl_for(key), o);
    auto st = st_;
    const auto t0 = clock::now();
    st_->redis->async_exec(std::move(r), [st, t0, full = t->full, h = std::move(h)](
                                             error_code ec, response resp) mutable {
      ec = st->tally(st->op_set, t0, ec, resp);
      st->after_write(full);
      const bool written = !ec && !resp.at(0).is_null();
      complete_now(st->executor(), std::move(h), ec, written);
    });
  }

  // One key's command (touch: EXISTS + PERSIST) whose first reply becomes a
  // bool or an integer; an error reply to any of them fails the call.
  template <class Handler, class Convert>
  void simple(metrics::histogram* latency, const std::string& ns, const std::string& key,
              bool invalidate, std::function<void(request&, const target&)> build, Handler h,
              Convert convert) {
    auto t = resolve(ns, key);
    if (!t) return complete_early(std::move(h), t.error(), convert(value{}));
    if (invalidate && st_->near_cache) st_->near_cache->invalidate(t->full);
    request r = fail_fast_request();  // reads too: fail fast while Redis is unreachable
    build(r, *t);
    auto st = st_;
    const auto t0 = clock::now();
    auto written = invalidate ? std::optional(t->full) : std::nullopt;
    st_->redis->async_exec(
        std::move(r), [st, t0, latency, written = std::move(written), h = std::move(h), convert](
                          error_code ec, response resp) mutable {
          ec = st->tally(latency, t0, ec, resp);
          if (written) st->after_write(*written);
          complete_now(st->executor(), std::move(h), ec, convert(ec ? value{} : resp.at(0)));
        });
  }

  static bool positive(const value& v) { return v.integer > 0; }

  void do_del(const std::string& ns, const std::string& key, bool_handler h) override {
    simple(
        st_->op_del, ns, key, true, [](request& r, const target& t) { r.push("DEL", t.full); },
        std::move(h), positive);
  }
  void do_exists(const std::string& ns, const std::string& key, bool_handler h) override {
    simple(
        st_->op_exists, ns, key, false,
        [](request& r, const target& t) { r.push("EXISTS", t.full); }, std::move(h), positive);
  }
  void do_ttl(const std::string& ns, const std::string& key, int_handler h) override {
    simple(
        st_->op_ttl, ns, key, false, [](request& r, const target& t) { r.push("PTTL", t.full); },
        std::move(h), [](const value& v) { return v.integer; });
  }
  void do_expire(const std::string& ns, const std::string& key, std::chrono::milliseconds ttl,
                 bool_handler h) override {
    // A shorter TTL must not leave a longer-lived near-cache copy behind.
    simple(
        st_->op_expire, ns, key, true,
        [ttl](request& r, const target& t) { r.push("PEXPIRE", t.full, ttl.count()); },
        std::move(h), positive);
  }
  void do_touch(const std::string& ns, const std::string& key, bool_handler h) override {
    simple(
        st_->op_touch, ns, key, false,
        [key](request& r, const target& t) {
          const auto ttl = t.ns->ttl_for(key);
          if (ttl.count() > 0) {
            r.push("PEXPIRE", t.full, ttl.count());
          } else {
            // No TTL rule: drop any TTL. PERSIST answers 0 for a key that
            // has none, so whether the key exists comes from EXISTS.
            r.push("EXISTS", t.full).push("PERSIST", t.full);
          }
        },
        std::move(h), [](const value& v) { return v.integer > 0; });
  }

  void do_get_many(const std::string& ns, std::vector<std::string> keys, many_handler h) override {
    std::vector<std::optional<std::string>> out(keys.size());
    std::vector<std::size_t> wanted;  // indexes still to read from Redis
    std::vector<target> targets;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto t = resolve(ns, keys[i]);
      if (!t) return complete_early(std::move(h), t.error(), std::move(out));
      targets.push_back(std::move(*t));
    }
    const bool live = st_->near_cache && st_->near_live.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto& t = targets[i];
      if (live && st_->near_for(*t.ns)) {
        if (auto v = st_->near_cache->get(t.full, clock::now())) {
          t.ns->hits_near->inc();
          out[i] = std::string(*v);
          continue;
        }
      }
      wanted.push_back(i);
    }
    if (wanted.empty()) return complete_early(std::move(h), error_code{}, std::move(out));
    // MGET for the values, PTTL for each (to bound near-cache entries), one request.
    struct pending_fill {
      std::size_t index;
      std::optional<near::fill_token> token;
    };
    std::vector<pending_fill> fills;
    request r = fail_fast_request();
    std::vector<std::string_view> names;
    for (auto i : wanted) {
      const auto& t = targets[i];
      fills.push_back({i, st_->near_for(*t.ns) ? std::optional(st_->near_cache->begin_fill(t.full))
                                               : std::nullopt});
      names.push_back(t.full);
    }
    r.push_range("MGET", names);
    for (auto i : wanted) r.push("PTTL", targets[i].full);
    auto st = st_;
    const auto t0 = clock::now();
    st_->redis->async_exec(std::move(r), [st, t0, targets = std::move(targets),
                                          fills = std::move(fills), out = std::move(out),
                                          h = std::move(h)](error_code ec, response resp) mutable {
      if ((ec = st->tally(st->op_get_many, t0, ec, resp))) {
        return complete_now(st->executor(), std::move(h), ec, std::move(out));
      }
      const auto& values = resp[0].elements;
      for (std::size_t j = 0; j < fills.size() && j < values.size(); ++j) {
        const auto& t = targets[fills[j].index];
        auto read = read_stored(values[j], t.full, st->codec);
        if (!read) {
          st->count_error(read.error());
          return complete_now(st->executor(), std::move(h), read.error(), std::move(out));
        }
        if (read->what != stored_read::kind::value) {
          if (fills[j].token) st->near_cache->end_fill(t.full, *fills[j].token);  // as in fetch()
          t.ns->misses->inc();
          continue;
        }
        t.ns->hits_redis->inc();
        const std::int64_t pttl = resp.at(1 + j).integer;
        if (fills[j].token) fill_near(*st, *t.ns, t.full, read->plain, pttl, *fills[j].token);
        out[fills[j].index] = std::move(read->plain);
      }
      complete_now(st->executor(), std::move(h), error_code{}, std::move(out));
    });
  }

  void do_set_many(const std::string& ns, std::vector<std::pair<std::string, std::string>> items,
                   bool_handler h) override {
    request r = fail_fast_request();
    std::vector<std::string> written;
    for (auto& [key, v] : items) {
      auto t = resolve(ns, key);
      if (!t) return complete_early(std::move(h), t.error(), false);
      auto stored = encode_for(*t->ns, key, t->full, v);
      if (!stored) return complete_early(std::move(h), stored.error(), false);
      if (st_->near_cache) st_->near_cache->invalidate(t->full);
      if (*stored) push_set(r, t->full, **stored, t->ns->ttl_for(key), {});
      written.push_back(std::move(t->full));
    }
    if (r.empty()) return complete_early(std::move(h), error_code{}, true);
    auto st = st_;
    const auto t0 = clock::now();
    st_->redis->async_exec(std::move(r), [st, t0, written = std::move(written), h = std::move(h)](
                                             error_code ec, response resp) mutable {
      ec = st->tally(st->op_set_many, t0, ec, resp);
      for (const auto& full : written) st->after_write(full);
      complete_now(st->executor(), std::move(h), ec, !ec);
    });
  }

  // ---- invalidation by pattern ----

  // The prefix as a glob that matches itself only.
  static std::string glob_literal(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  // One walk per master (one in all but a cluster): SCAN a page, UNLINK
  // what it found, repeat until the cursor comes back as "0". Each step is
  // one request, so the walk yields to other traffic between pages and every
  // page has the client's deadline.
  struct invalidation {
    // The handler is constructed, never assigned: Boost 1.81's
    // any_completion_handler move-assignment recurses without end.
    invalidation(std::shared_ptr<state> s, std::string m, int_handler h)
        : st(std::move(s)),
          match(std::move(m)),
          nodes(st->redis->masters()),
          handler(std::move(h)) {}
    std::shared_ptr<state> st;
    std::string match;
    std::vector<std::string> nodes;  // "" for a single server
    std::size_t node = 0;
    std::string cursor = "0";
    std::int64_t deleted = 0;
    int_handler handler;
  };

  static void scan_page(std::shared_ptr<invalidation> w) {
    if (w->nodes.empty()) {  // a cluster client before its first slot map
      return complete_invalidation(std::move(w), make_error_code(error::not_connected));
    }
    request r = fail_fast_request();
    r.opts().node = w->nodes[w->node];
    r.push("SCAN", w->cursor, "MATCH", w->match, "COUNT", 1000);
    auto& redis = *w->st->redis;
    redis.async_exec(std::move(r), [w](error_code ec, response resp) mutable {
      const value& reply = ec ? value{} : resp.at(0);
      if (!ec && (reply.is_error() || reply.elements.size() != 2)) {
        ec = make_error_code(error::redis_error);
      }
      if (ec) return complete_invalidation(std::move(w), ec);
      w->cursor = reply.elements[0].str;
      std::vector<std::string> keys;
      for (const auto& k : reply.elements[1].elements) keys.push_back(k.str);
      if (keys.empty()) return next_page(std::move(w));
      if (w->st->near_cache) {
        for (const auto& k : keys) w->st->near_cache->invalidate(k);
      }
      request del = fail_fast_request();
      del.push_range("UNLINK", keys);
      auto& client = *w->st->redis;
      client.async_exec(std::move(del), [w](error_code ec2, response r2) mutable {
        if (!ec2 && r2.at(0).is_error()) ec2 = make_error_code(error::redis_error);
        if (ec2) return complete_invalidation(std::move(w), ec2);
        w->deleted += r2.at(0).integer;
        next_page(std::move(w));
      });
    });
  }

  static void next_page(std::shared_ptr<invalidation> w) {
    if (w->cursor == "0" && ++w->node == w->nodes.size())
      return complete_invalidation(std::move(w), {});
    scan_page(std::move(w));
  }

  static void complete_invalidation(std::shared_ptr<invalidation> w, error_code ec) {
    if (ec) w->st->count_error(ec);
    complete_now(w->st->executor(), std::move(w->handler), ec, w->deleted);
  }

  void do_invalidate(const std::string& ns, const std::string& pattern, int_handler h) override {
    if (!valid_namespace_name(ns) || pattern.empty()) {
      return complete_early(std::move(h), make_error_code(error::invalid_argument),
                            std::int64_t{0});
    }
    auto nsp = st_->find_ns(ns);
    scan_page(
        std::make_shared<invalidation>(st_, glob_literal(nsp->prefix) + pattern, std::move(h)));
  }

  // ---- get_or_load ----

  void do_get_or_load(const std::string& ns, const std::string& key, loader load,
                      get_handler h) override {
    auto t = resolve(ns, key);
    if (!t) return complete_early(std::move(h), t.error(), std::optional<std::string>());
    auto st = st_;
    auto nsp = t->ns;
    auto full = t->full;
    auto hp = std::make_shared<get_handler>(std::move(h));
    fetch(st_, nsp, full, true,
          [this_st = st, nsp, full, key, load = std::move(load), hp](error_code ec,
                                                                     fetched f) mutable {
            const auto& o = nsp->opts;
            if (!ec && f.what == stored_read::kind::absent) {  // negative cache hit
              nsp->hits_redis->inc();
              return complete_now(this_st->executor(), std::move(*hp), error_code{},
                                  std::optional<std::string>());
            }
            if (!ec && f.what == stored_read::kind::value) {
              if (!f.from_near) nsp->hits_redis->inc();  // near-cache hits count there
              thread_local std::mt19937_64 rng(std::random_device{}());
              const double u = std::uniform_real_distribution<double>(1e-12, 1.0)(rng);
              const auto r = decide_refresh(f.ttl, std::chrono::duration_cast<ms>(o.stale_grace),
                                            o.early_refresh_beta, nsp->load_ms->load(), u);
              if (r == refresh::stale) nsp->stale_served->inc();
              if (r != refresh::none) start_load(this_st, nsp, full, key, load, nullptr);
              return complete_now(this_st->executor(), std::move(*hp), error_code{},
                                  std::optional<std::string>(std::move(f.value)));
            }
            // A miss, or Redis failed: load (Redis errors do not stop the
            // caller from getting the value; storing it may fail, quietly).
            // Counted once the caller waits on the flight.
            start_load(this_st, nsp, full, key, load, hp);
            nsp->misses->inc();
          });
  }

  // Runs the loader for `full` unless a load is already in flight; `waiter`
  // (may be null: a background refresh) gets the result.
  static void start_load(const std::shared_ptr<state>& st,
                         const std::shared_ptr<const ns_state>& ns, const std::string& full,
                         const std::string& key, const loader& load,
                         const std::shared_ptr<get_handler>& waiter) {
    {
      std::lock_guard lock(st->flight_mutex);
      auto [it, first] = st->flights.try_emplace(full, nullptr);
      if (!first) {
        if (waiter) it->second->waiters.push_back(std::move(*waiter));
        return;
      }
      it->second = std::make_shared<cache_detail::flight>();
      if (waiter) it->second->waiters.push_back(std::move(*waiter));
    }
    if (ns->opts.distributed_lock) {
      acquire_lock(st, ns, full, key, load, clock::now() + 2 * ns->opts.lock_ttl);
    } else {
      run_loader(st, ns, full, key, load, std::string());
    }
  }

  // SET lock NX PX: one loader in the fleet. If another process holds the
  // lock, wait for its value (or for the lock to lapse), polling gently.
  static void acquire_lock(const std::shared_ptr<state>& st,
                           const std::shared_ptr<const ns_state>& ns, const std::string& full,
                           const std::string& key, const loader& load, clock::time_point give_up) {
    static std::atomic<std::uint64_t> counter{0};
    std::string token = std::to_string(std::random_device{}()) + "-" +
                        std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    request r = fail_fast_request();
    r.push("SET", "lock:" + full, token, "NX", "PX", ns->opts.lock_ttl.count());
    r.push("GET", full);
    st->redis->async_exec(
        std::move(r), [st, ns, full, key, load, give_up, token](error_code ec, response resp) {
          if (ec || resp.at(0).is_error()) {
            return run_loader(st, ns, full, key, load, std::string());  // no lock to be had
          }
          const bool ours = !resp[0].is_null();
          // The value may be there already: the holder finished (and released
          // the lock, which is how we could take it).
          // A value that does not decode is loaded again.
          auto cur = read_stored(resp.at(1), full, st->codec);
          if (cur && cur->what != stored_read::kind::missing) {
            std::optional<std::string> found;
            if (cur->what == stored_read::kind::value) found = std::move(cur->plain);
            if (ours) release_lock(st, full, token);
            return complete_flight(st, full, error_code{}, std::move(found));
          }
          if (ours) return run_loader(st, ns, full, key, load, token);
          if (clock::now() >= give_up) return run_loader(st, ns, full, key, load, std::string());
          auto timer = std::make_shared<asio::steady_timer>(st->executor(), ms(20));
          timer->async_wait([st, ns, full, key, load, give_up, timer](error_code) {
            acquire_lock(st, ns, full, key, load, give_up);
          });
        });
  }

  static void run_loader(const std::shared_ptr<state>& st,
                         const std::shared_ptr<const ns_state>& ns, const std::string& full,
                         const std::string& key, const loader& load, std::string lock_token) {
    ns->loads->inc();
    const auto t0 = clock::now();
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto done = [st, ns, full, key, t0, once, lock_token](error_code ec,
                                                          std::optional<std::string> v) {
      if (once->exchange(true)) return;  // a loader that calls back twice
      const double took = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
      st->op_load->record(clock::now() - t0);
      ns->load_ms->store(0.8 * ns->load_ms->load() + 0.2 * took);
      store_loaded(st, ns, full, key, ec, v, lock_token);
      if (ec) {
        st->count_error(ec);
        return complete_flight(st, full, ec, std::nullopt);  // nothing cached
      }
      complete_flight(st, full, error_code{}, std::move(v));
    };
    try {
      load(std::move(done));
    } catch (const std::exception&) {
      // A throwing loader is a failing loader.
      complete_flight(st, full, make_error_code(error::invalid_argument), std::nullopt);
    }
  }

  static void release_lock(const std::shared_ptr<state>& st, const std::string& full,
                           const std::string& token) {
    st->redis->async_eval(st->unlock_script, {"lock:" + full}, {token}, [st](error_code ec, value) {
      if (ec) st->count_error(ec);
    });
  }

  // Writes a loaded value (or the negative marker) and releases the lock.
  static void store_loaded(const std::shared_ptr<state>& st,
                           const std::shared_ptr<const ns_state>& ns, const std::string& full,
                           const std::string& key, error_code ec,
                           const std::optional<std::string>& v, const std::string& lock_token) {
    request r(request::options{.wait_for_connection = false});
    if (!ec && v) {
      // A value the namespace's rules keep out (counted there) or the codec
      // refuses is not stored: its caller has it anyway.
      std::optional<std::string> stored;
      if (!ns->not_cached(key, *v)) {
        if (auto e = codec::encode(*v, full, st->codec)) stored = std::move(*e);
      }
      if (stored) {
        if (st->near_cache) st->near_cache->invalidate(full);
        // The grace period is kept in Redis' TTL: a value is stale once its
        // remaining TTL is within the grace.
        const auto ttl = ns->ttl_for(key) + std::chrono::duration_cast<ms>(ns->opts.stale_grace);
        push_set(r, full, *stored, ttl, {});
      }
    } else if (!ec && ns->opts.negative_ttl.count() > 0) {
      if (st->near_cache) st->near_cache->invalidate(full);
      r.push("SET", full, codec::absent_marker(), "PX",
             std::chrono::duration_cast<ms>(ns->opts.negative_ttl).count());
    }
    if (!r.empty()) {
      st->redis->async_exec(std::move(r), [st, full](error_code e, response) {
        st->after_write(full);
        if (e) st->count_error(e);
      });
    }
    // After the value: a process polling for it sees the value before the
    // lock disappears.
    if (!lock_token.empty()) release_lock(st, full, lock_token);
  }

  static void complete_flight(const std::shared_ptr<state>& st, const std::string& full,
                              error_code ec, std::optional<std::string> v) {
    std::shared_ptr<cache_detail::flight> f;
    {
      std::lock_guard lock(st->flight_mutex);
      auto it = st->flights.find(full);
      if (it == st->flights.end()) return;
      f = std::move(it->second);
      st->flights.erase(it);
    }
    for (auto& w : f->waiters) complete_now(st->executor(), std::move(w), ec, v);
  }

 private:
  std::shared_ptr<state> st_;
};

}  // namespace

std::unique_ptr<cache> cache::create(asio::any_io_executor ex, cache_options o) {
  return create(std::vector{std::move(ex)}, std::move(o));
}

std::unique_ptr<cache> cache::create(std::vector<asio::any_io_executor> executors,
                                     cache_options o) {
  if (executors.empty()) throw std::invalid_argument("cache: no executor");
  return std::make_unique<cache_impl>(std::move(executors), std::move(o));
}

}  // namespace rcache
