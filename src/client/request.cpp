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

  command_info ci;
  if (cmd == "SUBSCRIBE" || cmd == "PSUBSCRIBE" || cmd == "SSUBSCRIBE") {
    ci = {reply_kind::subscribe, static_cast<std::uint32_t>(nargs)};
  } else if (cmd == "UNSUBSCRIBE" || cmd == "PUNSUBSCRIBE" || cmd == "SUNSUBSCRIBE") {
    if (nargs > 0) {
      ci = {reply_kind::subscribe, static_cast<std::uint32_t>(nargs)};
    } else {
      ci.kind = cmd == "UNSUBSCRIBE"    ? reply_kind::unsubscribe_all
                : cmd == "PUNSUBSCRIBE" ? reply_kind::punsubscribe_all
                                        : reply_kind::sunsubscribe_all;
    }
  }
  // info_ stays empty until the first pub/sub command, then covers them all.
  if (ci.kind != reply_kind::normal && info_.size() < commands_) info_.resize(commands_);
  if (!info_.empty() || ci.kind != reply_kind::normal) info_.push_back(ci);
  ++commands_;
}

}  // namespace rcache
