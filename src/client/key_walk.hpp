// Walking every key that matches a pattern, master by master, with SCAN:
// one piece for everything that visits the keyspace (invalidation by
// pattern today; analysis, cleanup, warming and backups next).
//
// A walk asks each master in turn (one for a single server or Sentinel,
// every master of a Cluster, as client::masters() names them when the walk
// starts) for pages of SCAN ... MATCH ... COUNT ... [TYPE ...], following
// each master's cursor until it comes back as "0". Pages are pulled: the
// consumer asks for the next page when it has dealt with the last (e.g.
// after its UNLINK was answered), so a walk never runs ahead of its
// consumer and yields to other traffic between pages; every page is one
// request with the client's deadline, sent without waiting for a
// connection.
//
// SCAN's own guarantees hold: a key present for the whole walk is seen at
// least once (possibly more than once); keys added or removed meanwhile,
// or moved between masters by a resharding, may or may not be seen.
//
// scan_walk is the walk without I/O (which request next, what a reply
// says); key_walk drives it with a client.
//
// Threading: a walk is used by one consumer at a time; its pages complete
// on the client's executor.
#pragma once

#include <rcache/client.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <cstddef>
#include <memory>
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

class key_walk : public std::enable_shared_from_this<key_walk> {
 public:
  using page_handler = boost::asio::any_completion_handler<void(boost::system::error_code,
                                                                std::vector<std::string>)>;

  /// A walk over `redis`'s masters as they are now. `redis` must outlive
  /// the walk's outstanding pages.
  [[nodiscard]] static std::shared_ptr<key_walk> start(client& redis, key_walk_options o);

  /// Answers with the next page that holds keys, or with an empty page once
  /// the walk is over (finished() is then true). Errors: the request's
  /// (timeout, not_connected, ...), redis_error; not_connected for a
  /// Cluster client that knows no master yet. After an error, next_page
  /// asks for the same page again.
  void next_page(page_handler h);
  [[nodiscard]] bool finished() const noexcept { return walk_.finished(); }

 private:
  key_walk(client& redis, key_walk_options o)
      : redis_(redis), walk_(redis.masters(), std::move(o)) {}
  void scan(std::shared_ptr<page_handler> h);

  client& redis_;
  scan_walk walk_;
};

}  // namespace rcache::detail
