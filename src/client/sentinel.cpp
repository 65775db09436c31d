// The Sentinel topology (include/rcache/topology.hpp), following the Redis
// Sentinel client guide: ask the sentinels, one after another, for the
// master's address; remember the one that answered and ask it first next
// time; verify the master with ROLE in the handshake. With prefer_replica
// it asks for the replicas (SENTINEL REPLICAS) and takes a healthy one in
// turn, verified as a linked replica by ROLE; the master when none is.
//
// Each question is one short exchange on its own connection: [AUTH],
// SENTINEL GET-MASTER-ADDR-BY-NAME, read the replies with the RESP parser,
// close. A watchdog timer closes the socket when the sentinel's deadline
// passes, so a sentinel that accepts but never answers costs one timeout.
// Beside that, one long-lived connection subscribes to +switch-master (on
// the sentinels in turn, a pause between attempts) and tells the client
// when our master was switched: a hint to reconnect at once.
//
// Threading: called on the client's strand only (the topology contract).
#include <rcache/detail/resp_command.hpp>
#include <rcache/topology.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "client/read_value.hpp"
#include "client/sentinel_event.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// What one sentinel said: an address, or that it does not know the name
// (nullopt).
using answer = std::optional<detail::sentinel_address>;

// The value of `key` in a flat k, v, ... array (RESP2) or a map (RESP3).
const value* field(const value& v, std::string_view key) {
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    if (v.elements[i].str == key) return &v.elements[i + 1];
  }
  return nullptr;
}

// The replicas of a SENTINEL REPLICAS reply that the sentinel sees up and
// linked to their master.
std::vector<detail::sentinel_address> healthy_replicas(const value& reply) {
  std::vector<detail::sentinel_address> out;
  for (const auto& r : reply.elements) {
    const auto* ip = field(r, "ip");
    const auto* port = field(r, "port");
    const auto* flags = field(r, "flags");
    const auto* link = field(r, "master-link-status");
    if (!ip || !port || !flags || !link || link->str != "ok") continue;
    if (flags->str.find("s_down") != std::string::npos ||
        flags->str.find("o_down") != std::string::npos ||
        flags->str.find("disconnected") != std::string::npos) {
      continue;
    }
    if (auto p = detail::parse_port(port->str)) out.emplace_back(ip->str, *p);
  }
  return out;
}

// Arms the watchdog: closes `sock` when the deadline passes. The socket is
// shared, so a late timer never touches a destroyed one.
void arm(asio::steady_timer& timer, const std::shared_ptr<tcp::socket>& sock,
         std::chrono::milliseconds deadline) {
  timer.expires_after(deadline);
  timer.async_wait([sock](error_code ec) {
    if (ec) return;
    error_code ignored;
    sock->close(ignored);
  });
}

class sentinel_topology final : public topology,
                                public std::enable_shared_from_this<sentinel_topology> {
 public:
  explicit sentinel_topology(sentinel_options o) : o_(std::move(o)) {}

  void watch(asio::any_io_executor ex, std::function<void()> changed) override {
    if (o_.sentinels.empty()) return;
    changed_ = std::move(changed);
    pause_.emplace(ex);
    asio::co_spawn(ex, watch_loop(shared_from_this()), asio::detached);
  }

  void stop_watching() override {
    stopped_ = true;
    if (auto sock = watch_sock_.lock()) {
      error_code ignored;
      sock->close(ignored);
    }
    if (pause_) pause_->cancel();
  }

  asio::awaitable<result<endpoint>> resolve(asio::any_io_executor ex) override {
    bool any_answered = false;
    const auto n = o_.sentinels.size();
    auto at = [this](const detail::sentinel_address& a) {
      endpoint ep;
      ep.host = a.first;
      ep.port = a.second;
      ep.tls = o_.tls;
      return ep;
    };
    for (std::size_t k = 0; k < n; ++k) {
      const auto i = (first_ + k) % n;
      if (o_.prefer_replica) {
        auto r = co_await ask(ex, o_.sentinels[i], "REPLICAS");
        if (!r) continue;  // unreachable, refused our credentials, or garbage
        any_answered = true;
        if (r->is_error()) continue;  // does not know the master
        auto replicas = healthy_replicas(*r);
        if (!replicas.empty()) {
          first_ = i;
          expect_master_ = false;
          co_return at(replicas[next_replica_++ % replicas.size()]);
        }
        // No healthy replica: the master serves the reads.
      }
      auto r = co_await ask(ex, o_.sentinels[i], "GET-MASTER-ADDR-BY-NAME");
      if (!r) continue;
      auto a = master_address(*r);
      if (!a) continue;  // garbage
      any_answered = true;
      if (!*a) continue;  // does not know the master: maybe another one does
      first_ = i;
      expect_master_ = true;
      last_master_ = **a;
      co_return at(**a);
    }
    co_return make_error_code(any_answered ? error::sentinel_unknown_master
                                           : error::sentinel_unreachable);
  }

  void append_handshake(request& r) override { r.push("ROLE"); }

  // A master must say "master"; a replica "slave", linked ("connected") to
  // its master, else its data may be arbitrarily old.
  error_code check_handshake(const response& extra) override {
    if (extra.empty() || extra[0].elements.empty()) return make_error_code(error::not_master);
    const auto& role = extra[0].elements;
    if (expect_master_ ? role[0].str != "master"
                       : role[0].str != "slave" || role.size() < 4 || role[3].str != "connected") {
      return make_error_code(error::not_master);
    }
    return {};
  }

 private:
  // SENTINEL <subcommand> <master name> on sentinel `s`: its reply (an
  // error reply included), or the error that kept us from getting one.
  asio::awaitable<result<value>> ask(asio::any_io_executor ex, const endpoint& s,
                                     std::string_view subcommand) {
    auto sock = std::make_shared<tcp::socket>(ex);
    asio::steady_timer watchdog(ex);
    arm(watchdog, sock, o_.timeout);
    auto r = co_await exchange(ex, *sock, s, subcommand);
    watchdog.cancel();
    error_code ignored;
    sock->close(ignored);
    co_return r;
  }

  // Connects to sentinel `s` and sends [AUTH] then `command` (RESP-encoded);
  // the number of replies to read, AUTH's included.
  asio::awaitable<result<std::size_t>> open(asio::any_io_executor ex, tcp::socket& sock,
                                            const endpoint& s, std::string_view command) {
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(s.host, std::to_string(s.port), nothrow);
    if (rec) co_return rec;
    auto [cec, connected] = co_await asio::async_connect(sock, results, nothrow);
    if (cec) co_return cec;
    std::string out;
    std::size_t expected = 1;
    if (!o_.password.empty()) {
      if (o_.username.empty()) {
        resp::append_command(out, "AUTH", o_.password);
      } else {
        resp::append_command(out, "AUTH", o_.username, o_.password);
      }
      ++expected;
    }
    out += command;
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(out), nothrow);
    if (wec) co_return wec;
    co_return expected;
  }

  asio::awaitable<result<value>> exchange(asio::any_io_executor ex, tcp::socket& sock,
                                          const endpoint& s, std::string_view subcommand) {
    std::string command;
    resp::append_command(command, "SENTINEL", subcommand, o_.master_name);
    auto sent = co_await open(ex, sock, s, command);
    if (!sent) co_return sent.error();
    const std::size_t expected = *sent;

    detail::reply_reader reader({}, 4096);
    std::vector<value> replies;
    while (replies.size() < expected) {
      auto v = co_await detail::async_read_value(sock, reader);
      if (!v) co_return v.error();
      replies.push_back(std::move(*v));
    }
    for (std::size_t i = 0; i + 1 < replies.size(); ++i) {
      if (replies[i].is_error()) co_return make_error_code(error::auth_failed);
    }
    // A sentinel that wants a password we did not give refuses the command.
    const auto code = replies.back().error_code();
    if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
      co_return make_error_code(error::auth_failed);
    }
    co_return std::move(replies.back());
  }

  // GET-MASTER-ADDR-BY-NAME's reply: [ip, port], or null for an unknown name.
  static result<answer> master_address(const value& v) {
    if (v.is_null()) return answer{};
    if (v.is_error() || v.elements.size() != 2) return make_error_code(error::unexpected_reply);
    auto port = detail::parse_port(v.elements[1].str);
    if (!port) return make_error_code(error::unexpected_reply);
    return answer{std::pair{v.elements[0].str, *port}};
  }

  // ---- +switch-master: one subscription at a time, sentinels in turn ----

  static asio::awaitable<void> watch_loop(std::shared_ptr<sentinel_topology> self) {
    auto ex = co_await asio::this_coro::executor;
    for (std::size_t i = 0; !self->stopped_; ++i) {
      auto sock = std::make_shared<tcp::socket>(ex);
      self->watch_sock_ = sock;
      co_await self->listen(ex, sock, self->o_.sentinels[i % self->o_.sentinels.size()]);
      if (self->stopped_) break;
      self->pause_->expires_after(self->o_.timeout);  // then the next sentinel
      co_await self->pause_->async_wait(nothrow);
    }
  }

  // Every `timeout` a PING on the subscribed connection (answered even
  // while subscribed), so a sentinel that froze is noticed: the watchdog in
  // listen() closes the socket when nothing was read for 3 x timeout.
  static asio::awaitable<void> keepalive(std::shared_ptr<tcp::socket> sock,
                                         std::shared_ptr<asio::steady_timer> timer,
                                         std::chrono::milliseconds every) {
    std::string ping;
    resp::append_command(ping, "PING");
    while (sock->is_open()) {
      timer->expires_after(every);
      auto [ec] = co_await timer->async_wait(nothrow);
      if (ec || !sock->is_open()) co_return;
      auto [wec, n] = co_await asio::async_write(*sock, asio::buffer(ping), nothrow);
      if (wec) co_return;
    }
  }

  // Subscribes on one sentinel and reports switches of our master until the
  // connection ends (or goes quiet: see keepalive()).
  asio::awaitable<void> listen(asio::any_io_executor ex, std::shared_ptr<tcp::socket> sock,
                               const endpoint& s) {
    asio::steady_timer watchdog(ex);
    arm(watchdog, sock, o_.timeout);  // connecting and subscribing
    std::string command;
    resp::append_command(command, "SUBSCRIBE", "+switch-master");
    if (!co_await open(ex, *sock, s, command)) co_return;
    auto pinger = std::make_shared<asio::steady_timer>(ex);
    asio::co_spawn(ex, keepalive(sock, pinger, o_.timeout), asio::detached);
    // However listen() ends, the keepalive ends too: a PING write in flight
    // is not cancelled by the timer, so the socket is closed as well.
    struct stop_pinger {
      std::shared_ptr<asio::steady_timer> t;
      std::shared_ptr<tcp::socket> s;
      ~stop_pinger() {
        t->cancel();
        error_code ignored;
        s->close(ignored);
      }
    } stop_on_exit{pinger, sock};
    detail::reply_reader reader({}, 4096);
    for (;;) {
      auto [ec, n] = co_await sock->async_read_some(reader.space(), nothrow);
      if (ec || stopped_) co_return;
      arm(watchdog, sock, 3 * o_.timeout);  // alive: the next deadline
      reader.commit(n);
      error_code pec;
      while (auto next = reader.next(pec)) {
        const value v = std::move(*next);
        if (v.is_error()) co_return;  // AUTH refused: try the next sentinel
        const auto& e = v.elements;
        if (e.size() == 3 && e[0].str == "subscribe") {
          // A switch announced while we were not listening is lost: ask now.
          asio::co_spawn(ex, check_master(shared_from_this(), s), asio::detached);
        }
        // A switch to the master we already use (resolve() named it before
        // the failover ended) needs no reconnect.
        if (e.size() == 3 && e[0].str == "message" && e[1].str == "+switch-master" &&
            detail::switch_leaves(e[2].str, o_.master_name,
                                  expect_master_ ? last_master_ : answer()) &&
            changed_) {
          changed_();
        }
      }
      if (pec) co_return;
    }
  }

  // After (re)subscribing: if the sentinel names another master than the
  // one we connected to, that is a switch we missed.
  static asio::awaitable<void> check_master(std::shared_ptr<sentinel_topology> self, endpoint s) {
    auto ex = co_await asio::this_coro::executor;
    auto r = co_await self->ask(ex, s, "GET-MASTER-ADDR-BY-NAME");
    if (!r || self->stopped_) co_return;
    auto a = master_address(*r);
    if (a && *a && self->last_master_ && **a != *self->last_master_ && self->changed_) {
      self->changed_();
    }
  }

  sentinel_options o_;
  std::size_t first_ = 0;         // the sentinel that answered last
  std::size_t next_replica_ = 0;  // replicas are taken in turn across reconnects
  bool expect_master_ = true;     // what resolve() chose, for the ROLE check
  answer last_master_;            // the master resolve() last named
  std::function<void()> changed_;
  bool stopped_ = false;
  std::weak_ptr<tcp::socket> watch_sock_;
  std::optional<asio::steady_timer> pause_;
};

}  // namespace

std::shared_ptr<topology> make_sentinel_topology(sentinel_options options) {
  return std::make_shared<sentinel_topology>(std::move(options));
}

}  // namespace rcache
