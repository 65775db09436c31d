// rcache::blocking_cache: an io_context on its own thread running one
// rcache::cache; each call waits on a promise its completion fulfils.
#include <rcache/blocking_cache.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace rcache {

struct blocking_cache::impl {
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::unique_ptr<cache> c;
  std::thread thread;
  // Loader threads still running (background refreshes included): the
  // destructor waits for them, so none calls into a cache that is gone.
  std::mutex loads_mutex;
  std::condition_variable loads_done;
  int loads_running = 0;

  // Starts an operation with a completion that fulfils a promise, and waits.
  template <class T, class Start>
  result<T> wait(Start start) {
    std::promise<result<T>> done;
    auto fut = done.get_future();
    start([&done](boost::system::error_code ec, T v) {
      if (ec) {
        done.set_value(result<T>(boost::system::in_place_error, ec));
      } else {
        done.set_value(result<T>(boost::system::in_place_value, std::move(v)));
      }
    });
    return fut.get();
  }
};

blocking_cache::blocking_cache(cache_options o) : impl_(std::make_unique<impl>()) {
  impl_->c = cache::create(impl_->ioc.get_executor(), std::move(o));
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

blocking_cache::~blocking_cache() {
  {
    std::unique_lock lock(impl_->loads_mutex);
    impl_->loads_done.wait(lock, [&] { return impl_->loads_running == 0; });
  }
  impl_->c.reset();  // stops the client; outstanding calls complete with an error
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

result<bool> blocking_cache::set_many(std::string_view ns,
                                      std::vector<std::pair<std::string, std::string>> items) {
  return impl_->wait<bool>(
      [&](auto h) { impl_->c->async_set_many(ns, std::move(items), std::move(h)); });
}

result<std::optional<std::string>> blocking_cache::get_or_load(
    std::string_view ns, std::string_view key,
    std::function<result<std::optional<std::string>>()> load) {
  // The synchronous loader must not block the io thread: each load (one per
  // key at a time) gets a thread of its own.
  auto* self = impl_.get();
  loader async_load = [load = std::move(load), self](auto done) {
    {
      std::lock_guard lock(self->loads_mutex);
      ++self->loads_running;
    }
    std::thread([load, self, done = std::move(done)] {
      result<std::optional<std::string>> r = make_error_code(error::invalid_argument);
      try {
        r = load();
      } catch (const std::exception&) {
      }
      if (r) {
        done({}, std::move(*r));
      } else {
        done(r.error(), std::nullopt);
      }
      std::lock_guard lock(self->loads_mutex);
      if (--self->loads_running == 0) self->loads_done.notify_all();
    }).detach();
  };
  return impl_->wait<std::optional<std::string>>(
      [&](auto h) { impl_->c->async_get_or_load(ns, key, std::move(async_load), std::move(h)); });
}

std::string blocking_cache::metrics_text() const {
  return impl_->c->metrics_text();
}

cache& blocking_cache::async() noexcept {
  return *impl_->c;
}

}  // namespace rcache
