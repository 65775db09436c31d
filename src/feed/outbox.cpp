// A feed connection's bounded queue; see outbox.hpp.
#include "feed/outbox.hpp"

#include <algorithm>

namespace rcache::feed {

void outbox::append(frame f, std::string key, bool droppable) {
  bytes_ += f->size();
  q_.push_back({std::move(f), std::move(key), droppable});
  if (!q_.back().key.empty()) by_key_[q_.back().key] = std::prev(q_.end());
}

void outbox::erase(std::list<entry>::iterator it) {
  bytes_ -= it->f->size();
  if (!it->key.empty()) {
    if (auto k = by_key_.find(it->key); k != by_key_.end() && k->second == it) by_key_.erase(k);
  }
  q_.erase(it);
}

void outbox::pop() {
  erase(q_.begin());
}

bool outbox::drop_oldest() {
  auto it = std::find_if(q_.begin(), q_.end(), [](const entry& e) { return e.droppable; });
  if (it == q_.end()) return false;
  erase(it);
  ++gap_;
  ++dropped_total_;
  return true;
}

outbox::outcome outbox::push_change(frame f, std::string_view coalesce_key, slow_policy p) {
  const auto size = f->size();
  auto key = p == slow_policy::coalesce ? std::string(coalesce_key) : std::string();
  if (size > limits_.max_bytes) {
    ++gap_;
    ++dropped_total_;
    return outcome::dropped;
  }
  if (fits(size)) {
    append(std::move(f), std::move(key), true);
    return outcome::queued;
  }
  if (p == slow_policy::close) return outcome::close;
  if (p == slow_policy::coalesce && !key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      // The older change of this key goes; the newer one joins the back.
      erase(it->second);
      ++coalesced_total_;
      if (fits(size)) {
        append(std::move(f), std::move(key), true);
        return outcome::coalesced;
      }
    }
  }
  // Room is made from the oldest changes; control and resume messages are
  // never dropped, so when only they are left the change is.
  while (!fits(size) && drop_oldest()) {
  }
  if (!fits(size)) {
    ++gap_;
    ++dropped_total_;
    return outcome::dropped;
  }
  append(std::move(f), std::move(key), true);
  return outcome::dropped;
}

outbox::outcome outbox::push_control(frame f) {
  if (!fits(f->size())) return outcome::close;
  append(std::move(f), {}, false);
  return outcome::queued;
}

bool outbox::room_for(std::size_t messages, std::size_t bytes) const noexcept {
  return q_.size() + messages <= limits_.max_messages && bytes_ + bytes <= limits_.max_bytes;
}

void outbox::push_replay(frame f) {
  append(std::move(f), {}, false);
}

}  // namespace rcache::feed
