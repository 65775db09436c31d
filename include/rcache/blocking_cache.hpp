// rcache::blocking_cache — the cache API for programs without an event loop.
//
// It owns an io thread running an rcache::cache; every call submits to it
// and blocks the calling thread until the result. Every call is bounded:
// by the configured command timeout, and get_or_load by the load timeout
// (cache_options::load_timeout, or the namespace's).
//
// Threading: every method is thread-safe; calls from many threads share the
// one connection (and are pipelined on it). Loaders passed to get_or_load run
// on the cache's loader threads (a bounded pool: cache_options::
// loader_threads; loads are single-flight per key), never on the io thread.
// Destroying the cache never waits for a loader: one still running
// delivers nothing.
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
  /// Per item, in order: whether it was written (cache::async_set_many).
  /// When Redis refused one of them the result is error::redis_error and
  /// the per-item flags are not returned.
  [[nodiscard]] result<std::vector<bool>> set_many(
      std::string_view ns, std::vector<std::pair<std::string, std::string>> items);
  /// Deletes the namespace's keys matching `pattern`; the number deleted
  /// (cache::async_invalidate).
  [[nodiscard]] result<std::int64_t> invalidate(std::string_view ns, std::string_view pattern);
  /// Cache-aside with a synchronous loader: the value, or nullopt for "does
  /// not exist". An error the loader returns fails every caller waiting on
  /// this load; a throw fails them with error::loader_failed (its what()
  /// to cache_options::on_load_failure); past the load timeout they get
  /// error::load_timeout.
  [[nodiscard]] result<std::optional<std::string>> get_or_load(std::string_view ns,
                                                               std::string_view key,
                                                               blocking_loader load);
  /// get_or_load of an entry with tags (cache::async_get_or_load with tags).
  [[nodiscard]] result<std::optional<std::string>> get_or_load(std::string_view ns,
                                                               std::string_view key,
                                                               std::vector<std::string> tags,
                                                               blocking_loader load);
  /// Makes the namespace's entries with any of `tags` misses; how many of
  /// the tags had entries (cache::async_invalidate_tags).
  [[nodiscard]] result<std::int64_t> invalidate_tags(std::string_view ns,
                                                     std::vector<std::string> tags);

  /// Stops the cache (cache::stop) and waits until every operation in
  /// flight has completed and the io thread has ended; later calls fail
  /// with error::client_stopped. Never waits for a blocking loader.
  /// Idempotent; the destructor does the same.
  void stop();

  [[nodiscard]] std::string metrics_text() const;
  /// The asynchronous cache underneath.
  [[nodiscard]] cache& async() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace rcache
