// JSON as the gateway's API takes it: one JSON text whose objects never
// repeat a key. Boost.JSON's json::parse keeps one of two equal keys
// silently, so {"keys":["a"],"keys":["b"]} would mean whichever the reader
// did not expect; here it is an error that names the key.
//
// Threading: a pure function.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace rcache::server {

struct strict_json {
  boost::json::value value;                 // valid when !ec
  boost::system::error_code ec;             // syntax, depth, trailing data, or a repeated key
  std::optional<std::string> repeated_key;  // the key an object held twice, when that was the error
};

/// Parses `text` as exactly one JSON text, nested at most `max_depth` deep.
[[nodiscard]] strict_json parse_strict_json(std::string_view text, std::size_t max_depth);

}  // namespace rcache::server
