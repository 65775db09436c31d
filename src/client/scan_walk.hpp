// The SCAN walk's position without I/O: which SCAN to send next (the
// master, the cursor, MATCH, COUNT, TYPE) and what a reply says (the page's
// keys, the next cursor, the next master once a cursor is back at "0").
// key_walk.hpp drives it with a client and says what a walk guarantees.
//
// Threading: none; one walk, one user.
#pragma once

#include <rcache/error.hpp>
#include <rcache/request.hpp>
#include <rcache/value.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace rcache::detail {

struct key_walk_options {
  std::string match = "*";   // a SCAN MATCH glob
  std::size_t count = 1000;  // SCAN's COUNT hint: keys looked at per page
  std::string type{};        // SCAN TYPE (string, hash, ...); empty: every type
};

/// The walk's position without I/O.
class scan_walk {
 public:
  /// `nodes`: the masters to walk, as client::masters() gives them ("" for
  /// a single server).
  scan_walk(std::vector<std::string> nodes, key_walk_options o)
      : nodes_(std::move(nodes)), opts_(std::move(o)) {}

  /// Whether every master's cursor has come back as "0".
  [[nodiscard]] bool finished() const noexcept { return node_ >= nodes_.size(); }
  /// The SCAN request for the next page. Precondition: !finished().
  [[nodiscard]] request next_request() const;
  /// Takes the reply to next_request(): the page's keys, and the walk
  /// moves on. Errors: redis_error for an error reply or a reply that is
  /// not SCAN's [cursor, [keys...]]; the walk stays where it was.
  [[nodiscard]] result<std::vector<std::string>> on_reply(const value& reply);
  /// SCAN requests answered so far.
  [[nodiscard]] std::size_t pages() const noexcept { return pages_; }
  /// Whether there was no master to walk (a Cluster client before its
  /// first slot map).
  [[nodiscard]] bool without_masters() const noexcept { return nodes_.empty(); }

 private:
  std::vector<std::string> nodes_;
  key_walk_options opts_;
  std::size_t node_ = 0;
  std::string cursor_ = "0";
  std::size_t pages_ = 0;
};

}  // namespace rcache::detail
