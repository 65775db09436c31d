// The threads that run blocking loaders (loader_pool.hpp).
#include "cache/loader_pool.hpp"

#include <thread>

namespace rcache::cache_detail {

loader_pool::loader_pool(std::size_t max_threads, std::size_t max_queued)
    : max_threads_(max_threads == 0 ? 1 : max_threads), max_queued_(max_queued) {}

loader_pool::~loader_pool() {
  close();
}

bool loader_pool::submit(compute_fn compute, deliver_fn deliver) {
  bool start = false;
  {
    std::lock_guard lock(s_->mutex);
    if (!s_->open || s_->queue.size() >= max_queued_) return false;
    const auto id = s_->next_id++;
    s_->waiting.emplace(id, std::move(deliver));
    s_->queue.push_back({id, std::move(compute)});
    if (s_->idle < s_->queue.size() && s_->started < max_threads_) {
      ++s_->started;
      start = true;
    }
  }
  if (start) {
    // Detached: a thread holds only the shared queue, so closing never
    // waits for a loader that does not return.
    std::thread([s = s_] { work(s); }).detach();
  } else {
    s_->wake.notify_one();
  }
  return true;
}

void loader_pool::close() {
  std::deque<job> queued;
  std::map<std::uint64_t, deliver_fn> waiting;
  {
    std::lock_guard lock(s_->mutex);
    s_->open = false;
    queued.swap(s_->queue);
    waiting.swap(s_->waiting);
  }
  s_->wake.notify_all();
  // `queued` and `waiting` (and what they hold of the cache) end here, on
  // the closing thread.
}

std::size_t loader_pool::threads() const {
  std::lock_guard lock(s_->mutex);
  return s_->started;
}

void loader_pool::work(const std::shared_ptr<shared>& s) {
  std::unique_lock lock(s->mutex);
  for (;;) {
    ++s->idle;
    s->wake.wait(lock, [&] { return !s->open || !s->queue.empty(); });
    --s->idle;
    if (!s->open) break;
    job j = std::move(s->queue.front());
    s->queue.pop_front();
    lock.unlock();
    load_outcome out = j.compute();  // the user's blocking function
    j.compute = nullptr;
    lock.lock();
    const auto it = s->waiting.find(j.id);
    if (it == s->waiting.end()) continue;  // closed meanwhile
    // Called and released under the mutex: close() cannot run meanwhile,
    // so the cache `deliver` reaches is still there.
    auto deliver = std::move(it->second);
    s->waiting.erase(it);
    deliver(std::move(out));
    deliver = nullptr;
  }
  --s->started;
}

}  // namespace rcache::cache_detail
