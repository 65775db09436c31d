// libFuzzer target: the JSON bodies of the gateway's multi-key routes.
//
// The first byte picks the route (batch/get, batch/set, invalidate) and the
// rest is its body, handed straight to parse_call() as the HTTP layer would
// after reading it: strict JSON (one text, an object, no key twice in one
// object, at most 8 levels), the fields each route takes, keys, values and
// base64, the limits on keys per batch. A call that validates is answered
// as the gateway would (the batch-get JSON, with each value also as a
// stored value); the keys of a batch get or an invalidation must be
// distinct. Any crash, exception, sanitizer report, leak, hang or violated
// property is a bug.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "server/http_api.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rcache::server;
  if (size == 0) return 0;
  static constexpr std::string_view routes[] = {"/v1/ns/f/batch/get", "/v1/ns/f/batch/set",
                                                "/v1/ns/f/invalidate"};
  http_request_view req;
  req.method = http_method::post;
  req.target = routes[data[0] % 3];
  req.body = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  const api_limits limits{.max_key_bytes = 256, .max_batch_keys = 64};
  auto parsed = parse_call(req, limits);
  if (auto* e = std::get_if<api_error>(&parsed)) {
    if (e->status != 400) __builtin_trap();  // a body is only ever a client error
    (void)error_json(e->code, e->message);
    return 0;
  }
  const auto& call = std::get<api_call>(parsed);
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
