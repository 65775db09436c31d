// rcache::request bookkeeping: which commands are read-only (and so safe to
// re-send after a connection loss) and how pub/sub commands are answered.
#include <rcache/request.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace rcache {
namespace {

// Upper-cases a command name into a small buffer; names longer than the
// buffer are never in the tables below.
std::string_view upper(std::string_view name, std::array<char, 24>& buf) {
  if (name.size() > buf.size()) return {};
  for (std::size_t i = 0; i < name.size(); ++i) {
    buf[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[i])));
  }
  return {buf.data(), name.size()};
}

// Commands that never change data. Sending one twice is harmless, so a
// request made only of these may be retried after a connection loss.
// Sorted for binary search.
constexpr std::array<std::string_view, 48> read_only_commands = {
    "BITCOUNT",     "BITPOS",    "DBSIZE",  "DUMP",          "ECHO",
    "EXISTS",       "GEODIST",   "GEOHASH", "GEOPOS",        "GEORADIUSBYMEMBER_RO",
    "GEORADIUS_RO", "GEOSEARCH", "GET",     "GETBIT",        "GETRANGE",
    "HEXISTS",      "HGET",      "HGETALL", "HKEYS",         "HLEN",
    "HMGET",        "HSCAN",     "HSTRLEN", "HVALS",         "LINDEX",
    "LLEN",         "LRANGE",    "MGET",    "PFCOUNT",       "PING",
    "PTTL",         "SCAN",      "SCARD",   "SISMEMBER",     "SMEMBERS",
    "SMISMEMBER",   "SSCAN",     "STRLEN",  "TTL",           "TYPE",
    "ZCARD",        "ZCOUNT",    "ZRANGE",  "ZRANGEBYSCORE", "ZRANK",
    "ZSCAN",        "ZSCORE",    "ZMSCORE",
};

bool is_read_only(std::string_view upper_name) {
  static const auto sorted = [] {
    auto a = read_only_commands;
    std::sort(a.begin(), a.end());
    return a;
  }();
  return std::binary_search(sorted.begin(), sorted.end(), upper_name);
}

}  // namespace

void request::note_command(std::string_view name, std::size_t nargs) {
  std::array<char, 24> buf{};
  const auto cmd = upper(name, buf);
  read_only_ = read_only_ && is_read_only(cmd);

  // The push kind that confirms each pub/sub command (static storage).
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> pubsub = {{
      {"SUBSCRIBE", "subscribe"},
      {"PSUBSCRIBE", "psubscribe"},
      {"SSUBSCRIBE", "ssubscribe"},
      {"UNSUBSCRIBE", "unsubscribe"},
      {"PUNSUBSCRIBE", "punsubscribe"},
      {"SUNSUBSCRIBE", "sunsubscribe"},
  }};
  command_info ci;
  for (const auto& [name_upper, push_kind] : pubsub) {
    if (cmd != name_upper) continue;
    ci.confirmed_by = push_kind;
    if (nargs > 0) {
      ci.kind = reply_kind::subscribe;
      ci.confirmations = static_cast<std::uint32_t>(nargs);
    } else if (push_kind.ends_with("unsubscribe")) {
      ci.kind = reply_kind::unsubscribe_all;
    } else {
      ci.kind = reply_kind::subscribe;  // SUBSCRIBE with no channel: Redis answers an error
    }
  }
  // info_ stays empty until the first pub/sub command, then covers them all.
  if (ci.kind != reply_kind::normal && info_.size() < commands_) info_.resize(commands_);
  if (!info_.empty() || ci.kind != reply_kind::normal) info_.push_back(ci);
  ++commands_;
}

request& request::append(const request& other) {
  payload_ += other.payload_;
  read_only_ = read_only_ && other.read_only_;
  if (!info_.empty() || !other.info_.empty()) {
    // Both cover all their commands once either has a pub/sub command.
    info_.resize(commands_);
    if (other.info_.empty()) {
      info_.resize(commands_ + other.commands_);
    } else {
      info_.insert(info_.end(), other.info_.begin(), other.info_.end());
    }
  }
  commands_ += other.commands_;
  return *this;
}

}  // namespace rcache
