// The feed's hub; see hub.hpp.
//
// Everything below runs on the hub's strand: the subscriptions, the
// matcher, the shards' epochs and cursors. Coroutines (a subscribe's probe,
// a resume, each reader) suspend only at their Redis round trips and
// timers, so every step between two suspensions is atomic with respect to
// the others; the ordering arguments below rest on that.
#include "feed/hub.hpp"

#include <rcache/request.hpp>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>
#include <utility>

#include "feed/keyspace.hpp"

namespace rcache::feed {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string random_epoch() {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device rd;
  std::string s(16, '0');
  for (auto& c : s) c = hex[rd() % 16];
  return s;
}

// What XINFO STREAM tells of a stream: its oldest entry and its last ID.
struct stream_info {
  std::optional<stream_id> first;
  stream_id last;
  bool complete = true;  // nothing was ever removed from it (or it is missing)
};

// nullopt: the reply is an error other than a missing stream.
std::optional<stream_info> info_of(const value& v) {
  if (v.is_error()) {
    if (v.str.find("no such key") != std::string::npos) return stream_info{};
    return std::nullopt;
  }
  if (!v.is_aggregate()) return std::nullopt;
  stream_info info;
  std::int64_t length = -1;
  std::int64_t added = -2;  // Redis before 7.0 does not say: not known to be complete
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    const auto& name = v.elements[i].str;
    const auto& val = v.elements[i + 1];
    if (name == "last-generated-id") {
      auto id = stream_id::parse(val.str);
      if (!id) return std::nullopt;
      info.last = *id;
    } else if (name == "first-entry" && val.is_aggregate() && !val.elements.empty()) {
      info.first = stream_id::parse(val.elements[0].str);
    } else if (name == "length") {
      length = val.integer;
    } else if (name == "entries-added") {
      added = val.integer;
    }
  }
  info.complete = added == length;
  return info;
}

using fields_t = std::vector<std::pair<std::string, std::string>>;

// The entries of an XRANGE reply, or of one stream of an XREAD reply.
std::vector<std::pair<stream_id, fields_t>> entries_of(const value& v) {
  std::vector<std::pair<stream_id, fields_t>> out;
  if (!v.is_aggregate()) return out;
  out.reserve(v.elements.size());
  for (const auto& e : v.elements) {
    if (!e.is_aggregate() || e.elements.size() != 2) continue;
    auto id = stream_id::parse(e.elements[0].str);
    if (!id) continue;
    fields_t f;
    const auto& kv = e.elements[1].elements;
    for (std::size_t i = 0; i + 1 < kv.size(); i += 2) f.emplace_back(kv[i].str, kv[i + 1].str);
    out.emplace_back(*id, std::move(f));
  }
  return out;
}

// The next ID after `id` (XRANGE's start is inclusive).
std::string after(stream_id id) {
  if (id.seq == UINT64_MAX) return std::to_string(id.ms + 1) + "-0";
  return std::to_string(id.ms) + "-" + std::to_string(id.seq + 1);
}

}  // namespace

// ---- state --------------------------------------------------------------------

struct hub::impl : std::enable_shared_from_this<hub::impl> {
  impl(asio::any_io_executor ex, client& c, client_config rc, shard_layout l, renderer r,
       hub_options o)
      : strand(asio::make_strand(ex)),
        commands(c),
        reader_config(std::move(rc)),
        layout(std::move(l)),
        render(std::move(r)),
        opts(std::move(o)),
        shards(layout.count()),
        direct(opts.direct_write_window, opts.max_held_notifications),
        direct_timer(strand) {
    reader_config.client_name = "rcache-feed";
    // One reader for all shards, unless a Cluster keeps streams of other
    // slots apart.
    const bool cluster = !reader_config.cluster_nodes.empty();
    readers.resize(cluster ? layout.count() : 1);
  }

  struct shard_state {
    std::size_t needed = 0;  // subscriptions reading it
    bool known = false;      // epoch and cursor set
    std::string epoch;
    stream_id cursor;  // the last ID handed out
  };

  // A connection: its subscriptions by id, and its seat in the fan-out.
  struct sink_state {
    std::unordered_map<std::string, subscription_id> ids;
    fanout::seat seat;
  };

  struct sub_state {
    std::weak_ptr<sink> owner;
    const sink* owner_key = nullptr;
    sink_state* owner_state = nullptr;  // by_sink's node (stable)
    subscription_spec spec;
    std::vector<unsigned> shards;  // read for it
    bool live = false;             // in the matcher
    bool replaying = false;        // being fed what it missed
    /// A resumed subscription's positions: a live change at or before one
    /// was sent already (a gateway whose reader is behind the one the
    /// client came from must not send it again).
    std::vector<position> floor;
    std::shared_ptr<asio::steady_timer> wake;  // its resume, waiting for room
  };

  struct reader {
    std::unique_ptr<client> redis;
    std::unique_ptr<asio::steady_timer> wake;  // cancelled when it has shards to read
    bool running = false;
  };

  asio::strand<asio::any_io_executor> strand;
  client& commands;
  client_config reader_config;
  shard_layout layout;
  renderer render;
  hub_options opts;
  std::vector<shard_state> shards;
  std::unordered_map<subscription_id, sub_state> subs;
  std::unordered_map<const sink*, sink_state> by_sink;
  fanout fan;
  matcher m;
  subscription_id next_id = 1;
  std::unique_ptr<subscriber> pubsub;
  std::unordered_map<std::string, std::size_t> channel_refs;
  std::vector<reader> readers;
  bool stopped = false;
  bool available = true;  // what the sinks were last told

  // Direct writes: keyspace notifications, told from the writes that are
  // also logged.
  std::unique_ptr<subscriber> keyspace;
  bool keyspace_asked = false;
  direct_write_filter direct;
  asio::steady_timer direct_timer;
  bool direct_timer_armed = false;

  unsigned reader_of(unsigned shard) const { return readers.size() == 1 ? 0 : shard; }

  template <class F>
  void on_strand(F f) {
    asio::post(strand, [self = shared_from_this(), f = std::move(f)]() mutable { f(*self); });
  }

  void spawn(asio::awaitable<void> a) {
    asio::co_spawn(strand, std::move(a), [](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (...) {  // NOLINT(bugprone-empty-catch): a bug or an allocation failure;
        }                // the hub goes on with its other work
      }
    });
  }

  // ---- subscriptions -------------------------------------------------------------

  asio::awaitable<void> subscribe(std::shared_ptr<sink> s, subscription_spec spec);
  // False when `s` has no subscription `id`.
  bool unsubscribe(const sink* s, const std::string& id);
  void remove(subscription_id sid);
  asio::awaitable<std::optional<std::vector<stream_info>>> probe(std::vector<unsigned> which);
  void adopt(unsigned shard, const std::string& epoch, const stream_info& info);
  void epoch_changed(unsigned shard, const std::string& epoch);
  asio::awaitable<void> resume(subscription_id sid, std::vector<position> from);
  bool wants(const subscription_spec& spec, const change& c) const;

  // ---- reading ---------------------------------------------------------------------

  void need(unsigned shard);
  asio::awaitable<void> read(unsigned r);
  void dispatch(change& c);
  sink_state& sink_of(const std::shared_ptr<sink>& s);
  void forget(std::unordered_map<const sink*, sink_state>::iterator it);
  void on_channel_message(const message& msg);
  void tell_all(bool available_now, const std::string& detail);

  // ---- direct writes ---------------------------------------------------------------

  void watch_keyspace();
  void on_keyspace(const message& msg);
  void logged(const change& c);
  void deliver_direct(const std::string& redis_key, write_event::kind op);
  void arm_direct_timer();  // when something is held or credited
  void sweep_direct();
  bool anyone_wants(std::string_view ns, std::string_view key) const {
    bool any = false;
    m.match(ns, key, [&](subscription_id) { any = true; });
    return any;
  }
};

// ---- subscribing ------------------------------------------------------------------

asio::awaitable<void> hub::impl::subscribe(std::shared_ptr<sink> s, subscription_spec spec) {
  if (stopped) co_return;
  auto& mine = sink_of(s);
  if (mine.ids.contains(spec.id)) {
    s->refused(spec.id, "duplicate_id", "this connection already has a subscription of that id");
    co_return;
  }
  if (mine.ids.size() >= opts.max_subscriptions_per_connection) {
    s->refused(spec.id, "too_many_subscriptions",
               "this connection holds feed.max_subscriptions (" +
                   std::to_string(opts.max_subscriptions_per_connection) + ") subscriptions");
    co_return;
  }
  const auto sid = next_id++;
  const std::string id = spec.id;
  mine.ids.emplace(id, sid);
  auto& sub = subs[sid];
  sub.owner = s;
  sub.owner_key = s.get();
  sub.owner_state = &mine;
  sub.spec = std::move(spec);
  // From here on, `sub` may be removed whenever this coroutine waits
  // (unsubscribe, the connection gone): each wait is followed by a check.
  auto alive = [this, sid] { return subs.contains(sid); };

  if (sub.spec.kind == target_kind::channel) {
    const auto channel = sub.spec.key;
    if (channel_refs[channel]++ == 0) {
      if (!pubsub) {
        std::weak_ptr<impl> weak = shared_from_this();
        pubsub = std::make_unique<subscriber>(commands, [weak](const message& msg) {
          if (auto self = weak.lock()) {
            self->on_strand([msg](impl& h) { h.on_channel_message(msg); });
          }
        });
      }
      std::vector<std::string> names{channel};
      auto [ec] = co_await pubsub->async_subscribe(std::move(names), use_tuple);
      if (ec) {
        if (alive()) {
          s->refused(id, "redis_unavailable",
                     "Redis did not take the subscription: " + ec.message());
          remove(sid);  // gives its channel reference back
        }
        co_return;
      }
    }
    if (!alive()) co_return;  // remove() gave its channel reference back
    auto& live = subs[sid];
    m.add_channel(channel, sid);
    live.live = true;
    s->subscribed(id, {}, false);
    co_return;
  }

  std::vector<unsigned> which;
  if (sub.spec.kind == target_kind::key) {
    which.push_back(layout.shard_of(opts.redis_key(sub.spec.ns, sub.spec.key)));
  } else {
    for (unsigned i = 0; i < layout.count(); ++i) which.push_back(i);
  }
  auto infos = co_await probe(which);
  if (!alive()) co_return;
  if (!infos) {
    s->refused(id, "redis_unavailable", "Redis did not answer; subscribe again later");
    remove(sid);
    co_return;
  }
  auto& live = subs[sid];
  std::optional<std::string> reset_reason;
  std::vector<position> from;
  if (live.spec.since) {
    for (std::size_t i = 0; i < which.size() && !reset_reason; ++i) {
      const auto s_i = which[i];
      auto it = std::find_if(live.spec.since->begin(), live.spec.since->end(),
                             [s_i](const position& p) { return p.shard == s_i; });
      if (it == live.spec.since->end()) {
        reset_reason = "unknown_position";
      } else if (it->epoch != shards[s_i].epoch) {
        reset_reason = "epoch_changed";
      } else if (!resumable(it->id, (*infos)[i].first, (*infos)[i].last, (*infos)[i].complete)) {
        reset_reason = "trimmed";
      } else {
        from.push_back(*it);
      }
    }
  }
  live.shards = which;
  for (auto s_i : which) need(s_i);
  if (opts.direct_writes) watch_keyspace();
  if (live.spec.kind == target_kind::key) {
    m.add_key(live.spec.ns, live.spec.key, sid);
  } else {
    m.add_prefix(live.spec.ns, live.spec.key, sid);
  }
  live.live = true;
  if (live.spec.since && !reset_reason) {
    live.replaying = true;
    live.floor = from;
    s->subscribed(id, from, true);
    spawn(resume(sid, std::move(from)));
    co_return;
  }
  std::vector<position> now;
  for (auto s_i : which) now.push_back({s_i, shards[s_i].epoch, shards[s_i].cursor});
  if (reset_reason) s->reset(id, *reset_reason);
  s->subscribed(id, std::move(now), false);
}

asio::awaitable<std::optional<std::vector<stream_info>>> hub::impl::probe(
    std::vector<unsigned> which) {
  // Per shard: its epoch (created if missing) and its stream's bounds.
  request r(request::options{.wait_for_connection = false});
  for (auto s : which) {
    r.push("SET", layout.epoch_key(s), random_epoch(), "NX");
    r.push("GET", layout.epoch_key(s));
    r.push("XINFO", "STREAM", layout.stream(s));
  }
  auto [ec, resp] = co_await commands.async_exec(std::move(r), use_tuple);
  if (ec || resp.size() != which.size() * 3) co_return std::nullopt;
  std::vector<stream_info> out;
  for (std::size_t i = 0; i < which.size(); ++i) {
    const auto& epoch = resp[i * 3 + 1];
    auto info = info_of(resp[i * 3 + 2]);
    if (!epoch.is_string() || epoch.str.empty() || !info) co_return std::nullopt;
    adopt(which[i], epoch.str, *info);
    out.push_back(*info);
  }
  co_return out;
}

void hub::impl::adopt(unsigned shard, const std::string& epoch, const stream_info& info) {
  auto& sh = shards[shard];
  if (!sh.known) {
    sh.known = true;
    sh.epoch = epoch;
    sh.cursor = info.last;
  } else if (sh.epoch != epoch) {
    epoch_changed(shard, epoch);
  }
}

void hub::impl::epoch_changed(unsigned shard, const std::string& epoch) {
  // The stream was lost (Redis lost its data): what the subscriptions on
  // it knew is void. Each is told, and goes on with the new stream, from
  // its start (everything in it came after the loss).
  auto& sh = shards[shard];
  sh.epoch = epoch;
  sh.cursor = {};
  for (auto& [sid, sub] : subs) {
    if (std::find(sub.shards.begin(), sub.shards.end(), shard) == sub.shards.end()) continue;
    if (auto s = sub.owner.lock()) s->reset(sub.spec.id, "epoch_changed");
    sub.replaying = false;
    if (sub.wake) sub.wake->cancel();
  }
}

bool hub::impl::unsubscribe(const sink* s, const std::string& id) {
  auto it = by_sink.find(s);
  if (it == by_sink.end()) return false;
  auto sit = it->second.ids.find(id);
  if (sit == it->second.ids.end()) return false;
  const auto sid = sit->second;
  auto owner = subs.contains(sid) ? subs[sid].owner.lock() : nullptr;
  remove(sid);
  if (owner) owner->unsubscribed(id);
  return true;
}

void hub::impl::remove(subscription_id sid) {
  auto it = subs.find(sid);
  if (it == subs.end()) return;
  auto& sub = it->second;
  if (sub.live) {
    switch (sub.spec.kind) {
      case target_kind::key:
        m.remove_key(sub.spec.ns, sub.spec.key, sid);
        break;
      case target_kind::prefix:
      case target_kind::ns:
        m.remove_prefix(sub.spec.ns, sub.spec.key, sid);
        break;
      case target_kind::channel:
        m.remove_channel(sub.spec.key, sid);
        break;
    }
  }
  if (sub.spec.kind == target_kind::channel) {
    auto c = channel_refs.find(sub.spec.key);
    if (c != channel_refs.end() && --c->second == 0) {
      channel_refs.erase(c);
      if (pubsub) {
        std::vector<std::string> names{sub.spec.key};
        pubsub->async_unsubscribe(std::move(names), [](error_code) {});
      }
    }
  }
  for (auto s : sub.shards) {
    if (--shards[s].needed == 0) {
      // No one reads it any more: its cursor goes stale from here on, so
      // the next subscription starts from a fresh probe (from now), not
      // from where this one left off.
      shards[s].known = false;
    }
  }
  if (sub.wake) sub.wake->cancel();
  if (auto b = by_sink.find(sub.owner_key); b != by_sink.end()) {
    b->second.ids.erase(sub.spec.id);
    if (b->second.ids.empty()) forget(b);
  }
  subs.erase(it);
}

bool hub::impl::wants(const subscription_spec& spec, const change& c) const {
  if (c.ns != spec.ns) return false;
  switch (spec.kind) {
    case target_kind::key:
      return c.key == spec.key;
    case target_kind::prefix:
      return c.key.starts_with(spec.key);
    case target_kind::ns:
      return true;
    case target_kind::channel:
      break;
  }
  return false;
}

// ---- resuming -----------------------------------------------------------------------

asio::awaitable<void> hub::impl::resume(subscription_id sid, std::vector<position> from) {
  // Pages up to each shard's cursor; the cursor moves on while a page is
  // fetched or waits for room, so the loop ends only when every shard's
  // position has caught up with its cursor, and the switch to live
  // delivery happens in that same strand step: the next change dispatched
  // is the first one after the cursor.
  for (;;) {
    auto it = subs.find(sid);
    if (it == subs.end() || !it->second.replaying) co_return;
    bool caught_up = true;
    for (auto& p : from) {
      if (p.id >= shards[p.shard].cursor) continue;
      caught_up = false;
      const auto upto = shards[p.shard].cursor;
      request r(request::options{.wait_for_connection = false});
      r.push("XRANGE", layout.stream(p.shard), after(p.id), upto.text(), "COUNT",
             std::to_string(opts.page));
      auto [ec, resp] = co_await commands.async_exec(std::move(r), use_tuple);
      it = subs.find(sid);
      if (it == subs.end() || !it->second.replaying) co_return;
      auto& sub = it->second;
      if (ec || resp.empty() || resp[0].is_error()) {
        // The missed changes cannot be read: never a silent gap.
        sub.replaying = false;
        if (auto s = sub.owner.lock()) s->reset(sub.spec.id, "redis_unavailable");
        co_return;
      }
      auto entries = entries_of(resp[0]);
      std::vector<frame> page;
      for (auto& [id, fields] : entries) {
        p.id = id;
        auto c = change_of(fields);
        if (!c || !wants(sub.spec, *c)) continue;
        c->shard = p.shard;
        c->id = id;
        page.push_back(std::make_shared<const std::string>(
            render.change(*c, shards[p.shard].epoch, sub.spec.values)));
      }
      if (entries.size() < opts.page) p.id = std::max(p.id, upto);  // nothing more up to it
      if (page.empty()) continue;
      auto s = sub.owner.lock();
      if (!s) co_return;
      // Wait until the connection took the page (its queue had room).
      sub.wake =
          std::make_shared<asio::steady_timer>(strand, asio::steady_timer::time_point::max());
      auto wake = sub.wake;
      std::weak_ptr<impl> weak = shared_from_this();
      s->replay(std::move(page), [weak, wake] {
        if (auto self = weak.lock()) self->on_strand([wake](impl&) { wake->cancel(); });
      });
      s.reset();
      co_await wake->async_wait(use_tuple);
    }
    if (caught_up) break;
  }
  if (auto it = subs.find(sid); it != subs.end()) {
    it->second.replaying = false;
    it->second.wake.reset();
  }
}

// ---- reading ------------------------------------------------------------------------

void hub::impl::need(unsigned shard) {
  ++shards[shard].needed;
  auto& rd = readers[reader_of(shard)];
  if (!rd.running) {
    rd.running = true;
    if (!rd.redis) {
      rd.redis = std::make_unique<client>(strand.get_inner_executor(), reader_config);
      rd.redis->start();
      rd.wake = std::make_unique<asio::steady_timer>(strand);
    }
    spawn(read(reader_of(shard)));
  } else if (rd.wake) {
    rd.wake->cancel();
  }
}

asio::awaitable<void> hub::impl::read(unsigned r) {
  auto self = shared_from_this();
  auto& rd = readers[r];
  const unsigned first = readers.size() == 1 ? 0 : r;
  const unsigned last = readers.size() == 1 ? layout.count() : r + 1;
  auto backoff = std::chrono::milliseconds(100);
  bool recheck = false;  // after an outage: have the streams been lost?
  while (!stopped) {
    std::vector<unsigned> which;
    for (unsigned s = first; s < last; ++s) {
      if (shards[s].needed > 0 && shards[s].known) which.push_back(s);
    }
    if (which.empty()) {
      rd.wake->expires_at(asio::steady_timer::time_point::max());
      co_await rd.wake->async_wait(use_tuple);
      continue;
    }
    if (recheck) {
      auto infos = co_await probe(which);  // adopts a new epoch, if any
      if (!infos) {
        rd.wake->expires_after(backoff);
        co_await rd.wake->async_wait(use_tuple);
        continue;
      }
      recheck = false;
      continue;
    }
    request req(request::options{.timeout = opts.block + reader_config.command_timeout});
    std::vector<std::string> args{"COUNT", std::to_string(opts.page), "BLOCK",
                                  std::to_string(opts.block.count()), "STREAMS"};
    for (auto s : which) args.push_back(layout.stream(s));
    for (auto s : which) args.push_back(shards[s].cursor.text());
    req.push_range("XREAD", args);
    auto [ec, resp] = co_await rd.redis->async_exec(std::move(req), use_tuple);
    if (stopped) co_return;
    if (ec || resp.empty() || resp[0].is_error()) {
      if (available) {
        available = false;
        tell_all(false, ec ? ec.message() : resp.empty() ? "no reply" : resp[0].str);
      }
      recheck = true;
      rd.wake->expires_after(backoff);
      co_await rd.wake->async_wait(use_tuple);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (!available) {
      available = true;
      tell_all(true, keyspace ? "writes made straight into Redis while it was unreachable are "
                                "not replayed"
                              : "");
    }
    const auto& v = resp[0];
    if (v.is_null()) continue;  // nothing within the block time
    // RESP3: a map of stream -> entries; RESP2: an array of [stream, entries].
    std::vector<std::pair<const value*, const value*>> streams;
    if (v.type == resp_type::map) {
      for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
        streams.emplace_back(&v.elements[i], &v.elements[i + 1]);
      }
    } else {
      for (const auto& e : v.elements) {
        if (e.is_aggregate() && e.elements.size() == 2) {
          streams.emplace_back(&e.elements[0], &e.elements[1]);
        }
      }
    }
    for (auto [name, entries] : streams) {
      auto s = layout.shard_of(name->str);
      if (layout.stream(s) != name->str) continue;
      for (auto& [id, fields] : entries_of(*entries)) {
        // An entry older than the cursor was handed out already (a
        // reader restarted from a probe); the cursor only moves forward.
        if (id <= shards[s].cursor) continue;
        shards[s].cursor = id;
        auto c = change_of(fields);
        if (!c) continue;
        c->shard = s;
        c->id = id;
        dispatch(*c);
      }
    }
  }
}

void hub::impl::dispatch(change& c) {
  // A connection gets a change once, however many of its subscriptions
  // match it: with its value if any of them asked for values, under the
  // strictest of their policies.
  fan.begin();
  bool any = false;
  m.match(c.ns, c.key, [&](subscription_id sid) {
    auto it = subs.find(sid);
    if (it == subs.end() || it->second.replaying) return;
    auto& sub = it->second;
    for (const auto& p : sub.floor) {
      if (p.shard == c.shard && c.id <= p.id && !c.direct) return;
    }
    any = fan.reach(sub.owner_state->seat, sub.owner, sub.spec.values, sub.spec.policy) || any;
  });
  if (!any) return;
  if (!c.direct && keyspace) logged(c);
  frame with_value;
  frame without_value;
  std::string coalesce_key = c.ns;
  coalesce_key.push_back('\0');
  coalesce_key += c.key;
  const auto& epoch = shards[c.shard].epoch;
  fan.hand_over(
      [&](bool values) {
        auto& f = values ? with_value : without_value;
        if (!f) f = std::make_shared<const std::string>(render.change(c, epoch, values));
        return f;
      },
      coalesce_key);
}

hub::impl::sink_state& hub::impl::sink_of(const std::shared_ptr<sink>& s) {
  auto [it, fresh] = by_sink.try_emplace(s.get());
  if (fresh) it->second.seat = fan.sit(*s);
  return it->second;
}

void hub::impl::forget(std::unordered_map<const sink*, sink_state>::iterator it) {
  fan.leave(it->second.seat);
  by_sink.erase(it);
}

void hub::impl::on_channel_message(const message& msg) {
  fan.begin();
  bool any = false;
  m.match_channel(msg.channel, [&](subscription_id sid) {
    auto it = subs.find(sid);
    if (it == subs.end()) return;
    // Channel messages have no key to coalesce by: the oldest go first.
    auto p = it->second.spec.policy == slow_policy::close ? slow_policy::close
                                                          : slow_policy::drop_oldest;
    any = fan.reach(it->second.owner_state->seat, it->second.owner, false, p) || any;
  });
  if (!any) return;
  const auto f =
      std::make_shared<const std::string>(render.channel_message(msg.channel, msg.payload));
  fan.hand_over([&](bool) { return f; }, {});
}

void hub::impl::tell_all(bool available_now, const std::string& detail) {
  for (auto& [key, st] : by_sink) {
    if (st.ids.empty()) continue;
    auto it = subs.find(st.ids.begin()->second);
    if (it == subs.end()) continue;
    if (auto s = it->second.owner.lock()) s->notice(available_now, detail);
  }
}

// ---- direct writes -------------------------------------------------------------------

void hub::impl::watch_keyspace() {
  if (keyspace_asked || stopped) return;
  keyspace_asked = true;
  std::weak_ptr<impl> weak = shared_from_this();
  keyspace = std::make_unique<subscriber>(commands, [weak](const message& msg) {
    if (auto self = weak.lock()) self->on_strand([msg](impl& h) { h.on_keyspace(msg); });
  });
  std::vector<std::string> pattern{"__keyspace@" + std::to_string(opts.db) + "__:*"};
  keyspace->async_psubscribe(std::move(pattern), [weak](error_code ec) {
    if (!ec) return;
    // Asked again with the next subscription.
    if (auto self = weak.lock()) self->on_strand([](impl& h) { h.keyspace_asked = false; });
  });
}

void hub::impl::on_keyspace(const message& msg) {
  if (stopped) return;
  auto redis_key = keyspace_key(msg.channel);
  if (!redis_key || layout.owns(*redis_key)) return;
  auto op = keyspace_op(msg.payload);
  if (!op) return;
  auto names = opts.split_key(*redis_key);
  if (!names || !anyone_wants(names->first, names->second)) return;
  const std::string key(*redis_key);
  if (direct.notified(key, *op, std::chrono::steady_clock::now())) return deliver_direct(key, *op);
  arm_direct_timer();
}

void hub::impl::logged(const change& c) {
  direct.logged(opts.redis_key(c.ns, c.key), c.op, c.ttl_ms, std::chrono::steady_clock::now());
  arm_direct_timer();
}

void hub::impl::deliver_direct(const std::string& redis_key, write_event::kind op) {
  auto names = opts.split_key(redis_key);
  if (!names) return;
  change c;
  c.ns = std::move(names->first);
  c.key = std::move(names->second);
  c.op = op;
  c.direct = true;
  dispatch(c);
}

void hub::impl::arm_direct_timer() {
  if (direct_timer_armed || stopped || direct.empty()) return;
  direct_timer_armed = true;
  direct_timer.expires_after(opts.direct_write_window / 2);
  direct_timer.async_wait([self = shared_from_this()](error_code ec) {
    self->direct_timer_armed = false;
    if (!ec) self->sweep_direct();
  });
}

void hub::impl::sweep_direct() {
  for (auto& [key, op] : direct.expire(std::chrono::steady_clock::now())) deliver_direct(key, op);
  arm_direct_timer();
}

// ---- the public face ---------------------------------------------------------------

hub::hub(asio::any_io_executor ex, client& commands, client_config reader_config,
         shard_layout layout, renderer render, hub_options o)
    : impl_(std::make_shared<impl>(std::move(ex), commands, std::move(reader_config),
                                   std::move(layout), std::move(render), std::move(o))) {}

hub::~hub() {
  stop();
}

void hub::stop() {
  // Inline, not posted: the caller's thread is the strand's (see hub.hpp),
  // and the command client may be gone right after this returns.
  auto& h = *impl_;
  if (h.stopped) return;
  h.stopped = true;
  for (auto& [sid, sub] : h.subs) {
    if (sub.wake) sub.wake->cancel();
  }
  h.subs.clear();
  h.by_sink.clear();
  h.fan.clear();
  h.pubsub.reset();
  h.keyspace.reset();
  h.direct_timer.cancel();
  h.direct.clear();
  for (auto& rd : h.readers) {
    if (rd.wake) rd.wake->cancel();
    if (rd.redis) rd.redis->stop();
  }
}

void hub::subscribe(const std::shared_ptr<sink>& s, subscription_spec spec) {
  impl_->on_strand(
      [s, spec = std::move(spec)](impl& h) mutable { h.spawn(h.subscribe(s, std::move(spec))); });
}

void hub::unsubscribe(const std::shared_ptr<sink>& s, std::string id) {
  impl_->on_strand([s, id = std::move(id)](impl& h) {
    if (!h.stopped && !h.unsubscribe(s.get(), id)) {
      s->refused(id, "not_subscribed", "this connection has no subscription of that id");
    }
  });
}

void hub::drop(const sink* s) {
  impl_->on_strand([s](impl& h) {
    auto it = h.by_sink.find(s);
    if (it == h.by_sink.end()) return;
    std::vector<subscription_id> ids;
    for (auto& [id, sid] : it->second.ids) ids.push_back(sid);
    for (auto sid : ids) h.remove(sid);
    // Held without subscriptions (each of them refused).
    if (it = h.by_sink.find(s); it != h.by_sink.end()) h.forget(it);
  });
}

void hub::check_direct_writes(std::function<void(std::string message, bool seen)> done) {
  impl_->on_strand([done = std::move(done)](impl& h) mutable {
    auto check = [](impl* self, std::function<void(std::string, bool)> d) -> asio::awaitable<void> {
      request r(request::options{.wait_for_connection = true});
      r.push("CONFIG", "GET", "notify-keyspace-events");
      auto [ec, resp] = co_await self->commands.async_exec(std::move(r), use_tuple);
      std::optional<std::string> flags;
      std::string error = ec ? ec.message() : std::string();
      if (!ec && !resp.empty()) {
        const auto& v = resp[0];
        if (v.is_error()) {
          error = v.str;
        } else if (v.is_aggregate() && v.elements.size() >= 2) {
          flags = v.elements[1].str;
        } else {
          error = "an unexpected reply";
        }
      }
      auto verdict = judge_keyspace_events(flags, error);
      d(std::move(verdict.message), verdict.seen);
    };
    h.spawn(check(&h, std::move(done)));
  });
}

}  // namespace rcache::feed
