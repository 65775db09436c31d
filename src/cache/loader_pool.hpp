// The threads that run blocking loaders (get_or_load with a
// blocking_loader, and every blocking_cache load): a bounded pool, never a
// thread per load.
//
// A job is two parts: `compute` (the user's blocking function, which holds
// nothing of the cache) runs on a pool thread; `deliver` (which hands the
// outcome to the cache) stays with the pool until then. close() drops
// every queued job and every `deliver` at once, on the closing thread: a
// loader that never returns holds one thread and nothing else, and an
// outcome that comes back after close() goes nowhere. Threads start as
// jobs need them, up to the limit; a job beyond it waits in a bounded
// queue (its load's deadline still runs).
//
// Threading: thread-safe. `deliver` runs on a pool thread under the pool's
// mutex: it must only hand the outcome on (post, complete), never block.
#pragma once

#include <boost/system/error_code.hpp>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace rcache::cache_detail {

/// What a load produced: a value (or none: no such value), or an error and
/// what the loader said about it.
struct load_outcome {
  boost::system::error_code ec;
  std::optional<std::string> value;
  std::string message;
};

class loader_pool {
 public:
  using compute_fn = std::function<load_outcome()>;
  using deliver_fn = std::function<void(load_outcome)>;

  loader_pool(std::size_t max_threads, std::size_t max_queued);
  /// close().
  ~loader_pool();
  loader_pool(const loader_pool&) = delete;
  loader_pool& operator=(const loader_pool&) = delete;

  /// Queues a job; false (nothing kept) when the queue is full or the pool
  /// closed.
  bool submit(compute_fn compute, deliver_fn deliver);

  /// Drops queued jobs and every outcome still to come. Idempotent.
  void close();

  /// Threads started so far (never more than max_threads).
  [[nodiscard]] std::size_t threads() const;

 private:
  struct job {
    std::uint64_t id = 0;
    compute_fn compute;
  };
  struct shared {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<job> queue;
    std::map<std::uint64_t, deliver_fn> waiting;  // by job id
    std::uint64_t next_id = 1;
    std::size_t idle = 0;
    std::size_t started = 0;
    bool open = true;
  };
  static void work(const std::shared_ptr<shared>& s);

  const std::size_t max_threads_;
  const std::size_t max_queued_;
  std::shared_ptr<shared> s_ = std::make_shared<shared>();
};

}  // namespace rcache::cache_detail
