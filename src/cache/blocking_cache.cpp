// rcache::blocking_cache: an io_context on its own thread running one
// rcache::cache; each call waits for its completion (client/blocking_wait.hpp).
#include <rcache/blocking_cache.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "client/blocking_wait.hpp"

namespace rcache {

struct blocking_cache::impl {
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::unique_ptr<cache> c;
  std::thread thread;
  // Calls hold it shared while they submit; stop() exclusively, so that no
  // call submits to an io thread that has ended.
  std::shared_mutex running;
  bool stopped = false;

  // Starts an operation and waits for its completion, unless stopped. The
  // lock is held only while submitting: stop() may run during the wait.
  template <class T, class Start>
  result<T> wait(Start start) {
    std::shared_lock lock(running);
    if (stopped)
      return result<T>(boost::system::in_place_error, make_error_code(error::client_stopped));
    return detail::wait_for<T>([&](auto done) {
      start(std::move(done));
      lock.unlock();
    });
  }
};

blocking_cache::blocking_cache(cache_options o) : impl_(std::make_unique<impl>()) {
  impl_->c = cache::create(impl_->ioc.get_executor(), std::move(o));
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

blocking_cache::~blocking_cache() {
  stop();
  impl_->c.reset();
}

void blocking_cache::stop() {
  std::unique_lock lock(impl_->running);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Loads end and outstanding calls complete with client_stopped, on the io
  // thread, which then runs out of work; loaders still running (never
  // waited for) deliver nothing any more.
  impl_->c->stop();
  impl_->work.reset();
  impl_->thread.join();
}

void blocking_cache::add_namespace(std::string name, namespace_options o) {
  impl_->c->add_namespace(std::move(name), std::move(o));
}

result<std::optional<std::string>> blocking_cache::get(std::string_view ns, std::string_view key) {
  return impl_->wait<std::optional<std::string>>(
      [&](auto h) { impl_->c->async_get(ns, key, std::move(h)); });
}

result<bool> blocking_cache::set(std::string_view ns, std::string_view key, std::string value,
                                 set_options o) {
  return impl_->wait<bool>(
      [&](auto h) { impl_->c->async_set(ns, key, std::move(value), o, std::move(h)); });
}

result<bool> blocking_cache::del(std::string_view ns, std::string_view key) {
  return impl_->wait<bool>([&](auto h) { impl_->c->async_del(ns, key, std::move(h)); });
}

result<bool> blocking_cache::exists(std::string_view ns, std::string_view key) {
  return impl_->wait<bool>([&](auto h) { impl_->c->async_exists(ns, key, std::move(h)); });
}

result<std::int64_t> blocking_cache::ttl(std::string_view ns, std::string_view key) {
  return impl_->wait<std::int64_t>([&](auto h) { impl_->c->async_ttl(ns, key, std::move(h)); });
}

result<bool> blocking_cache::expire(std::string_view ns, std::string_view key,
                                    std::chrono::milliseconds ttl) {
  return impl_->wait<bool>([&](auto h) { impl_->c->async_expire(ns, key, ttl, std::move(h)); });
}

result<bool> blocking_cache::touch(std::string_view ns, std::string_view key) {
  return impl_->wait<bool>([&](auto h) { impl_->c->async_touch(ns, key, std::move(h)); });
}

result<std::vector<std::optional<std::string>>> blocking_cache::get_many(
    std::string_view ns, std::vector<std::string> keys) {
  return impl_->wait<std::vector<std::optional<std::string>>>(
      [&](auto h) { impl_->c->async_get_many(ns, std::move(keys), std::move(h)); });
}

result<std::vector<bool>> blocking_cache::set_many(
    std::string_view ns, std::vector<std::pair<std::string, std::string>> items) {
  return impl_->wait<std::vector<bool>>(
      [&](auto h) { impl_->c->async_set_many(ns, std::move(items), std::move(h)); });
}

result<std::int64_t> blocking_cache::invalidate(std::string_view ns, std::string_view pattern) {
  return impl_->wait<std::int64_t>(
      [&](auto h) { impl_->c->async_invalidate(ns, pattern, std::move(h)); });
}

result<std::int64_t> blocking_cache::invalidate_tags(std::string_view ns,
                                                     std::vector<std::string> tags) {
  return impl_->wait<std::int64_t>(
      [&](auto h) { impl_->c->async_invalidate_tags(ns, std::move(tags), std::move(h)); });
}

result<std::optional<std::string>> blocking_cache::get_or_load(std::string_view ns,
                                                               std::string_view key,
                                                               blocking_loader load) {
  return get_or_load(ns, key, {}, std::move(load));
}

result<std::optional<std::string>> blocking_cache::get_or_load(std::string_view ns,
                                                               std::string_view key,
                                                               std::vector<std::string> tags,
                                                               blocking_loader load) {
  // The loader runs on the cache's loader threads (a bounded pool), never
  // on the io thread; the call is bounded by the load's deadline.
  return impl_->wait<std::optional<std::string>>([&](auto h) {
    impl_->c->async_get_or_load(ns, key, std::move(tags), std::move(load), std::move(h));
  });
}

std::string blocking_cache::metrics_text() const {
  return impl_->c->metrics_text();
}

cache& blocking_cache::async() noexcept {
  return *impl_->c;
}

}  // namespace rcache
