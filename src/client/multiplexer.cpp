// The multiplexer of one Redis connection, without I/O (multiplexer.hpp).
#include "client/multiplexer.hpp"

#include <algorithm>

namespace rcache::detail {

pending_ptr make_pending(request req, const pending_defaults& defaults, mux_clock::time_point now) {
  auto p = std::make_shared<pending>();
  p->commands = req.size();
  p->info = req.commands_info();
  p->retryable = req.opts().retry_on_connection_lost.value_or(req.read_only());
  p->retries_left = defaults.max_retries;
  p->wait_for_connection = req.opts().wait_for_connection;
  auto timeout = req.opts().timeout.count() > 0 ? req.opts().timeout : defaults.command_timeout;
  timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 365));
  p->deadline = now + timeout;
  p->payload = std::move(req).take_payload();
  return p;
}

// ---- the send queue ------------------------------------------------------------

bool multiplexer::enqueue(const pending_ptr& p, bool bypass_limits) {
  if (!bypass_limits && (queued_count_ >= limits_.max_queued_requests ||
                         queued_bytes_ + p->payload.size() > limits_.max_queued_bytes)) {
    return false;
  }
  count_queued(*p);
  add_deadline(p);
  send_.push_back(p);
  return true;
}

void multiplexer::enqueue_front(const std::vector<pending_ptr>& ps) {
  for (const auto& p : ps) {
    count_queued(*p);
    add_deadline(p);
  }
  send_.insert(send_.begin(), ps.begin(), ps.end());
}

multiplexer::write_batch multiplexer::prepare_write(std::string& buf, std::size_t max_bytes) {
  write_batch batch;
  while (!send_.empty() && buf.size() < max_bytes) {
    auto p = std::move(send_.front());
    send_.pop_front();
    if (p->done) continue;
    buf.append(p->payload);
    batch.requests += 1;
    batch.commands += p->commands;
    p->written = true;
    unqueue(*p);
    wait_.push_back(std::move(p));
  }
  return batch;
}

void multiplexer::mark_unsent(const write_batch& batch) {
  const auto n = std::min(batch.requests, wait_.size());
  for (auto i = wait_.size() - n; i < wait_.size(); ++i) wait_[i]->unsent = true;
}

void multiplexer::count_queued(pending& p) noexcept {
  p.queued = true;
  queued_count_ += 1;
  queued_bytes_ += p.payload.size();
}

void multiplexer::unqueue(pending& p) noexcept {
  if (!p.queued) return;
  p.queued = false;
  queued_count_ -= 1;
  queued_bytes_ -= p.payload.size();
}

// ---- reading ---------------------------------------------------------------------

// Starts the front request's next command: decides how many push
// confirmations it is owed (subscribe-kind) or that it wants one reply.
void multiplexer::start_command(pending& p) {
  p.command_started = true;
  p.confirmations_left = 0;
  if (p.info.empty()) return;
  const auto& ci = p.info[p.next];
  switch (ci.kind) {
    case request::reply_kind::normal:
      break;
    case request::reply_kind::subscribe:
      p.confirmations_left = ci.confirmations;
      break;
    case request::reply_kind::unsubscribe_all:
      // One confirmation per subscription of that kind this connection
      // has confirmed (one, saying "none", when there are none).
      p.confirmations_left = static_cast<std::uint32_t>(
          std::max<std::size_t>(1, sets_for(ci.confirmed_by).confirmed->size()));
      break;
  }
}

// Records one reply (or the last confirmation) for the front request; when
// every command has been answered, the request leaves the wait queue, and
// is returned unless it is a tombstone.
pending_ptr multiplexer::command_answered() {
  auto& p = *wait_.front();
  p.next += 1;
  p.command_started = false;
  if (p.next < p.commands) return nullptr;
  auto answered = std::move(wait_.front());
  wait_.pop_front();
  return answered->done ? nullptr : answered;
}

multiplexer::consumed multiplexer::consume(value& v) {
  if (v.type == resp_type::push) return consume_push(v);
  if (wait_.empty()) return {consumed::kind::unexpected, nullptr};
  auto& p = *wait_.front();
  if (!p.command_started) start_command(p);
  // A subscribe-kind command is answered by push confirmations, or by one
  // ordinary reply: an error, or +QUEUED inside MULTI.
  if (!p.done) p.replies.push_back(std::move(v));
  return {consumed::kind::reply, command_answered()};
}

multiplexer::subscription_sets multiplexer::sets_for(std::string_view kind) {
  if (kind == "subscribe" || kind == "unsubscribe") return {&channels_, &confirmed_channels_};
  if (kind == "psubscribe" || kind == "punsubscribe") return {&patterns_, &confirmed_patterns_};
  if (kind == "ssubscribe" || kind == "sunsubscribe") {
    return {&shard_channels_, &confirmed_shard_channels_};
  }
  return {nullptr, nullptr};
}

const std::set<std::string>& multiplexer::subscribed(std::string_view kind) const {
  static const std::set<std::string> none;
  if (kind == "subscribe") return channels_;
  if (kind == "psubscribe") return patterns_;
  if (kind == "ssubscribe") return shard_channels_;
  return none;
}

multiplexer::consumed multiplexer::consume_push(value& v) {
  const std::string_view kind = (!v.elements.empty() && v.elements[0].is_string())
                                    ? std::string_view(v.elements[0].str)
                                    : std::string_view();
  const auto sets = sets_for(kind);
  if (!sets.desired || v.elements.size() < 2) return {consumed::kind::push, nullptr};
  // Is it the answer to the front request's current command? Decide before
  // updating the sets: an UNSUBSCRIBE-all counts them.
  bool answers_front = false;
  if (!wait_.empty()) {
    auto& p = *wait_.front();
    if (!p.command_started) start_command(p);
    answers_front =
        p.confirmations_left > 0 && !p.info.empty() && p.info[p.next].confirmed_by == kind;
  }
  if (v.elements[1].is_string()) {
    const bool add = kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe";
    for (auto* set : {sets.desired, sets.confirmed}) {
      if (add) {
        set->insert(v.elements[1].str);
      } else {
        set->erase(v.elements[1].str);
      }
    }
  }
  // Unsolicited (the server dropped a channel, e.g. on a slot migration):
  // the application hears of it as a push.
  if (!answers_front) return {consumed::kind::push, nullptr};
  auto& p = *wait_.front();
  if (--p.confirmations_left > 0) return {consumed::kind::confirmation, nullptr};
  if (!p.done) p.replies.push_back(std::move(v));
  return {consumed::kind::confirmation, command_answered()};
}

pending_ptr multiplexer::oldest_waiting() const {
  return wait_.empty() ? nullptr : wait_.front();
}

// ---- ending requests ---------------------------------------------------------------

bool multiplexer::retire(pending& p) noexcept {
  if (p.done) return false;
  p.done = true;
  unqueue(p);
  p.payload = std::string();  // a retired request may linger in send_ or the heap
  prune_deadlines();
  return true;
}

multiplexer::lost_requests multiplexer::connection_lost(bool may_retry) {
  lost_requests out;
  std::deque<pending_ptr> waiting;
  waiting.swap(wait_);
  std::vector<pending_ptr> again;
  for (auto& p : waiting) {
    if (p->done) continue;
    if (may_retry && (p->unsent || (p->retryable && p->retries_left > 0))) {
      if (!p->unsent) p->retries_left -= 1;
      p->unsent = false;
      p->written = false;
      p->next = 0;
      p->command_started = false;
      p->confirmations_left = 0;
      p->replies.clear();
      count_queued(*p);
      out.retried += 1;
      again.push_back(std::move(p));
    } else {
      out.written.push_back(std::move(p));
    }
  }
  send_.insert(send_.begin(), again.begin(), again.end());
  out.queued = take_queued_if([](const pending& p) { return !p.wait_for_connection; });
  return out;
}

std::vector<pending_ptr> multiplexer::take_queued_if(
    const std::function<bool(const pending&)>& pred) {
  std::deque<pending_ptr> queued;
  queued.swap(send_);
  std::vector<pending_ptr> taken;
  for (auto& p : queued) {
    if (p->done) continue;
    if (pred(*p)) {
      taken.push_back(std::move(p));
    } else {
      send_.push_back(std::move(p));
    }
  }
  return taken;
}

std::vector<pending_ptr> multiplexer::take_all() {
  std::vector<pending_ptr> all(std::make_move_iterator(wait_.begin()),
                               std::make_move_iterator(wait_.end()));
  all.insert(all.end(), std::make_move_iterator(send_.begin()),
             std::make_move_iterator(send_.end()));
  wait_.clear();
  send_.clear();
  deadlines_.clear();
  return all;
}

// ---- deadlines ---------------------------------------------------------------------

namespace {
template <class Entry>
bool later(const Entry& a, const Entry& b) {
  return a.at > b.at;
}
}  // namespace

void multiplexer::add_deadline(const pending_ptr& p) {
  deadlines_.push_back({p->deadline, p});
  std::push_heap(deadlines_.begin(), deadlines_.end(), later<deadline_entry>);
}

pending_ptr multiplexer::pop_deadline() {
  std::pop_heap(deadlines_.begin(), deadlines_.end(), later<deadline_entry>);
  auto p = std::move(deadlines_.back().p);
  deadlines_.pop_back();
  return p;
}

// Keeps the heap short: entries at its top that are done go now.
void multiplexer::prune_deadlines() noexcept {
  while (!deadlines_.empty() && deadlines_.front().p->done) (void)pop_deadline();
}

mux_clock::time_point multiplexer::next_deadline() {
  prune_deadlines();
  return deadlines_.empty() ? mux_clock::time_point::max() : deadlines_.front().at;
}

std::vector<pending_ptr> multiplexer::take_expired(mux_clock::time_point now) {
  std::vector<pending_ptr> expired;
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    auto p = pop_deadline();
    if (!p->done) expired.push_back(std::move(p));
  }
  return expired;
}

// ---- pub/sub -------------------------------------------------------------------------

std::vector<multiplexer::resubscription> multiplexer::restore_subscriptions() {
  confirmed_channels_.clear();
  confirmed_patterns_.clear();
  confirmed_shard_channels_.clear();
  std::vector<resubscription> out;
  const auto add = [&out](std::string_view cmd, const std::set<std::string>& set) {
    if (set.empty()) return;
    request r;
    r.push_range(cmd, set);
    out.push_back({cmd, std::move(r)});
  };
  add("SUBSCRIBE", channels_);
  add("PSUBSCRIBE", patterns_);
  add("SSUBSCRIBE", shard_channels_);
  return out;
}

}  // namespace rcache::detail
