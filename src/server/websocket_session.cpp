// The change feed's WebSocket connections; see websocket_session.hpp.
//
// A session runs on the connection's thread: run(), a coroutine, reads the
// client's messages, and a chain of write completions, started whenever
// the outbox gets something while none runs, writes the outbox out and
// ends when it is empty (plain completions: a coroutine would be spawned
// for nearly every change and connection, the outbox being empty between
// changes). The hub's calls (feed::sink) arrive on its strand and are
// posted here, its live messages in one batch per thread (take()); the
// session is shared, so a call posted after the connection ended finds it
// closed and does nothing.
#include "server/websocket_session.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <variant>

#include "feed/hub.hpp"
#include "server/feed_protocol.hpp"
#include "server/log.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(use_session_task);

// The close code of a slow consumer (4000-4999: the application's own).
constexpr std::uint16_t close_slow_consumer = 4008;
// SO_SNDBUF of a feed connection (Linux doubles it): enough for a burst of
// changes, small against a non-reading subscriber's share of memory.
constexpr int send_buffer_bytes = 64 * 1024;

bool listed(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Counts a feed connection in and out.
class feed_slot {
 public:
  explicit feed_slot(shared_state& st) : st_(st) { st_.feed_open.fetch_add(1); }
  ~feed_slot() { st_.feed_open.fetch_sub(1); }
  feed_slot(const feed_slot&) = delete;
  feed_slot& operator=(const feed_slot&) = delete;

 private:
  shared_state& st_;
};

class feed_session final : public feed::sink, public std::enable_shared_from_this<feed_session> {
 public:
  feed_session(std::shared_ptr<shared_state> st, std::shared_ptr<connection> conn)
      : st_(std::move(st)),
        conn_(std::move(conn)),
        ex_(conn_->socket.get_executor()),
        slot_(*st_),
        ws_(conn_->socket),
        box_({.max_messages = st_->cfg.feed.queue_messages,
              .max_bytes = st_->cfg.feed.queue_bytes}) {}

  session_task<> run(http::request<http::empty_body> req) {
    auto& hub = *st_->gw.feed();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = st_->cfg.write_timeout;
    t.idle_timeout = st_->cfg.feed.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(st_->cfg.feed.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.text(true);
    conn_->no_deadline();  // Beast's own timeouts from here on
    // A small kernel send buffer: a subscriber that does not read holds
    // little in the kernel, and its outbox's policy takes over early.
    error_code bec;
    conn_->socket.set_option(asio::socket_base::send_buffer_size(send_buffer_bytes), bec);
    auto [aec] = co_await ws_.async_accept(req, use_tuple);
    if (aec) co_return;
    // Waiting for messages is idle: a draining server closes it at once.
    conn_->idle = true;
    message_limits limits{.max_key_bytes = st_->cfg.cache.max_key_size};
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
      if (ec) break;
      const auto data = buffer.cdata();
      std::string_view text(static_cast<const char*>(data.data()), data.size());
      handle(parse_client_message(text, limits), hub);
      buffer.consume(buffer.size());
      if (buffer.capacity() > 4096) buffer.shrink_to_fit();  // an idle connection stays small
    }
    closed_ = true;
    hub.drop(this);
  }

  // ---- feed::sink (the hub's strand; take() on this connection's thread) ------

  const asio::any_io_executor& executor() const override { return ex_; }

  void subscribed(const std::string& id, std::vector<feed::position> positions,
                  bool resumed) override {
    control(subscribed_json(id, positions, resumed));
  }
  void refused(const std::string& id, std::string code, std::string reason) override {
    control(refused_json({std::move(code), std::move(reason), id}));
  }
  void unsubscribed(const std::string& id) override { control(unsubscribed_json(id)); }
  void reset(const std::string& id, std::string reason) override {
    control(reset_json(id, reason));
  }
  void notice(bool available, std::string detail) override {
    control(notice_json(available ? "redis_available" : "redis_unavailable", detail));
  }
  void take(const feed::frame& f, std::string_view coalesce_key,
            feed::slow_policy policy) override {
    if (closed_) return;
    if (box_.push_change(f, coalesce_key, policy) == feed::outbox::outcome::close) {
      return close_with(close_slow_consumer, "slow consumer");
    }
    kick();
  }
  void replay(std::vector<feed::frame> page, std::function<void()> queued) override {
    on_thread([page = std::move(page), queued = std::move(queued)](feed_session& s) mutable {
      s.pending_replay_ = std::move(page);
      s.replay_queued_ = std::move(queued);
      s.take_replay();
    });
  }

 private:
  template <class F>
  void on_thread(F f) {
    asio::post(ex_, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (!self->closed_) f(*self);
    });
  }

  void control(std::string text) {
    on_thread([f = std::make_shared<const std::string>(std::move(text))](feed_session& s) {
      if (s.box_.push_control(f) == feed::outbox::outcome::close) {
        return s.close_with(close_slow_consumer, "slow consumer");
      }
      s.kick();
    });
  }

  // A message from the client.
  void handle(client_message m, feed::hub& hub) {
    if (auto* e = std::get_if<message_error>(&m)) {
      return control(refused_json(*e));
    }
    if (auto* u = std::get_if<unsubscribe_request>(&m)) {
      return hub.unsubscribe(shared_from_this(), std::move(u->id));
    }
    auto& sub = std::get<subscribe_request>(m);
    // Authorisation, once per subscription (never per message).
    const auto& allowed = st_->cfg.feed.namespaces;
    if (!allowed.empty()) {
      if (sub.kind == feed::target_kind::channel) {
        return control(refused_json({"forbidden",
                                     "feed.namespaces is set: only its namespaces may be "
                                     "subscribed to, no channel",
                                     sub.id}));
      }
      if (!listed(allowed, sub.ns)) {
        return control(refused_json(
            {"forbidden", "namespace '" + sub.ns + "' is not in feed.namespaces", sub.id}));
      }
    }
    hub.subscribe(shared_from_this(), std::move(sub));
  }

  // Moves a waiting resume page into the outbox once it has room for all
  // of it; the hub then fetches the next.
  void take_replay() {
    if (pending_replay_.empty()) return;
    std::size_t bytes = 0;
    for (const auto& f : pending_replay_) bytes += f->size();
    // A page goes in when it leaves half of the outbox free (live changes
    // arrive once the resume is over, and must find room), or when the
    // outbox is empty (a page larger than half of it).
    const auto& limits = st_->cfg.feed;
    if (!box_.empty() && !box_.room_for(pending_replay_.size() + limits.queue_messages / 2,
                                        bytes + limits.queue_bytes / 2)) {
      return;
    }
    for (auto& f : pending_replay_) box_.push_replay(std::move(f));
    pending_replay_.clear();
    auto queued = std::move(replay_queued_);
    replay_queued_ = nullptr;
    if (queued) queued();
    kick();
  }

  void close_with(std::uint16_t code, std::string reason) {
    if (close_code_) return;
    close_code_ = code;
    close_reason_ = std::move(reason);
    kick();
  }

  void kick() {
    if (writing_ || closed_) return;
    writing_ = true;
    write_next();
  }

  // Writes the next message of the outbox (a gap marker first when
  // messages were dropped), or the close frame; each write under the write
  // deadline. Ends, clearing writing_, when the outbox is empty.
  void write_next() {
    if (closed_) {
      writing_ = false;
      return;
    }
    if (close_code_) {
      conn_->expires_after(st_->cfg.write_timeout);
      // A close frame's reason is at most 123 bytes.
      const websocket::close_reason why(static_cast<websocket::close_code>(*close_code_),
                                        close_reason_.substr(0, 120));
      ws_.async_close(why, [self = shared_from_this()](error_code) {
        self->conn_->close();
        self->closed_ = true;
        self->writing_ = false;
      });
      return;
    }
    if (box_.pending_gap() > 0) {
      writing_frame_ = std::make_shared<const std::string>(gap_json(box_.take_gap()));
    } else if (!box_.empty()) {
      writing_frame_ = box_.front();
      box_.pop();
    } else {
      writing_ = false;
      return;
    }
    conn_->expires_after(st_->cfg.write_timeout);
    ws_.async_write(asio::buffer(*writing_frame_),
                    [self = shared_from_this()](error_code ec, std::size_t) {
                      self->writing_frame_.reset();
                      self->conn_->no_deadline();
                      if (ec) {
                        self->closed_ = true;
                        self->writing_ = false;
                        return;
                      }
                      self->take_replay();
                      self->write_next();
                    });
  }

  std::shared_ptr<shared_state> st_;
  std::shared_ptr<connection> conn_;
  asio::any_io_executor ex_;
  feed_slot slot_;
  websocket::stream<socket_t&> ws_;
  feed::outbox box_;
  bool writing_ = false;
  feed::frame writing_frame_;  // the message being written
  bool closed_ = false;
  std::optional<std::uint16_t> close_code_;
  std::string close_reason_;
  std::vector<feed::frame> pending_replay_;  // a resume page waiting for room
  std::function<void()> replay_queued_;
};

}  // namespace

std::optional<api_error> refuse_feed_upgrade(const shared_state& st, const request_parser& parser) {
  if (!st.gw.feed()) {
    return api_error{
        404, "not_found", "the change feed is off (feed.enabled = false)", {}, websocket_route};
  }
  const auto& origins = st.cfg.feed.allowed_origins;
  if (auto origin = parser.origin(); origin && !origins.empty() && !listed(origins, *origin)) {
    return api_error{
        403, "forbidden_origin", "this Origin is not in feed.allowed_origins", {}, websocket_route};
  }
  if (st.feed_open.load() >= st.cfg.feed.max_connections) {
    return api_error{429,
                     "too_many_connections",
                     "the feed serves feed.max_connections connections already",
                     {},
                     websocket_route};
  }
  return std::nullopt;
}

session_task<> run_feed_session(std::shared_ptr<shared_state> st, std::shared_ptr<connection> conn,
                                const request_parser& parser) {
  // The upgrade request as Beast's accept reads it (it checks the fields
  // and writes the 101, or 400 / 426).
  http::request<http::empty_body> req{http::verb::get, parser.target(), 11};
  req.set(http::field::host, "rcache");
  req.set(http::field::connection, "upgrade");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::sec_websocket_key, parser.websocket_key());
  req.set(http::field::sec_websocket_version, parser.websocket_version());
  auto session = std::make_shared<feed_session>(std::move(st), std::move(conn));
  co_await session->run(std::move(req));
}

}  // namespace rcache::server
