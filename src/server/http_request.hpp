// The gateway's HTTP/1.1 request parser: Beast's basic_parser (the message
// grammar), with rcache's own storage of what the API reads and its own
// accounting of every limit.
//
// Why not Beast's request_parser<string_body>: it stores every field in
// http::fields, which throws std::length_error out of the parse for a name
// or value of 64 KiB or more (an exception that escapes a composed read and
// ends the process), and it counts neither trailers nor chunk extensions
// against any limit. Here:
//   - the request line, every header field, every chunk extension and every
//     trailer field count against one budget, `max_head_bytes`: past it the
//     parse fails with http::error::header_limit (431);
//   - only the fields the API reads are kept (Content-Type, If-None-Match,
//     X-Forwarded-For, Host, Expect, and whether Upgrade names websocket), in std::string,
//     so no field size can throw; trailer
//     fields are counted and dropped (RFC 9110 §6.5.1 lets a recipient
//     discard them, and no route reads one);
//   - If-None-Match lines are combined into one list (RFC 9110 §5.3);
//   - an HTTP/1.1 request without exactly one Host, or with two
//     Content-Type lines, is refused (RFC 9112 §3.2; a singleton field);
//   - the body is bounded by `max_body_bytes` (413), chunked or not.
// Nothing in a callback throws: a failed allocation refuses the request.
//
// The read buffer must be bounded as well (read_buffer_bytes()): Beast
// scans a trailer section or a chunk header line for its end before it
// hands anything to the parser, so only the buffer's own limit bounds the
// memory such a scan may take; a full buffer is http::error::buffer_overflow,
// also answered 431 (request_error_of).
//
// Threading: one parser per request, used by one thread.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_api.hpp"

namespace rcache::server {

struct request_limits {
  /// Request line + header fields + chunk extensions + trailer fields, in
  /// bytes as sent (each field line with its ": " and CRLF).
  std::size_t max_head_bytes = 16 * 1024;
  std::size_t max_body_bytes = 8u * 1024 * 1024;
};

/// The largest read buffer a connection needs for `l`: a whole head (or
/// trailer section) plus one read.
[[nodiscard]] std::size_t read_buffer_bytes(const request_limits& l) noexcept;

class request_parser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit request_parser(const request_limits& limits);

  /// The parsed request, valid once the header is done (body: once done).
  [[nodiscard]] http_method method() const noexcept { return method_; }
  [[nodiscard]] std::string_view method_name() const noexcept { return method_name_; }
  [[nodiscard]] std::string_view target() const noexcept { return target_; }
  /// 10 or 11.
  [[nodiscard]] unsigned version() const noexcept { return version_; }
  [[nodiscard]] bool expects_continue() const noexcept { return expect_continue_; }
  /// Whether the request asks to become a WebSocket (RFC 6455 §4.2.1): a
  /// GET over HTTP/1.1 with `websocket` in Upgrade and `upgrade` in
  /// Connection. Other upgrades (h2c, ...) are ignored, as RFC 9110 §7.8
  /// lets a server do, and the request is answered as HTTP/1.1.
  [[nodiscard]] bool upgrade_to_websocket() const noexcept;

  /// A WebSocket upgrade's Sec-WebSocket-Key and -Version (RFC 6455 §4.2.1).
  [[nodiscard]] std::string_view websocket_key() const noexcept { return websocket_key_; }
  [[nodiscard]] std::string_view websocket_version() const noexcept { return websocket_version_; }
  /// The Origin field (browsers send it with every upgrade), if any.
  [[nodiscard]] std::optional<std::string_view> origin() const noexcept {
    return has_origin_ ? std::optional<std::string_view>(origin_) : std::nullopt;
  }

  /// What the API reads of the request; views into this parser.
  [[nodiscard]] http_request_view view() const noexcept;

  /// Why the parser refused the request itself, if it did (the parse then
  /// failed with http::error::bad_field); request_error_of() words it.
  /// Kept as a plain enum: the callbacks that set it must not allocate.
  enum class refusal : std::uint8_t { none, host, content_type, out_of_memory };
  [[nodiscard]] refusal refused() const noexcept { return refused_; }

  /// Bytes counted against max_head_bytes so far.
  [[nodiscard]] std::size_t head_bytes() const noexcept { return head_bytes_; }

 private:
  void on_request_impl(boost::beast::http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  // Adds `n` bytes to the head budget; false (ec set) past it.
  bool count_head(std::size_t n, boost::beast::error_code& ec) noexcept;
  // Refuses the request; the parse ends with bad_field.
  void refuse(refusal why, boost::beast::error_code& ec) noexcept;
  // Appends body bytes; false (ec set) when the allocation failed.
  bool append_body(boost::beast::string_view part, boost::beast::error_code& ec) noexcept;

  request_limits limits_;
  std::size_t head_bytes_ = 0;
  http_method method_ = http_method::other;
  std::string method_name_;
  std::string target_;
  unsigned version_ = 11;
  std::string content_type_;
  std::string if_none_match_;
  std::string forwarded_for_;
  std::string websocket_key_;
  std::string websocket_version_;
  std::string origin_;
  bool has_origin_ = false;
  std::string body_;
  int hosts_ = 0;
  int content_types_ = 0;
  bool expect_continue_ = false;
  bool upgrade_websocket_ = false;  // an Upgrade field names websocket
  refusal refused_ = refusal::none;
};

/// The answer to a request that could not be read: 431 past the head budget
/// (header_limit, buffer_overflow), 413 past the body limit, the parser's
/// own refusal, else 400 naming Beast's reason.
[[nodiscard]] api_error request_error_of(boost::beast::error_code ec, const request_parser& parser,
                                         const request_limits& limits);

}  // namespace rcache::server
