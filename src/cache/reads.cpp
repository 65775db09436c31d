// The cache's reads: get, exists, ttl, get_many; and the plumbing every
// operation shares (operations.hpp).
#include <algorithm>
#include <mutex>

#include "cache/operations.hpp"

namespace rcache::cache_detail {

using detail::complete_now;

result<target> resolve(state& st, std::string_view ns, std::string_view key) {
  if (!valid_namespace_name(ns)) return make_error_code(error::invalid_argument);
  auto nsp = st.namespaces.find(ns);
  if (key.empty() || nsp->prefix.size() + key.size() > st.opts.max_key_size) {
    return make_error_code(error::invalid_key);
  }
  std::string full;
  full.reserve(nsp->prefix.size() + key.size());
  full.append(nsp->prefix).append(key);
  return target{std::move(nsp), std::move(full)};
}

void fill_near(state& st, const ns_state& ns, const std::string& full, std::string held,
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
  (void)st.near_cache->put(full, std::make_shared<const std::string>(std::move(held)),
                           clock::now() + life, token);
}

std::shared_ptr<const std::string> near_value(const st_ptr& st, std::string_view ns,
                                              std::string_view key) {
  if (!st->near_cache || !st->near_live.load(std::memory_order_acquire)) return nullptr;
  auto t = resolve(*st, ns, key);
  if (!t || !st->near_for(*t->ns)) return nullptr;
  auto v = st->near_cache->get(t->full, clock::now());
  // A value held in the codec's form (with tags, or beginning with its magic)
  // is left to the full read, which checks its tags.
  if (!v || near_encoded(*v)) return nullptr;
  t->ns->hits_near->inc();
  return v;
}

std::optional<std::string> try_get_near(const st_ptr& st, std::string_view ns,
                                        std::string_view key) {
  if (!st->near_cache || !st->near_live.load(std::memory_order_acquire)) return std::nullopt;
  auto t = resolve(*st, ns, key);
  if (!t || !st->near_for(*t->ns)) return std::nullopt;
  auto v = st->near_cache->get(t->full, clock::now());
  if (!v) return std::nullopt;
  auto held = near_read(*v);
  if (!held) return std::nullopt;
  if (!held->tags.empty()) {
    // Served only when the near cache also holds every current version.
    const auto hold = tags_hold_near(*st, *t->ns, held->tags);
    if (!hold || !*hold) return std::nullopt;
  }
  t->ns->hits_near->inc();
  return std::move(held->plain);
}

namespace {

// get(): the read and its counts; `done(ec, optional<string>)` gets the
// value, from the client's strand or posted (near-cache hit, bad key).
template <class Done>
void get_value(const st_ptr& st, std::string_view ns, std::string_view key, Done done) {
  auto t = resolve(*st, ns, key);
  if (!t) {
    boost::asio::post(st->executor(), [done = std::move(done), ec = t.error()]() mutable {
      done(ec, std::optional<std::string>());
    });
    return;
  }
  auto nsp = t->ns;
  fetch(st, std::move(t->ns), std::move(t->full), false,
        [nsp = std::move(nsp), done = std::move(done)](error_code ec, fetched f) mutable {
          std::optional<std::string> v;
          if (!ec && f.what == stored_read::kind::value) {
            if (!f.from_near) nsp->hits_redis->inc();  // near-cache hits count there
            v = std::move(f.value);
          } else if (!ec) {
            nsp->misses->inc();
          }
          done(ec, std::move(v));
        });
}

}  // namespace

void get(const st_ptr& st, const std::string& ns, const std::string& key, cache::get_handler h) {
  get_value(st, ns, key,
            [st, h = std::move(h)](error_code ec, std::optional<std::string> v) mutable {
              complete_now(st->executor(), std::move(h), ec, std::move(v));
            });
}

void get(const st_ptr& st, std::string_view ns, std::string_view key, value_callback done) {
  get_value(st, ns, key, [done](error_code ec, std::optional<std::string> v) {
    done.fn(done.context, ec, std::move(v));
  });
}

void exists(const st_ptr& st, const std::string& ns, const std::string& key,
            cache::bool_handler h) {
  simple(
      st, st->m.op_exists, ns, key, false,
      [](request& r, const target& t) { r.push("EXISTS", t.full); }, std::move(h), positive);
}

void ttl(const st_ptr& st, const std::string& ns, const std::string& key, cache::int_handler h) {
  simple(
      st, st->m.op_ttl, ns, key, false, [](request& r, const target& t) { r.push("PTTL", t.full); },
      std::move(h), [](const value& v) { return v.integer; });
}

namespace {

// The answers of a get_many that wait for tag checks (fetch_detail::
// answer_tagged), each entry's counted as get counts it.
struct many_answer {
  // Constructed with the handler: Boost 1.81's any_completion_handler
  // move-assignment recurses.
  many_answer(std::size_t n, cache::many_handler handler) : out(n), h(std::move(handler)) {}
  std::vector<std::optional<std::string>> out;
  cache::many_handler h;
  std::size_t pending = 1;  // one for the caller, released by settle()
  error_code first_error{};
  std::mutex mutex;
};

void settle(const st_ptr& st, const std::shared_ptr<many_answer>& a) {
  std::unique_lock lock(a->mutex);
  if (--a->pending > 0) return;
  lock.unlock();
  complete_now(st->executor(), std::move(a->h), a->first_error, std::move(a->out));
}

void answer_tagged_item(const st_ptr& st, const std::shared_ptr<many_answer>& a, std::size_t index,
                        const target& t, stored_read r, bool near, std::int64_t pttl,
                        std::optional<near::fill_token> token) {
  {
    std::lock_guard lock(a->mutex);
    ++a->pending;
  }
  auto nsp = t.ns;
  fetch_detail::answer_tagged(st, t.ns, t.full, std::move(r), near, pttl, token,
                              [st, a, index, nsp](error_code ec, fetched f) {
                                {
                                  std::lock_guard lock(a->mutex);
                                  if (ec && !a->first_error) a->first_error = ec;
                                  if (!ec && f.what == stored_read::kind::value) {
                                    if (!f.from_near) nsp->hits_redis->inc();
                                    a->out[index] = std::move(f.value);
                                  } else if (!ec) {
                                    nsp->misses->inc();
                                  }
                                }
                                settle(st, a);
                              });
}

}  // namespace

void get_many(const st_ptr& st, const std::string& ns, std::vector<std::string> keys,
              cache::many_handler h) {
  auto a = std::make_shared<many_answer>(keys.size(), std::move(h));
  std::vector<std::size_t> wanted;  // indexes still to read from Redis
  std::vector<target> targets;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto t = resolve(*st, ns, keys[i]);
    if (!t) return complete_early(*st, std::move(a->h), t.error(), std::move(a->out));
    targets.push_back(std::move(*t));
  }
  const bool live = st->near_cache && st->near_live.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    if (live && st->near_for(*t.ns)) {
      if (auto v = st->near_cache->get(t.full, clock::now())) {
        if (auto held = near_read(*v)) {
          if (!held->tags.empty()) {
            answer_tagged_item(st, a, i, t, std::move(*held), true, -1, std::nullopt);
          } else {
            t.ns->hits_near->inc();
            a->out[i] = std::move(held->plain);
          }
          continue;
        }
      }
    }
    wanted.push_back(i);
  }
  if (wanted.empty()) return settle(st, a);
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
    fills.push_back({i, st->near_for(*t.ns) ? std::optional(st->near_cache->begin_fill(t.full))
                                            : std::nullopt});
    names.push_back(t.full);
  }
  r.push_range("MGET", names);
  for (auto i : wanted) r.push("PTTL", targets[i].full);
  const auto t0 = clock::now();
  st->redis->async_exec(std::move(r), [st, t0, targets = std::move(targets),
                                       fills = std::move(fills),
                                       a](error_code ec, response resp) mutable {
    // Tag checks of near-cache hits may be answering meanwhile: the
    // shared answer is written under its lock (never held across a check,
    // which may answer inline).
    auto put = [&a](std::size_t index, std::optional<std::string> v, error_code e) {
      std::lock_guard lock(a->mutex);
      if (e && !a->first_error) a->first_error = e;
      if (v) a->out[index] = std::move(*v);
    };
    if ((ec = st->m.tally(st->m.op_get_many, t0, ec, resp))) {
      put(0, std::nullopt, ec);
      return settle(st, a);
    }
    auto& values = resp[0].elements;
    for (std::size_t j = 0; j < fills.size() && j < values.size(); ++j) {
      const auto& t = targets[fills[j].index];
      auto read = read_stored(std::move(values[j]), t.full, st->codec);
      if (!read) {
        st->m.count_error(read.error());
        put(0, std::nullopt, read.error());
        break;
      }
      if (read->what != stored_read::kind::value) {
        if (fills[j].token) st->near_cache->end_fill(t.full, *fills[j].token);  // as in fetch()
        t.ns->misses->inc();
        continue;
      }
      const std::int64_t pttl = resp.at(1 + j).integer;
      if (!read->tags.empty()) {
        answer_tagged_item(st, a, fills[j].index, t, std::move(*read), false, pttl, fills[j].token);
        continue;
      }
      t.ns->hits_redis->inc();
      if (fills[j].token) fill_near(*st, *t.ns, t.full, near_form(*read), pttl, *fills[j].token);
      put(fills[j].index, std::move(read->plain), error_code{});
    }
    settle(st, a);
  });
}

}  // namespace rcache::cache_detail
