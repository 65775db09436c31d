// A feed connection's queue of messages waiting to be written, bounded in
// messages and bytes, with what to do when a subscriber reads slower than
// changes arrive (its subscription's policy):
//   coalesce     a waiting change of the same key is dropped for the newer
//                one, which goes to the back (a cache subscriber wants the
//                latest state, not every step; positions stay in order, so
//                a client resuming from the last one it saw misses nothing);
//                with no such change waiting, as drop_oldest
//   drop_oldest  the oldest waiting change is dropped; the next message
//                written is preceded by a gap marker counting the drops
//   close        the connection is closed (feed close code 4008)
// A message that alone exceeds the byte bound is dropped and counted.
//
// Control messages (acknowledgements, resets, notices) are never dropped or
// coalesced and count against the bounds like any other: past them, the
// connection is closed. Resume batches wait for room instead (push_replay
// says whether there is).
//
// Threading: not thread-safe; one per connection, on its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace rcache::feed {

enum class slow_policy : std::uint8_t { coalesce, drop_oldest, close };

using frame = std::shared_ptr<const std::string>;

struct outbox_limits {
  std::size_t max_messages = 1024;
  std::size_t max_bytes = 4u * 1024 * 1024;
};

class outbox {
 public:
  explicit outbox(outbox_limits l) : limits_(l) {}
  // by_key_ points into q_: a copy would point into the original.
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  /// What push() did.
  enum class outcome : std::uint8_t { queued, coalesced, dropped, close };

  /// A change of `coalesce_key` (ns + '\0' + key), under `p`.
  outcome push_change(frame f, std::string_view coalesce_key, slow_policy p);
  /// A control message; `close` when it does not fit.
  outcome push_control(frame f);
  /// Whether a resume batch of `bytes` fits now.
  [[nodiscard]] bool room_for(std::size_t messages, std::size_t bytes) const noexcept;
  /// A resume message (the caller checked room_for); never dropped.
  void push_replay(frame f);

  [[nodiscard]] bool empty() const noexcept { return q_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return q_.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  /// Messages dropped since the last gap marker was taken.
  [[nodiscard]] std::uint64_t pending_gap() const noexcept { return gap_; }
  /// Takes the gap count (the caller writes the marker before front()).
  std::uint64_t take_gap() noexcept { return std::exchange(gap_, 0); }
  /// Messages dropped or coalesced, ever.
  [[nodiscard]] std::uint64_t dropped_total() const noexcept { return dropped_total_; }
  [[nodiscard]] std::uint64_t coalesced_total() const noexcept { return coalesced_total_; }

  [[nodiscard]] const frame& front() const { return q_.front().f; }
  void pop();

 private:
  struct entry {
    frame f;
    std::string key;  // empty: not coalescable
    bool droppable;   // a live change (not a control or resume message)
  };
  // Drops the oldest droppable entry; false when there is none.
  bool drop_oldest();
  void erase(std::list<entry>::iterator it);
  bool fits(std::size_t bytes) const noexcept {
    return q_.size() < limits_.max_messages && bytes_ + bytes <= limits_.max_bytes;
  }
  void append(frame f, std::string key, bool droppable);

  outbox_limits limits_;
  // A list: entries leave from the middle too, and by_key_ keeps places in it.
  std::list<entry> q_;
  std::unordered_map<std::string, std::list<entry>::iterator> by_key_;  // coalescable, by key
  std::size_t bytes_ = 0;
  std::uint64_t gap_ = 0;
  std::uint64_t dropped_total_ = 0;
  std::uint64_t coalesced_total_ = 0;
};

}  // namespace rcache::feed
