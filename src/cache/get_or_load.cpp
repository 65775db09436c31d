// get_or_load: cache-aside with one loader per key at a time.
//
//   1. fetch() the key (the near cache in front). A value is answered at
//      once, and may start a background reload (stale-while-revalidate,
//      XFetch early refresh: refresh.hpp decides); the negative-cache
//      marker answers "no such value".
//   2. On a miss (or a Redis failure) the caller joins the key's flight:
//      the first caller starts the loader, later ones wait for its result.
//      The flight has a deadline (load_timeout): when it passes, every
//      waiter gets error::load_timeout, the flight ends, and whatever the
//      loader delivers later is dropped (not stored: a newer load may have
//      run since). A loader that never completes holds nothing but itself.
//   3. With distributed_lock, the loader runs only in the process that
//      takes `lock:<key>` (SET NX PX); the others poll for the value until
//      the lock lapses, then load themselves (all within the deadline).
//   4. The loaded value (or the negative marker) is written, then the lock
//      released (owner only, by script), then every waiter answered. A
//      failure (the loader's error, a throw: error::loader_failed, the
//      deadline) reaches every waiter, and cache_options::on_load_failure
//      with what the loader said.
//
// Loaders come in three forms (cache.hpp), each turned into a load_fn here:
// a callback taking a completion handler, a coroutine (co_spawn on the
// cache's executor), a blocking function (the loader pool's threads).
//
// Threading: flights are under state::flight_mutex; a flight's deadline
// timer is used only on its strand; the rest runs on the client's strand,
// the loader's thread or a loader-pool thread.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <random>

#include "cache/operations.hpp"
#include "cache/refresh.hpp"
#include "client/client_base.hpp"

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

using flight_ptr = std::shared_ptr<flight>;

// Removes `f` if it is still the flight of `full`; false when it had
// ended already (its deadline passed, or it completed).
[[nodiscard]] bool take_flight(const st_ptr& st, const std::string& full, const flight_ptr& f) {
  std::lock_guard lock(st->flight_mutex);
  auto it = st->flights.find(full);
  if (it == st->flights.end() || it->second != f) return false;
  st->flights.erase(it);
  return true;
}

// Answers the waiters of `f`, taken, and cancels its deadline.
void answer(const st_ptr& st, const flight_ptr& f, error_code ec,
            const std::optional<std::string>& v) {
  if (auto t = f->deadline) {
    boost::asio::post(t->get_executor(), [t] { t->cancel(); });
  }
  for (auto& w : f->waiters) complete_now(st->executor(), std::move(w), ec, v);
  f->waiters.clear();
}

bool complete_flight(const st_ptr& st, const std::string& full, const flight_ptr& f, error_code ec,
                     const std::optional<std::string>& v) {
  if (!take_flight(st, full, f)) return false;
  answer(st, f, ec, v);
  return true;
}

[[nodiscard]] bool current(const st_ptr& st, const std::string& full, const flight_ptr& f) {
  std::lock_guard lock(st->flight_mutex);
  auto it = st->flights.find(full);
  return it != st->flights.end() && it->second == f;
}

void report_failure(const state& st, const ns_state& ns, std::string_view key, error_code ec,
                    std::string_view message) {
  if (!st.opts.on_load_failure) return;
  detail::report(st.opts.on_load_failure, load_failure{ns.name, key, ec, message});
}

void release_lock(const st_ptr& st, const std::string& full, const std::string& token) {
  st->redis->async_eval(unlock_script(), {"lock:" + full}, {token}, [st](error_code ec, value) {
    if (ec) st->m.count_error(ec);
  });
}

// Writes a loaded value (or the negative marker) and releases the lock.
// A tagged load stores its value after the versions read before it ran,
// and never a negative entry (which could not carry them).
void store_loaded(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                  const std::string& key, error_code ec, const std::optional<std::string>& v,
                  const flight& f, const std::string& lock_token) {
  request r = fail_fast_request();
  const bool tagged = !f.tags.empty();
  if (tagged && f.unversioned) {
    // Not stored: nothing to record against.
  } else if (!ec && v) {
    // A value the namespace's rules keep out (counted there) or the codec
    // refuses is not stored: its caller has it anyway.
    std::optional<std::string> stored;
    if (!ns->not_cached(key, *v)) {
      auto e = tagged ? codec::encode(wrap(f.versions, *v), full, st->codec, nullptr, true)
                      : codec::encode(*v, full, st->codec);
      if (e) stored = std::move(*e);
    }
    if (stored) {
      if (st->near_cache) st->near_cache->invalidate(full);
      // The grace period is kept in Redis' TTL: a value is stale once its
      // remaining TTL is within the grace.
      const auto ttl = ns->ttl_for(key) + std::chrono::duration_cast<ms>(ns->opts.stale_grace);
      push_set(r, full, *stored, ttl, {});
    }
  } else if (!ec && !tagged && ns->opts.negative_ttl.count() > 0) {
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

[[nodiscard]] std::string lock_token_of(const st_ptr& st, const flight& f) {
  std::lock_guard lock(st->flight_mutex);
  return f.lock_token;
}

void run_loader(const st_ptr& st, const ns_ptr& ns, const std::string& full, const std::string& key,
                const load_fn& load, const flight_ptr& f);
void arm_deadline(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                  const std::string& key, const flight_ptr& f, ms timeout);

// The loader's outcome, taken: stored, then its waiters answered.
void finish_load(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                 const std::string& key, const flight_ptr& f, load_outcome out,
                 clock::time_point t0) {
  // Too late (the deadline passed, the waiters have their error): a
  // newer load may have stored a newer value since; drop this one.
  if (!take_flight(st, full, f)) return;
  const double took = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  st->m.op_load->record(clock::now() - t0);
  ns->load_ms->store(0.8 * ns->load_ms->load() + 0.2 * took);
  store_loaded(st, ns, full, key, out.ec, out.value, *f, lock_token_of(st, *f));
  if (out.ec) {  // nothing cached
    st->m.count_error(out.ec);
    report_failure(*st, *ns, key, out.ec, out.message);
    out.value.reset();
  }
  answer(st, f, out.ec, out.value);
}

// Reads the versions of a tagged load's tags (prepare_tags), then runs
// `next`. A failure to read them still lets the loader run: its value is
// answered, not stored.
void with_versions(const st_ptr& st, const ns_ptr& ns, const std::string& key, const flight_ptr& f,
                   std::function<void()> next) {
  const auto ttl = ns->ttl_for(key) + std::chrono::duration_cast<ms>(ns->opts.stale_grace);
  {
    std::lock_guard lock(st->flight_mutex);
    f->served = f->waiters.size();
  }
  prepare_tags(st, *ns, f->tags, ttl,
               [st, f, next = std::move(next)](error_code ec, std::vector<tag_version> v) {
                 {
                   std::lock_guard lock(st->flight_mutex);
                   f->versions = std::move(v);
                   f->unversioned = static_cast<bool>(ec);
                 }
                 next();
               });
}

// A tagged load whose value is in. If its tags moved while it ran, the
// value may predate an invalidation: it is not stored, and it answers only
// the waiters that had joined before the load read its versions (their
// reads overlap the invalidation: the old value is a fair answer for
// them); the load runs again, with new versions, for those that joined
// since (within the flight's deadline). So a key whose tags keep moving
// is still answered, one load per round of waiters, and never livelocks.
void settle_tagged(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                   const std::string& key, const load_fn& load, const flight_ptr& f,
                   load_outcome out, clock::time_point t0) {
  std::vector<tag_version> versions;
  {
    std::lock_guard lock(st->flight_mutex);
    if (f->unversioned || out.ec) {
      versions.clear();
    } else {
      versions = f->versions;
    }
  }
  if (versions.empty()) return finish_load(st, ns, full, key, f, std::move(out), t0);
  auto o = std::make_shared<load_outcome>(std::move(out));
  check_tags(st, *ns, versions, [st, ns, full, key, load, f, o, t0](error_code ec, bool fresh) {
    if (!ec && !fresh) {
      std::vector<cache::get_handler> early;
      bool later = false;
      {
        std::lock_guard lock(st->flight_mutex);
        // Still this key's flight, checked under the lock that its deadline
        // takes it with: once taken, its waiters are the deadline's.
        const auto it = st->flights.find(full);
        if (it == st->flights.end() || it->second != f) return;
        // Moved by construction only: Boost 1.81's any_completion_handler
        // move-assignment (which erase() would use) recurses.
        const auto n = std::min(f->served, f->waiters.size());
        std::vector<cache::get_handler> rest;
        for (std::size_t i = 0; i < f->waiters.size(); ++i) {
          (i < n ? early : rest).push_back(std::move(f->waiters[i]));
        }
        f->waiters.clear();
        f->waiters.swap(rest);
        f->served = 0;
        later = !f->waiters.empty();
        if (!later) f->unversioned = true;  // the flight ends: answered, not stored
      }
      for (auto& w : early) complete_now(st->executor(), std::move(w), o->ec, o->value);
      if (!later) return finish_load(st, ns, full, key, f, std::move(*o), t0);
      // The waiters left joined during the last attempt: the next one has a
      // deadline of its own.
      arm_deadline(st, ns, full, key, f, ns->opts.load_timeout.value_or(st->opts.load_timeout));
      return with_versions(
          st, ns, key, f, [st, ns, full, key, load, f] { run_loader(st, ns, full, key, load, f); });
    }
    if (ec) {
      std::lock_guard lock(st->flight_mutex);
      f->unversioned = true;  // unchecked: answered, not stored
    }
    finish_load(st, ns, full, key, f, std::move(*o), t0);
  });
}

void run_loader(const st_ptr& st, const ns_ptr& ns, const std::string& full, const std::string& key,
                const load_fn& load, const flight_ptr& f) {
  ns->loads->inc();
  const auto t0 = clock::now();
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto done = [st, ns, full, key, load, t0, once, f](load_outcome out) {
    if (once->exchange(true)) return;  // a loader that calls back twice
    if (!f->tags.empty()) return settle_tagged(st, ns, full, key, load, f, std::move(out), t0);
    finish_load(st, ns, full, key, f, std::move(out), t0);
  };
  // A copy: after a throw (even one after it called back) `done` still
  // ends the flight, once.
  try {
    load(done);
  } catch (const std::exception& e) {
    done({make_error_code(error::loader_failed), std::nullopt, e.what()});
  } catch (...) {
    done({make_error_code(error::loader_failed), std::nullopt,
          "a throw that is not a std::exception"});
  }
}

void after_lock_attempt(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                        const std::string& key, const load_fn& load, const flight_ptr& f,
                        clock::time_point give_up, const std::string& token, bool ours);

// SET lock NX PX: one loader in the fleet. If another process holds the
// lock, wait for its value (or for the lock to lapse), polling gently, for
// as long as the flight lasts.
void acquire_lock(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                  const std::string& key, const load_fn& load, const flight_ptr& f,
                  clock::time_point give_up) {
  static std::atomic<std::uint64_t> counter{0};
  std::string token = std::to_string(std::random_device{}()) + "-" +
                      std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  request r = fail_fast_request();
  r.push("SET", "lock:" + full, token, "NX", "PX", ns->opts.lock_ttl.count());
  r.push("GET", full);
  st->redis->async_exec(
      std::move(r), [st, ns, full, key, load, f, give_up, token](error_code ec, response resp) {
        if (!current(st, full, f)) {  // the deadline passed while we asked
          if (!ec && !resp.at(0).is_error() && !resp[0].is_null()) release_lock(st, full, token);
          return;
        }
        if (ec || resp.at(0).is_error()) {
          return run_loader(st, ns, full, key, load, f);  // no lock to be had
        }
        const bool ours = !resp[0].is_null();
        // The value may be there already: the holder finished (and released
        // the lock, which is how we could take it). A value that does not
        // decode is loaded again.
        auto cur = read_stored(std::move(resp.at(1)), full, st->codec);
        if (cur && !cur->tags.empty()) {
          // Another process's value, taken only if its tags still hold.
          auto tags = std::move(cur->tags);
          auto found = std::make_shared<std::string>(std::move(cur->plain));
          return check_tags(
              st, *ns, tags,
              [st, ns, full, key, load, f, give_up, token, ours, found](error_code e, bool fresh) {
                if (!e && fresh) {
                  if (ours) release_lock(st, full, token);
                  complete_flight(st, full, f, error_code{}, std::move(*found));
                } else {
                  after_lock_attempt(st, ns, full, key, load, f, give_up, token, ours);
                }
              });
        }
        if (cur && cur->what != stored_read::kind::missing) {
          std::optional<std::string> found;
          if (cur->what == stored_read::kind::value) found = std::move(cur->plain);
          if (ours) release_lock(st, full, token);
          complete_flight(st, full, f, error_code{}, found);
          return;
        }
        after_lock_attempt(st, ns, full, key, load, f, give_up, token, ours);
      });
}

// No value to take: the lock's holder loads; the others poll until it
// lapses.
void after_lock_attempt(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                        const std::string& key, const load_fn& load, const flight_ptr& f,
                        clock::time_point give_up, const std::string& token, bool ours) {
  if (ours) {
    {
      std::lock_guard lock(st->flight_mutex);
      f->lock_token = token;
    }
    return run_loader(st, ns, full, key, load, f);
  }
  if (clock::now() >= give_up) return run_loader(st, ns, full, key, load, f);
  auto timer = std::make_shared<boost::asio::steady_timer>(st->executor(), ms(20));
  timer->async_wait([st, ns, full, key, load, f, give_up, timer](error_code) {
    if (current(st, full, f)) acquire_lock(st, ns, full, key, load, f, give_up);
  });
}

// The flight's deadline: its waiters fail with load_timeout, a lock it
// took is released, and the loader's late outcome will be dropped.
void arm_deadline(const st_ptr& st, const ns_ptr& ns, const std::string& full,
                  const std::string& key, const flight_ptr& f, ms timeout) {
  auto timer = f->deadline;
  boost::asio::dispatch(timer->get_executor(), [st, ns, full, key, f, timeout, timer] {
    timer->expires_after(timeout);
    timer->async_wait([st, ns, full, key, f, timeout](error_code ec) {
      if (ec) return;  // cancelled: the flight completed
      if (!take_flight(st, full, f)) return;
      const auto token = lock_token_of(st, *f);
      if (!token.empty()) release_lock(st, full, token);
      const auto timed_out = make_error_code(error::load_timeout);
      st->m.count_error(timed_out);
      report_failure(*st, *ns, key, timed_out,
                     "no outcome within " + std::to_string(timeout.count()) + " ms");
      answer(st, f, timed_out, std::nullopt);
    });
  });
}

// Runs the loader for `full` unless a load is already in flight; `waiter`
// (null: a background refresh) gets the result.
void start_load(const st_ptr& st, const ns_ptr& ns, const std::string& full, const std::string& key,
                const std::vector<std::string>& tags, const load_fn& load,
                const waiter_ptr& waiter) {
  auto f = std::make_shared<flight>();
  f->tags = tags;
  {
    std::lock_guard lock(st->flight_mutex);
    auto [it, first] = st->flights.try_emplace(full, f);
    if (!first) {
      if (waiter) it->second->waiters.push_back(std::move(*waiter));
      return;
    }
    if (waiter) f->waiters.push_back(std::move(*waiter));
    f->deadline =
        std::make_shared<boost::asio::steady_timer>(boost::asio::make_strand(st->executor()));
  }
  arm_deadline(st, ns, full, key, f, ns->opts.load_timeout.value_or(st->opts.load_timeout));
  auto go = [st, ns, full, key, load, f] {
    if (ns->opts.distributed_lock) {
      acquire_lock(st, ns, full, key, load, f, clock::now() + 2 * ns->opts.lock_ttl);
    } else {
      run_loader(st, ns, full, key, load, f);
    }
  };
  if (tags.empty()) return go();
  with_versions(st, ns, key, f, [st, full, f, go] {
    if (current(st, full, f)) go();
  });
}

}  // namespace

void end_flights(const st_ptr& st, error_code ec) {
  std::vector<std::pair<std::string, flight_ptr>> all;
  {
    std::lock_guard lock(st->flight_mutex);
    for (auto& [full, f] : st->flights) all.emplace_back(full, f);
  }
  for (const auto& [full, f] : all) {
    const auto token = lock_token_of(st, *f);
    if (complete_flight(st, full, f, ec, std::nullopt) && !token.empty()) {
      release_lock(st, full, token);
    }
  }
}

load_fn from_callback(loader l) {
  return [l = std::move(l)](std::function<void(load_outcome)> done) {
    l([done = std::move(done)](error_code ec, std::optional<std::string> v) {
      done({ec, std::move(v), ec ? ec.message() : std::string()});
    });
  };
}

namespace {
[[nodiscard]] std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "a throw that is not a std::exception";
  }
}
}  // namespace

load_fn from_coroutine(const st_ptr& st, coroutine_loader c) {
  // The loader lives until its coroutine completes: a lambda coroutine's
  // captures live in the lambda, not in the coroutine's frame.
  auto shared = std::make_shared<const coroutine_loader>(std::move(c));
  return [ex = st->executor(), shared](std::function<void(load_outcome)> done) {
    boost::asio::co_spawn(
        ex, (*shared)(),
        [done = std::move(done), shared](std::exception_ptr e, std::optional<std::string> v) {
          if (e) return done({make_error_code(error::loader_failed), std::nullopt, what_of(e)});
          done({error_code{}, std::move(v), std::string()});
        });
  };
}

load_fn from_blocking(const st_ptr& st, blocking_loader b) {
  return [st, b = std::move(b)](std::function<void(load_outcome)> done) {
    auto compute = [b]() -> load_outcome {
      try {
        auto r = b();
        if (!r) return {r.error(), std::nullopt, r.error().message()};
        return {error_code{}, std::move(*r), std::string()};
      } catch (...) {
        return {make_error_code(error::loader_failed), std::nullopt,
                what_of(std::current_exception())};
      }
    };
    if (!st->loaders().submit(std::move(compute), done)) {
      done({make_error_code(error::queue_full), std::nullopt,
            "the loader threads' queue is full (or the cache is closing)"});
    }
  };
}

void get_or_load(const st_ptr& st, const std::string& ns, const std::string& key,
                 std::vector<std::string> tag_list, load_fn load, cache::get_handler h) {
  auto t = resolve(*st, ns, key);
  if (!t) return complete_early(*st, std::move(h), t.error(), std::optional<std::string>());
  auto tags = normalize_tags(std::move(tag_list));
  if (!tags) return complete_early(*st, std::move(h), tags.error(), std::optional<std::string>());
  auto nsp = t->ns;
  auto full = t->full;
  auto hp = std::make_shared<cache::get_handler>(std::move(h));
  fetch(st, nsp, full, true,
        [st, nsp, full, key, tags = std::move(*tags), load = std::move(load), hp](
            error_code ec, fetched f) mutable {
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
            if (r != refresh::none) start_load(st, nsp, full, key, tags, load, nullptr);
            return complete_now(st->executor(), std::move(*hp), error_code{},
                                std::optional<std::string>(std::move(f.value)));
          }
          // A miss, or Redis failed: load (Redis errors do not stop the
          // caller from getting the value; storing it may fail, quietly).
          // Counted once the caller waits on the flight.
          start_load(st, nsp, full, key, tags, load, hp);
          nsp->misses->inc();
        });
}

}  // namespace rcache::cache_detail
