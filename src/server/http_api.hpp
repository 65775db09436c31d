// The gateway's HTTP/JSON API without any I/O: routing, validation of paths,
// query parameters and JSON bodies, the stored-value envelope that keeps a
// value's content type, ETags, and the JSON bodies of responses and errors.
//
// parse_call() turns one HTTP request into an api_call (what to do) or an
// api_error (what to answer at once); the gateway (gateway.hpp) executes
// calls against the cache. Keeping this part free of sockets and Redis is
// what lets the unit tests and the libFuzzer target drive every byte of it.
//
// The routes are the table in routes.hpp (docs/api.md, docs/openapi.yaml).
//
// Threading: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "server/geo_api.hpp"
#include "server/routes.hpp"
#include "server/session_api.hpp"
#include "server/utf8.hpp"

namespace rcache::server {

class trusted_proxies;

/// The parts of a request the API looks at; views into the caller's message.
struct http_request_view {
  http_method method = http_method::other;
  std::string_view target{};         // origin-form: path and query
  std::string_view content_type{};   // empty when absent
  std::string_view if_none_match{};  // empty when absent
  std::string_view body{};
  std::string_view peer{};           // the connection's remote address
  std::string_view forwarded_for{};  // X-Forwarded-For lines, joined with ','
};

/// An error answered without touching Redis (or after it failed).
struct api_error {
  unsigned status = 400;
  std::string code;     // machine-readable: "invalid_key", "not_found", ...
  std::string message;  // for humans
  std::string allow{};  // 405: the methods the route takes
  /// The route's label when the path matched one (a 400 for a bad key, a
  /// 405); empty otherwise.
  std::string_view route{};
};

/// PUT's nx / xx: write only if the key is absent / present.
enum class write_condition : std::uint8_t { always, if_absent, if_present };

/// One item of a batch set, value already decoded from JSON (base64 if so).
struct batch_item {
  std::string key;
  std::string value;
  std::string content_type;
};

/// What a request asks for, validated.
struct api_call {
  api_op op = api_op::get;
  /// The route template, a bounded metric label ("/v1/ns/{ns}/keys/{key}").
  std::string_view route{};
  /// What the caller needs to be allowed (the route table's column).
  api_right right = api_right::none;
  std::string ns{};
  std::string key{};
  bool head = false;
  std::optional<std::chrono::seconds> ttl{};
  write_condition when = write_condition::always;
  std::string if_none_match{};
  std::string body{};          // put
  std::string content_type{};  // put
  std::vector<std::string> keys{};
  std::vector<batch_item> items{};
  std::string pattern{};
  std::vector<std::string> tags{};  // put ?tags=; invalidate {"tags":[...]}
  session_call session{};           // the session routes
  geo_call geo{};                   // the geo routes

  /// Back to a default call, keeping the strings' buffers when small.
  void reset();
};

struct api_limits {
  std::size_t max_key_bytes = 16 * 1024;
  std::size_t max_batch_keys = 1000;
  session_limits sessions{};
  /// Peers whose X-Forwarded-For is believed (server.trusted_proxies);
  /// null: none. Must outlive the calls.
  const trusted_proxies* trusted = nullptr;
};

/// Routes and validates one request into `call` (reset first, so that a
/// session reusing one api_call reuses its buffers): nullopt when the call
/// is ready, else what to answer. Errors: 400 (bad path, namespace, key,
/// query or JSON), 404 (no such route), 405 (method; `allow` set).
[[nodiscard]] std::optional<api_error> parse_call(const http_request_view& req,
                                                  const api_limits& limits, api_call& call);
/// The same, for a call of its own.
[[nodiscard]] std::variant<api_call, api_error> parse_call(const http_request_view& req,
                                                           const api_limits& limits);

/// A strong ETag, held inline ("\"" + 32 hex digits + "\""); empty: none.
class etag {
 public:
  static constexpr std::size_t length = 34;
  etag() = default;
  /// The ETag of a stored value (body and content type): XXH3-128 of its
  /// bytes. Not a cryptographic hash: two values of one key that collide
  /// would need to be made on purpose by someone allowed to write them.
  [[nodiscard]] static etag of(std::string_view stored) noexcept;
  [[nodiscard]] std::string_view view() const noexcept { return {text_, size_}; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  friend bool operator==(const etag& a, const etag& b) noexcept { return a.view() == b.view(); }

 private:
  char text_[length] = {};
  std::uint8_t size_ = 0;
};

/// What to answer: format_response() adds Server, Date, Connection and
/// Content-Length.
struct api_response {
  unsigned status = 200;
  /// The content type (static storage); unused when `stored`.
  std::string_view content_type = "application/json";
  /// The body; when `stored` is set, a value as the cache stores it, whose
  /// envelope (decode_stored) gives the body and its content type. `shared`,
  /// when set, holds those bytes instead (a value the near cache shares).
  std::string body{};
  std::shared_ptr<const std::string> shared{};
  bool stored = false;
  etag tag{};
  std::string allow{};         // 405
  bool retry_after = false;    // 503: "Retry-After: 1"
  std::string_view x_cache{};  // "X-Cache: hit|miss" (geo searches); empty: none

  /// The bytes held: *shared when set, else body.
  [[nodiscard]] std::string_view bytes() const noexcept {
    return shared ? std::string_view(*shared) : std::string_view(body);
  }
  /// What goes on the wire as the body, and its content type.
  [[nodiscard]] std::string_view body_view() const noexcept;
  [[nodiscard]] std::string_view type() const noexcept;
};

/// The JSON error answer for `e`.
[[nodiscard]] api_response error_response(const api_error& e);

/// Appends the whole HTTP/1.x response to `out`: status line, headers and
/// (unless `head`, or a 304) the body. `version` is 10 or 11; `date` is the
/// Date header's value. One buffer, so one write puts it on the wire.
void format_response(std::string& out, const api_response& r, unsigned version, bool keep_alive,
                     bool head, std::string_view date);

/// The route label of a request that did not parse, for metrics.
inline constexpr std::string_view unmatched_route = "other";

// ---- the stored-value envelope ---------------------------------------------------
// A value PUT with no Content-Type or with application/octet-stream is
// stored byte for byte. Any other content type is kept in a short header:
//   "\xC1RT\x01" u8:length content-type body
// (0xC1 never starts UTF-8 text; the codec's own header is "\xC1RC").
// A body that itself begins with the envelope magic is always wrapped, so
// reading back never mistakes a body for a header.

inline constexpr std::string_view default_content_type = "application/octet-stream";

/// Envelope for `body` with `content_type` (at most 255 bytes; the caller
/// checks: parse_call refuses longer ones).
[[nodiscard]] std::string encode_stored(std::string_view body, std::string_view content_type);

struct stored_view {
  std::string_view body;
  std::string_view content_type;
};
/// Splits a stored value; a value without a valid envelope (written by any
/// other client) is its own body, application/octet-stream.
[[nodiscard]] stored_view decode_stored(std::string_view stored);

/// Whether an If-None-Match header matches `tag` ("*", or a list of
/// tags, weak ones compared weakly as RFC 9110 asks for GET).
[[nodiscard]] bool etag_matches(std::string_view if_none_match, std::string_view tag);

// ---- JSON bodies -----------------------------------------------------------------

/// {"error":{"code":...,"message":...}}
[[nodiscard]] std::string error_json(std::string_view code, std::string_view message);

/// A failed item of a multi-key call: its key and why.
struct item_error {
  std::string key;
  api_error error;
};

/// A multi-key call where some items failed: the error of the first failed
/// item (in request order) plus {"<name>": n} (the items that succeeded) and
/// "failed": [{"key":..,"code":..,"message":..}, ...] in request order.
[[nodiscard]] std::string partial_failure_json(std::string_view name, std::int64_t succeeded,
                                               const std::vector<item_error>& failed);

/// One object with one field: {"<name>": true|false} / {"<name>": n}.
[[nodiscard]] std::string bool_json(std::string_view name, bool v);
[[nodiscard]] std::string int_json(std::string_view name, std::int64_t v);

/// The batch-get answer: {"items":[{"key":..,"found":true,"value":..,
/// "content_type":..}, {"key":..,"found":false}, ...]}, values that are not
/// UTF-8 as "value_base64".
[[nodiscard]] std::string batch_get_json(const std::vector<std::string>& keys,
                                         const std::vector<std::optional<std::string>>& stored);

/// A namespace name the gateway serves: letters, digits, `_ - .`, 1 to 128
/// bytes (no ':', which would let "a:b" share keys with "a").
[[nodiscard]] bool valid_namespace(std::string_view ns) noexcept;

/// Standard base64 with padding (for values that are not UTF-8).
[[nodiscard]] std::string base64_encode(std::string_view in);

}  // namespace rcache::server
