// The gateway's HTTP/1.1 request parser; see http_request.hpp.
#include "server/http_request.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <limits>
#include <new>

namespace rcache::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;

// " HTTP/1.1\r\n" after the method and the target's space.
constexpr std::size_t request_line_overhead = 1 + 1 + 8 + 2;
// ": " and CRLF around a field's name and value.
constexpr std::size_t field_line_overhead = 2 + 2;
// One read's worth beyond a whole head, as the session prepares its reads.
constexpr std::size_t read_chunk_bytes = 16 * 1024;

}  // namespace

std::size_t read_buffer_bytes(const request_limits& l) noexcept {
  return l.max_head_bytes + read_chunk_bytes;
}

request_parser::request_parser(const request_limits& limits) : limits_(limits) {
  // Beast's own limits as a first fence (its header_limit bounds the raw
  // bytes it scans for the header); the exact accounting is ours.
  header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_head_bytes, std::numeric_limits<std::uint32_t>::max())));
  body_limit(limits.max_body_bytes);
}

http_request_view request_parser::view() const noexcept {
  http_request_view v;
  v.method = method_;
  v.target = target_;
  v.content_type = content_type_;
  v.if_none_match = if_none_match_;
  v.forwarded_for = forwarded_for_;
  v.body = body_;
  return v;
}

bool request_parser::upgrade_to_websocket() const noexcept {
  // Beast's upgrade() is the Connection field's `upgrade` token.
  return method_ == http_method::get && version_ == 11 && upgrade() && upgrade_websocket_;
}

bool request_parser::count_head(std::size_t n, error_code& ec) noexcept {
  head_bytes_ += n;
  if (head_bytes_ <= limits_.max_head_bytes) return true;
  ec = http::error::header_limit;
  return false;
}

void request_parser::refuse(refusal why, error_code& ec) noexcept {
  refused_ = why;
  ec = http::error::bad_field;
}

void request_parser::on_request_impl(http::verb, beast::string_view method_str,
                                     beast::string_view target, int version, error_code& ec) {
  if (!count_head(method_str.size() + target.size() + request_line_overhead, ec)) return;
  try {
    method_name_.assign(method_str.data(), method_str.size());
    target_.assign(target.data(), target.size());
  } catch (const std::bad_alloc&) {
    return refuse(refusal::out_of_memory, ec);
  }
  method_ = method_from(method_name_);
  version_ = version >= 11 ? 11 : 10;
}

void request_parser::on_response_impl(int, beast::string_view, int, error_code& ec) {
  ec = http::error::bad_method;  // never called: this parses requests
}

void request_parser::on_field_impl(http::field name, beast::string_view name_string,
                                   beast::string_view value, error_code& ec) {
  if (!count_head(name_string.size() + value.size() + field_line_overhead, ec)) return;
  // Trailer fields are counted, then dropped: no route reads one, and a
  // trailer must not stand in for a header (RFC 9110 §6.5.1).
  if (is_header_done()) return;
  try {
    switch (name) {
      case http::field::host:
        ++hosts_;
        break;
      case http::field::content_type:
        ++content_types_;
        content_type_.assign(value.data(), value.size());
        break;
      case http::field::if_none_match:
        // Several lines are one comma-separated list (RFC 9110 §5.3).
        if (!if_none_match_.empty()) if_none_match_.append(", ");
        if_none_match_.append(value.data(), value.size());
        break;
      case http::field::expect:
        expect_continue_ = beast::iequals(value, "100-continue");
        break;
      case http::field::upgrade:
        // A list of protocols (RFC 9110 §7.8); token_list compares tokens
        // case-insensitively and never allocates.
        upgrade_websocket_ = upgrade_websocket_ || http::token_list(value).exists("websocket");
        break;
      case http::field::sec_websocket_key:
        websocket_key_.assign(value.data(), value.size());
        break;
      case http::field::sec_websocket_version:
        websocket_version_.assign(value.data(), value.size());
        break;
      case http::field::origin:
        origin_.assign(value.data(), value.size());
        has_origin_ = true;
        break;
      case http::field::unknown:
        // Beast has no enumerator for X-Forwarded-For. Several lines are
        // one list, in order (each proxy appends).
        if (beast::iequals(name_string, "X-Forwarded-For")) {
          if (!forwarded_for_.empty()) forwarded_for_.push_back(',');
          forwarded_for_.append(value.data(), value.size());
        }
        break;
      default:
        break;
    }
  } catch (const std::bad_alloc&) {
    refuse(refusal::out_of_memory, ec);
  }
}

void request_parser::on_header_impl(error_code& ec) {
  if (!count_head(2, ec)) return;  // the empty line
  // RFC 9112 §3.2: a 400 for an HTTP/1.1 request without Host, and for any
  // request with more than one.
  if (hosts_ > 1 || (version_ == 11 && hosts_ == 0)) {
    return refuse(refusal::host, ec);
  }
  if (content_types_ > 1) {
    return refuse(refusal::content_type, ec);
  }
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       error_code& ec) {
  // Beast has already refused a Content-Length above the body limit.
  if (!content_length) return;
  try {
    body_.reserve(static_cast<std::size_t>(*content_length));
  } catch (const std::bad_alloc&) {
    refuse(refusal::out_of_memory, ec);
  }
}

bool request_parser::append_body(beast::string_view part, error_code& ec) noexcept {
  try {
    body_.append(part.data(), part.size());
    return true;
  } catch (const std::bad_alloc&) {
    refuse(refusal::out_of_memory, ec);
    return false;
  }
}

std::size_t request_parser::on_body_impl(beast::string_view body, error_code& ec) {
  return append_body(body, ec) ? body.size() : 0;
}

void request_parser::on_chunk_header_impl(std::uint64_t, beast::string_view extensions,
                                          error_code& ec) {
  // Extensions carry nothing rcache reads, but a client may send any number
  // of them: they count against the head budget (the chunk sizes and the
  // CRLFs do not, so a body of many small chunks stays valid).
  (void)count_head(extensions.size(), ec);
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                               error_code& ec) {
  return append_body(body, ec) ? body.size() : 0;
}

void request_parser::on_finish_impl(error_code&) {}

api_error request_error_of(error_code ec, const request_parser& parser,
                           const request_limits& limits) {
  switch (parser.refused()) {
    case request_parser::refusal::host:
      return {400, "bad_request", "an HTTP/1.1 request needs exactly one Host header"};
    case request_parser::refusal::content_type:
      return {400, "bad_request", "more than one Content-Type header"};
    case request_parser::refusal::out_of_memory:
      return {503, "out_of_memory", "the server could not buffer the request"};
    case request_parser::refusal::none:
      break;
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return {431, "headers_too_large",
            "the request head (with any chunk extensions and trailers) is larger than "
            "server.max_header_bytes (" +
                std::to_string(limits.max_head_bytes) + ")"};
  }
  if (ec == http::error::body_limit) {
    return {413, "payload_too_large",
            "the body is larger than server.max_body_bytes (" +
                std::to_string(limits.max_body_bytes) + ")"};
  }
  return {400, "bad_request", "malformed HTTP request: " + ec.message()};
}

}  // namespace rcache::server
