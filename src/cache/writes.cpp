// The cache's writes: set, set_many, del, expire, touch. Each drops the
// key's near-cache entry before its request is sent and again when it is
// answered (state::after_write).
#include <algorithm>

#include "cache/operations.hpp"

namespace rcache::cache_detail {

using detail::complete_now;

namespace {

// Encodes `value` for `full` after the namespace's size and skip rules.
// nullopt with no error: not cached by rule (the metrics say so).
// With `tags`, the value is stored after their tag section.
result<std::optional<std::string>> encode_for(state& st, const ns_state& ns, const std::string& key,
                                              const std::string& full, const std::string& value,
                                              const std::vector<tag_version>& tags = {}) {
  // Above the cache-wide limit is an error; above the namespace's own
  // (smaller) limit is a rule: not cached, and counted.
  if (value.size() > st.opts.max_value_size) return make_error_code(error::value_too_large);
  if (ns.not_cached(key, value)) return std::optional<std::string>();
  codec::encode_stats es;
  auto stored = tags.empty() ? codec::encode(value, full, st.codec, &es)
                             : codec::encode(wrap(tags, value), full, st.codec, &es, true);
  if (!stored) return stored.error();
  st.m.plain_bytes_written->inc(es.plain_bytes);
  st.m.stored_bytes_written->inc(es.stored_bytes);
  st.m.bytes_out->inc(es.stored_bytes);
  return std::optional<std::string>(std::move(*stored));
}

// The TTL a SET with `o` leaves, for the observer: -1 when KEEPTTL.
std::int64_t set_ttl_ms(ms ns_ttl, const set_options& o) {
  if (o.keep_ttl) return -1;
  return std::max<std::int64_t>(0, o.ttl ? o.ttl->count() : ns_ttl.count());
}

// A set the observer is told of once Redis confirmed it.
struct observed_set {
  observed_set(std::string_view n, std::string_view k, std::string v, std::int64_t t)
      : ns(n), key(k), value(std::move(v)), ttl_ms(t) {}
  std::string ns, key, value;
  std::int64_t ttl_ms;
  void tell(state& st, const std::string& full) const {
    st.observe(write_event::kind::set, ns, key, full, ttl_ms, value);
  }
};

}  // namespace

void push_set(request& r, const std::string& full, const std::string& stored, ms ttl,
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

namespace {

// The SET of `v` (after its tags' versions, if it has any, were read).
void write_set(const st_ptr& st, const target& t, const std::string& ns, const std::string& key,
               std::string v, const set_options& o, const std::vector<tag_version>& tags,
               cache::bool_handler h) {
  auto stored = encode_for(*st, *t.ns, key, t.full, v, tags);
  if (!stored) return complete_early(*st, std::move(h), stored.error(), false);
  if (st->near_cache) st->near_cache->invalidate(t.full);  // before the write is even sent
  if (!*stored) return complete_early(*st, std::move(h), error_code{}, false);
  request r = fail_fast_request();
  const auto ns_ttl = t.ns->ttl_for(key);
  push_set(r, t.full, **stored, ns_ttl, o);
  const auto t0 = clock::now();
  // What the observer is told, kept only when there is one.
  std::optional<observed_set> report;
  if (st->opts.observer) report.emplace(ns, key, std::move(v), set_ttl_ms(ns_ttl, o));
  st->redis->async_exec(std::move(r), [st, t0, full = t.full, report = std::move(report),
                                       h = std::move(h)](error_code ec, response resp) mutable {
    ec = st->m.tally(st->m.op_set, t0, ec, resp);
    st->after_write(full);
    const bool written = !ec && !resp.at(0).is_null();
    if (written && report) report->tell(*st, full);
    complete_now(st->executor(), std::move(h), ec, written);
  });
}

}  // namespace

void set(const st_ptr& st, const std::string& ns, const std::string& key, std::string v,
         set_options o, cache::bool_handler h) {
  auto t = resolve(*st, ns, key);
  if (!t) return complete_early(*st, std::move(h), t.error(), false);
  if (o.tags.empty()) return write_set(st, *t, ns, key, std::move(v), o, {}, std::move(h));
  auto tags = normalize_tags(std::move(o.tags));
  if (!tags || o.keep_ttl) {
    return complete_early(*st, std::move(h), make_error_code(error::invalid_argument), false);
  }
  if (v.size() > st->opts.max_value_size) {
    return complete_early(*st, std::move(h), make_error_code(error::value_too_large), false);
  }
  if (st->near_cache) st->near_cache->invalidate(t->full);
  const auto ttl = o.ttl.value_or(t->ns->ttl_for(key));
  auto hp = std::make_shared<cache::bool_handler>(std::move(h));
  auto nsp = t->ns;
  prepare_tags(st, *nsp, *tags, ttl,
               [st, t = std::move(*t), ns, key, v = std::move(v), o = std::move(o), hp](
                   error_code ec, std::vector<tag_version> versions) mutable {
                 if (ec) return complete_now(st->executor(), std::move(*hp), ec, false);
                 write_set(st, t, ns, key, std::move(v), o, versions, std::move(*hp));
               });
}

void set_many(const st_ptr& st, const std::string& ns,
              std::vector<std::pair<std::string, std::string>> items, cache::bools_handler h) {
  request r = fail_fast_request();
  std::vector<std::string> written;  // the keys sent, for after_write
  std::vector<std::size_t> sent;     // their items' positions
  std::vector<bool> outcome(items.size(), false);
  std::vector<observed_set> report;  // per key sent, when there is an observer
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& [key, v] = items[i];
    auto t = resolve(*st, ns, key);
    if (!t) return complete_early(*st, std::move(h), t.error(), std::vector<bool>());
    auto stored = encode_for(*st, *t->ns, key, t->full, v);
    if (!stored) return complete_early(*st, std::move(h), stored.error(), std::vector<bool>());
    if (st->near_cache) st->near_cache->invalidate(t->full);
    if (!*stored) continue;  // kept out by a rule: not written
    const auto ns_ttl = t->ns->ttl_for(key);
    push_set(r, t->full, **stored, ns_ttl, {});
    if (st->opts.observer) report.emplace_back(ns, key, v, set_ttl_ms(ns_ttl, {}));
    written.push_back(std::move(t->full));
    sent.push_back(i);
  }
  if (r.empty()) return complete_early(*st, std::move(h), error_code{}, std::move(outcome));
  const auto t0 = clock::now();
  st->redis->async_exec(std::move(r), [st, t0, written = std::move(written), sent = std::move(sent),
                                       outcome = std::move(outcome), report = std::move(report),
                                       h = std::move(h)](error_code ec, response resp) mutable {
    ec = st->m.tally(st->m.op_set_many, t0, ec, resp);
    for (const auto& full : written) st->after_write(full);
    for (std::size_t j = 0; j < sent.size() && j < resp.size(); ++j) {
      outcome[sent[j]] = !resp[j].is_error() && !resp[j].is_null();
      if (outcome[sent[j]] && j < report.size()) report[j].tell(*st, written[j]);
    }
    complete_now(st->executor(), std::move(h), ec, std::move(outcome));
  });
}

void del(const st_ptr& st, const std::string& ns, const std::string& key, cache::bool_handler h) {
  simple(
      st, st->m.op_del, ns, key, true, [](request& r, const target& t) { r.push("DEL", t.full); },
      std::move(h), positive, observed{write_event::kind::del, 0});
}

void expire(const st_ptr& st, const std::string& ns, const std::string& key, ms ttl,
            cache::bool_handler h) {
  // A shorter TTL must not leave a longer-lived near-cache copy behind.
  simple(
      st, st->m.op_expire, ns, key, true,
      [ttl](request& r, const target& t) { r.push("PEXPIRE", t.full, ttl.count()); }, std::move(h),
      positive, observed{write_event::kind::expire, ttl.count()});
}

void touch(const st_ptr& st, const std::string& ns, const std::string& key, cache::bool_handler h) {
  // Touch keeps the near-cache entry (the value is unchanged), so it is
  // reported as a write with no invalidation of its own.
  const auto space = st->namespaces.find(ns);
  const std::int64_t ttl_ms = space ? std::max<std::int64_t>(0, space->ttl_for(key).count()) : -1;
  simple(
      st, st->m.op_touch, ns, key, false,
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
      std::move(h), positive, observed{write_event::kind::touch, ttl_ms});
}

}  // namespace rcache::cache_detail
