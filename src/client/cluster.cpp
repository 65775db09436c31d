// Redis Cluster behind rcache::client (client_config::cluster_nodes).
//
// One rcache::client per node: each is the usual multiplexed connection
// (pipelining, deadlines, reconnect, CLIENT TRACKING when asked). This file
// routes callers' requests over them:
//   - a request is split into its commands (cluster/command_keys); each
//     command goes to the master of its first key's slot, keyless commands
//     with the request's first keyed command (or to the first master);
//     MGET / DEL / UNLINK / EXISTS / TOUCH / MSET spanning slots are split
//     per slot and their replies merged back in order; the commands for one
//     node travel as one pipeline; a request holding MULTI / EXEC / WATCH
//     is a unit and goes whole to one node;
//   - MOVED sends the command to the named node, remembers the slot's new
//     owner and asks for a (throttled) refresh of the slot map; ASK sends
//     ASKING + the command once to the named node and changes nothing;
//     TRYAGAIN, CLUSTERDOWN and nodes that are down are retried with
//     backoff, within the caller's deadline (connection losses only for
//     requests that may be retried, as on one connection);
//   - the slot map comes from CLUSTER SHARDS (CLUSTER SLOTS before Redis 7)
//     of any node that answers, on start, after MOVED and connection
//     losses (at most every 100 ms), and every cluster_refresh_interval.
//
// Near-cache coherence: each node connection tracks its own keys; their
// invalidation pushes are forwarded. When a node's connection drops, or a
// refresh shows slots changing owner, an `invalidate-slots` push names the
// slots concerned: what was cached from that node, or from the old owner,
// is dropped, and nothing else. The combined state is `connected` only
// while every master's connection is up (for readiness), and any node's
// loss is reported as a `disconnected` before the next `connected`.
//
// Threading: the slot map, the node table and the routing state are under
// mu_; map refreshes and state reports run on strand_. A request's parts
// complete on their nodes' strands; the last one completes the caller,
// inline there, so a reply and the invalidations that follow it on that
// connection keep their order.
#include <bitset>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>

#include "address/host_port.hpp"
#include "client/client_base.hpp"
#include "client/completion.hpp"
#include "cluster/command_keys.hpp"
#include "cluster/slot_map.hpp"

namespace rcache::detail {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using cluster::command_args;

constexpr int max_redirects = 16;
using slot_set = std::bitset<cluster::slot_count>;
constexpr auto refresh_min_gap = 100ms;

std::string address(std::string_view host, std::uint16_t port) {
  // IPv6 literals as CLUSTER SHARDS gives them ("::1") need no brackets
  // here: the key is only compared and split at the last ':'.
  return std::string(host) + ":" + std::to_string(port);
}

// "host:port" (address()'s keys; an IPv6 host has no brackets) -> host,
// port; nullopt when it is not that.
std::optional<std::pair<std::string, std::uint16_t>> parse_address(std::string_view node) {
  // address() writes IPv6 hosts bare: a bracketed "[::1]:7000" would name a
  // second client for a node that already has one.
  if (node.starts_with('[')) return std::nullopt;
  auto ep = detail::parse_host_port(node, {.bare_ipv6 = true});
  if (!ep) return std::nullopt;
  return std::pair{std::move(ep->host), ep->port};
}

// One command of a caller's request, or one slot's part of a split one.
struct unit {
  std::size_t command = 0;  // index in the caller's request
  command_args args{};      // views into job::payload
  int slot = -1;            // -1: keyless
  std::string target{};     // node to send to; empty: route by slot
  bool asking = false;      // prefix ASKING (one ASK redirection)
  int redirects = 0;
  bool done = false;
  value reply{};
};

// A caller's request on its way through the cluster.
struct job {
  std::string payload;
  request::options opts;
  bool retryable = false;
  bool atomic = false;                     // MULTI / EXEC / WATCH: all units go together
  bool cross_slot = false;                 // an atomic job over keys of several slots
  std::vector<cluster::merge_kind> merge;  // per caller command
  std::vector<unit> units;
  clock::time_point deadline;
  exec_handler handler;

  std::mutex mu;
  std::size_t outstanding = 0;  // sub-requests in flight
  bool backoff = false;         // the next round waits first
  int round = 0;
  error_code ec;        // the error that ends the job, when not retried
  error_code retry_ec;  // why the last retry was needed (a node down)
  bool done = false;
};
using job_ptr = std::shared_ptr<job>;

// The parts of a DEL-like (sum) or MSET (all_ok) command, or a command that
// was not split (none): the first error, else the sum, else the first reply.
// MGET (concat) is gathered by key position instead (cluster_impl::gather_mget).
value merge_parts(cluster::merge_kind kind, std::vector<value*>& parts) {
  for (auto* p : parts) {
    if (p->is_error()) return std::move(*p);
  }
  if (kind != cluster::merge_kind::sum) return std::move(*parts.front());
  value out;
  out.type = resp_type::integer;
  for (auto* p : parts) out.integer += p->integer;
  return out;
}

bool is_redirect_or_retry(const value& v) {
  if (!v.is_error()) return false;
  auto code = v.error_code();
  return code == "MOVED" || code == "ASK" || code == "TRYAGAIN" || code == "CLUSTERDOWN";
}

class cluster_impl final : public client_base, public std::enable_shared_from_this<cluster_impl> {
 public:
  cluster_impl(asio::any_io_executor ex, client_config cfg)
      : ex_(ex),
        strand_(asio::make_strand(ex)),
        cfg_(std::move(cfg)),
        refresh_timer_(strand_),
        gap_timer_(strand_) {
    for (const auto& n : cfg_.cluster_nodes) seeds_.push_back(address(n.host, n.port));
    node_cfg_ = cfg_;
    node_cfg_.cluster_nodes.clear();
    node_cfg_.sentinels.clear();
  }

  // ---- client_base -----------------------------------------------------------

  void start() override {
    asio::dispatch(strand_, [self = shared_from_this()] { self->ensure_started(); });
  }

  void stop() override {
    asio::post(strand_, [self = shared_from_this()] { self->do_stop(); });
  }

  void submit(request req, exec_handler h) override {
    if (stopped_.load(std::memory_order_acquire)) {
      complete_later(ex_, std::move(h), make_error_code(error::client_stopped), response{});
      return;
    }
    if (!start_requested_.exchange(true, std::memory_order_acq_rel)) start();
    requests_.fetch_add(1, std::memory_order_relaxed);
    auto j = std::make_shared<job>();
    j->opts = req.opts();
    j->retryable = req.opts().retry_on_connection_lost.value_or(req.read_only());
    auto timeout = j->opts.timeout.count() > 0 ? j->opts.timeout : cfg_.command_timeout;
    j->deadline = clock::now() + std::min<std::chrono::milliseconds>(timeout, 24h * 365);
    j->handler.swap(h);
    j->payload = std::move(req).take_payload();
    auto commands = cluster::split_payload(j->payload);
    if (!commands) return complete_early(j, commands.error());
    if (!j->opts.node.empty()) {
      if (!parse_address(j->opts.node)) {
        return complete_early(j, make_error_code(error::invalid_argument));
      }
      return send_to_node(j, *commands);
    }
    plan(*j, *commands);
    dispatch_round(j);
  }

  void set_push_handler(std::function<void(const value&)> h) override {
    std::lock_guard lock(mu_);
    push_handler_ = std::make_shared<std::function<void(const value&)>>(std::move(h));
  }

  void set_state_handler(std::function<void(connection_state, error_code)> h) override {
    asio::post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
      self->state_handler_ = std::move(h);
    });
  }

  client_stats stats() const noexcept override {
    client_stats total;
    std::lock_guard lock(mu_);
    for (const auto& [_, n] : nodes_) accumulate(total, n->stats());
    // Requests as the callers made them (the nodes count the parts).
    total.requests = requests_.load(std::memory_order_relaxed);
    total.retries += redirects_.load(std::memory_order_relaxed);
    return total;
  }

  std::pair<error_code, std::string> last_error() const override {
    std::lock_guard lock(mu_);
    return {last_error_, last_error_message_};
  }

  value server_hello() const override {
    std::lock_guard lock(mu_);
    for (const auto& [_, n] : nodes_) {
      if (n->state() == connection_state::connected) return n->server_hello();
    }
    return {};
  }

  asio::any_io_executor get_executor() const noexcept override { return ex_; }

  // Empty until the first slot map arrives: the seeds may not be masters.
  std::vector<std::string> masters() const override {
    std::lock_guard lock(mu_);
    return map_ ? masters_locked() : std::vector<std::string>{};
  }

 private:
  // ---- routing ---------------------------------------------------------------

  // Units of the caller's commands: split where the command is one of the
  // mergeable multi-key commands and its keys span slots.
  void plan(job& j, const std::vector<command_args>& commands) {
    j.merge.assign(commands.size(), cluster::merge_kind::none);
    for (const auto& c : commands) j.atomic = j.atomic || cluster::is_transaction_command(c[0]);
    auto table = command_table();
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const auto& args = commands[i];
      auto rule = cluster::split_rule_for(args[0]);
      std::vector<std::size_t> keys;
      if (table) {
        keys = table->keys(args);
      } else if (args.size() > 1) {
        // Before the command table arrives, guess the first argument: a
        // wrong guess costs one MOVED; mergeable commands are known.
        for (std::size_t a = 1; a < args.size(); a += rule.stride) keys.push_back(a);
        if (rule.merge == cluster::merge_kind::none) keys.resize(1);
      }
      if (!j.atomic && rule.merge != cluster::merge_kind::none && keys.size() > 1) {
        // Group the keys (with their values, for MSET) by slot, first-seen order.
        std::map<int, std::size_t> part_of_slot;
        std::vector<unit> parts;
        for (std::size_t a = 1; a + rule.stride <= args.size(); a += rule.stride) {
          const int slot = cluster::key_slot(args[a]);
          auto [it, fresh] = part_of_slot.try_emplace(slot, parts.size());
          if (fresh) parts.push_back(unit{.command = i, .args = {args[0]}, .slot = slot});
          auto& p = parts[it->second];
          for (std::size_t s = 0; s < rule.stride; ++s) p.args.push_back(args[a + s]);
        }
        if (parts.size() > 1) {
          j.merge[i] = rule.merge;
          for (auto& p : parts) j.units.push_back(std::move(p));
          continue;
        }
      }
      j.units.push_back(unit{.command = i,
                             .args = args,
                             .slot = keys.empty() ? -1 : int{cluster::key_slot(args[keys[0]])}});
    }
    int slot = -1;
    for (const auto& un : j.units) {
      if (un.slot < 0) continue;
      j.cross_slot = j.cross_slot || (slot >= 0 && un.slot != slot);
      slot = un.slot;
    }
    j.cross_slot = j.cross_slot && j.atomic;
  }

  // Sends every unfinished unit: grouped by node, one pipeline per node.
  void dispatch_round(const job_ptr& j) {
    if (stopped_.load(std::memory_order_acquire)) {  // no new node connections after stop()
      return complete(j, make_error_code(error::client_stopped));
    }
    std::map<std::string, std::vector<std::size_t>> by_node;  // node -> unit indexes
    {
      std::lock_guard lock(j->mu);
      if (j->done) return;
      if (j->atomic) {
        const auto target = first_keyed_target(*j);
        for (std::size_t u = 0; u < j->units.size(); ++u) {
          j->units[u].done = false;
          by_node[target].push_back(u);
        }
      } else {
        std::optional<std::string> keyless_target;  // looked up only if needed
        for (std::size_t u = 0; u < j->units.size(); ++u) {
          auto& un = j->units[u];
          if (un.done) continue;
          if (!un.target.empty()) {
            by_node[un.target].push_back(u);
          } else if (un.slot >= 0) {
            by_node[owner_of(static_cast<std::uint16_t>(un.slot))].push_back(u);
          } else {
            if (!keyless_target) keyless_target = first_keyed_target(*j);
            by_node[*keyless_target].push_back(u);
          }
        }
      }
      j->outstanding = by_node.size();
      ++j->round;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(j->deadline - clock::now());
    for (auto& [node, indexes] : by_node) {
      request::options o{.timeout = std::max(left, 1ms),
                         .wait_for_connection = false,
                         .retry_on_connection_lost = false};
      request r(o);
      std::vector<int> reply_to;  // unit index per reply; -1: ASKING's OK
      for (auto u : indexes) {
        auto& un = j->units[u];
        if (un.asking && !j->atomic) {
          r.push("ASKING");
          reply_to.push_back(-1);
        }
        r.push_range(un.args[0], std::span(un.args).subspan(1));
        reply_to.push_back(static_cast<int>(u));
      }
      auto c = node_client(node);
      c->async_exec(std::move(r),
                    [self = shared_from_this(), j, node, reply_to = std::move(reply_to)](
                        error_code ec, response resp) mutable {
                      self->on_part(j, node, reply_to, ec, std::move(resp));
                    });
    }
  }

  void on_part(const job_ptr& j, const std::string& node, const std::vector<int>& reply_to,
               error_code ec, response resp) {
    bool refresh = false;
    {
      std::lock_guard lock(j->mu);
      if (j->done) return;
      if (ec) {
        const bool never_sent = ec == error::not_connected;
        const bool lost = ec == error::connection_lost || ec == error::client_stopped;
        if ((never_sent && j->opts.wait_for_connection) || (lost && j->retryable)) {
          refresh = true;
          j->backoff = true;
          j->retry_ec = ec;
          for (int u : reply_to) {
            if (u >= 0) j->units[static_cast<std::size_t>(u)].target.clear();
          }
        } else if (!j->ec) {
          j->ec = ec;
        }
      } else {
        for (std::size_t i = 0; i < reply_to.size() && i < resp.size(); ++i) {
          if (reply_to[i] < 0) continue;
          auto& un = j->units[static_cast<std::size_t>(reply_to[i])];
          refresh = absorb(*j, un, node, std::move(resp[i])) || refresh;
        }
        if (j->atomic) settle_atomic(*j);
      }
      if (--j->outstanding > 0) {
        if (refresh) request_refresh();
        return;
      }
    }
    if (refresh) request_refresh();
    next_round(j);
  }

  // A reply for one unit: the answer, or a redirection / retry to note.
  // Returns true when the slot map should be refreshed.
  bool absorb(job& j, unit& un, const std::string& node, value v) {
    un.asking = false;
    un.target.clear();
    // Redirections are counted (a loop between nodes ends); TRYAGAIN and
    // CLUSTERDOWN are bounded by the deadline only.
    const bool redirect = v.error_code() == "MOVED" || v.error_code() == "ASK";
    if (!is_redirect_or_retry(v) || (redirect && ++un.redirects > max_redirects)) {
      un.reply = std::move(v);
      un.done = true;
      return false;
    }
    redirects_.fetch_add(1, std::memory_order_relaxed);
    un.reply = std::move(v);  // kept as the answer if time runs out
    const auto code = un.reply.error_code();
    if (code == "MOVED" || code == "ASK") {
      auto r = cluster::parse_redirect(un.reply.str);
      if (!r) {
        un.done = true;
        return false;
      }
      auto to = r->host.empty() ? node : address(r->host, r->port);
      if (code == "ASK" && j.atomic) {
        j.backoff = true;  // ASKING would cover MULTI only: wait for the migration
        return false;
      }
      if (code == "ASK") {
        // The key is read (and tracked) on `to` for a slot the map gives
        // another node: remember it, so losing `to` drops it from the near cache too.
        note_asked(r->slot, to);
        un.asking = true;
        un.target = std::move(to);
        return false;
      }
      note_moved(r->slot, to);
      un.target = std::move(to);
      return true;
    }
    j.backoff = true;  // TRYAGAIN, CLUSTERDOWN
    return code == "CLUSTERDOWN";
  }

  // A transaction is answered by one node as a whole: if any reply asks for
  // a redirection or a retry, the whole request goes again.
  // Only when nothing ran: every reply is a redirection / retry, MULTI's or
  // WATCH's OK, QUEUED, or EXEC's EXECABORT. A command outside the
  // transaction that ran (INCR before MULTI) must not run twice: then the
  // replies stand.
  void settle_atomic(job& j) {
    if (j.cross_slot) {  // Redis refuses it (CROSSSLOT, EXECABORT): no point in moving it
      for (auto& u : j.units) u.done = true;
      return;
    }
    bool again = false;
    for (auto& un : j.units) again = again || (!un.done);
    if (!again) return;
    for (auto& un : j.units) {
      const bool harmless = cluster::is_transaction_command(un.args[0]) ||
                            is_redirect_or_retry(un.reply) || un.reply.str == "QUEUED";
      if (un.redirects > max_redirects || !harmless) {
        for (auto& u : j.units) u.done = true;
        return;
      }
    }
    for (auto& un : j.units) un.done = false;
  }

  void next_round(const job_ptr& j) {
    bool pending = false;
    bool wait = false;
    {
      std::lock_guard lock(j->mu);
      if (j->done) return;
      for (const auto& un : j->units) pending = pending || !un.done;
      wait = j->backoff;
      j->backoff = false;
      if (j->ec) pending = false;
    }
    if (!pending) return complete(j, {});
    const auto now = clock::now();
    if (now >= j->deadline) return complete(j, {});
    if (!wait) return dispatch_round(j);
    const auto delay = std::min<clock::duration>(
        std::chrono::milliseconds(std::min(200, 10 << std::min(j->round, 5))), j->deadline - now);
    auto timer = std::make_shared<asio::steady_timer>(ex_, delay);
    timer->async_wait(
        [self = shared_from_this(), j, timer](error_code) { self->dispatch_round(j); });
  }

  // Completes the caller: the merged replies, or the job's error (an
  // unfinished unit at the deadline answers with its last error reply, or
  // with the connection error that kept it from being sent).
  void complete(const job_ptr& j, error_code ec) {
    response out;
    exec_handler h;
    {
      std::lock_guard lock(j->mu);
      if (j->done) return;
      j->done = true;
      if (!ec) ec = j->ec;
      // A unit still unanswered at the deadline: the error that kept it
      // from being sent (one that got a redirection answers with it).
      for (const auto& un : j->units) {
        if (!ec && !un.done && !un.reply.is_error()) {
          ec = j->retry_ec ? j->retry_ec : make_error_code(error::timeout);
        }
      }
      if (!ec) out = merge(*j);
      h.swap(j->handler);
    }
    std::move(h)(ec, std::move(out));
  }

  void complete_early(const job_ptr& j, error_code ec) {
    exec_handler h;
    h.swap(j->handler);
    j->done = true;
    complete_later(ex_, std::move(h), ec, response{});
  }

  response merge(job& j) {
    response out(j.merge.size());
    std::vector<std::vector<value*>> parts(j.merge.size());
    for (auto& un : j.units) parts[un.command].push_back(&un.reply);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (parts[i].empty()) continue;
      if (j.merge[i] == cluster::merge_kind::concat) {
        out[i] = gather_mget(j, i);
      } else {
        out[i] = merge_parts(j.merge[i], parts[i]);
      }
    }
    return out;
  }

  // MGET split by slot: each value goes back to its key's position in the
  // original command (the parts' keys view the payload, so the order of
  // their addresses is the order of the keys).
  value gather_mget(job& j, std::size_t command) {
    std::vector<std::pair<const char*, value*>> by_key;  // key data pointer -> value
    for (auto& un : j.units) {
      if (un.command != command) continue;
      if (un.reply.is_error()) return std::move(un.reply);
      for (std::size_t k = 1; k < un.args.size() && k - 1 < un.reply.elements.size(); ++k) {
        by_key.emplace_back(un.args[k].data(), &un.reply.elements[k - 1]);
      }
    }
    std::sort(by_key.begin(), by_key.end());
    value out;
    out.type = resp_type::array;
    for (auto& [_, v] : by_key) out.elements.push_back(std::move(*v));
    return out;
  }

  // request::options::node: the whole request to one master, as is.
  void send_to_node(const job_ptr& j, const std::vector<command_args>& commands) {
    request r(j->opts);
    for (const auto& c : commands) r.push_range(c[0], std::span(c).subspan(1));
    node_client(j->opts.node)
        ->async_exec(std::move(r), [self = shared_from_this(), j](error_code ec, response resp) {
          exec_handler h;
          h.swap(j->handler);
          std::move(h)(ec, std::move(resp));
        });
  }

  // ---- the slot map ----------------------------------------------------------

  std::shared_ptr<const cluster::command_table> command_table() const {
    std::lock_guard lock(mu_);
    return table_;
  }

  // The node serving `slot`: a MOVED seen since the last refresh, the map,
  // or (no map yet) the first seed, which redirects.
  std::string owner_of(std::uint16_t slot) {
    std::lock_guard lock(mu_);
    if (auto it = moved_.find(slot); it != moved_.end()) return it->second;
    if (map_) {
      if (const auto* m = map_->master_for(slot)) return address(m->host, m->port);
    }
    return masters_locked().front();
  }

  std::string first_keyed_target(const job& j) {
    for (const auto& un : j.units) {
      if (!un.target.empty()) return un.target;
      if (un.slot >= 0) return owner_of(static_cast<std::uint16_t>(un.slot));
    }
    std::lock_guard lock(mu_);
    return masters_locked().front();
  }

  std::vector<std::string> masters_locked() const {
    std::vector<std::string> out;
    if (map_) {
      for (const auto& s : map_->shards()) out.push_back(address(s.master.host, s.master.port));
      std::sort(out.begin(), out.end());
    }
    if (out.empty()) out = seeds_;
    return out;
  }

  void note_asked(std::uint16_t slot, const std::string& to) {
    std::lock_guard lock(mu_);
    asked_[to].set(slot);
  }

  void note_moved(std::uint16_t slot, const std::string& to) {
    std::lock_guard lock(mu_);
    moved_[slot] = to;
  }

  std::shared_ptr<client> node_client(const std::string& node) {
    std::lock_guard lock(mu_);
    return node_client_locked(node);
  }

  // `node` is "host:port" (checked in submit for request::options::node;
  // built by address() everywhere else).
  std::shared_ptr<client> node_client_locked(const std::string& node) {
    if (auto it = nodes_.find(node); it != nodes_.end()) return it->second;
    auto cfg = node_cfg_;
    auto ep = parse_address(node);
    cfg.server.kind = endpoint::transport::tcp;
    cfg.server.host = ep ? ep->first : node;
    cfg.server.port = ep ? ep->second : 0;
    auto c = std::make_shared<client>(ex_, std::move(cfg));
    std::weak_ptr<cluster_impl> weak = shared_from_this();
    c->set_push_handler([weak](const value& v) {
      if (auto self = weak.lock()) self->on_push(v);
    });
    c->set_state_handler([weak, node](connection_state s, error_code ec) {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self, node, s, ec] { self->on_node_state(node, s, ec); });
      }
    });
    if (!stopped_.load(std::memory_order_acquire)) c->start();
    nodes_.emplace(node, c);
    return c;
  }

  void request_refresh() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->stopped_.load(std::memory_order_acquire)) return;
      if (self->refreshing_) {
        self->refresh_again_ = true;
        return;
      }
      self->refreshing_ = true;
      asio::co_spawn(self->strand_, self->refresh(), self->on_coroutine_end());
    });
  }

  // Asks the known masters, then the seeds, in turn, for the slot map (and
  // once for the command table), each within the connect timeout.
  asio::awaitable<void> refresh() {
    auto self = shared_from_this();
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    const auto since = clock::now() - last_refresh_;
    if (since < refresh_min_gap) {
      gap_timer_.expires_after(refresh_min_gap - since);
      co_await gap_timer_.async_wait(nothrow);
    }
    std::vector<std::string> candidates;
    bool need_table = false;
    {
      std::lock_guard lock(mu_);
      candidates = masters_locked();
      for (const auto& s : seeds_) {
        if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) {
          candidates.push_back(s);
        }
      }
      need_table = !table_;
    }
    std::rotate(candidates.begin(),
                candidates.begin() + static_cast<std::ptrdiff_t>(rotation_++ % candidates.size()),
                candidates.end());
    error_code last_ec;
    std::string why = "no cluster node answered";
    for (const auto& node : candidates) {
      if (stopped_.load(std::memory_order_acquire)) break;
      request r({.timeout = cfg_.connect_timeout,
                 .wait_for_connection = false,
                 .retry_on_connection_lost = true});
      r.push("CLUSTER", "SHARDS");
      r.push("CLUSTER", "SLOTS");
      if (need_table) r.push("COMMAND");
      auto [ec, resp] = co_await node_client(node)->async_exec(std::move(r), nothrow);
      if (ec) {
        last_ec = ec;
        why = "node " + node + ": " + ec.message();
        continue;
      }
      auto map = cluster::parse_cluster_shards(resp[0]);
      if (!map || map->shards().empty()) map = cluster::parse_cluster_slots(resp[1]);
      if (!map || map->shards().empty()) {
        why = "node " + node + " gave no slot map";
        continue;
      }
      std::shared_ptr<const cluster::command_table> table;
      if (need_table) {
        if (auto t = cluster::command_table::from_command_reply(resp[2])) {
          table = std::make_shared<const cluster::command_table>(std::move(*t));
        }
      }
      install(std::make_shared<const cluster::slot_map>(std::move(*map)), std::move(table));
      last_ec = {};
      break;
    }
    if (last_ec) note_error(last_ec, why);
    last_refresh_ = clock::now();
    refreshing_ = false;
    if (refresh_again_) {
      refresh_again_ = false;
      request_refresh();
    }
  }

  // A new map: connect to its masters, drop dead connections to nodes it no
  // longer has as masters, and tell the near cache when slots changed owner.
  void install(std::shared_ptr<const cluster::slot_map> map,
               std::shared_ptr<const cluster::command_table> table) {
    slot_set changed{};
    std::vector<std::shared_ptr<client>> dropped;
    {
      std::lock_guard lock(mu_);
      if (stopped_.load(std::memory_order_acquire)) return;
      if (map_) {
        for (unsigned s = 0; s < cluster::slot_count; ++s) {
          const auto* a = map_->master_for(static_cast<std::uint16_t>(s));
          const auto* b = map->master_for(static_cast<std::uint16_t>(s));
          changed[s] =
              (a == nullptr) != (b == nullptr) || (a && (a->host != b->host || a->port != b->port));
        }
      }
      map_ = std::move(map);
      if (table) table_ = std::move(table);
      moved_.clear();
      const auto masters = masters_locked();
      for (const auto& m : masters) node_client_locked(m);
      for (auto it = nodes_.begin(); it != nodes_.end();) {
        const bool master = std::find(masters.begin(), masters.end(), it->first) != masters.end();
        if (!master && it->second->state() != connection_state::connected) {
          dropped.push_back(std::move(it->second));
          it = nodes_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : dropped) c->stop();
    invalidate_slots(changed);
    if (changed.any()) report_map_change(changed.count());
    report_state({});
  }

  // client_config::on_event: slots that changed owner (the first map is
  // no change). On strand_.
  void report_map_change(std::size_t slots) {
    if (!cfg_.on_event) return;
    std::string masters;
    for (const auto& m : this->masters()) masters += (masters.empty() ? "" : ", ") + m;
    notify(cfg_, {connection_event::kind::topology_changed,
                  cfg_.cluster_nodes.front().to_string(),
                  {},
                  "the cluster's slot map changed: " + std::to_string(slots) +
                      " slot(s) have another master; masters: " + masters});
  }

  // ---- events ----------------------------------------------------------------

  // The slots `node` serves (the map, then MOVED since); all of them before
  // the first map, when nobody knows.
  slot_set slots_of(const std::string& node) const {
    slot_set out{};
    std::lock_guard lock(mu_);
    if (!map_) return out.set();
    for (unsigned s = 0; s < cluster::slot_count; ++s) {
      const auto* m = map_->master_for(static_cast<std::uint16_t>(s));
      out[s] = m && address(m->host, m->port) == node;
    }
    // Slots moved to it since the map count; slots moved away stay in: what
    // it served before may still be cached (dropping too much is harmless).
    for (const auto& [slot, to] : moved_) out[slot] = out[slot] || to == node;
    if (auto it = asked_.find(node); it != asked_.end()) out |= it->second;
    return out;
  }

  // The "invalidate-slots" push (client.hpp): [start, end, start, end, ...].
  void invalidate_slots(const slot_set& slots) {
    if (slots.none()) return;
    value ranges;
    ranges.type = resp_type::array;
    for (unsigned s = 0; s < cluster::slot_count; ++s) {
      if (!slots[s]) continue;
      unsigned e = s;
      while (e + 1 < cluster::slot_count && slots[e + 1]) ++e;
      ranges.elements.push_back(value::make_integer(s));
      ranges.elements.push_back(value::make_integer(e));
      s = e;
    }
    value push;
    push.type = resp_type::push;
    push.elements = {value::make_string("invalidate-slots"), std::move(ranges)};
    on_push(push);
  }

  void on_push(const value& v) {
    std::shared_ptr<std::function<void(const value&)>> h;
    {
      std::lock_guard lock(mu_);
      h = push_handler_;
    }
    if (h && !handlers_off_.load(std::memory_order_acquire)) report(*h, v);
  }

  // strand_. A node that is not connected makes the whole `disconnected`
  // at once, so a quick reconnect is never missed by the near cache.
  void on_node_state(const std::string& node, connection_state s, error_code ec) {
    if (stopped_.load(std::memory_order_acquire)) return;
    if (s == connection_state::disconnected) {
      std::string msg;
      {
        std::lock_guard lock(mu_);
        if (auto it = nodes_.find(node); it != nodes_.end()) msg = it->second->last_error().second;
      }
      note_error(ec, "node " + node + (msg.empty() ? "" : ": " + msg));
      // Invalidations it would have sent are lost: what came from it goes.
      invalidate_slots(slots_of(node));
      {
        std::lock_guard lock(mu_);
        asked_.erase(node);
      }
      request_refresh();
      set_state(connection_state::disconnected, ec);
    }
    report_state(ec);
  }

  void report_state(error_code ec) {
    if (stopped_.load(std::memory_order_acquire)) return;
    std::vector<connection_state> masters;
    {
      std::lock_guard lock(mu_);
      for (const auto& m : masters_locked()) {
        auto it = nodes_.find(m);
        // A node client not started yet, or started and not yet running
        // (its state changes on its own strand), is connecting.
        const auto s = it == nodes_.end() ? connection_state::idle : it->second->state();
        masters.push_back(s == connection_state::idle ? connection_state::connecting : s);
      }
    }
    set_state(combined_state(state_, masters), ec);
  }

  void set_state(connection_state s, error_code ec) {
    if (stopped_.load(std::memory_order_acquire) || state_.exchange(s) == s) return;
    if (!handlers_off_.load(std::memory_order_acquire)) report(state_handler_, s, ec);
  }

  void note_error(error_code ec, std::string msg) {
    std::lock_guard lock(mu_);
    last_error_ = ec;
    last_error_message_ = std::move(msg);
  }

  // ---- lifecycle (strand_) ---------------------------------------------------

  void ensure_started() {
    if (started_ || stopped_) return;
    started_ = true;
    {
      std::lock_guard lock(mu_);
      for (const auto& s : seeds_) node_client_locked(s);
    }
    request_refresh();
    asio::co_spawn(strand_, periodic_refresh(), on_coroutine_end());
  }

  // A refresh coroutine that threw is a bug: keep it visible in last_error.
  std::function<void(std::exception_ptr)> on_coroutine_end() {
    return [weak = weak_from_this()](std::exception_ptr e) {
      auto self = weak.lock();
      if (!e || !self) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        self->note_error(make_error_code(error::unexpected_reply),
                         std::string("internal error in the slot map refresh: ") + ex.what());
      }
      asio::post(self->strand_, [self] { self->refreshing_ = false; });
    };
  }

  asio::awaitable<void> periodic_refresh() {
    auto self = shared_from_this();
    while (!stopped_.load(std::memory_order_acquire)) {
      refresh_timer_.expires_after(cfg_.cluster_refresh_interval);
      auto [ec] = co_await refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec || stopped_.load(std::memory_order_acquire)) break;
      request_refresh();
    }
  }

  void do_stop() {
    if (stopped_.exchange(true)) return;
    refresh_timer_.cancel();
    gap_timer_.cancel();
    std::unordered_map<std::string, std::shared_ptr<client>> nodes;
    {
      std::lock_guard lock(mu_);
      nodes.swap(nodes_);
    }
    for (auto& [_, c] : nodes) c->stop();
    state_.store(connection_state::stopped);
    if (!handlers_off_.load(std::memory_order_acquire)) {
      report(state_handler_, connection_state::stopped, make_error_code(error::client_stopped));
    }
  }

  asio::any_io_executor ex_;
  asio::strand<asio::any_io_executor> strand_;
  client_config cfg_;
  client_config node_cfg_;
  std::vector<std::string> seeds_;

  mutable std::mutex mu_;
  std::shared_ptr<const cluster::slot_map> map_;
  std::shared_ptr<const cluster::command_table> table_;
  std::unordered_map<std::uint16_t, std::string> moved_;
  // Slots each node answered through ASK (mid-migration), until it is lost.
  std::unordered_map<std::string, slot_set> asked_;
  std::unordered_map<std::string, std::shared_ptr<client>> nodes_;
  std::shared_ptr<std::function<void(const value&)>> push_handler_;
  error_code last_error_;
  std::string last_error_message_;

  // strand_
  asio::steady_timer refresh_timer_;  // the periodic refresh
  asio::steady_timer gap_timer_;      // refreshes at least refresh_min_gap apart
  std::function<void(connection_state, error_code)> state_handler_;
  bool started_ = false;
  bool refreshing_ = false;
  bool refresh_again_ = false;
  std::size_t rotation_ = 0;
  clock::time_point last_refresh_{};

  std::atomic<bool> stopped_{false};
  std::atomic<bool> start_requested_{false};
  std::atomic<std::uint64_t> redirects_{0};
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace

std::shared_ptr<client_base> make_cluster_client(asio::any_io_executor ex, client_config cfg) {
  return std::make_shared<cluster_impl>(std::move(ex), std::move(cfg));
}

}  // namespace rcache::detail
