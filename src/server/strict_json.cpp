// Strict JSON parsing; see strict_json.hpp.
#include "server/strict_json.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <vector>

namespace rcache::server {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// Boost.JSON's own parse handler (what json::parse builds values with,
// boost/json/detail/handler.hpp), plus one check: no object repeats a key.
class strict_handler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::optional<std::string> duplicate;  // the repeated key, when the parse stopped on one

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t n, error_code& ec) {
    // Sorted once per object: a hostile body of many keys stays O(n log n).
    auto& keys = keys_.back();
    std::sort(keys.begin(), keys.end());
    const auto twice = std::adjacent_find(keys.begin(), keys.end());
    if (twice != keys.end()) {
      duplicate = *twice;
      ec = make_error_code(boost::system::errc::invalid_argument);
      return false;
    }
    keys_.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    keys_.back().push_back(std::move(key_));
    key_.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  std::vector<std::vector<std::string>> keys_;  // per open object
  std::string key_;                             // a key arriving in parts
};

}  // namespace

strict_json parse_strict_json(std::string_view text, std::size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  json::basic_parser<strict_handler> parser(opts);
  parser.handler().st.reset();
  strict_json out;
  const auto used = parser.write_some(false, text.data(), text.size(), out.ec);
  if (!out.ec && used < text.size()) out.ec = json::error::extra_data;
  if (out.ec) {
    out.repeated_key = std::move(parser.handler().duplicate);
    return out;
  }
  out.value = parser.handler().st.release();
  return out;
}

}  // namespace rcache::server
