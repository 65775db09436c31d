// libFuzzer target: the gateway's request-handling path without sockets.
//
// The input is a byte stream from a client. It goes through Beast's request
// parser with the server's limits, one request after another as a pipelining
// client would send them; every request that parses is routed and validated
// by parse_call(), and what a valid call carries goes through the code that
// answers it: the stored-value envelope (encode, then decode of the result
// and of the raw body as if another client had written it), ETag matching
// and the JSON answers. Any crash, sanitizer report, leak or hang is a bug.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http_api.hpp"

namespace {

namespace http = boost::beast::http;
using rcache::server::method_from;

void answer(const rcache::server::api_call& call, std::string_view body) {
  using namespace rcache::server;
  const auto stored = encode_stored(call.body, call.content_type);
  const auto back = decode_stored(stored);
  if (back.body != call.body) __builtin_trap();  // the envelope must round-trip
  const auto etag = etag_of(stored);
  if (!etag_matches(etag, etag)) __builtin_trap();
  (void)etag_matches(call.if_none_match, etag);
  std::vector<std::optional<std::string>> values{stored, std::string(body), std::nullopt};
  std::vector<std::string> keys{call.key, "b", "c"};
  (void)batch_get_json(keys, values);
  for (const auto& item : call.items) (void)encode_stored(item.value, item.content_type);
  (void)error_json(call.pattern, call.ns);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const rcache::server::api_limits limits{.max_key_bytes = 1024, .max_batch_keys = 64};
  // At most a few requests per input, as a pipelining client sends them.
  for (int n = 0; n < 4 && !input.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(64 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    std::size_t used = 0;
    // put()'s contract, as Beast's own read loop keeps it: after need_more
    // the next call must bring more bytes. The input is all there is, so
    // need_more means the message is incomplete.
    while (!parser.is_done() && used < input.size()) {
      const auto k = parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
      used += k;
      if (ec || k == 0) break;
    }
    if (!parser.is_done() || ec) return 0;
    input.remove_prefix(used);
    const auto& req = parser.get();
    rcache::server::http_request_view view;
    view.method = method_from(req.method_string());
    view.target = req.target();
    view.content_type = req[http::field::content_type];
    view.if_none_match = req[http::field::if_none_match];
    view.body = req.body();
    auto parsed = rcache::server::parse_call(view, limits);
    if (auto* call = std::get_if<rcache::server::api_call>(&parsed)) {
      answer(*call, req.body());
    } else {
      const auto& e = std::get<rcache::server::api_error>(parsed);
      if (e.status < 400 || e.status > 499) __builtin_trap();  // parse errors are client errors
      (void)rcache::server::error_json(e.code, e.message);
    }
  }
  return 0;
}
