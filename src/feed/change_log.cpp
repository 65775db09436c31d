// The change log: the cache's writes appended to the feed's streams; see
// rcache/feed.hpp.
#include <rcache/feed.hpp>
#include <rcache/request.hpp>

#include <atomic>
#include <shared_mutex>
#include <stdexcept>

#include "feed/change.hpp"
#include "feed/shards.hpp"

namespace rcache {

struct change_log::impl {
  explicit impl(change_log_options o) : opts(std::move(o)), layout(opts.prefix, opts.shards) {}
  std::shared_mutex mutex;  // over `redis`, which the cache attaches and detaches
  client* redis = nullptr;
  change_log_options opts;
  feed::shard_layout layout;
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> appended{0};
  std::atomic<std::uint64_t> failed{0};
};

change_log::change_log(change_log_options o) {
  if (o.max_length == 0) throw std::invalid_argument("the feed's max_length must be at least 1");
  if (o.retention.count() <= 0)
    throw std::invalid_argument("the feed's retention must be positive");
  impl_ = std::make_shared<impl>(std::move(o));
}

void change_log::on_attach(client& redis) noexcept {
  std::unique_lock lock(impl_->mutex);
  impl_->redis = &redis;
}

void change_log::on_detach() noexcept {
  std::unique_lock lock(impl_->mutex);
  impl_->redis = nullptr;
}

change_log::~change_log() = default;

const change_log_options& change_log::options() const noexcept {
  return impl_->opts;
}

change_log_stats change_log::stats() const noexcept {
  return {impl_->appended.load(std::memory_order_relaxed),
          impl_->failed.load(std::memory_order_relaxed)};
}

void change_log::on_write(const write_event& e) noexcept {
  try {
    auto& st = *impl_;
    // Trimmed by length, and one append in 64 by age instead: XADD takes
    // one strategy at a time.
    const bool by_age = st.appends.fetch_add(1, std::memory_order_relaxed) % 64 == 63;
    std::vector<std::string> args{st.layout.stream(st.layout.shard_of(e.full))};
    if (by_age) {
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      const auto oldest =
          now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(st.opts.retention).count();
      args.insert(args.end(), {"MINID", "~", std::to_string(std::max<std::int64_t>(0, oldest))});
    } else {
      args.insert(args.end(), {"MAXLEN", "~", std::to_string(st.opts.max_length)});
    }
    args.emplace_back("*");
    auto fields = feed::stream_fields(e, st.opts.value_max_bytes);
    args.insert(args.end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
    // Sent while Redis is down too: the write it logs just succeeded.
    request r(request::options{.retry_on_connection_lost = false});
    r.push_range("XADD", args);
    std::shared_lock lock(st.mutex);
    if (!st.redis) {
      st.failed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    st.redis->async_exec(std::move(r), [s = impl_](boost::system::error_code ec, response resp) {
      if (!ec && !resp.empty() && resp.at(0).is_error()) ec = make_error_code(error::redis_error);
      (ec ? s->failed : s->appended).fetch_add(1, std::memory_order_relaxed);
    });
  } catch (...) {  // NOLINT(bugprone-empty-catch): allocation failure; the change is not logged
    impl_->failed.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace rcache
