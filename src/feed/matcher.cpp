// Subscription matching; see matcher.hpp.
#include "feed/matcher.hpp"

#include <algorithm>

namespace rcache::feed {

std::uint32_t matcher::child(const node& n, char c) noexcept {
  auto it = std::lower_bound(n.children.begin(), n.children.end(), c,
                             [](const auto& p, char x) { return p.first < x; });
  return it != n.children.end() && it->first == c ? it->second : none;
}

void matcher::erase_id(std::vector<subscription_id>& ids, subscription_id id) {
  if (auto it = std::find(ids.begin(), ids.end(), id); it != ids.end()) {
    *it = ids.back();
    ids.pop_back();
  }
}

void matcher::add_key(std::string_view ns, std::string_view key, subscription_id id) {
  auto space = keys_.find(ns);
  if (space == keys_.end())
    space = keys_.emplace(std::string(ns), by_text<std::vector<subscription_id>>{}).first;
  auto it = space->second.find(key);
  if (it == space->second.end())
    it = space->second.emplace(std::string(key), std::vector<subscription_id>{}).first;
  it->second.push_back(id);
  ++size_;
}

void matcher::remove_key(std::string_view ns, std::string_view key, subscription_id id) {
  auto space = keys_.find(ns);
  if (space == keys_.end()) return;
  auto it = space->second.find(key);
  if (it == space->second.end()) return;
  const auto before = it->second.size();
  erase_id(it->second, id);
  size_ -= before - it->second.size();
  if (it->second.empty()) space->second.erase(it);
  if (space->second.empty()) keys_.erase(space);
}

void matcher::add_prefix(std::string_view ns, std::string_view prefix, subscription_id id) {
  auto found = tries_.find(ns);
  if (found == tries_.end()) found = tries_.emplace(std::string(ns), trie{}).first;
  auto& t = found->second;
  std::uint32_t n = 0;
  for (char c : prefix) {
    auto next = child(t.nodes[n], c);
    if (next == none) {
      if (!t.free.empty()) {
        next = t.free.back();
        t.free.pop_back();
        t.nodes[next] = node{};
      } else {
        next = static_cast<std::uint32_t>(t.nodes.size());
        t.nodes.emplace_back();
      }
      t.nodes[next].parent = n;
      t.nodes[next].label = c;
      auto& kids = t.nodes[n].children;
      auto at = std::lower_bound(kids.begin(), kids.end(), c,
                                 [](const auto& p, char x) { return p.first < x; });
      kids.insert(at, {c, next});
    }
    n = next;
  }
  t.nodes[n].ids.push_back(id);
  ++size_;
}

void matcher::remove_prefix(std::string_view ns, std::string_view prefix, subscription_id id) {
  auto tit = tries_.find(ns);
  if (tit == tries_.end()) return;
  auto& t = tit->second;
  std::uint32_t n = 0;
  for (char c : prefix) {
    n = child(t.nodes[n], c);
    if (n == none) return;
  }
  const auto before = t.nodes[n].ids.size();
  erase_id(t.nodes[n].ids, id);
  size_ -= before - t.nodes[n].ids.size();
  // Free the nodes no subscription needs any more, up to the first that does.
  while (n != 0 && t.nodes[n].ids.empty() && t.nodes[n].children.empty()) {
    const auto parent = t.nodes[n].parent;
    auto& kids = t.nodes[parent].children;
    std::erase_if(kids, [n](const auto& p) { return p.second == n; });
    t.nodes[n] = node{};
    t.free.push_back(n);
    n = parent;
  }
  if (t.nodes[0].ids.empty() && t.nodes[0].children.empty()) tries_.erase(tit);
}

void matcher::add_channel(std::string_view channel, subscription_id id) {
  auto it = channels_.find(channel);
  if (it == channels_.end())
    it = channels_.emplace(std::string(channel), std::vector<subscription_id>{}).first;
  it->second.push_back(id);
  ++size_;
}

void matcher::remove_channel(std::string_view channel, subscription_id id) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  const auto before = it->second.size();
  erase_id(it->second, id);
  size_ -= before - it->second.size();
  if (it->second.empty()) channels_.erase(it);
}

std::size_t matcher::trie_nodes() const noexcept {
  std::size_t n = 0;
  for (const auto& [ns, t] : tries_) n += t.nodes.size() - t.free.size();
  return n;
}

}  // namespace rcache::feed
