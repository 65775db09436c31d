// Direct writes through keyspace notifications; see keyspace.hpp.
#include "feed/keyspace.hpp"

#include <array>

namespace rcache::feed {

keyspace_verdict judge_keyspace_events(std::optional<std::string_view> flags,
                                       std::string_view error) {
  const std::string fix =
      "; to see them: CONFIG SET notify-keyspace-events " + std::string(keyspace_flags);
  if (!flags) {
    return {false, "cannot read notify-keyspace-events (" + std::string(error) +
                       "): writes made straight into Redis may not reach feed subscribers" + fix};
  }
  const auto has = [&](char c) { return flags->find(c) != std::string_view::npos; };
  // 'A' is "g$lshzxetd" (and m, n are separate): it covers g, $ and x.
  const bool all = has('A');
  std::string missing;
  for (char c : std::string_view("Kg$x")) {
    if (c == 'K' ? !has('K') : !(all || has(c))) missing.push_back(c);
  }
  const std::string shown = "notify-keyspace-events is '" + std::string(*flags) + "'";
  if (missing.empty()) {
    return {true, shown +
                      ": writes made straight into Redis reach feed subscribers (without "
                      "a position: one made while the gateway's connection is down is lost)"};
  }
  return {false, shown + ", without '" + missing +
                     "': writes made straight into Redis do not reach feed subscribers (writes "
                     "through rcache do)" +
                     fix};
}

std::optional<std::string_view> keyspace_key(std::string_view channel) noexcept {
  constexpr std::string_view head = "__keyspace@";
  if (!channel.starts_with(head)) return std::nullopt;
  const auto end = channel.find("__:", head.size());
  if (end == std::string_view::npos || end == head.size()) return std::nullopt;
  for (auto c : channel.substr(head.size(), end - head.size())) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return channel.substr(end + 3);
}

std::optional<write_event::kind> keyspace_op(std::string_view event) noexcept {
  static constexpr std::array<std::string_view, 5> deleted = {"del", "unlink", "expired", "evicted",
                                                              "rename_from"};
  for (auto e : deleted) {
    if (event == e) return write_event::kind::del;
  }
  if (event == "expire" || event == "persist") return write_event::kind::expire;
  // Events that change no value: a key created for a later write (new),
  // moves between databases, and what a subscriber of values cannot use.
  if (event == "new" || event == "move_from" || event == "move_to" || event == "rename_to" ||
      event.empty()) {
    return event == "rename_to" ? std::optional(write_event::kind::set) : std::nullopt;
  }
  return write_event::kind::set;
}

bool direct_write_filter::notified(const std::string& key, write_event::kind op, time_point now) {
  // The logged change of this write came first: it stood for it.
  if (auto c = credits_.find(key); c != credits_.end()) {
    c->second.pop_front();
    if (c->second.empty()) credits_.erase(c);
    return false;
  }
  if (held_count_ >= max_held_) return true;
  held_[key].emplace_back(now, op);
  ++held_count_;
  return false;
}

void direct_write_filter::logged(const std::string& key, write_event::kind op, std::int64_t ttl_ms,
                                 time_point now) {
  if (auto h = held_.find(key); h != held_.end()) {
    held_count_ -= h->second.size();
    held_.erase(h);
    return;
  }
  // None yet (they took another way): the ones this write sends are
  // still to come.
  const std::size_t expected = op == write_event::kind::set && ttl_ms > 0 ? 2 : 1;
  auto& q = credits_[key];
  for (std::size_t i = 0; i < expected; ++i) q.push_back(now);
}

std::vector<std::pair<std::string, write_event::kind>> direct_write_filter::expire(time_point now) {
  const auto cutoff = now - window_;
  std::vector<std::pair<std::string, write_event::kind>> due;
  for (auto it = held_.begin(); it != held_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front().first <= cutoff) {
      due.emplace_back(it->first, q.front().second);
      q.pop_front();
      --held_count_;
    }
    it = q.empty() ? held_.erase(it) : std::next(it);
  }
  for (auto it = credits_.begin(); it != credits_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front() <= cutoff) q.pop_front();
    it = q.empty() ? credits_.erase(it) : std::next(it);
  }
  return due;
}

void direct_write_filter::clear() {
  held_.clear();
  credits_.clear();
  held_count_ = 0;
}

}  // namespace rcache::feed
