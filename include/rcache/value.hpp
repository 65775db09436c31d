// rcache::value — one RESP2 / RESP3 reply as a tree.
//
// Every RESP3 type maps to one resp_type. Scalars keep their payload in
// `str` (strings, errors, big numbers, verbatim text), `integer` (integers,
// booleans as 0 / 1) or `number` (doubles, with `str` holding the wire text).
// Aggregates keep their children in `elements`; a map or an attribute stores
// key, value, key, value, ... flat. Attributes (RESP3 `|`) that precede a
// reply are attached to it in `attributes` instead of being returned alone.
//
// A value is a plain value type: copyable, movable, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rcache {

enum class resp_type : std::uint8_t {
  simple_string,    // +
  simple_error,     // -
  integer,          // :
  bulk_string,      // $
  array,            // *
  null,             // _  (also RESP2 $-1 and *-1)
  boolean,          // #
  double_number,    // ,
  big_number,       // (
  bulk_error,       // !
  verbatim_string,  // =
  map,              // %
  set,              // ~
  attribute,        // |  (only ever seen inside `attributes`)
  push,             // >
};

/// The RESP3 name of a type ("simple-string", "push", ...), for messages.
[[nodiscard]] std::string_view to_string(resp_type t) noexcept;

struct value {
  resp_type type = resp_type::null;
  std::string str;                // string payloads, error text, big number digits, double text
  std::int64_t integer = 0;       // integer; boolean as 0 or 1
  double number = 0;              // double_number
  std::array<char, 3> format{};   // verbatim_string: the 3-byte format ("txt", "mkd")
  std::vector<value> elements;    // array / set / push; map as k0, v0, k1, v1, ...
  std::vector<value> attributes;  // attribute map (flat k, v) that preceded this value

  [[nodiscard]] bool is_null() const noexcept { return type == resp_type::null; }
  [[nodiscard]] bool is_error() const noexcept {
    return type == resp_type::simple_error || type == resp_type::bulk_error;
  }
  [[nodiscard]] bool is_string() const noexcept {
    return type == resp_type::simple_string || type == resp_type::bulk_string ||
           type == resp_type::verbatim_string;
  }
  [[nodiscard]] bool is_aggregate() const noexcept {
    return type == resp_type::array || type == resp_type::map || type == resp_type::set ||
           type == resp_type::push;
  }
  /// For an error reply, its first word ("WRONGTYPE", "NOSCRIPT", "ERR"); else empty.
  [[nodiscard]] std::string_view error_code() const noexcept;

  /// Builders, mostly for tests.
  static value make_string(std::string s, resp_type t = resp_type::bulk_string);
  static value make_integer(std::int64_t i);
  /// A RESP3 double and the text it came as (",1.5e10" keeps "1.5e10").
  static value make_double(double d, std::string text);
  static value make_array(std::vector<value> elems, resp_type t = resp_type::array);

  friend bool operator==(const value&, const value&) = default;
};

/// A readable rendering (like redis-cli) for logs, tests and `rcache ping`.
[[nodiscard]] std::string to_display(const value& v);

}  // namespace rcache
