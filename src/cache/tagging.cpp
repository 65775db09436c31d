// Tags at work (tags.hpp has the design): the versions a write records
// (prepare_tags), the check of a read (check_tags, through the near cache),
// and invalidation (invalidate_tags).
//
// Why reads stay coherent: a tag's version key is read with a plain GET on
// the cache's connection, which has CLIENT TRACKING on, and kept in the
// near cache like any value (the same fill protocol). An INCR of the tag,
// from any process, makes Redis push an invalidation of that key to every
// connection that read it, so the next check of an entry with that tag
// finds no version in the near cache and asks Redis. A check therefore
// costs no round trip while the tags do not change.
//
// Why a version key outlives its entries: every write with a tag runs the
// prepare script on its key, which makes it (random first version) or
// extends its TTL to twice the entry's when it would expire before the
// entry. Extending less often than every write matters: a PEXPIRE is a
// change, and would drop the version from every near cache.
//
// In a cluster each tag key is a key of its own, in the slot of its name
// (or of its hash tag): the prepare script runs once per slot the keys fall
// in (once in all on a single server), invalidation once per tag, and the
// reads of several versions are split per node by the cluster client.
//
// This connection's own changes: Redis 7 sends a client the invalidation
// of a key it changed itself after the reply to the change, so
// invalidate_tags drops its own near-cache copy of a version when the INCR
// is answered (state::after_write), not when the push comes.
//
// Threading: as operations.hpp; the gathering states below are touched by
// completions on the client's strands (one per node in a cluster), under
// their own lock.
#include <map>
#include <mutex>

#include "cache/operations.hpp"
#include "cluster/slot_map.hpp"

namespace rcache::cache_detail {

using detail::complete_now;

namespace {

// KEYS the version keys of tags (one slot); ARGV[1] the entry's TTL in ms
// (0: none), ARGV[1 + i] the version KEYS[i] starts from if missing,
// ARGV[2 + #KEYS] the TTL to extend to. Returns the versions, in order.
const script& prepare_script() {
  static const script s(R"(local ttl = tonumber(ARGV[1])
local extend = ARGV[2 + #KEYS]
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if not v then
    v = ARGV[1 + i]
    if ttl > 0 then redis.call('SET', key, v, 'PX', extend)
    else redis.call('SET', key, v) end
  else
    local left = redis.call('PTTL', key)
    if ttl == 0 then
      if left >= 0 then redis.call('PERSIST', key) end
    elseif left >= 0 and left < ttl then
      redis.call('PEXPIRE', key, extend)
    end
  end
  out[i] = v
end
return out)");
  return s;
}

// KEYS[1] a tag's version key: moved on only if it exists (an INCR of a
// missing key would make one without a TTL, and no entry outlives its
// tag's key anyway).
const script& invalidate_script() {
  static const script s(
      "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end "
      "return 0");
  return s;
}

// Results gathered from one call per tag.
template <class T>
struct gather {
  explicit gather(std::size_t n) : items(n), left(n) {}
  std::mutex mutex;
  std::vector<T> items;
  std::size_t left;
  error_code first_error{};
  // Records item `i` (or an error); true for the last one.
  bool put(std::size_t i, error_code ec, T v) {
    std::lock_guard lock(mutex);
    if (ec && !first_error) first_error = ec;
    items[i] = std::move(v);
    return --left == 0;
  }
};

}  // namespace

std::optional<bool> tags_hold_near(state& st, const ns_state& ns,
                                   const std::vector<tag_version>& recorded) {
  if (!st.near_cache || !st.near_live.load(std::memory_order_acquire)) return std::nullopt;
  const auto now = clock::now();
  for (const auto& t : recorded) {
    auto v = st.near_cache->get(tag_version_key(ns.name, t.tag), now);
    if (!v) return std::nullopt;
    const auto current = parse_version(*v);
    if (!current || *current != t.version) return false;
  }
  return true;
}

void check_tags(const st_ptr& st, const ns_state& ns, const std::vector<tag_version>& recorded,
                tags_checked done) {
  if (auto held = tags_hold_near(*st, ns, recorded)) return done(error_code{}, *held);
  // One request: GET + PTTL of every tag key (their near-cache copies are
  // what the next checks use).
  const bool use_near = st->near_cache != nullptr;
  std::vector<std::string> keys;
  std::vector<std::optional<near::fill_token>> tokens;
  request r = fail_fast_request();
  for (const auto& t : recorded) {
    keys.push_back(tag_version_key(ns.name, t.tag));
    tokens.push_back(use_near ? std::optional(st->near_cache->begin_fill(keys.back()))
                              : std::nullopt);
    r.push("GET", keys.back()).push("PTTL", keys.back());
  }
  const auto t0 = clock::now();
  st->redis->async_exec(
      std::move(r), [st, recorded, keys = std::move(keys), tokens = std::move(tokens), t0,
                     done = std::move(done)](error_code ec, response resp) {
        st->m.op_tag_versions->record(clock::now() - t0);
        if (!ec) {
          for (const auto& v : resp) {
            if (v.is_error()) ec = error_of(v);
          }
        }
        if (ec) {
          for (std::size_t i = 0; i < keys.size(); ++i) {
            if (tokens[i]) st->near_cache->end_fill(keys[i], *tokens[i]);
          }
          return done(ec, false);
        }
        std::vector<std::optional<std::uint64_t>> current;
        for (std::size_t i = 0; i < keys.size(); ++i) {
          const value& got = resp.at(2 * i);
          const std::int64_t pttl = resp.at(2 * i + 1).integer;
          current.push_back(got.is_null() ? std::nullopt : parse_version(got.str));
          if (!tokens[i]) continue;
          auto life = std::chrono::duration_cast<ms>(st->opts.near_cache_max_ttl);
          if (pttl >= 0) life = std::min(life, ms(pttl));
          if (!current.back() || pttl == -2 || life.count() <= 0) {
            st->near_cache->end_fill(keys[i], *tokens[i]);
          } else {
            (void)st->near_cache->put(keys[i], std::make_shared<const std::string>(got.str),
                                      clock::now() + life, *tokens[i]);
          }
        }
        done(error_code{}, versions_hold(recorded, current));
      });
}

void drop_stale(const st_ptr& st, const ns_state& ns, const std::string& full) {
  ns.tag_stale->inc();
  if (st->near_cache) st->near_cache->invalidate(full);
  request r = fail_fast_request();
  r.push("UNLINK", full);
  st->redis->async_exec(std::move(r), [st, full](error_code ec, response) {
    st->after_write(full);
    if (ec) st->m.count_error(ec);
  });
}

void prepare_tags(const st_ptr& st, const ns_state& ns, const std::vector<std::string>& tags,
                  ms ttl, std::function<void(error_code, std::vector<tag_version>)> done) {
  // One script per slot the version keys fall in: one for a single server,
  // and for tags sharing a hash tag (a geo set's cells).
  std::map<std::uint16_t, std::vector<std::size_t>> by_slot;
  const bool cluster = !st->opts.redis.cluster_nodes.empty();
  for (std::size_t i = 0; i < tags.size(); ++i) {
    by_slot[cluster ? cluster::key_slot(tag_version_key(ns.name, tags[i])) : 0].push_back(i);
  }
  // Each group's versions with their places in `tags`.
  using placed = std::vector<std::pair<std::size_t, tag_version>>;
  auto g = std::make_shared<gather<placed>>(by_slot.size());
  auto d = std::make_shared<decltype(done)>(std::move(done));
  // Twice the entry's TTL, so that the next writes seldom extend it again.
  const auto extended = std::to_string(ttl.count() > 0 ? 2 * ttl.count() : 0);
  std::size_t group = 0;
  for (const auto& [slot, members] : by_slot) {
    std::vector<std::string> keys;
    std::vector<std::string> args{std::to_string(ttl.count())};
    placed named;
    for (auto i : members) {
      keys.push_back(tag_version_key(ns.name, tags[i]));
      args.push_back(std::to_string(initial_version()));
      named.emplace_back(i, tag_version{tags[i], 0});
    }
    args.push_back(extended);
    st->redis->async_eval(prepare_script(), std::move(keys), std::move(args),
                          [st, g, d, n = tags.size(), at = group++, named = std::move(named)](
                              error_code ec, value v) mutable {
                            if (!ec && v.is_error()) ec = error_of(v);
                            if (!ec && v.elements.size() != named.size())
                              ec = make_error_code(error::wrong_type);
                            for (std::size_t j = 0; !ec && j < named.size(); ++j) {
                              const auto parsed = parse_version(v.elements[j].str);
                              if (!parsed) ec = make_error_code(error::wrong_type);
                              named[j].second.version = parsed.value_or(0);
                            }
                            if (!g->put(at, ec, std::move(named))) return;
                            if (g->first_error) {
                              st->m.count_error(g->first_error);
                              return (*d)(g->first_error, {});
                            }
                            std::vector<tag_version> all(n);
                            for (auto& part : g->items) {
                              for (auto& [i, tv] : part) all[i] = std::move(tv);
                            }
                            (*d)(error_code{}, std::move(all));
                          });
  }
}

void invalidate_tags(const st_ptr& st, const std::string& ns, std::vector<std::string> tags,
                     cache::int_handler h) {
  auto normal = normalize_tags(std::move(tags));
  if (!valid_namespace_name(ns) || !normal || normal->empty()) {
    return complete_early(*st, std::move(h), make_error_code(error::invalid_argument),
                          std::int64_t{0});
  }
  auto space = st->namespaces.find(ns);
  auto g = std::make_shared<gather<std::int64_t>>(normal->size());
  auto hp = std::make_shared<cache::int_handler>(std::move(h));
  const auto t0 = clock::now();
  for (std::size_t i = 0; i < normal->size(); ++i) {
    auto key = tag_version_key(ns, (*normal)[i]);
    if (st->near_cache) st->near_cache->invalidate(key);  // our own copy, before the INCR
    st->redis->async_eval(
        invalidate_script(), {key}, {},
        [st, g, hp, i, t0, space, key, tag = (*normal)[i]](error_code ec, value v) {
          if (!ec && v.is_error()) ec = error_of(v);
          const bool moved = !ec && v.integer > 0;
          st->after_write(key);  // with NOLOOP no push tells this connection
          if (moved) {
            space->tags_invalidated->inc();
            st->observe(write_event::kind::invalidate_tag, space->name, tag, key, -1);
          }
          if (!g->put(i, ec, moved ? 1 : 0)) return;
          st->m.op_invalidate_tags->record(clock::now() - t0);
          std::int64_t n = 0;
          for (auto x : g->items) n += x;
          if (g->first_error) st->m.count_error(g->first_error);
          complete_now(st->executor(), std::move(*hp), g->first_error, n);
        });
  }
}

}  // namespace rcache::cache_detail
