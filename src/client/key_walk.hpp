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
// scan_walk (scan_walk.hpp) is the walk without I/O (which request next,
// what a reply says); key_walk drives it with a client.
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

#include "client/scan_walk.hpp"

namespace rcache::detail {

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
