// What a feed subscriber asks for: the hub's subscription_spec, which the
// gateway's protocol (server/feed_protocol.hpp) parses from a client's
// subscribe message.
//
// Threading: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "feed/change.hpp"
#include "feed/outbox.hpp"

namespace rcache::feed {

enum class target_kind : std::uint8_t { key, prefix, ns, channel };

/// What a connection asks for.
struct subscription_spec {
  std::string id;  // the connection's name for it
  target_kind kind = target_kind::key;
  std::string ns;
  std::string key;  // the key, the prefix or the channel
  bool values = false;
  slow_policy policy = slow_policy::coalesce;
  std::optional<std::vector<position>> since;  // resume from here; else from now
};

}  // namespace rcache::feed
