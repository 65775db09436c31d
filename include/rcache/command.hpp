// rcache::command<T> — one Redis command whose reply is read as a T
// (reply.hpp), and rcache::cmd, helpers for the everyday commands.
//
//   auto name = co_await redis.async_command(rcache::cmd::get("user:42"), asio::use_awaitable);
//   // rcache::reply<std::optional<std::string>>
//   auto n = co_await redis.async_command(rcache::cmd::incr("visits"), asio::use_awaitable);
//   // rcache::reply<std::int64_t>
//   auto any = rcache::cmd::of<std::vector<std::string>>("ZRANGE", "board", 0, 9, "REV");
//
// Every helper takes the command's arguments as they are written after its
// name (strings, string views, numbers) and fixes only the name and the
// reply type, so each reads as the Redis documentation does; the one table
// below is all there is to them. Where a command's reply changes shape with
// its options (SET ... GET, ZRANGE ... WITHSCORES, XREAD), use
// cmd::of<T>(...) with the type that options give. A command<T> goes
// through the client like any request: pipelined, with deadlines and
// retries, on a single server, Sentinel or Cluster alike.
//
// Threading: plain values.
#pragma once

#include <rcache/reply.hpp>
#include <rcache/request.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rcache {

template <class T>
class command {
 public:
  using reply_type = T;

  template <class... Args>
  explicit command(std::string_view name, const Args&... args) {
    req_.push(name, args...);
  }
  /// The same with request options (timeout, retry_on_connection_lost, ...).
  template <class... Args>
  command(request::options o, std::string_view name, const Args&... args) : req_(std::move(o)) {
    req_.push(name, args...);
  }

  [[nodiscard]] const request& get_request() const& noexcept { return req_; }
  /// The request, to be moved from in the same expression (a reference, so
  /// that handing it to the client costs no move of its own).
  [[nodiscard]] request&& take_request() && noexcept { return std::move(req_); }

 private:
  request req_;
};

namespace cmd {

/// Any command, read as T.
template <class T, class... Args>
[[nodiscard]] command<T> of(std::string_view name, const Args&... args) {
  return command<T>(name, args...);
}

using opt_string = std::optional<std::string>;
using strings = std::vector<std::string>;
using opt_strings = std::vector<std::optional<std::string>>;
using string_map = std::unordered_map<std::string, std::string>;
using opt_doubles = std::vector<std::optional<double>>;
/// XRANGE: [id, [field, value, ...]] per entry.
using stream_entries = std::vector<std::pair<std::string, strings>>;
/// GEOPOS: (longitude, latitude) per member, nullopt for a missing one.
using geo_positions = std::vector<std::optional<std::pair<double, double>>>;

// clang-format off
// X(helper, "COMMAND", reply type): the replies without options that change
// their shape.
#define RCACHE_COMMANDS(X)                                                          \
  /* keys */                                                                        \
  X(del, "DEL", std::int64_t) X(unlink, "UNLINK", std::int64_t)                     \
  X(exists, "EXISTS", std::int64_t) X(touch, "TOUCH", std::int64_t)                 \
  X(expire, "EXPIRE", bool) X(pexpire, "PEXPIRE", bool)                             \
  X(expireat, "EXPIREAT", bool) X(persist, "PERSIST", bool)                         \
  X(ttl, "TTL", std::int64_t) X(pttl, "PTTL", std::int64_t)                         \
  X(type, "TYPE", std::string) X(rename, "RENAME", bool) X(copy, "COPY", bool)      \
  /* strings */                                                                     \
  X(get, "GET", opt_string) X(getdel, "GETDEL", opt_string)                         \
  X(getex, "GETEX", opt_string) X(set, "SET", opt_string)                           \
  X(getrange, "GETRANGE", std::string) X(setrange, "SETRANGE", std::int64_t)        \
  X(append, "APPEND", std::int64_t) X(strlen, "STRLEN", std::int64_t)               \
  X(incr, "INCR", std::int64_t) X(incrby, "INCRBY", std::int64_t)                   \
  X(decr, "DECR", std::int64_t) X(decrby, "DECRBY", std::int64_t)                   \
  X(incrbyfloat, "INCRBYFLOAT", double)                                             \
  X(mget, "MGET", opt_strings) X(mset, "MSET", bool) X(msetnx, "MSETNX", bool)      \
  /* hashes */                                                                      \
  X(hget, "HGET", opt_string) X(hset, "HSET", std::int64_t)                         \
  X(hsetnx, "HSETNX", bool) X(hdel, "HDEL", std::int64_t)                           \
  X(hexists, "HEXISTS", bool) X(hgetall, "HGETALL", string_map)                     \
  X(hmget, "HMGET", opt_strings) X(hincrby, "HINCRBY", std::int64_t)                \
  X(hincrbyfloat, "HINCRBYFLOAT", double) X(hkeys, "HKEYS", strings)                \
  X(hvals, "HVALS", strings) X(hlen, "HLEN", std::int64_t)                          \
  /* lists */                                                                       \
  X(lpush, "LPUSH", std::int64_t) X(rpush, "RPUSH", std::int64_t)                   \
  X(lpop, "LPOP", opt_string) X(rpop, "RPOP", opt_string)                           \
  X(lrange, "LRANGE", strings) X(llen, "LLEN", std::int64_t)                        \
  X(lindex, "LINDEX", opt_string) X(lset, "LSET", bool)                             \
  X(lrem, "LREM", std::int64_t) X(ltrim, "LTRIM", bool)                             \
  X(lmove, "LMOVE", opt_string)                                                     \
  /* sets */                                                                        \
  X(sadd, "SADD", std::int64_t) X(srem, "SREM", std::int64_t)                       \
  X(scard, "SCARD", std::int64_t) X(smembers, "SMEMBERS", strings)                  \
  X(sismember, "SISMEMBER", bool) X(smismember, "SMISMEMBER", std::vector<bool>)    \
  X(spop, "SPOP", opt_string) X(srandmember, "SRANDMEMBER", opt_string)             \
  X(sinter, "SINTER", strings) X(sunion, "SUNION", strings)                         \
  X(sdiff, "SDIFF", strings)                                                        \
  /* sorted sets */                                                                 \
  X(zadd, "ZADD", std::int64_t) X(zrem, "ZREM", std::int64_t)                       \
  X(zcard, "ZCARD", std::int64_t) X(zcount, "ZCOUNT", std::int64_t)                 \
  X(zscore, "ZSCORE", std::optional<double>) X(zincrby, "ZINCRBY", double)          \
  X(zmscore, "ZMSCORE", opt_doubles)                                                \
  X(zrange, "ZRANGE", strings) X(zrangebyscore, "ZRANGEBYSCORE", strings)           \
  X(zrank, "ZRANK", std::optional<std::int64_t>)                                    \
  X(zrevrank, "ZREVRANK", std::optional<std::int64_t>)                              \
  /* streams */                                                                     \
  X(xadd, "XADD", opt_string) X(xlen, "XLEN", std::int64_t)                         \
  X(xdel, "XDEL", std::int64_t) X(xtrim, "XTRIM", std::int64_t)                     \
  X(xack, "XACK", std::int64_t)                                                     \
  X(xrange, "XRANGE", stream_entries) X(xrevrange, "XREVRANGE", stream_entries)     \
  /* geo */                                                                         \
  X(geoadd, "GEOADD", std::int64_t) X(geodist, "GEODIST", std::optional<double>)    \
  X(geopos, "GEOPOS", geo_positions)                                                \
  X(geohash, "GEOHASH", opt_strings) X(geosearch, "GEOSEARCH", strings)             \
  /* scripts (replies of any shape: value, or cmd::of<T>) */                        \
  X(eval, "EVAL", value) X(evalsha, "EVALSHA", value) X(fcall, "FCALL", value)      \
  /* transactions: rcache::transactions (WATCH needs a connection of its own) */    \
  /* pub/sub and the server */                                                      \
  X(publish, "PUBLISH", std::int64_t) X(spublish, "SPUBLISH", std::int64_t)         \
  X(ping, "PING", std::string) X(dbsize, "DBSIZE", std::int64_t)

// Y(helper, "COMMAND", "SUBCOMMAND", reply type)
#define RCACHE_SUBCOMMANDS(Y)                                                       \
  Y(script_load, "SCRIPT", "LOAD", std::string)                                     \
  Y(script_exists, "SCRIPT", "EXISTS", std::vector<bool>)                           \
  Y(object_encoding, "OBJECT", "ENCODING", opt_string)                              \
  Y(memory_usage, "MEMORY", "USAGE", std::optional<std::int64_t>)
// clang-format on

#define RCACHE_COMMAND_HELPER(helper, name, T)           \
  template <class... Args>                               \
  [[nodiscard]] command<T> helper(const Args&... args) { \
    return command<T>(name, args...);                    \
  }
#define RCACHE_SUBCOMMAND_HELPER(helper, name, sub, T)       \
  template <class... Args>                                   \
  [[nodiscard]] command<T> helper(const Args&... args) {     \
    return command<T>(name, std::string_view(sub), args...); \
  }
RCACHE_COMMANDS(RCACHE_COMMAND_HELPER)
RCACHE_SUBCOMMANDS(RCACHE_SUBCOMMAND_HELPER)
#undef RCACHE_COMMAND_HELPER
#undef RCACHE_SUBCOMMAND_HELPER

}  // namespace cmd
}  // namespace rcache
