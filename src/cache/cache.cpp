// rcache::cache, the public edge: the one place the cache's operations are
// reached through virtual calls and type-erased handlers. Everything else
// is in the files operations.hpp lists, over the shared state of state.hpp
// (namespaces, metrics, the near cache's coherence).
//
// Threading: every public method is thread-safe (state.hpp says how).
#include <rcache/cache.hpp>

#include <stdexcept>

#include "cache/operations.hpp"

namespace rcache {

namespace {

using cache_detail::st_ptr;

class cache_impl final : public cache {
 public:
  cache_impl(std::vector<boost::asio::any_io_executor> executors, cache_options o)
      : st_(cache_detail::state::create(std::move(executors), std::move(o))) {}

  ~cache_impl() override { stop(); }

  void stop() override {
    st_->close_loaders();
    cache_detail::end_flights(st_, make_error_code(error::client_stopped));
    if (st_->opts.observer) st_->opts.observer->on_detach();
    st_->redis->stop();
  }

  [[nodiscard]] const st_ptr& state() const noexcept { return st_; }

  void add_namespace(std::string name, namespace_options o) override {
    st_->namespaces.add(std::move(name), std::move(o));
  }

  client& redis() noexcept override { return *st_->redis; }

  std::optional<std::string> try_get_near(std::string_view ns, std::string_view key) override {
    return cache_detail::try_get_near(st_, ns, key);
  }

  void set_push_handler(std::function<void(const value&)> h) override {
    st_->redis->set_push_handler(std::move(h));  // the client's, after the cache's own
  }

  std::shared_ptr<write_observer> observer() const noexcept override { return st_->opts.observer; }

  std::string metrics_text() const override {
    st_->m.scrape(st_->near_cache.get(), *st_->redis);
    return st_->reg.prometheus_text();
  }

 protected:
  void do_get(const std::string& ns, const std::string& key, get_handler h) override {
    cache_detail::get(st_, ns, key, std::move(h));
  }
  void do_set(const std::string& ns, const std::string& key, std::string v, set_options o,
              bool_handler h) override {
    cache_detail::set(st_, ns, key, std::move(v), o, std::move(h));
  }
  void do_del(const std::string& ns, const std::string& key, bool_handler h) override {
    cache_detail::del(st_, ns, key, std::move(h));
  }
  void do_exists(const std::string& ns, const std::string& key, bool_handler h) override {
    cache_detail::exists(st_, ns, key, std::move(h));
  }
  void do_ttl(const std::string& ns, const std::string& key, int_handler h) override {
    cache_detail::ttl(st_, ns, key, std::move(h));
  }
  void do_expire(const std::string& ns, const std::string& key, std::chrono::milliseconds ttl,
                 bool_handler h) override {
    cache_detail::expire(st_, ns, key, ttl, std::move(h));
  }
  void do_touch(const std::string& ns, const std::string& key, bool_handler h) override {
    cache_detail::touch(st_, ns, key, std::move(h));
  }
  void do_get_many(const std::string& ns, std::vector<std::string> keys, many_handler h) override {
    cache_detail::get_many(st_, ns, std::move(keys), std::move(h));
  }
  void do_set_many(const std::string& ns, std::vector<std::pair<std::string, std::string>> items,
                   bools_handler h) override {
    cache_detail::set_many(st_, ns, std::move(items), std::move(h));
  }
  void do_invalidate(const std::string& ns, const std::string& pattern, int_handler h) override {
    cache_detail::invalidate(st_, ns, pattern, std::move(h));
  }
  void do_invalidate_tags(const std::string& ns, std::vector<std::string> tags,
                          int_handler h) override {
    cache_detail::invalidate_tags(st_, ns, std::move(tags), std::move(h));
  }
  void do_get_or_load(const std::string& ns, const std::string& key, std::vector<std::string> tags,
                      loader load, get_handler h) override {
    cache_detail::get_or_load(st_, ns, key, std::move(tags),
                              cache_detail::from_callback(std::move(load)), std::move(h));
  }
  void do_get_or_load(const std::string& ns, const std::string& key, std::vector<std::string> tags,
                      coroutine_loader load, get_handler h) override {
    cache_detail::get_or_load(st_, ns, key, std::move(tags),
                              cache_detail::from_coroutine(st_, std::move(load)), std::move(h));
  }
  void do_get_or_load(const std::string& ns, const std::string& key, std::vector<std::string> tags,
                      blocking_loader load, get_handler h) override {
    cache_detail::get_or_load(st_, ns, key, std::move(tags),
                              cache_detail::from_blocking(st_, std::move(load)), std::move(h));
  }

 private:
  st_ptr st_;
};

}  // namespace

namespace cache_detail {
std::shared_ptr<state> state_of(cache& c) {
  auto* impl = dynamic_cast<cache_impl*>(&c);
  if (impl == nullptr) throw std::invalid_argument("cache: not made by cache::create");
  return impl->state();
}
}  // namespace cache_detail

std::unique_ptr<cache> cache::create(boost::asio::any_io_executor ex, cache_options o) {
  return create(std::vector{std::move(ex)}, std::move(o));
}

std::unique_ptr<cache> cache::create(std::vector<boost::asio::any_io_executor> executors,
                                     cache_options o) {
  if (executors.empty()) throw std::invalid_argument("cache: no executor");
  return std::make_unique<cache_impl>(std::move(executors), std::move(o));
}

}  // namespace rcache
