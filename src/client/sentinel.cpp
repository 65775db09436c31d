// The Sentinel topology (include/rcache/topology.hpp), following the Redis
// Sentinel client guide: ask the sentinels, one after another, for the
// master's address; remember the one that answered and ask it first next
// time; verify the master with ROLE in the handshake.
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
#include <charconv>

#include "resp/parser.hpp"

namespace rcache {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// What one sentinel said: the master's address, or that it does not know
// the name (nullopt).
using answer = std::optional<std::pair<std::string, std::uint16_t>>;

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
    for (std::size_t k = 0; k < n; ++k) {
      const auto i = (first_ + k) % n;
      auto r = co_await ask(ex, o_.sentinels[i]);
      if (!r) continue;  // unreachable, refused our credentials, or garbage
      any_answered = true;
      if (!*r) continue;  // does not know the master: maybe another one does
      first_ = i;
      endpoint ep;
      ep.host = (*r)->first;
      ep.port = (*r)->second;
      ep.tls = o_.tls;
      co_return ep;
    }
    co_return make_error_code(any_answered ? error::sentinel_unknown_master
                                           : error::sentinel_unreachable);
  }

  void append_handshake(request& r) override { r.push("ROLE"); }

  error_code check_handshake(const response& extra) override {
    if (extra.empty() || extra[0].elements.empty() || extra[0].elements[0].str != "master") {
      return make_error_code(error::not_master);
    }
    return {};
  }

 private:
  asio::awaitable<result<answer>> ask(asio::any_io_executor ex, const endpoint& s) {
    auto sock = std::make_shared<tcp::socket>(ex);
    asio::steady_timer watchdog(ex);
    arm(watchdog, sock, o_.timeout);
    auto r = co_await exchange(ex, *sock, s);
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

  asio::awaitable<result<answer>> exchange(asio::any_io_executor ex, tcp::socket& sock,
                                           const endpoint& s) {
    std::string command;
    resp::append_command(command, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", o_.master_name);
    auto sent = co_await open(ex, sock, s, command);
    if (!sent) co_return sent.error();
    const std::size_t expected = *sent;

    resp::parser parser;
    std::vector<value> replies;
    char buf[4096];
    while (replies.size() < expected) {
      auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), nothrow);
      if (ec) co_return ec;
      std::string_view in(buf, n);
      while (!in.empty()) {
        error_code pec;
        const auto used = parser.feed(in, pec);
        if (pec) co_return pec;
        in.remove_prefix(used);
        if (parser.ready()) replies.push_back(parser.take());
      }
    }
    for (std::size_t i = 0; i + 1 < replies.size(); ++i) {
      if (replies[i].is_error()) co_return make_error_code(error::auth_failed);
    }
    const value& v = replies.back();
    if (v.is_null()) co_return answer{};
    if (v.is_error() || v.elements.size() != 2) co_return make_error_code(error::unexpected_reply);
    const auto& port_text = v.elements[1].str;
    unsigned port = 0;
    auto [end, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (pec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      co_return make_error_code(error::unexpected_reply);
    }
    co_return answer{std::pair{v.elements[0].str, static_cast<std::uint16_t>(port)}};
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

  // Subscribes on one sentinel and reports switches of our master until the
  // connection ends.
  asio::awaitable<void> listen(asio::any_io_executor ex, std::shared_ptr<tcp::socket> sock,
                               const endpoint& s) {
    asio::steady_timer watchdog(ex);
    arm(watchdog, sock, o_.timeout);  // connecting and subscribing only
    std::string command;
    resp::append_command(command, "SUBSCRIBE", "+switch-master");
    if (!co_await open(ex, *sock, s, command)) co_return;
    resp::parser parser;
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await sock->async_read_some(asio::buffer(buf), nothrow);
      if (ec || stopped_) co_return;
      std::string_view in(buf, n);
      while (!in.empty()) {
        error_code pec;
        const auto used = parser.feed(in, pec);
        if (pec) co_return;
        in.remove_prefix(used);
        if (!parser.ready()) continue;
        const value v = parser.take();
        if (v.is_error()) co_return;  // AUTH refused: try the next sentinel
        const auto& e = v.elements;
        if (e.size() == 3 && e[0].str == "subscribe") watchdog.cancel();  // subscribed
        // "<name> <old ip> <old port> <new ip> <new port>"
        if (e.size() == 3 && e[0].str == "message" && e[1].str == "+switch-master" &&
            e[2].str.starts_with(o_.master_name + " ") && changed_) {
          changed_();
        }
      }
    }
  }

  sentinel_options o_;
  std::size_t first_ = 0;  // the sentinel that answered last
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
