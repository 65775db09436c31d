// Handing messages to sinks; see fanout.hpp.
#include "feed/fanout.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <optional>
#include <utility>

namespace rcache::feed {

fanout::seat fanout::sit(const sink& s) {
  const auto& ex = s.executor();
  std::optional<std::size_t> same;
  std::optional<std::size_t> unused;
  for (std::size_t i = 0; i < lanes_.size() && !same; ++i) {
    if (lanes_[i].sinks == 0) {
      if (!unused) unused = i;
    } else if (lanes_[i].ex == ex) {
      same = i;
    }
  }
  const auto l = same ? *same : unused ? *unused : lanes_.size();
  if (l == lanes_.size()) lanes_.emplace_back();
  if (lanes_[l].sinks++ == 0) lanes_[l].ex = ex;
  return seat{.lane = l};
}

void fanout::leave(const seat& st) {
  if (st.lane < lanes_.size() && lanes_[st.lane].sinks > 0) --lanes_[st.lane].sinks;
}

bool fanout::reach(seat& st, const std::weak_ptr<sink>& s, bool values, slow_policy policy) {
  auto& batch = lanes_[st.lane].batch;
  if (st.reached == serial_) {
    auto& d = batch[st.slot];
    d.values = d.values || values;
    d.policy = std::max(d.policy, policy);
    return true;
  }
  auto to = s.lock();
  if (!to) return false;
  st.reached = serial_;
  st.slot = batch.size();
  batch.push_back({std::move(to), values, policy});
  return true;
}

void fanout::hand_over(const std::function<frame(bool)>& render, const std::string& coalesce_key) {
  for (auto& l : lanes_) {
    if (l.batch.empty()) continue;
    frame with_value;
    frame without_value;
    for (const auto& d : l.batch) {
      auto& f = d.values ? with_value : without_value;
      if (!f) f = render(d.values);
    }
    const auto n = l.batch.size();
    boost::asio::post(
        l.ex, [batch = std::exchange(l.batch, {}), with_value, without_value, key = coalesce_key] {
          for (const auto& d : batch)
            d.to->take(d.values ? with_value : without_value, key, d.policy);
        });
    l.batch.reserve(n);  // the next message's batch is likely as large
  }
}

std::size_t fanout::lanes() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(lanes_.begin(), lanes_.end(), [](const lane& l) { return l.sinks > 0; }));
}

}  // namespace rcache::feed
