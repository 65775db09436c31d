// libFuzzer target: the gateway's request-handling path without sockets.
//
// The input is a byte stream from a client. The first byte picks the head
// limit the server runs with: the default (16 KiB) or 128 KiB, a value the
// setting allows under which single fields of 64 KiB and more fit (the
// limit issue 11 found crashing Beast's own field storage), and whether a
// short escape stands for a long run of one byte (below). The rest goes
// through the gateway's request parser (server/http_request.hpp), one
// request after another as a pipelining client would send them, in pieces
// whose sizes the input also decides; a request that fails is mapped to its
// answer as the server would (request_error_of: 400, 413, 431 or the
// parser's own refusal, nothing else). Every request that parses is routed
// and validated by parse_call(), and what a valid call carries goes through
// the code that answers it: the stored-value envelope (encode, then decode
// of the result and of the raw body as if another client had written it),
// ETag matching and the JSON answers. Any crash, exception, sanitizer
// report, leak or hang is a bug. Run with -max_len above 128 KiB + 64 KiB
// (scripts/fuzz-smoke.sh passes 262144) so every limit can be exceeded.
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http_api.hpp"
#include "server/http_request.hpp"

namespace {

using namespace rcache::server;

void answer(const api_call& call, std::string_view body) {
  const auto stored = encode_stored(call.body, call.content_type);
  const auto back = decode_stored(stored);
  if (back.body != call.body) __builtin_trap();  // the envelope must round-trip
  const auto tag = etag::of(stored);
  if (!etag_matches(tag.view(), tag.view())) __builtin_trap();
  (void)etag_matches(call.if_none_match, tag.view());
  std::vector<std::optional<std::string>> values{stored, std::string(body), std::nullopt};
  std::vector<std::string> keys{call.key, "b", "c"};
  (void)batch_get_json(keys, values);
  for (const auto& item : call.items) (void)encode_stored(item.value, item.content_type);
  (void)error_json(call.pattern, call.ns);
}

void check_client_error(const api_error& e) {
  if (e.status < 400 || e.status > 599) __builtin_trap();
  (void)error_json(e.code, e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const request_limits limits{.max_head_bytes = (data[0] & 1) ? 128u * 1024 : 16u * 1024,
                              .max_body_bytes = 64 * 1024};
  // Bits 1-3: the size of the pieces the stream arrives in (1 byte to all).
  const std::size_t piece =
      (data[0] >> 1 & 7) == 0 ? SIZE_MAX : std::size_t{1} << (data[0] >> 1 & 7) * 2;
  // Bit 4: "\xFE<n><c>" stands for n * 512 bytes of c, so that a few bytes
  // of input make fields, trailers and targets of up to 130 KB, past every
  // limit: libFuzzer's own mutations grow an input only slowly.
  std::string expanded;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 0x10) {
    for (std::size_t i = 0; i < input.size(); ++i) {
      if (input[i] == '\xFE' && i + 2 < input.size()) {
        expanded.append(static_cast<unsigned char>(input[i + 1]) * std::size_t{512}, input[i + 2]);
        i += 2;
      } else {
        expanded.push_back(input[i]);
      }
    }
    input = expanded;
  }
  const api_limits api{.max_key_bytes = 1024, .max_batch_keys = 64};
  // At most a few requests per input, as a pipelining client sends them.
  for (int n = 0; n < 4 && !input.empty(); ++n) {
    request_parser parser(limits);
    parser.eager(true);
    boost::system::error_code ec;
    std::size_t used = 0;
    std::size_t arrived = std::min(piece, input.size());
    // put()'s contract, as Beast's own read loop keeps it: after need_more
    // the next call brings more bytes; the input is all there is.
    while (!parser.is_done()) {
      const auto k = parser.put(boost::asio::buffer(input.data() + used, arrived - used), ec);
      used += k;
      if (ec && ec != boost::beast::http::error::need_more) break;
      const bool starved = ec == boost::beast::http::error::need_more || used == arrived;
      if (starved) {
        if (arrived == input.size()) break;  // incomplete: the client went away
        arrived = std::min(input.size(), arrived + piece);
      }
      ec = {};
    }
    if (ec && ec != boost::beast::http::error::need_more) {
      check_client_error(request_error_of(ec, parser, limits));
      return 0;  // the server closes the connection after this answer
    }
    if (!parser.is_done()) return 0;
    if (parser.head_bytes() > limits.max_head_bytes) __builtin_trap();  // the limit held
    input.remove_prefix(used);
    const auto view = parser.view();
    auto parsed = parse_call(view, api);
    if (auto* call = std::get_if<api_call>(&parsed)) {
      answer(*call, view.body);
    } else {
      const auto& e = std::get<api_error>(parsed);
      if (e.status < 400 || e.status > 499) __builtin_trap();  // parse errors are client errors
      (void)error_json(e.code, e.message);
    }
  }
  return 0;
}
