// rcache::session_store: each operation checks its input, builds the keys
// and arguments of its script (scripts.cpp), runs it in one round trip and
// reads the reply (session_codec.cpp). Also the sweeper, which walks the
// 256 buckets under a lease, and the reader of the event streams.
//
// Threading: the state is immutable after construction except the
// sweeper's timer (on its strand) and a sweep's tally (under its mutex);
// script replies arrive on the client's strand(s), and every caller's
// handler is completed through client/completion.hpp.
#include <rcache/session.hpp>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <random>
#include <stdexcept>

#include "client/completion.hpp"
#include "client/eval_request.hpp"
#include "session/input_checks.hpp"
#include "session/scripts.hpp"
#include "session/session_codec.hpp"
#include "session/session_id.hpp"

namespace rcache {

using boost::system::error_code;
using namespace std::chrono_literals;
namespace sd = session_detail;

namespace detail {

struct session_store_state {
  session_store_state(client& c, session_options o)
      : redis(c),
        executor(c.get_executor()),
        opts(std::move(o)),
        events_len(std::to_string(opts.events_per_stream)),
        idle_ms(std::to_string(std::chrono::milliseconds(opts.idle_timeout).count())),
        life_ms(std::to_string(std::chrono::milliseconds(opts.absolute_lifetime).count())),
        grace_ms(std::to_string(std::chrono::milliseconds(opts.rotation_grace).count())),
        strand(boost::asio::make_strand(c.get_executor())),
        timer(strand),
        rng(std::random_device{}()) {}

  // Touched only while the store exists (`stopped` false): completions that
  // arrive after the store and its client are gone use `executor` only.
  client& redis;
  const boost::asio::any_io_executor executor;  // the client's
  const session_options opts;
  const std::string events_len, idle_ms, life_ms, grace_ms;
  boost::asio::strand<boost::asio::any_io_executor> strand;  // the sweeper's
  boost::asio::steady_timer timer;                           // on the strand
  std::mt19937_64 rng;                                       // on the strand
  std::atomic<bool> stopped{false};

  [[nodiscard]] session_time now() const {
    return opts.clock
               ? opts.clock()
               : std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
  [[nodiscard]] bool durable() const noexcept {
    return opts.durability == session_durability::replica;
  }
  // The three arguments every script starts with.
  [[nodiscard]] std::vector<std::string> args(std::uint8_t bucket, session_time at) const {
    return {sd::bucket_base(opts.prefix, bucket), std::to_string(at.time_since_epoch().count()),
            events_len};
  }
};

}  // namespace detail

namespace {

using state_ptr = std::shared_ptr<detail::session_store_state>;

// ---- running a script ---------------------------------------------------------

// The error a script's error reply stands for: the scripts' own refusals,
// else what any error reply is (rcache::error_of).
error_code error_of_script(const value& v) {
  const auto code = v.error_code();
  if (code == "RCACHE_CAP") return error::session_cap_reached;
  if (code == "RCACHE_VERSION") return error::version_conflict;
  if (code == "RCACHE_FIELDS") return error::too_many_fields;
  return error_of(v);
}

// Appends WAIT 1 <timeout> when the store is durable: in the same request,
// so on the same connection, right after the script's writes.
void append_wait(const state_ptr& st, request& r) {
  if (st->durable()) r.push("WAIT", 1, st->opts.replica_timeout.count());
}

// Whether a script's acknowledgement waits for a replica (with durability = replica).
enum class replica_wait : std::uint8_t {
  no,
  always,      // the script always writes (create)
  if_changed,  // unless it answers nil or 0 (nothing rotated or destroyed)
};

// Runs `s` by EVALSHA in one round trip (two after NOSCRIPT: SCRIPT LOAD +
// EVALSHA); a store with durability = replica adds the WAIT unless `wait`
// is no. Done: void(error_code, value), the script's reply; an error reply
// becomes its error_code.
template <class Done>
void run(const state_ptr& st, const script& s, std::vector<std::string> keys,
         std::vector<std::string> args, replica_wait wait, Done done) {
  const bool durable = st->durable() && wait != replica_wait::no;
  auto finish = [durable, wait](Done& d, error_code ec, response& r, std::size_t at) {
    if (!ec && r.size() < at + 1 + (durable ? 1 : 0)) ec = error::unexpected_reply;
    if (ec) return d(ec, value{});
    value& v = r[at];
    if (v.is_error()) return d(error_of_script(v), value{});
    if (!durable) return d(error_code{}, std::move(v));
    // WAIT answers how many replicas have the writes: none in time means
    // the write may be lost in a failover.
    const bool replicated = r[at + 1].type == resp_type::integer && r[at + 1].integer >= 1;
    const bool unchanged = v.is_null() || (v.type == resp_type::integer && v.integer == 0);
    if (!replicated && !(wait == replica_wait::if_changed && unchanged)) {
      return d(error::not_replicated, std::move(v));
    }
    d(error_code{}, std::move(v));
  };
  request first;
  detail::append_evalsha(first, s, keys, args);
  if (durable) {
    append_wait(st, first);
    // The deadline covers the replica's acknowledgement too.
    first.opts().timeout = st->opts.replica_timeout + 5s;
  }
  st->redis.async_exec(
      std::move(first), [st, &s, keys = std::move(keys), args = std::move(args), durable, finish,
                         done = std::move(done)](error_code ec, response r) mutable {
        if (ec || !detail::is_noscript(r.at(0))) return finish(done, ec, r, 0);
        if (st->stopped.load()) return done(make_error_code(error::client_stopped), value{});
        request again = detail::load_and_evalsha(s, keys, args);
        if (durable) {
          append_wait(st, again);
          again.opts().timeout = st->opts.replica_timeout + 5s;
        }
        st->redis.async_exec(std::move(again),
                             [finish, done = std::move(done)](error_code ec2, response r2) mutable {
                               if (!ec2 && !r2.empty() && r2[0].is_error()) {
                                 return done(error_of(r2[0]), value{});
                               }
                               finish(done, ec2, r2, 1);
                             });
      });
}

// Completes a caller's handler from a script's completion (on the client's strand).
template <class Handler, class... Args>
void answer(const state_ptr& st, Handler& h, Args&&... args) {
  detail::complete_now(st->executor, std::move(h), std::forward<Args>(args)...);
}

// Completes a caller's handler with an error found before anything was sent.
template <class T, class Handler>
void refuse(const state_ptr& st, Handler h, error_code ec) {
  detail::complete_later(st->executor, std::move(h), ec, T{});
}

// ---- input checks ---------------------------------------------------------------

error_code check_user(const session_options& o, std::string_view user) {
  switch (sd::check_user_id(user, o.max_user_length)) {
    case sd::user_id_problem::none:
      return {};
    case sd::user_id_problem::too_long:
      return error::value_too_large;
    default:
      return error::invalid_argument;
  }
}

error_code check_field(const session_options& o, std::string_view name, std::string_view v) {
  switch (sd::check_field(name, v, o.max_field_name, o.max_field_value)) {
    case sd::field_problem::none:
      return {};
    case sd::field_problem::empty_name:
      return error::invalid_argument;
    default:
      return error::value_too_large;
  }
}

error_code check_create(const session_options& o, std::string_view user, const device_info& d,
                        const std::map<std::string, std::string>& data) {
  if (auto ec = check_user(o, user)) return ec;
  for (const auto* f : {&d.id, &d.user_agent, &d.ip}) {
    if (f->size() > o.max_device_field) return error::value_too_large;
  }
  if (data.size() > o.max_fields) return error::too_many_fields;
  for (const auto& [name, v] : data) {
    if (auto ec = check_field(o, name, v)) return ec;
  }
  return {};
}

error_code check_update(const session_options& o, const session_update& u) {
  if (u.set.size() > o.max_fields) return error::too_many_fields;
  for (const auto& [name, v] : u.set) {
    if (auto ec = check_field(o, name, v)) return ec;
  }
  for (const auto& name : u.remove) {
    if (auto ec = check_field(o, name, {})) return ec;
    if (u.set.contains(name)) return error::invalid_argument;  // set and removed at once
  }
  return {};
}

void check_options(const session_options& o) {
  if (o.prefix.empty()) throw std::invalid_argument("session_options: prefix is empty");
  // A brace in the prefix would make the hash tag, instead of the bucket's.
  if (o.prefix.find_first_of("{}") != std::string::npos) {
    throw std::invalid_argument("session_options: the prefix may not contain '{' or '}'");
  }
  if (o.idle_timeout <= 0s || o.absolute_lifetime <= 0s) {
    throw std::invalid_argument("session_options: idle_timeout and absolute_lifetime must be > 0");
  }
  if (o.rotation_grace < 0s || o.sweep_interval < 0s || o.replica_timeout < 0ms) {
    throw std::invalid_argument("session_options: a negative duration");
  }
  if (o.events_per_stream == 0 || o.max_user_length == 0 || o.max_fields == 0 ||
      o.max_field_name == 0 || o.max_field_value == 0 || o.max_device_field == 0) {
    throw std::invalid_argument("session_options: a zero limit");
  }
}

// A session's and a user index's keys, from the bucket's base: the first
// argument of every script (args()[0]), built once per call.
std::string key_of_session(std::string_view base, std::string_view id) {
  return std::string(base).append("s:").append(id);
}
std::string key_of_index(std::string_view base, std::string_view user) {
  return std::string(base).append("u:").append(user);
}

// ---- the sweeper -------------------------------------------------------------------

constexpr std::size_t sweep_batch = 500;  // sessions one script call removes at most
constexpr auto lease_ttl = 60s;           // a sweeper that dies frees the lease this fast

// One sweep: every bucket's script called until nothing is due, then the
// lease released. Bucket calls run concurrently (pipelined on the connection).
template <class Done>
struct sweep_run : std::enable_shared_from_this<sweep_run<Done>> {
  sweep_run(state_ptr s, std::string token, Done d)
      : st(std::move(s)), lease_token(std::move(token)), done(std::move(d)) {}
  state_ptr st;
  std::string lease_token;
  Done done;
  session_time at{};
  std::mutex mu;  // the tally below: bucket replies may arrive on several strands
  std::size_t buckets_left = sd::bucket_count;
  std::size_t expired = 0;
  error_code first_error;

  void start() {
    at = st->now();
    for (std::size_t b = 0; b < sd::bucket_count; ++b) sweep(static_cast<std::uint8_t>(b));
  }

  void sweep(std::uint8_t bucket) {
    auto args = st->args(bucket, at);
    args.push_back(std::to_string(sweep_batch));
    run(st, sd::sweep_script(), {sd::bucket_base(st->opts.prefix, bucket) + "expiry"},
        std::move(args), replica_wait::no,
        [self = this->shared_from_this(), bucket](error_code ec, value v) {
          self->swept(bucket, ec, v);
        });
  }

  void swept(std::uint8_t bucket, error_code ec, const value& v) {
    std::size_t removed = 0;
    std::int64_t due = 0;
    if (!ec && v.is_aggregate() && v.elements.size() == 2) {
      removed = static_cast<std::size_t>(std::max<std::int64_t>(0, v.elements[0].integer));
      due = v.elements[1].integer;
    } else if (!ec) {
      ec = error::unexpected_reply;
    }
    bool again = false;
    {
      std::lock_guard lock(mu);
      expired += removed;
      if (ec && !first_error) first_error = ec;
      // More than a batch was due in this bucket: call it again (unless
      // the store is being destroyed: then no new request is sent).
      again = !ec && due > 0 && removed > 0 && !st->stopped.load();
      if (!again && --buckets_left > 0) return;
    }
    if (again) return sweep(bucket);
    release();
  }

  void release() {
    if (st->stopped.load()) {  // the client may be going away: the lease expires by itself
      return done(first_error, sweep_result{.swept = true, .expired = expired});
    }
    // The lease expires by itself if this fails: nothing else to do.
    st->redis.async_eval(sd::release_script(), {st->opts.prefix + "sweeper"}, {lease_token},
                         [self = this->shared_from_this()](error_code, value) {
                           self->done(self->first_error,
                                      sweep_result{.swept = true, .expired = self->expired});
                         });
  }
};

// Takes the lease (SET NX PX) and sweeps; done(error_code, sweep_result).
template <class Done>
void sweep_all(const state_ptr& st, Done done) {
  auto token = sd::new_session_id(0);
  if (!token) return done(token.error(), sweep_result{});
  request r;
  r.push("SET", st->opts.prefix + "sweeper", *token, "NX", "PX",
         std::chrono::milliseconds(lease_ttl).count());
  st->redis.async_exec(std::move(r), [st, token = std::move(*token), done = std::move(done)](
                                         error_code ec, response resp) mutable {
    if (!ec && resp.at(0).is_error()) ec = error_of(resp[0]);
    if (ec) return done(ec, sweep_result{});
    if (resp[0].is_null()) return done(error_code{}, sweep_result{});   // another instance sweeps
    if (st->stopped.load()) return done(error_code{}, sweep_result{});  // the lease expires
    std::make_shared<sweep_run<Done>>(st, std::move(token), std::move(done))->start();
  });
}

// The background sweeper: a jittered timer on the state's strand.
void schedule_sweep(const state_ptr& st) {
  if (st->stopped.load() || st->opts.sweep_interval <= 0s) return;
  const auto mean = std::chrono::duration_cast<std::chrono::milliseconds>(st->opts.sweep_interval);
  std::uniform_int_distribution<std::int64_t> jitter(mean.count() * 3 / 4, mean.count() * 5 / 4);
  st->timer.expires_after(std::chrono::milliseconds(jitter(st->rng)));
  st->timer.async_wait(boost::asio::bind_executor(st->strand, [st](error_code ec) {
    if (ec || st->stopped.load()) return;
    sweep_all(st, [st](error_code, sweep_result) {
      boost::asio::post(st->strand, [st] { schedule_sweep(st); });
    });
  }));
}

}  // namespace

// ---- session_event_cursor ----------------------------------------------------------

session_event_cursor::session_event_cursor() : last_(sd::bucket_count, "-") {}

// ---- session_store -----------------------------------------------------------------

session_store::session_store(client& redis, session_options o) {
  check_options(o);
  state_ = std::make_shared<detail::session_store_state>(redis, std::move(o));
  if (state_->opts.sweep_interval > 0s) {
    boost::asio::post(state_->strand, [st = state_] { schedule_sweep(st); });
  }
}

session_store::~session_store() {
  state_->stopped.store(true);
  // The timer belongs to the strand; its pending wait holds the state.
  boost::asio::post(state_->strand, [st = state_] { st->timer.cancel(); });
}

const session_options& session_store::options() const noexcept {
  return state_->opts;
}

void session_store::do_create(const state_ptr& st, std::string user, device_info device,
                              std::map<std::string, std::string> data, handler<session> h) {
  if (auto ec = check_create(st->opts, user, device, data))
    return refuse<session>(st, std::move(h), ec);
  const auto bucket = sd::bucket_of_user(user);
  auto id = sd::new_session_id(bucket);
  if (!id) return refuse<session>(st, std::move(h), id.error());
  const auto now = st->now();
  auto args = st->args(bucket, now);
  args.reserve(12 + 2 * data.size());
  for (const std::string* a :
       std::initializer_list<const std::string*>{&*id, &user, &st->idle_ms, &st->life_ms}) {
    args.push_back(*a);
  }
  args.push_back(std::to_string(st->opts.max_per_user));
  args.push_back(st->opts.cap_policy == session_cap_policy::refuse ? "refuse" : "evict");
  for (const auto* f : {&device.id, &device.user_agent, &device.ip}) args.push_back(*f);
  for (const auto& [name, v] : data) {
    args.push_back(name);
    args.push_back(v);
  }
  std::vector<std::string> keys{key_of_session(args[0], *id), key_of_index(args[0], user)};
  session s{.id = std::move(*id),
            .user = std::move(user),
            .device = std::move(device),
            .created = now,
            .last_seen = now,
            .expires = std::min(now + st->opts.idle_timeout, now + st->opts.absolute_lifetime),
            .absolute_expiry = now + st->opts.absolute_lifetime,
            .version = 0,
            .data = std::move(data)};
  run(st, sd::create_script(), std::move(keys), std::move(args), replica_wait::always,
      [st, s = std::move(s), h = std::move(h)](error_code ec, value) mutable {
        answer(st, h, ec, ec ? session{} : std::move(s));
      });
}

void session_store::do_read(const state_ptr& st, std::string id, bool touch,
                            handler<std::optional<session>> h) {
  const auto bucket = sd::bucket_of_id(id);
  if (!bucket) return refuse<std::optional<session>>(st, std::move(h), error_code{});
  auto args = st->args(*bucket, st->now());
  args.push_back(id);
  args.push_back(touch ? "1" : "0");
  args.push_back(touch && st->opts.touch_events ? "1" : "0");
  // Keys before the call: the completion below takes `id` (argument order).
  std::vector<std::string> keys{key_of_session(args[0], id)};
  run(st, sd::read_script(), std::move(keys), std::move(args), replica_wait::no,
      [st, id = std::move(id), h = std::move(h)](error_code ec, value v) mutable {
        if (ec || v.is_null()) return answer(st, h, ec, std::optional<session>{});
        auto s = sd::session_from_fields(std::move(id), v);
        if (!s) return answer(st, h, make_error_code(error::value_corrupt), std::move(s));
        answer(st, h, error_code{}, std::move(s));
      });
}

void session_store::do_update(const state_ptr& st, std::string id, session_update u,
                              handler<std::optional<std::uint64_t>> h) {
  using out = std::optional<std::uint64_t>;
  if (auto ec = check_update(st->opts, u)) return refuse<out>(st, std::move(h), ec);
  const auto bucket = sd::bucket_of_id(id);
  if (!bucket) return refuse<out>(st, std::move(h), error_code{});
  auto args = st->args(*bucket, st->now());
  args.push_back(id);
  args.push_back(u.expected_version ? std::to_string(*u.expected_version) : std::string());
  args.push_back(std::to_string(st->opts.max_fields));
  args.push_back(std::to_string(u.set.size()));
  for (auto& [name, v] : u.set) {
    args.push_back(name);
    args.push_back(std::move(v));
  }
  for (auto& name : u.remove) args.push_back(std::move(name));
  std::vector<std::string> keys{key_of_session(args[0], id)};
  run(st, sd::update_script(), std::move(keys), std::move(args), replica_wait::no,
      [st, h = std::move(h)](error_code ec, value v) mutable {
        if (ec || v.is_null()) return answer(st, h, ec, out{});
        if (v.type != resp_type::integer) {
          return answer(st, h, make_error_code(error::unexpected_reply), out{});
        }
        answer(st, h, error_code{}, out{static_cast<std::uint64_t>(v.integer)});
      });
}

void session_store::do_rotate(const state_ptr& st, std::string id,
                              handler<std::optional<session>> h) {
  using out = std::optional<session>;
  const auto bucket = sd::bucket_of_id(id);
  if (!bucket) return refuse<out>(st, std::move(h), error_code{});
  auto fresh = sd::new_session_id(*bucket);
  if (!fresh) return refuse<out>(st, std::move(h), fresh.error());
  auto args = st->args(*bucket, st->now());
  args.push_back(id);
  args.push_back(*fresh);
  args.push_back(st->grace_ms);
  std::vector<std::string> keys{key_of_session(args[0], id), key_of_session(args[0], *fresh)};
  run(st, sd::rotate_script(), std::move(keys), std::move(args), replica_wait::if_changed,
      [st, fresh = std::move(*fresh), h = std::move(h)](error_code ec, value v) mutable {
        if (ec || v.is_null()) return answer(st, h, ec, out{});
        auto s = sd::session_from_fields(std::move(fresh), v);
        if (!s) return answer(st, h, make_error_code(error::value_corrupt), std::move(s));
        answer(st, h, error_code{}, std::move(s));
      });
}

void session_store::do_destroy(const state_ptr& st, std::string id, handler<bool> h) {
  const auto bucket = sd::bucket_of_id(id);
  if (!bucket) return refuse<bool>(st, std::move(h), error_code{});
  auto args = st->args(*bucket, st->now());
  args.push_back(id);
  std::vector<std::string> keys{key_of_session(args[0], id)};
  run(st, sd::destroy_script(), std::move(keys), std::move(args), replica_wait::if_changed,
      [st, h = std::move(h)](error_code ec, value v) mutable {
        answer(st, h, ec, !ec && v.type == resp_type::integer && v.integer == 1);
      });
}

void session_store::do_destroy_all(const state_ptr& st, std::string user, std::string keep,
                                   handler<std::size_t> h) {
  if (auto ec = check_user(st->opts, user)) return refuse<std::size_t>(st, std::move(h), ec);
  const auto bucket = sd::bucket_of_user(user);
  auto args = st->args(bucket, st->now());
  args.push_back(user);
  std::vector<std::string> keys{key_of_index(args[0], user)};
  // An old id in its grace period keeps the session it names; the script
  // may only follow it within the user's slot.
  if (!keep.empty() && sd::bucket_of_id(keep) == bucket) {
    keys.push_back(key_of_session(args[0], keep));
  }
  args.push_back(std::move(keep));
  run(st, sd::destroy_all_script(), std::move(keys), std::move(args), replica_wait::if_changed,
      [st, h = std::move(h)](error_code ec, value v) mutable {
        if (!ec && v.type != resp_type::integer) ec = error::unexpected_reply;
        answer(st, h, ec, ec ? std::size_t{0} : static_cast<std::size_t>(v.integer));
      });
}

void session_store::do_list(const state_ptr& st, std::string user,
                            handler<std::vector<session>> h) {
  using out = std::vector<session>;
  if (auto ec = check_user(st->opts, user)) return refuse<out>(st, std::move(h), ec);
  const auto bucket = sd::bucket_of_user(user);
  auto args = st->args(bucket, st->now());
  args.push_back(user);
  std::vector<std::string> keys{key_of_index(args[0], user)};
  run(st, sd::list_script(), std::move(keys), std::move(args), replica_wait::no,
      [st, user = std::move(user), h = std::move(h)](error_code ec, value v) mutable {
        answer(st, h, ec, ec ? out{} : sd::sessions_from_list(user, v));
      });
}

void session_store::do_sweep(const state_ptr& st, handler<sweep_result> h) {
  sweep_all(
      st, [st, h = std::move(h)](error_code ec, sweep_result r) mutable { answer(st, h, ec, r); });
}

void session_store::do_read_events(const state_ptr& st, session_event_cursor from, std::size_t n,
                                   handler<session_events> h) {
  request r;
  const std::string count = std::to_string(std::max<std::size_t>(n, 1));
  for (std::size_t b = 0; b < sd::bucket_count; ++b) {
    const auto& last = from.last(b);
    r.push("XRANGE", sd::bucket_base(st->opts.prefix, static_cast<std::uint8_t>(b)) + "events",
           last == "-" ? last : "(" + last, "+", "COUNT", count);
  }
  st->redis.async_exec(std::move(r), [st, from = std::move(from), h = std::move(h)](
                                         error_code ec, response resp) mutable {
    session_events out{.events = {}, .next = std::move(from)};
    if (!ec && resp.size() != sd::bucket_count) ec = error::unexpected_reply;
    for (std::size_t b = 0; !ec && b < resp.size(); ++b) {
      if (resp[b].is_error()) {
        ec = error_of(resp[b]);
        break;
      }
      for (const auto& entry : resp[b].elements) {
        if (auto ev = sd::event_from_entry(entry)) out.events.push_back(std::move(*ev));
        if (entry.is_aggregate() && !entry.elements.empty()) {
          out.next.advance(b, entry.elements[0].str);
        }
      }
    }
    std::stable_sort(out.events.begin(), out.events.end(),
                     [](const session_event& a, const session_event& b) { return a.at < b.at; });
    answer(st, h, ec, ec ? session_events{} : std::move(out));
  });
}

}  // namespace rcache
