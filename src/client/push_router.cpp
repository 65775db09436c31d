// Where a client's push messages go, and its subscribers (push_router.hpp).
#include "client/push_router.hpp"

#include <algorithm>

#include "client/client_base.hpp"
#include "client/completion.hpp"
#include "client/subscriber_state.hpp"

namespace rcache::detail {

void push_router::set_listener(listener l) {
  auto p = l ? std::make_shared<const listener>(std::move(l)) : nullptr;
  std::lock_guard lock(mutex_);
  listener_ = std::move(p);
}

void push_router::set_application(handler h) {
  auto p = h ? std::make_shared<const handler>(std::move(h)) : nullptr;
  std::lock_guard lock(mutex_);
  application_ = std::move(p);
}

void push_router::dispatch(const value& v) const {
  std::shared_ptr<const listener> l;
  std::shared_ptr<const handler> app;
  {
    std::lock_guard lock(mutex_);
    l = listener_;
    app = application_;
  }
  if (l) {
    bool consumed = false;
    try {
      consumed = (*l)(v);
    } catch (...) {  // the policy of report(): caught and dropped
    }
    if (consumed) return;
  }
  if (auto m = message_of(v)) {
    std::vector<std::shared_ptr<subscriber_state>> to;
    {
      std::lock_guard lock(mutex_);
      const auto name = m->kind == subscription_kind::pattern ? m->pattern : m->channel;
      for (const auto o : table_.owners_of(m->kind, name)) {
        if (const auto it = subscribers_.find(o); it != subscribers_.end()) {
          to.push_back(it->second);
        }
      }
    }
    for (std::size_t i = 0; i < to.size(); ++i) {
      to[i]->deliver(i + 1 == to.size() ? std::move(*m) : *m);
    }
  }
  if (app) report(*app, v);
}

void push_router::attach(const std::shared_ptr<subscriber_state>& s) {
  std::lock_guard lock(mutex_);
  s->id = next_owner_++;
  subscribers_.emplace(s->id, s);
}

void push_router::change(const std::shared_ptr<subscriber_state>& s, subscription_kind kind,
                         bool subscribe, std::vector<std::string> names, subscribe_handler h) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::unique_lock lock(mutex_);
  boost::system::error_code ec;
  if (!subscribers_.contains(s->id)) {
    ec = make_error_code(error::subscriber_closed);
  } else if (subscribe && names.empty()) {
    ec = make_error_code(error::invalid_argument);  // SUBSCRIBE with nothing to subscribe to
  }
  if (ec || (!subscribe && names.empty() && table_.held_by(s->id, kind).empty())) {
    lock.unlock();
    complete_later(s->executor, std::move(h), ec);
    return;
  }
  if (!subscribe && names.empty()) names = table_.held_by(s->id, kind);
  std::vector<std::string> added;
  if (subscribe) {
    added = table_.add(s->id, kind, names);
  } else {
    table_.remove(s->id, kind, names);
  }
  if (table_.in_line(kind, names)) {
    lock.unlock();
    complete_later(s->executor, std::move(h), ec);
    return;
  }
  waiters_.push_back({s->id, kind, std::move(names), std::move(added), std::move(h), s->executor});
  stalled_ = false;
  auto next = start_change();
  lock.unlock();
  if (next) send(std::move(*next));
}

void push_router::detach(const subscriber_state& s) {
  std::vector<finished> done;
  std::optional<subscription_table::change> next;
  {
    std::lock_guard lock(mutex_);
    if (subscribers_.erase(s.id) == 0) return;
    table_.remove_owner(s.id);
    finish_waiters([&](const waiter& w) { return w.owner == s.id; },
                   make_error_code(error::subscriber_closed), done);
    stalled_ = false;
    next = start_change();
  }
  complete(std::move(done));
  if (next) send(std::move(*next));
}

std::vector<std::string> push_router::held_by(const subscriber_state& s,
                                              subscription_kind kind) const {
  std::lock_guard lock(mutex_);
  return table_.held_by(s.id, kind);
}

void push_router::shutdown() {
  std::vector<finished> done;
  std::map<subscription_table::owner, std::shared_ptr<subscriber_state>> subscribers;
  {
    std::lock_guard lock(mutex_);
    subscribers.swap(subscribers_);
    for (const auto& [id, s] : subscribers) table_.remove_owner(id);
    finish_waiters([](const waiter&) { return true; }, make_error_code(error::client_stopped),
                   done);
    stalled_ = true;  // nothing is sent any more
  }
  for (const auto& [id, s] : subscribers) s->shut();
  complete(std::move(done));
}

std::optional<subscription_table::change> push_router::start_change() {
  if (in_flight_ || stalled_) return std::nullopt;
  auto c = table_.next_change();
  in_flight_ = c.has_value();
  return c;
}

void push_router::send(subscription_table::change c) {
  const auto impl = impl_.lock();
  if (!impl) {
    on_sent(c, make_error_code(error::client_stopped));
    return;
  }
  request req;
  if (c.kind == subscription_kind::shard_channel) {
    // One command per shard channel: a cluster client routes each to the
    // master of its slot.
    for (const auto& n : c.names) req.push(command_of(c), n);
  } else {
    req.push_range(command_of(c), c.names);
  }
  auto self = shared_from_this();
  impl->submit(std::move(req),
               [self = std::move(self), c](boost::system::error_code ec, response r) {
                 // An error reply (an ACL refusal, a server too old for
                 // SSUBSCRIBE) fails the change like a transport error.
                 const bool refused =
                     std::any_of(r.begin(), r.end(), [](const value& v) { return v.is_error(); });
                 if (!ec && refused) ec = make_error_code(error::redis_error);
                 self->on_sent(c, ec);
               });
}

void push_router::on_sent(const subscription_table::change& c, boost::system::error_code ec) {
  std::vector<finished> done;
  std::optional<subscription_table::change> next;
  {
    std::lock_guard lock(mutex_);
    in_flight_ = false;
    if (ec) {
      // Every waiting call fails (the cause is the connection's, as a rule)
      // and what the subscribe calls added is undone.
      for (const auto& w : waiters_) table_.remove(w.owner, w.kind, w.added);
      finish_waiters([](const waiter&) { return true; }, ec, done);
      stalled_ = true;
    } else {
      table_.applied(c);
      finish_waiters([&](const waiter& w) { return table_.in_line(w.kind, w.names); }, ec, done);
      next = start_change();
    }
  }
  complete(std::move(done));
  if (next) send(std::move(*next));
}

template <class Pred>
void push_router::finish_waiters(Pred done, boost::system::error_code ec,
                                 std::vector<finished>& out) {
  // Moved into a new vector, never move-assigned: Boost 1.81's
  // any_completion_handler move assignment recurses.
  std::vector<waiter> kept;
  for (auto& w : waiters_) {
    if (done(w)) {
      out.push_back({std::move(w.handler), std::move(w.executor), ec});
    } else {
      kept.push_back(std::move(w));
    }
  }
  waiters_.swap(kept);
}

void push_router::complete(std::vector<finished> done) {
  for (auto& f : done) complete_later(f.executor, std::move(f.handler), f.ec);
}

}  // namespace rcache::detail
