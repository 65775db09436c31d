// Which subscriptions a change matches, at a cost that does not grow with
// the number of subscriptions: exact keys by hash, key prefixes (and whole
// namespaces: the empty prefix) by a trie walked along the key, pub/sub
// channels by hash.
//
// match() on a key of length L visits at most L + 1 trie nodes of its
// namespace and one hash bucket, then calls back once per subscription
// that matches; adding and removing are O(L). Trie nodes that no
// subscription needs any more are freed and reused, so memory follows the
// live subscriptions, not those ever made.
//
// Threading: not thread-safe; the hub uses one matcher on its strand.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rcache::feed {

using subscription_id = std::uint64_t;

class matcher {
 public:
  void add_key(std::string_view ns, std::string_view key, subscription_id id);
  void remove_key(std::string_view ns, std::string_view key, subscription_id id);
  /// `prefix` empty: the whole namespace.
  void add_prefix(std::string_view ns, std::string_view prefix, subscription_id id);
  void remove_prefix(std::string_view ns, std::string_view prefix, subscription_id id);
  void add_channel(std::string_view channel, subscription_id id);
  void remove_channel(std::string_view channel, subscription_id id);

  /// Calls f(id) for every subscription of `key` in `ns`: its exact key,
  /// each prefix of it, the namespace.
  template <class F>
  void match(std::string_view ns, std::string_view key, F&& f) const {
    // Lookups by string_view: matching allocates nothing.
    if (auto space = keys_.find(ns); space != keys_.end()) {
      if (auto it = space->second.find(key); it != space->second.end()) {
        for (auto id : it->second) f(id);
      }
    }
    auto t = tries_.find(ns);
    if (t == tries_.end()) return;
    const auto& nodes = t->second.nodes;
    std::uint32_t n = 0;
    for (std::size_t i = 0;; ++i) {
      for (auto id : nodes[n].ids) f(id);
      if (i == key.size()) break;
      n = child(nodes[n], key[i]);
      if (n == none) break;
    }
  }

  /// Calls f(id) for every subscription of `channel`.
  template <class F>
  void match_channel(std::string_view channel, F&& f) const {
    if (auto it = channels_.find(channel); it != channels_.end()) {
      for (auto id : it->second) f(id);
    }
  }

  /// Subscriptions held (all kinds).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Trie nodes in use, over all namespaces (for tests: they are freed).
  [[nodiscard]] std::size_t trie_nodes() const noexcept;

 private:
  static constexpr std::uint32_t none = UINT32_MAX;
  struct node {
    std::vector<std::pair<char, std::uint32_t>> children;  // sorted by char
    std::vector<subscription_id> ids;
    std::uint32_t parent = none;
    char label = 0;
  };
  struct trie {
    std::vector<node> nodes{node{}};  // [0]: the root (the empty prefix)
    std::vector<std::uint32_t> free;  // freed nodes, reused first
  };

  // Heterogeneous lookup: find() takes a string_view without a copy.
  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class T>
  using by_text = std::unordered_map<std::string, T, text_hash, std::equal_to<>>;
  static std::uint32_t child(const node& n, char c) noexcept;
  static void erase_id(std::vector<subscription_id>& ids, subscription_id id);

  by_text<by_text<std::vector<subscription_id>>> keys_;  // namespace -> key -> ids
  by_text<trie> tries_;                                  // namespace -> its prefixes
  by_text<std::vector<subscription_id>> channels_;
  std::size_t size_ = 0;
};

}  // namespace rcache::feed
