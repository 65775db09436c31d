// A cache's namespaces: each one's key prefix, TTL and TTL rules, size and
// skip rules, and the per-namespace metrics, held as immutable snapshots.
//
// add_namespace replaces a namespace's snapshot; an operation keeps the
// snapshot it resolved for its whole life (a shared_ptr), so a namespace
// changed meanwhile never changes an operation half-way. A namespace
// nobody registered gets the defaults the first time it is used.
//
// Threading: namespace_table is thread-safe (a shared_mutex over the map);
// ns_state is immutable, its counters thread-safe.
#pragma once

#include <rcache/cache.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metrics/registry.hpp"

namespace rcache::cache_detail {

/// Namespace names become metric labels and key prefixes: letters, digits,
/// `_ - . :`, at most 128 bytes.
[[nodiscard]] bool valid_namespace_name(std::string_view name) noexcept;

/// One namespace, immutable once registered.
struct ns_state {
  std::string name;
  std::string prefix;
  namespace_options opts;
  std::size_t max_value_size = 0;            // resolved against the cache-wide limit
  std::chrono::milliseconds default_ttl{0};  // resolved against the cache's default
  metrics::counter* hits_near = nullptr;
  metrics::counter* hits_redis = nullptr;
  metrics::counter* misses = nullptr;
  metrics::counter* stale_served = nullptr;
  metrics::counter* skipped_size = nullptr;
  metrics::counter* skipped_rule = nullptr;
  metrics::counter* loads = nullptr;
  metrics::counter* tags_invalidated = nullptr;  // tags whose version async_invalidate_tags moved
  metrics::counter* tag_stale = nullptr;         // entries read as misses: a tag moved
  /// Mean loader time (ms), for early refresh; updated without a lock.
  std::shared_ptr<std::atomic<double>> load_ms = std::make_shared<std::atomic<double>>(50.0);

  /// The size and skip rules: whether `value` of `key` is kept out of Redis
  /// (counted by reason). Values above the cache-wide limit never get here:
  /// they are an error, not a rule.
  [[nodiscard]] bool not_cached(std::string_view key, const std::string& value) const;
  /// The TTL of `key`: the first TTL rule whose pattern matches, else the
  /// namespace's.
  [[nodiscard]] std::chrono::milliseconds ttl_for(std::string_view key) const;
};

class namespace_table {
 public:
  /// Namespaces whose metrics go to `reg` (which must outlive the table),
  /// bounded by the cache's value limit, with its default TTL.
  namespace_table(metrics::registry& reg, std::size_t max_value_size,
                  std::chrono::seconds default_ttl)
      : reg_(reg), max_value_size_(max_value_size), default_ttl_(default_ttl) {}

  /// Registers `name` with `o`, replacing what it had. Throws
  /// std::invalid_argument for a name valid_namespace_name refuses.
  void add(std::string name, namespace_options o);
  /// The namespace `name`, registered with the defaults if it was not.
  /// Precondition: valid_namespace_name(name).
  [[nodiscard]] std::shared_ptr<const ns_state> find(std::string_view name);

 private:
  [[nodiscard]] std::shared_ptr<const ns_state> make(std::string name, namespace_options o);

  metrics::registry& reg_;
  const std::size_t max_value_size_;
  const std::chrono::seconds default_ttl_;
  // Looked up by string_view (no key string built per operation).
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const ns_state>, name_hash, std::equal_to<>> map_;
};

}  // namespace rcache::cache_detail
