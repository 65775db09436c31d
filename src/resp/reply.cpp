// Reading replies as C++ types (include/rcache/reply.hpp): the messages.
#include <rcache/reply.hpp>

namespace rcache::detail {

bool is_scalar_text(const value& v) noexcept {
  return v.is_string() || v.type == resp_type::double_number || v.type == resp_type::big_number;
}

command_error not_a(const value& v, std::string_view expected) {
  std::string got(to_string(v.type));
  if (v.is_aggregate()) got += " of " + std::to_string(v.elements.size());
  return {make_error_code(error::reply_type_mismatch),
          "the reply is " + got + ", not " + std::string(expected)};
}

}  // namespace rcache::detail
