// The subscriptions of a client's subscribers (subscriptions.hpp).
#include "client/subscriptions.hpp"

#include <algorithm>

namespace rcache::detail {

std::vector<std::string> subscription_table::add(owner o, subscription_kind kind,
                                                 const std::vector<std::string>& names) {
  std::vector<std::string> added;
  auto& held = held_[index(kind)];
  for (const auto& n : names) {
    if (held[n].insert(o).second) added.push_back(n);
  }
  return added;
}

void subscription_table::remove(owner o, subscription_kind kind,
                                const std::vector<std::string>& names) {
  auto& held = held_[index(kind)];
  for (const auto& n : names) {
    const auto it = held.find(n);
    if (it == held.end()) continue;
    it->second.erase(o);
    if (it->second.empty()) held.erase(it);
  }
}

void subscription_table::remove_owner(owner o) {
  for (auto& held : held_) {
    for (auto it = held.begin(); it != held.end();) {
      it->second.erase(o);
      it = it->second.empty() ? held.erase(it) : std::next(it);
    }
  }
}

std::optional<subscription_table::change> subscription_table::next_change() const {
  for (std::size_t k = 0; k < kinds; ++k) {
    const auto kind = static_cast<subscription_kind>(k);
    change add{kind, true, {}};
    for (const auto& [name, owners] : held_[k]) {
      if (!told_[k].contains(name)) add.names.push_back(name);
    }
    if (!add.names.empty()) return add;
    change drop{kind, false, {}};
    for (const auto& name : told_[k]) {
      if (!held_[k].contains(name)) drop.names.push_back(name);
    }
    if (!drop.names.empty()) return drop;
  }
  return std::nullopt;
}

void subscription_table::applied(const change& c) {
  auto& told = told_[index(c.kind)];
  for (const auto& n : c.names) {
    if (c.subscribe) {
      told.insert(n);
    } else {
      told.erase(n);
    }
  }
}

bool subscription_table::in_line(subscription_kind kind,
                                 const std::vector<std::string>& names) const {
  const auto k = index(kind);
  return std::all_of(names.begin(), names.end(), [&](const std::string& n) {
    return held_[k].contains(n) == told_[k].contains(n);
  });
}

std::vector<subscription_table::owner> subscription_table::owners_of(subscription_kind kind,
                                                                     std::string_view name) const {
  const auto& held = held_[index(kind)];
  const auto it = held.find(name);
  if (it == held.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<std::string> subscription_table::held_by(owner o, subscription_kind kind) const {
  std::vector<std::string> out;
  for (const auto& [name, owners] : held_[index(kind)]) {
    if (owners.contains(o)) out.push_back(name);
  }
  return out;
}

std::optional<message> message_of(const value& push) {
  const auto& e = push.elements;
  if (e.size() < 3) return std::nullopt;
  const auto& kind = e[0].str;
  message m;
  if (kind == "message" || kind == "smessage") {
    m.kind = kind == "message" ? subscription_kind::channel : subscription_kind::shard_channel;
    m.channel = e[1].str;
    m.payload = e[2].str;
    return m;
  }
  if (kind == "pmessage" && e.size() >= 4) {
    m.kind = subscription_kind::pattern;
    m.pattern = e[1].str;
    m.channel = e[2].str;
    m.payload = e[3].str;
    return m;
  }
  return std::nullopt;
}

std::string_view command_of(const subscription_table::change& c) noexcept {
  switch (c.kind) {
    case subscription_kind::channel:
      return c.subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE";
    case subscription_kind::pattern:
      return c.subscribe ? "PSUBSCRIBE" : "PUNSUBSCRIBE";
    case subscription_kind::shard_channel:
      break;
  }
  return c.subscribe ? "SSUBSCRIBE" : "SUNSUBSCRIBE";
}

}  // namespace rcache::detail
