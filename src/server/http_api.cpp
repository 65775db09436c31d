// Routing and validation of the gateway's HTTP/JSON API, the stored-value
// envelope, ETags and JSON response bodies. See http_api.hpp.
#include "server/http_api.hpp"

#include <rcache/tags.hpp>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <openssl/evp.h>
#include <set>
#include <unordered_set>
#include <xxhash.h>

#include "server/client_address.hpp"
#include "server/json_body.hpp"
#include "server/strict_json.hpp"

namespace rcache::server {
namespace {

namespace json = boost::json;

constexpr std::string_view envelope_magic = "\xC1RT\x01";
constexpr std::int64_t max_ttl_seconds = 10LL * 365 * 86400;

api_error invalid_ttl() {
  return bad_request("invalid_ttl", "'ttl' must be a whole number of seconds from 0 to " +
                                        std::to_string(max_ttl_seconds));
}

api_error invalid_tag() {
  return bad_request("invalid_tag", "tags are 1 to " + std::to_string(rcache::max_tag_size) +
                                        " bytes of letters, digits and _ - . : / @ = { }");
}

// ?tags=a,b: at most max_tags names, each valid_tag.
std::optional<api_error> tag_list(std::string_view text, std::vector<std::string>& out) {
  for (;;) {
    const auto comma = text.find(',');
    const auto tag = text.substr(0, comma);
    if (!rcache::valid_tag(tag)) return invalid_tag();
    if (out.size() == rcache::max_tags) {
      return bad_request("invalid_tag",
                         "at most " + std::to_string(rcache::max_tags) + " tags per value");
    }
    out.emplace_back(tag);
    if (comma == std::string_view::npos) return std::nullopt;
    text.remove_prefix(comma + 1);
  }
}

// Request targets: printable ASCII only (0x21-0x7E); raw bytes 0x80-0xFF,
// controls, spaces and DEL are refused. Printable bytes RFC 3986 does not
// allow in a path ({ } | \ ^ ` " < > [ ]) are taken as themselves, as
// most servers do, so a hash-tag key like user:{42} may be sent as it is.
// One pass (a target is read on every request): whether it is printable,
// and whether it is plain, i.e. holds no '%', '?' or '#' (see below).
struct target_kind {
  bool printable = true;
  bool plain = true;
};
target_kind scan_target(std::string_view target) {
  target_kind k;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E) return {false, false};
    if (c == '%' || c == '?' || c == '#') k.plain = false;
  }
  return k;
}

// A target with no '%', '?' or '#' is split as it is; the others go through
// Boost.URL, which wants the lenient bytes above percent-encoded first.
std::string strict_form(std::string_view target) {
  static constexpr std::string_view lenient = "{}|\\^`\"<>[]";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.size());
  for (char c : target) {
    if (lenient.find(c) == std::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(hex[static_cast<unsigned char>(c) & 15]);
    }
  }
  return out;
}

}  // namespace

// No ':' (which the library allows): the prefix is "<ns>:", so namespace
// "a:b" would share keys with namespace "a".
bool valid_namespace(std::string_view ns) noexcept {
  if (ns.empty() || ns.size() > 128) return false;
  return std::all_of(ns.begin(), ns.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

namespace {

// The limit is on the Redis key, "<ns>:<key>", as the cache checks it.
std::optional<api_error> check_key(std::string_view ns, std::string_view key,
                                   const api_limits& limits) {
  if (key.empty()) return bad_request("invalid_key", "the key is empty");
  if (ns.size() + 1 + key.size() > limits.max_key_bytes) {
    return bad_request("invalid_key", "namespace and key are longer than " +
                                          std::to_string(limits.max_key_bytes) + " bytes");
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_seconds(std::string_view text) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < 0 || n > max_ttl_seconds) {
    return std::nullopt;
  }
  return std::chrono::seconds(n);
}

std::optional<bool> parse_flag(std::string_view text) {
  if (text.empty() || text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return std::nullopt;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  if (in.empty()) return out;
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::optional<api_error> key_list(const json::value* v, std::string_view ns,
                                  const api_limits& limits, std::vector<std::string>& out) {
  if (!v || !v->is_array())
    return bad_request("invalid_json", "'keys' must be an array of strings");
  const auto& arr = v->as_array();
  if (arr.size() > limits.max_batch_keys) {
    return bad_request("too_many_keys",
                       "at most " + std::to_string(limits.max_batch_keys) + " keys per request");
  }
  for (const auto& k : arr) {
    if (!k.is_string()) return bad_request("invalid_json", "'keys' must be an array of strings");
    if (auto e = check_key(ns, k.as_string(), limits)) return e;
    out.emplace_back(k.as_string());
  }
  // A key asked for twice is answered once (first place kept): the same key
  // a thousand times must not cost a thousand copies of its value.
  std::unordered_set<std::string_view> kept(out.begin(), out.end());
  if (kept.size() != out.size()) {
    kept.clear();
    std::vector<std::string> unique;
    for (const auto& k : out) {
      if (kept.insert(k).second) unique.push_back(k);
    }
    out = std::move(unique);
  }
  return std::nullopt;
}

std::optional<api_error> check_content_type(std::string_view ct) {
  if (ct.size() > 255)
    return bad_request("bad_request", "the content type is longer than 255 bytes");
  return std::nullopt;
}

std::optional<api_error> parse_batch_set(const json::object& o, const api_limits& limits,
                                         api_call& call) {
  if (auto e = only_fields(o, {"items", "ttl"})) return e;
  if (const auto* ttl = o.if_contains("ttl")) {
    if (!ttl->is_int64() || ttl->as_int64() < 0 || ttl->as_int64() > max_ttl_seconds) {
      return invalid_ttl();
    }
    call.ttl = std::chrono::seconds(ttl->as_int64());
  }
  const auto* items = o.if_contains("items");
  if (!items || !items->is_array()) {
    return bad_request("invalid_json", "'items' must be an array of objects");
  }
  if (items->as_array().size() > limits.max_batch_keys) {
    return bad_request("too_many_keys",
                       "at most " + std::to_string(limits.max_batch_keys) + " items per request");
  }
  for (const auto& it : items->as_array()) {
    if (!it.is_object()) return bad_request("invalid_json", "'items' must be an array of objects");
    const auto& item = it.as_object();
    if (auto e = only_fields(item, {"key", "value", "value_base64", "content_type"})) return e;
    batch_item b;
    const auto* key = item.if_contains("key");
    if (!key) return bad_request("invalid_json", "every item needs a 'key'");
    if (!key->is_string()) return bad_request("invalid_json", "an item's 'key' must be a string");
    b.key = key->as_string();
    if (auto e = check_key(call.ns, b.key, limits)) return e;
    const auto* value = item.if_contains("value");
    const auto* value64 = item.if_contains("value_base64");
    if ((value != nullptr) == (value64 != nullptr)) {
      return bad_request("invalid_json",
                         "every item needs exactly one of 'value' and 'value_base64'");
    }
    if (value) {
      if (!value->is_string()) return bad_request("invalid_json", "'value' must be a string");
      b.value = value->as_string();
    } else {
      auto decoded = value64->is_string() ? base64_decode(value64->as_string()) : std::nullopt;
      if (!decoded) return bad_request("invalid_json", "'value_base64' is not base64");
      b.value = std::move(*decoded);
    }
    if (const auto* ct = item.if_contains("content_type")) {
      if (!ct->is_string()) return bad_request("invalid_json", "'content_type' must be a string");
      b.content_type = ct->as_string();
      if (auto e = check_content_type(b.content_type)) return e;
    }
    call.items.push_back(std::move(b));
  }
  return std::nullopt;
}

std::optional<api_error> parse_invalidate(const json::object& o, const api_limits& limits,
                                          api_call& call) {
  if (auto e = only_fields(o, {"keys", "pattern", "tags"})) return e;
  const auto* keys = o.if_contains("keys");
  const auto* pattern = o.if_contains("pattern");
  const auto* tags = o.if_contains("tags");
  if ((keys != nullptr) + (pattern != nullptr) + (tags != nullptr) != 1) {
    return bad_request("invalid_json", "give exactly one of 'keys', 'pattern' and 'tags'");
  }
  if (keys) {
    call.op = api_op::invalidate_keys;
    return key_list(keys, call.ns, limits, call.keys);
  }
  if (tags) {
    call.op = api_op::invalidate_tags;
    if (!tags->is_array()) return bad_request("invalid_json", "'tags' must be an array");
    if (tags->as_array().empty() || tags->as_array().size() > rcache::max_tags) {
      return bad_request("invalid_tag",
                         "'tags' holds 1 to " + std::to_string(rcache::max_tags) + " tags");
    }
    for (const auto& t : tags->as_array()) {
      if (!t.is_string() || !rcache::valid_tag(t.as_string())) return invalid_tag();
      call.tags.emplace_back(t.as_string());
    }
    return std::nullopt;
  }
  if (!pattern->is_string() || pattern->as_string().empty()) {
    return bad_request("invalid_json", "'pattern' must be a non-empty string");
  }
  call.op = api_op::invalidate_pattern;
  call.pattern = pattern->as_string();
  return std::nullopt;
}

api_error method_not_allowed(std::string allow) {
  return {405, "method_not_allowed", "this route takes " + allow, std::move(allow)};
}

api_error not_found() {
  return {404, "not_found", "no such route"};
}

}  // namespace

namespace {

// The path's segments, decoded: views into the target when it is plain,
// else into `decoded` (whose strings Boost.URL filled).
struct split_target {
  std::array<std::string_view, max_route_segments + 1> segs{};
  std::size_t n = 0;
  std::array<std::string, max_route_segments + 1> decoded{};  // a target that is not plain
  std::string strict;                        // what `url` views, for a target that is not plain
  std::optional<boost::urls::url_view> url;  // set when the target is not plain
};

// Most targets are plain ("/v1/ns/users/keys/42"): split them in place;
// Boost.URL decodes and checks the rest (percent-escapes, a query). No
// route has more than max_route_segments, so a longer path is 404 at once.
std::optional<api_error> split(std::string_view target, split_target& t) {
  const auto kind = scan_target(target);
  if (!kind.printable) {
    return bad_request("bad_request", "the request target is not a valid path");
  }
  if (kind.plain && !target.empty() && target.front() == '/') {
    std::string_view rest = target.substr(1);
    for (;;) {
      if (t.n == t.segs.size()) return not_found();
      const auto slash = rest.find('/');
      t.segs[t.n++] = rest.substr(0, slash);
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    return std::nullopt;
  }
  t.strict = strict_form(target);
  auto parsed = boost::urls::parse_origin_form(t.strict);
  if (!parsed) return bad_request("bad_request", "the request target is not a valid path");
  t.url = *parsed;
  for (auto seg : t.url->segments()) {
    if (t.n == t.segs.size()) return not_found();
    t.decoded[t.n] = seg;
    t.segs[t.n] = t.decoded[t.n];
    ++t.n;
  }
  return std::nullopt;
}

// The query parameters: only the ones route `r` takes, each at most once.
std::optional<api_error> parse_query(const std::optional<boost::urls::url_view>& url,
                                     const route& r, api_call& call) {
  bool nx = false;
  std::set<std::string> geo_seen;  // the geo search parameters given
  bool xx = false;
  const auto params = url ? url->params() : boost::urls::params_view();
  for (auto it = params.begin(); it != params.end(); ++it) {
    const auto p = *it;
    // A parameter given twice is refused, not "the last one wins".
    if (std::any_of(params.begin(), it, [&](const auto& q) { return q.key == p.key; })) {
      return bad_request("bad_request", "query parameter '" + p.key + "' is given twice");
    }
    if ((r.query & param_ttl) && p.key == "ttl") {
      auto ttl = parse_seconds(p.value);
      if (!ttl) return invalid_ttl();
      call.ttl = ttl;
    } else if (((r.query & param_nx) && p.key == "nx") || ((r.query & param_xx) && p.key == "xx")) {
      auto f = parse_flag(p.value);
      if (!f) return bad_request("bad_request", "'" + p.key + "' must be true or false");
      (p.key == "nx" ? nx : xx) = *f;
    } else if ((r.query & param_except) && p.key == "except") {
      call.session.except = p.value;
    } else if ((r.query & param_tags) && p.key == "tags") {
      if (auto e = tag_list(p.value, call.tags)) return e;
    } else if ((r.query & param_geo) && is_geo_search_param(p.key)) {
      if (auto e = geo_search_param(p.key, p.value, call.geo)) return e;
      geo_seen.insert(std::string(p.key));
    } else {
      return bad_request("bad_request", "unknown query parameter '" + p.key + "'");
    }
  }
  if (nx && xx) return bad_request("bad_request", "'nx' and 'xx' exclude each other");
  if (r.query & param_geo) {
    if (auto e = finish_geo_search(call.geo, geo_seen.count("lon") > 0, geo_seen.count("lat") > 0,
                                   geo_seen.count("radius") > 0,
                                   geo_seen.count("width") + geo_seen.count("height") > 0)) {
      return e;
    }
    if (geo_seen.count("width") != geo_seen.count("height")) {
      return bad_request("invalid_geo", "a box needs both width and height");
    }
  }
  if (nx) call.when = write_condition::if_absent;
  if (xx) call.when = write_condition::if_present;
  return std::nullopt;
}

// A cache route's namespace, key and body.
std::optional<api_error> parse_cache_call(api_call& call, const route_match& match,
                                          const api_limits& limits) {
  call.ns = match.ns;
  if (!valid_namespace(call.ns)) {
    return bad_request("invalid_namespace",
                       "namespace names are 1 to 128 letters, digits, '_', '-' or '.'");
  }
  if (match.found->pattern.find("{key}") != std::string_view::npos) {
    call.key = match.key;
    if (auto e = check_key(call.ns, call.key, limits)) return *e;
  }
  return std::nullopt;
}

std::optional<api_error> parse_cache_body(api_call& call, const http_request_view& req,
                                          const api_limits& limits) {
  switch (call.op) {
    case api_op::get:
      call.if_none_match = req.if_none_match;
      return std::nullopt;
    case api_op::put:
      if (auto e = check_content_type(req.content_type)) return *e;
      call.content_type = req.content_type;
      call.body = req.body;
      return std::nullopt;
    case api_op::batch_get:
    case api_op::batch_set:
    case api_op::invalidate_pattern:
      break;
    default:
      return std::nullopt;
  }
  auto body = body_object(req.body);
  if (auto* e = std::get_if<api_error>(&body)) return std::move(*e);
  const auto& o = std::get<json::object>(body);
  if (call.op == api_op::batch_get) {
    if (auto e = only_fields(o, {"keys"})) return e;
    return key_list(o.if_contains("keys"), call.ns, limits, call.keys);
  }
  if (call.op == api_op::batch_set) return parse_batch_set(o, limits, call);
  return parse_invalidate(o, limits, call);
}

// A session route's id or user, and its body.
std::optional<api_error> parse_session_call(api_call& call, const route_match& match,
                                            const http_request_view& req,
                                            const api_limits& limits) {
  auto& s = call.session;
  s.id = match.id;
  if (match.found->pattern.find("{user}") != std::string_view::npos) {
    if (auto e = check_user_id(match.user, limits.sessions)) return e;
    s.user = match.user;
  }
  switch (call.op) {
    case api_op::session_create:
      s.ip = limits.trusted ? client_address(req.peer, req.forwarded_for, *limits.trusted)
                            : std::string(req.peer);
      return parse_session_create(req.body, limits.sessions, s);
    case api_op::session_update:
      return parse_session_update(req.body, limits.sessions, s);
    default:
      return std::nullopt;
  }
}

// parse_call() into `call`, whose route label an error found after routing
// carries.
std::optional<api_error> parse_into(api_call& call, const http_request_view& req,
                                    const api_limits& limits) {
  split_target t;
  if (auto e = split(req.target, t)) return e;
  call.head = req.method == http_method::head;

  // ---- which route, and does it take this method ----
  const auto match = match_route(req.method, std::span(t.segs.data(), t.n));
  if (match.pattern.empty()) return not_found();
  call.route = match.pattern;
  if (!match.found) return method_not_allowed(match.allow);
  const route& r = *match.found;
  call.op = r.op;
  call.right = r.right;
  const bool sessions = r.right == api_right::sessions;
  if (r.pattern.starts_with("/v1/geo/")) {
    if (auto e = geo_path(match.set, match.id, !match.id.empty(), call.geo)) return e;
    if (auto e = parse_query(t.url, r, call)) return e;
    return call.op == api_op::geo_put ? parse_geo_point(req.body, call.geo) : std::nullopt;
  }
  if (!sessions && r.pattern.find("{ns}") == std::string_view::npos) {
    return std::nullopt;  // probes, metrics
  }
  if (!sessions) {
    if (auto e = parse_cache_call(call, match, limits)) return e;
  }
  if (auto e = parse_query(t.url, r, call)) return e;
  return sessions ? parse_session_call(call, match, req, limits)
                  : parse_cache_body(call, req, limits);
}

// Empties `s`, keeping its buffer unless it grew large (a session keeps one
// api_call for all its requests; one big body must not stay with it).
void clear_small(std::string& s) {
  constexpr std::size_t keep = 4096;
  if (s.capacity() > keep) {
    std::string().swap(s);
  } else {
    s.clear();
  }
}

}  // namespace

void api_call::reset() {
  op = api_op::get;
  route = {};
  right = api_right::none;
  clear_small(ns);
  clear_small(key);
  head = false;
  ttl.reset();
  when = write_condition::always;
  clear_small(if_none_match);
  clear_small(body);
  clear_small(content_type);
  std::vector<std::string>().swap(keys);
  std::vector<batch_item>().swap(items);
  clear_small(pattern);
  std::vector<std::string>().swap(tags);
  session.clear();
  geo.clear();
}

std::optional<api_error> parse_call(const http_request_view& req, const api_limits& limits,
                                    api_call& call) {
  call.reset();
  auto e = parse_into(call, req, limits);
  if (e) e->route = call.route;
  return e;
}

std::variant<api_call, api_error> parse_call(const http_request_view& req,
                                             const api_limits& limits) {
  api_call call;
  if (auto e = parse_call(req, limits, call)) return std::move(*e);
  return call;
}

// ---- the envelope ----------------------------------------------------------------

std::string encode_stored(std::string_view body, std::string_view content_type) {
  const bool typed = !content_type.empty() && content_type != default_content_type;
  if (!typed && !body.starts_with(envelope_magic)) {
    return std::string(body);
  }
  if (!typed) content_type = default_content_type;
  std::string out;
  out.reserve(envelope_magic.size() + 1 + content_type.size() + body.size());
  out.append(envelope_magic);
  out.push_back(static_cast<char>(content_type.size()));
  out.append(content_type);
  out.append(body);
  return out;
}

stored_view decode_stored(std::string_view stored) {
  if (stored.size() > envelope_magic.size() && stored.starts_with(envelope_magic)) {
    const auto len = static_cast<unsigned char>(stored[envelope_magic.size()]);
    const auto start = envelope_magic.size() + 1;
    if (stored.size() >= start + len) {
      return {stored.substr(start + len), stored.substr(start, len)};
    }
  }
  return {stored, default_content_type};
}

etag etag::of(std::string_view stored) noexcept {
  const XXH128_hash_t h = XXH3_128bits(stored.data(), stored.size());
  // Two hex digits per byte from one table: the tag is made on every read.
  static constexpr auto pairs = [] {
    std::array<char, 512> p{};
    constexpr char hex[] = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      p[2 * b] = hex[b >> 4];
      p[2 * b + 1] = hex[b & 15];
    }
    return p;
  }();
  etag t;
  t.text_[0] = '"';
  std::size_t at = 1;
  for (const auto half : {h.high64, h.low64}) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      const auto b = static_cast<std::size_t>((half >> shift) & 0xFF);
      t.text_[at++] = pairs[2 * b];
      t.text_[at++] = pairs[2 * b + 1];
    }
  }
  t.text_[at++] = '"';
  t.size_ = static_cast<std::uint8_t>(at);
  return t;
}

bool etag_matches(std::string_view header, std::string_view tag_wanted) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == tag_wanted) return true;
  }
  return false;
}

// ---- responses -------------------------------------------------------------------

api_response error_response(const api_error& e) {
  api_response r{e.status, "application/json", error_json(e.code, e.message)};
  r.allow = e.allow;
  return r;
}

std::string_view api_response::body_view() const noexcept {
  return stored ? decode_stored(bytes()).body : bytes();
}

std::string_view api_response::type() const noexcept {
  return stored ? decode_stored(bytes()).content_type : content_type;
}

namespace {

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace

void format_response(std::string& out, const api_response& r, unsigned version, bool keep_alive,
                     bool head, std::string_view date) {
  char num[24];
  auto append_number = [&](std::size_t n) {
    auto [end, ec] = std::to_chars(num, num + sizeof num, n);
    out.append(num, end);
  };
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(r.status);
  out.push_back(' ');
  out.append(reason_phrase(r.status));
  out.append("\r\nServer: rcache\r\nDate: ");
  out.append(date);
  const bool no_body = r.status == 304 || r.status < 200;
  const auto body = r.body_view();
  if (!no_body) out.append("\r\nContent-Type: ").append(r.type());
  if (!r.tag.empty()) out.append("\r\nETag: ").append(r.tag.view());
  if (!r.allow.empty()) out.append("\r\nAllow: ").append(r.allow);
  if (r.retry_after) out.append("\r\nRetry-After: 1");
  if (!r.x_cache.empty()) out.append("\r\nX-Cache: ").append(r.x_cache);
  if (!keep_alive) {
    out.append("\r\nConnection: close");
  } else if (version == 10) {
    out.append("\r\nConnection: keep-alive");
  }
  if (!no_body) {
    out.append("\r\nContent-Length: ");
    append_number(body.size());  // HEAD: the length GET would send
  }
  out.append("\r\n\r\n");
  if (!head && !no_body) out.append(body);
}

// ---- JSON ------------------------------------------------------------------------

namespace {

json::object error_object(std::string_view code, std::string_view message) {
  return json::object{{"error", json::object{{"code", code}, {"message", message}}}};
}

}  // namespace

std::string error_json(std::string_view code, std::string_view message) {
  return json::serialize(error_object(code, message));
}

std::string partial_failure_json(std::string_view name, std::int64_t succeeded,
                                 const std::vector<item_error>& failed) {
  json::array items;
  items.reserve(failed.size());
  for (const auto& f : failed) {
    items.push_back(
        json::object{{"key", f.key}, {"code", f.error.code}, {"message", f.error.message}});
  }
  auto body = error_object(failed.front().error.code, failed.front().error.message);
  body[name] = succeeded;
  body["failed"] = std::move(items);
  return json::serialize(body);
}

std::string bool_json(std::string_view name, bool v) {
  return json::serialize(json::object{{name, v}});
}

std::string int_json(std::string_view name, std::int64_t v) {
  return json::serialize(json::object{{name, v}});
}

std::string base64_encode(std::string_view in) {
  std::string out((in.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string batch_get_json(const std::vector<std::string>& keys,
                           const std::vector<std::optional<std::string>>& stored) {
  json::array items;
  items.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    json::object item{{"key", keys[i]}, {"found", i < stored.size() && stored[i].has_value()}};
    if (i < stored.size() && stored[i]) {
      const auto v = decode_stored(*stored[i]);
      if (is_utf8(v.body)) {
        item["value"] = v.body;
      } else {
        item["value_base64"] = base64_encode(v.body);
      }
      item["content_type"] = v.content_type;
    }
    items.emplace_back(std::move(item));
  }
  return json::serialize(json::object{{"items", std::move(items)}});
}

}  // namespace rcache::server
