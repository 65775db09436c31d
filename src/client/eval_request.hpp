// The requests that run a Lua script by its SHA1: EVALSHA, and — when the
// server answers NOSCRIPT (a restart, a failover, SCRIPT FLUSH) — SCRIPT
// LOAD followed by EVALSHA in one request, so that a cluster sends both to
// the node of the script's keys. client::async_eval and the session store
// (which appends a WAIT) build theirs here.
//
// Threading: pure functions over requests.
#pragma once

#include <rcache/client.hpp>
#include <rcache/request.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace rcache::detail {

/// Appends EVALSHA <sha1> <numkeys> keys... args... to `r`.
inline void append_evalsha(request& r, const script& s, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  std::vector<std::string_view> argv;
  argv.reserve(2 + keys.size() + args.size());
  const std::string nkeys = std::to_string(keys.size());
  argv.push_back(s.sha1());
  argv.push_back(nkeys);
  for (const auto& k : keys) argv.push_back(k);
  for (const auto& a : args) argv.push_back(a);
  r.push_range("EVALSHA", argv);
}

/// Whether the reply to an EVALSHA says the script is not loaded there.
[[nodiscard]] inline bool is_noscript(const value& v) noexcept {
  return v.is_error() && v.error_code() == "NOSCRIPT";
}

/// SCRIPT LOAD <source> + EVALSHA, for the retry after NOSCRIPT: the
/// script's reply is the second.
[[nodiscard]] inline request load_and_evalsha(const script& s, const std::vector<std::string>& keys,
                                              const std::vector<std::string>& args) {
  request r;
  r.push("SCRIPT", "LOAD", s.source());
  append_evalsha(r, s, keys, args);
  return r;
}

}  // namespace rcache::detail
