// libFuzzer target: the JSON bodies of the gateway's multi-key and session
// routes.
//
// The first byte picks the route (batch/get, batch/set, invalidate, session
// create, session update) and the rest is its body, handed straight to parse_call() as the HTTP
// layer would after reading it: strict JSON (one text, an object, no key twice in one object, at
// most 8 levels), the fields each route takes, keys, values and base64, the limits on keys per
// batch and on session fields and user ids (a session body may also be refused 413). A call that
// validates is answered as the gateway would (the batch-get JSON, with each value also as a stored
// value); the keys of a batch get or an invalidation must be distinct. Any crash, exception,
// sanitizer report, leak, hang or violated property is a bug.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <set>
#include <string>
#include <string_view>

#include "server/http_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rcache::server;
  if (size == 0) return 0;
  struct route {
    http_method method;
    std::string_view target;
  };
  static constexpr route routes[] = {
      {http_method::post, "/v1/ns/f/batch/get"},
      {http_method::post, "/v1/ns/f/batch/set"},
      {http_method::post, "/v1/ns/f/invalidate"},
      {http_method::post, "/v1/sessions"},
      {http_method::patch, "/v1/sessions/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde.3f"}};
  const auto& r = routes[data[0] % std::size(routes)];
  http_request_view req;
  req.method = r.method;
  req.target = r.target;
  req.peer = "127.0.0.1";
  req.body = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  const api_limits limits{.max_key_bytes = 256,
                          .max_batch_keys = 64,
                          .sessions = {.max_user_length = 16,
                                       .max_fields = 8,
                                       .max_field_name = 16,
                                       .max_field_value = 64,
                                       .max_device_field = 32}};
  auto parsed = parse_call(req, limits);
  if (auto* e = std::get_if<api_error>(&parsed)) {
    // A body is only ever a client error; only a session body may be too large.
    const bool session = r.target.starts_with("/v1/sessions");
    if (e->status != 400 && !(session && e->status == 413)) __builtin_trap();
    (void)error_json(e->code, e->message);
    return 0;
  }
  const auto& call = std::get<api_call>(parsed);
  const auto& sc = call.session;
  if (sc.user.size() > limits.sessions.max_user_length ||
      sc.set.size() > limits.sessions.max_fields || sc.remove.size() > limits.sessions.max_fields ||
      sc.device_id.size() > limits.sessions.max_device_field ||
      sc.user_agent.size() > limits.sessions.max_device_field) {
    __builtin_trap();
  }
  for (const auto& [name, v] : sc.set) {
    if (name.empty() || name.size() > limits.sessions.max_field_name ||
        v.size() > limits.sessions.max_field_value) {
      __builtin_trap();
    }
  }
  if (call.keys.size() > limits.max_batch_keys || call.items.size() > limits.max_batch_keys) {
    __builtin_trap();
  }
  // Duplicates are answered once.
  if (std::set<std::string>(call.keys.begin(), call.keys.end()).size() != call.keys.size()) {
    __builtin_trap();
  }
  std::vector<std::optional<std::string>> values;
  for (const auto& item : call.items)
    values.emplace_back(encode_stored(item.value, item.content_type));
  values.resize(call.keys.size());
  (void)batch_get_json(call.keys, values);
  for (const auto& item : call.items) {
    if (decode_stored(encode_stored(item.value, item.content_type)).body != item.value) {
      __builtin_trap();
    }
  }
  return 0;
}
