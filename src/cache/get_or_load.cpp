// get_or_load: cache-aside with one loader per key at a time.
//
//   1. fetch() the key (the near cache in front). A value is answered at
//      once, and may start a background reload (stale-while-revalidate,
//      XFetch early refresh: refresh.hpp decides); the negative-cache
//      marker answers "no such value".
//   2. On a miss (or a Redis failure) the caller joins the key's flight:
//      the first caller starts the loader, later ones wait for its result.
//   3. With distributed_lock, the loader runs only in the process that
//      takes `lock:<key>` (SET NX PX); the others poll for the value until
//      the lock lapses, then load themselves.
//   4. The loaded value (or the negative marker) is written, then the lock
//      released (owner only, by script), then every waiter answered.
//
// Threading: flights are under state::flight_mutex; the rest runs on the
// client's strand or the loader's thread.
#include <boost/asio/steady_timer.hpp>
#include <random>

#include "cache/operations.hpp"
#include "cache/refresh.hpp"

namespace rcache::cache_detail {

using detail::complete_now;

namespace {

using ns_ptr = std::shared_ptr<const ns_state>;
using waiter_ptr = std::shared_ptr<cache::get_handler>;

// Lua: delete the lock only if it still holds our token.
const script& unlock_script() {
  static const script s(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
      "else return 0 end");
  return s;
}

void complete_flight(const st_ptr& st, const std::string& full, error_code ec,
                     std::optional<std::string> v) {
  std::shared_ptr<flight> f;
  {
    std::lock_guard lock(st->flight_mutex);
    auto it = st->flights.find(full);
    if (it == st->flights.end()) return;
    f = std::move(it->second);
    st->flights.erase(it);
  }
  for (auto& w : f->waiters) complete_now(st->executor(), std::move(w), ec, v);
}

void release_lock(const st_ptr& st, const std::string& full, const std::string& token) {
  st->redis->async_eval(unlock_script(), {"lock:" + full}, {token}, [st](error_code ec, value) {
    if (ec) st->m.count_error(ec);
  });
}

// Writes a loaded value (or the negative marker) and releases the lock.
void store_loaded(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                  const std::string& key, error_code ec, const std::optional<std::string>& v,
                  const std::string& lock_token) {
  request r = fail_fast_request();
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
      if (e) st->m.count_error(e);
    });
  }
  // After the value: a process polling for it sees the value before the
  // lock disappears.
  if (!lock_token.empty()) release_lock(st, full, lock_token);
}

void run_loader(const st_ptr& st, const ns_ptr& ns, const std::string& full, const std::string& key,
                const loader& load, std::string lock_token) {
  ns->loads->inc();
  const auto t0 = clock::now();
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto done = [st, ns, full, key, t0, once, lock_token](error_code ec,
                                                        std::optional<std::string> v) {
    if (once->exchange(true)) return;  // a loader that calls back twice
    const double took = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    st->m.op_load->record(clock::now() - t0);
    ns->load_ms->store(0.8 * ns->load_ms->load() + 0.2 * took);
    store_loaded(st, ns, full, key, ec, v, lock_token);
    if (ec) {
      st->m.count_error(ec);
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

// SET lock NX PX: one loader in the fleet. If another process holds the
// lock, wait for its value (or for the lock to lapse), polling gently.
void acquire_lock(const st_ptr& st, const ns_ptr& ns, const std::string& full,
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
        // the lock, which is how we could take it). A value that does not
        // decode is loaded again.
        auto cur = read_stored(std::move(resp.at(1)), full, st->codec);
        if (cur && cur->what != stored_read::kind::missing) {
          std::optional<std::string> found;
          if (cur->what == stored_read::kind::value) found = std::move(cur->plain);
          if (ours) release_lock(st, full, token);
          return complete_flight(st, full, error_code{}, std::move(found));
        }
        if (ours) return run_loader(st, ns, full, key, load, token);
        if (clock::now() >= give_up) return run_loader(st, ns, full, key, load, std::string());
        auto timer = std::make_shared<boost::asio::steady_timer>(st->executor(), ms(20));
        timer->async_wait([st, ns, full, key, load, give_up, timer](error_code) {
          acquire_lock(st, ns, full, key, load, give_up);
        });
      });
}

// Runs the loader for `full` unless a load is already in flight; `waiter`
// (null: a background refresh) gets the result.
void start_load(const st_ptr& st, const ns_ptr& ns, const std::string& full, const std::string& key,
                const loader& load, const waiter_ptr& waiter) {
  {
    std::lock_guard lock(st->flight_mutex);
    auto [it, first] = st->flights.try_emplace(full, nullptr);
    if (!first) {
      if (waiter) it->second->waiters.push_back(std::move(*waiter));
      return;
    }
    it->second = std::make_shared<flight>();
    if (waiter) it->second->waiters.push_back(std::move(*waiter));
  }
  if (ns->opts.distributed_lock) {
    acquire_lock(st, ns, full, key, load, clock::now() + 2 * ns->opts.lock_ttl);
  } else {
    run_loader(st, ns, full, key, load, std::string());
  }
}

}  // namespace

void get_or_load(const st_ptr& st, const std::string& ns, const std::string& key, loader load,
                 cache::get_handler h) {
  auto t = resolve(*st, ns, key);
  if (!t) return complete_early(*st, std::move(h), t.error(), std::optional<std::string>());
  auto nsp = t->ns;
  auto full = t->full;
  auto hp = std::make_shared<cache::get_handler>(std::move(h));
  fetch(st, nsp, full, true,
        [st, nsp, full, key, load = std::move(load), hp](error_code ec, fetched f) mutable {
          const auto& o = nsp->opts;
          if (!ec && f.what == stored_read::kind::absent) {  // negative cache hit
            nsp->hits_redis->inc();
            return complete_now(st->executor(), std::move(*hp), error_code{},
                                std::optional<std::string>());
          }
          if (!ec && f.what == stored_read::kind::value) {
            if (!f.from_near) nsp->hits_redis->inc();  // near-cache hits count there
            thread_local std::mt19937_64 rng(std::random_device{}());
            const double u = std::uniform_real_distribution<double>(1e-12, 1.0)(rng);
            const auto r = decide_refresh(f.ttl, std::chrono::duration_cast<ms>(o.stale_grace),
                                          o.early_refresh_beta, nsp->load_ms->load(), u);
            if (r == refresh::stale) nsp->stale_served->inc();
            if (r != refresh::none) start_load(st, nsp, full, key, load, nullptr);
            return complete_now(st->executor(), std::move(*hp), error_code{},
                                std::optional<std::string>(std::move(f.value)));
          }
          // A miss, or Redis failed: load (Redis errors do not stop the
          // caller from getting the value; storing it may fail, quietly).
          // Counted once the caller waits on the flight.
          start_load(st, nsp, full, key, load, hp);
          nsp->misses->inc();
        });
}

}  // namespace rcache::cache_detail
