// rcache::blocking_cache — the cache API for programs without an event loop.
//
// It owns an io thread running an rcache::cache; every call submits to it
// and blocks the calling thread until the result. Every call is bounded by
// the configured command timeout, so none blocks for longer.
//
// Threading: every method is thread-safe; calls from many threads share the
// one connection (and are pipelined on it). Loaders passed to get_or_load run
// on a thread of their own (one per load; loads are single-flight per key),
// never on the io thread.
#pragma once

#include <rcache/cache.hpp>

#include <memory>

namespace rcache {

class blocking_cache {
 public:
  /// Throws std::invalid_argument for a configuration that cannot work.
  explicit blocking_cache(cache_options o);
  ~blocking_cache();
  blocking_cache(const blocking_cache&) = delete;
  blocking_cache& operator=(const blocking_cache&) = delete;

  void add_namespace(std::string name, namespace_options o);

  [[nodiscard]] result<std::optional<std::string>> get(std::string_view ns, std::string_view key);
  [[nodiscard]] result<bool> set(std::string_view ns, std::string_view key, std::string value,
                                 set_options o = {});
  [[nodiscard]] result<bool> del(std::string_view ns, std::string_view key);
  [[nodiscard]] result<bool> exists(std::string_view ns, std::string_view key);
  [[nodiscard]] result<std::int64_t> ttl(std::string_view ns, std::string_view key);
  [[nodiscard]] result<bool> expire(std::string_view ns, std::string_view key,
                                    std::chrono::milliseconds ttl);
  [[nodiscard]] result<bool> touch(std::string_view ns, std::string_view key);
  [[nodiscard]] result<std::vector<std::optional<std::string>>> get_many(
      std::string_view ns, std::vector<std::string> keys);
  [[nodiscard]] result<bool> set_many(std::string_view ns,
                                      std::vector<std::pair<std::string, std::string>> items);
  /// Cache-aside with a synchronous loader: the value, or nullopt for "does
  /// not exist"; an error fails every caller waiting on this load.
  [[nodiscard]] result<std::optional<std::string>> get_or_load(
      std::string_view ns, std::string_view key,
      std::function<result<std::optional<std::string>>()> load);

  [[nodiscard]] std::string metrics_text() const;
  /// The asynchronous cache underneath.
  [[nodiscard]] cache& async() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rcache
