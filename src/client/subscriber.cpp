// rcache::subscriber (include/rcache/subscriber.hpp) and the state it
// shares with the push router (subscriber_state.hpp).
#include <rcache/subscriber.hpp>

#include "client/client_base.hpp"
#include "client/completion.hpp"
#include "client/push_router.hpp"
#include "client/subscriber_state.hpp"

namespace rcache {
namespace detail {

subscriber_state::subscriber_state(std::shared_ptr<push_router> r, boost::asio::any_io_executor ex,
                                   subscriber_options opts,
                                   std::function<void(const message&)> on_message)
    : router(std::move(r)),
      executor(std::move(ex)),
      opts_(opts),
      on_message_(std::move(on_message)) {}

void subscriber_state::deliver(message m) {
  if (on_message_) {
    report(on_message_, m);
    return;
  }
  std::unique_lock lock(mutex_);
  if (shut_) return;
  // A message's dropped_before is the gap in front of it: the drops since
  // the message before it was accepted.
  m.dropped_before = std::exchange(gap_, 0);
  if (waiting_) {
    auto h = std::move(*waiting_);
    waiting_.reset();
    lock.unlock();
    complete_later(executor, std::move(h), boost::system::error_code{}, std::move(m));
    return;
  }
  if (buffer_.size() >= opts_.max_buffered) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (opts_.overflow == overflow_policy::drop_newest || buffer_.empty()) {
      gap_ = m.dropped_before + 1;  // the next message accepted carries it
      return;
    }
    const auto lost = buffer_.front().dropped_before + 1;
    buffer_.pop_front();
    if (buffer_.empty()) {
      m.dropped_before += lost;
    } else {
      buffer_.front().dropped_before += lost;
    }
  }
  buffer_.push_back(std::move(m));
}

void subscriber_state::receive(receive_handler h) {
  std::unique_lock lock(mutex_);
  boost::system::error_code ec;
  message m;
  if (shut_) {
    ec = make_error_code(error::subscriber_closed);
  } else if (waiting_) {
    ec = make_error_code(error::receive_in_progress);
  } else if (buffer_.empty()) {
    waiting_.emplace(std::move(h));
    return;
  } else {
    m = std::move(buffer_.front());
    buffer_.pop_front();
  }
  lock.unlock();
  complete_later(executor, std::move(h), ec, std::move(m));
}

void subscriber_state::shut() {
  std::unique_lock lock(mutex_);
  if (shut_) return;
  shut_ = true;
  buffer_.clear();
  if (!waiting_) return;
  auto h = std::move(*waiting_);
  waiting_.reset();
  lock.unlock();
  complete_later(executor, std::move(h), make_error_code(error::subscriber_closed), message{});
}

std::uint64_t subscriber_state::dropped() const noexcept {
  return dropped_.load(std::memory_order_relaxed);
}

std::size_t subscriber_state::buffered() const {
  std::lock_guard lock(mutex_);
  return buffer_.size();
}

}  // namespace detail

namespace {
std::shared_ptr<detail::subscriber_state> attach(client& c, subscriber_options opts,
                                                 std::function<void(const message&)> cb) {
  const auto& router = detail::router_of(c);
  auto st =
      std::make_shared<detail::subscriber_state>(router, c.get_executor(), opts, std::move(cb));
  router->attach(st);
  return st;
}
}  // namespace

subscriber::subscriber(client& c, subscriber_options opts) : st_(attach(c, opts, nullptr)) {}

subscriber::subscriber(client& c, std::function<void(const message&)> on_message)
    : st_(attach(c, subscriber_options{}, std::move(on_message))) {}

subscriber::~subscriber() {
  close();
}

subscriber::subscriber(subscriber&&) noexcept = default;

subscriber& subscriber::operator=(subscriber&& o) noexcept {
  if (this != &o) {
    close();
    st_ = std::move(o.st_);
  }
  return *this;
}

void subscriber::close() {
  if (!st_) return;
  st_->router->detach(*st_);
  st_->shut();
}

std::vector<std::string> subscriber::subscriptions(subscription_kind kind) const {
  return st_ ? st_->router->held_by(*st_, kind) : std::vector<std::string>{};
}

std::uint64_t subscriber::dropped() const noexcept {
  return st_ ? st_->dropped() : 0;
}

std::size_t subscriber::buffered() const {
  return st_ ? st_->buffered() : 0;
}

void subscriber::submit_change(const std::shared_ptr<detail::subscriber_state>& st,
                               subscription_kind kind, bool subscribe,
                               std::vector<std::string> names, detail::subscribe_handler h) {
  st->router->change(st, kind, subscribe, std::move(names), std::move(h));
}

void subscriber::receive(const std::shared_ptr<detail::subscriber_state>& st,
                         detail::receive_handler h) {
  st->receive(std::move(h));
}

}  // namespace rcache
