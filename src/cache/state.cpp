// A cache's shared state and the near cache's coherence (state.hpp).
#include "cache/state.hpp"

#include <bitset>
#include <stdexcept>

#include "client/push_router.hpp"
#include "cluster/slot_map.hpp"

namespace rcache::cache_detail {

std::shared_ptr<state> state::create(std::vector<boost::asio::any_io_executor> executors,
                                     cache_options o) {
  if (o.max_key_size == 0 || o.max_value_size == 0) {
    throw std::invalid_argument("cache: max_key_size and max_value_size must be positive");
  }
  if (o.near_cache) o.redis.client_tracking = true;  // the coherence protocol
  std::shared_ptr<state> st(new state(std::move(o)));
  st->codec.compress = st->opts.compression;
  st->codec.compress_threshold = st->opts.compression_threshold;
  st->codec.max_value_size = st->opts.max_value_size;
  if (!st->opts.encryption_keys.empty()) {
    std::string why;
    auto ring = codec::key_ring::from_spec(st->opts.encryption_keys, &why);
    if (!ring) throw std::invalid_argument("cache: encryption keys: " + why);
    st->codec.keys = std::make_shared<const codec::key_ring>(std::move(*ring));
  }
  if (st->opts.near_cache) {
    st->near_cache = std::make_unique<near::near_cache>(
        near::near_cache_options{.max_bytes = st->opts.near_cache_max_bytes,
                                 .max_entries = st->opts.near_cache_max_entries});
    st->cluster = !st->opts.redis.cluster_nodes.empty();
  }
  st->redis = std::make_unique<client>(std::move(executors), st->opts.redis);
  std::weak_ptr<state> weak = st;
  // The cache's invalidations come first on every push and cannot be
  // replaced through the client's public push handler.
  detail::router_of(*st->redis)->set_listener([weak](const value& v) {
    auto s = weak.lock();
    return s && s->on_push(v);
  });
  st->redis->set_state_handler([weak](connection_state s, boost::system::error_code) {
    if (auto p = weak.lock()) p->on_state(s);
  });
  st->redis->start();
  if (st->opts.observer) st->opts.observer->on_attach(*st->redis);
  return st;
}

loader_pool& state::loaders() {
  std::lock_guard lock(loaders_mutex_);
  if (!loaders_) {
    loaders_ = std::make_unique<loader_pool>(opts.loader_threads, 1024);
    if (loaders_closed_) loaders_->close();
  }
  return *loaders_;
}

void state::close_loaders() {
  std::lock_guard lock(loaders_mutex_);
  loaders_closed_ = true;
  if (loaders_) loaders_->close();
}

bool state::on_push(const value& v) {
  if (v.elements.size() == 2 && v.elements[0].str == "invalidate-slots") {
    if (!near_cache) return true;
    std::bitset<cluster::slot_count> slots;
    const auto& r = v.elements[1].elements;
    for (std::size_t k = 0; k + 1 < r.size(); k += 2) {
      for (auto slot = r[k].integer; slot <= r[k + 1].integer && slot < cluster::slot_count;
           ++slot) {
        if (slot >= 0) slots.set(static_cast<std::size_t>(slot));
      }
    }
    const auto n = near_cache->invalidate_if(
        [&](std::string_view key) { return slots.test(cluster::key_slot(key)); });
    m.invalidations_slots->inc(n);
    return true;
  }
  if (v.elements.size() == 2 && v.elements[0].str == "invalidate") {
    if (!near_cache) return true;
    const auto& keys = v.elements[1];
    if (keys.is_null()) {  // FLUSHDB / FLUSHALL
      near_cache->clear();
      m.invalidations_flush->inc();
      return true;
    }
    for (const auto& k : keys.elements) near_cache->invalidate(k.str);
    m.invalidations_push->inc(keys.elements.size());
    return true;
  }
  return false;  // not the cache's: the application's push handler has it
}

void state::on_state(connection_state s) {
  if (!near_cache) return;
  if (cluster) {
    // Per node: a lost connection or moved slots arrive as
    // `invalidate-slots`; the other nodes' entries stay good.
    near_live.store(s != connection_state::stopped, std::memory_order_release);
    return;
  }
  if (s == connection_state::connected) {
    // Invalidations sent while we were away are lost: start empty.
    near_cache->clear();
    m.invalidations_reconnect->inc();
    near_live.store(true, std::memory_order_release);
  } else {
    near_live.store(false, std::memory_order_release);
  }
}

}  // namespace rcache::cache_detail
